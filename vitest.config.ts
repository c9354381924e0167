import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // the reliability suite runs apart: npm run test:faults (vitest.faults.config.ts)
    exclude: [...configDefaults.exclude, 'test/faults/**'],
    globalSetup: ['test/helpers/global-setup.ts'],
    pool: 'forks',
    testTimeout: 180_000,
    // workers in the test process log every job; warnings and errors are what a test run needs
    env: { LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' },
    hookTimeout: 120_000,
    // the machine has two cores; more workers only queue on PostgreSQL
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
  },
});
