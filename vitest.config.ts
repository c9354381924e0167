import { resolve } from 'node:path';
import { configDefaults, defineConfig } from 'vitest/config';

// One log file per run, from every test process and every command they start: the global
// teardown reads it whole and fails the run if it holds a name, an id number or a phone.
const runLog = resolve('test-results', 'logs', `run-${new Date().toISOString().replace(/[:.]/g, '-')}-${process.pid}.log`);
process.env.AIDLINK_TEST_LOG = runLog;

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // the reliability suite runs apart: npm run test:faults (vitest.faults.config.ts)
    exclude: [...configDefaults.exclude, 'test/faults/**'],
    globalSetup: ['test/helpers/global-setup.ts'],
    pool: 'forks',
    testTimeout: 180_000,
    // everything a request or a job logs goes to the run's log file, to be searched for personal data
    env: { LOG_LEVEL: process.env.LOG_LEVEL ?? 'info', AIDLINK_LOG_FILE: runLog },
    hookTimeout: 120_000,
    // the machine has two cores; more workers only queue on PostgreSQL
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
  },
});
