import { defineConfig } from 'vitest/config';

/**
 * The reliability suite (`npm run test:faults`): workers killed, Redis restarted, the
 * database connections cut, files twice or out of order, a truncated snapshot — each
 * ending in the state of a clean sync (test/faults, docs/jobs.md). Apart from
 * `npm test`: it takes minutes, spawns workers and a Redis of its own.
 */
export default defineConfig({
  test: {
    include: ['test/faults/**/*.test.ts'],
    // the same migrated template database as `npm test`
    globalSetup: ['test/helpers/global-setup.ts'],
    pool: 'forks',
    testTimeout: 360_000,
    hookTimeout: 360_000,
    // the scenarios cut connections on purpose: the warnings about it are expected (worker processes log at info, kept for a failure's report)
    env: { LOG_LEVEL: process.env.LOG_LEVEL ?? 'error' },
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
  },
});
