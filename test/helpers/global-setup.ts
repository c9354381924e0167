/**
 * Once per test run: a migrated template database that every test file clones. Its
 * name is the run's own, so two runs at once (two terminals, a developer beside CI)
 * never drop each other's databases; leftovers of interrupted runs are dropped once
 * they are a few hours old.
 */
import type { TestProject } from 'vitest/node';
import { openStore } from '../../src/db/store.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { admin, isStale, testDbName, urlFor } from './pg-admin.js';
import { describeFindings, scanLogFile } from './log-scan.js';

declare module 'vitest' {
  export interface ProvidedContext {
    templateDb: string;
  }
}

let template = '';

export async function setup(project: TestProject): Promise<void> {
  template = testDbName('aidlink_tpl');
  await admin(async (c) => {
    const old = await c.query<{ datname: string }>(`select datname from pg_database where datname like 'aidlink\\_t\\_%' or datname like 'aidlink\\_tpl\\_%' or datname = 'aidlink_test_template'`);
    for (const r of old.rows) if (isStale(r.datname)) await c.query(`drop database if exists ${r.datname} with (force)`);
    await c.query(`create database ${template}`);
  });
  const store = await openStore({ databaseUrl: urlFor(template), poolSize: 1 });
  try {
    await migrateToLatest(store);
  } finally {
    await store.close();
  }
  project.provide('templateDb', template);
}

export async function teardown(): Promise<void> {
  if (template) await admin((c) => c.query(`drop database if exists ${template} with (force)`));
  // the whole run's log (vitest.config.ts sends it to one file) holds no name, id number or phone
  const runLog = process.env.AIDLINK_TEST_LOG;
  if (runLog) {
    const findings = scanLogFile(runLog);
    if (findings.length) throw new Error(`personal data in the test run's log: ${describeFindings(runLog, findings)}`);
    process.stderr.write(`test run log: ${runLog} (no names, id numbers or phones found)\n`);
  }
}
