import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // the machine has two cores; more workers only queue on PostgreSQL
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
  },
});
