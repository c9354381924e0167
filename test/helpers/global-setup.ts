/** Once per test run: a migrated template database that every test file clones. */
import { openStore } from '../../src/db/store.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { admin, TEMPLATE_DB, urlFor } from './db.js';

export async function setup(): Promise<void> {
  await admin(async (c) => {
    // leftovers of an interrupted run
    const old = await c.query<{ datname: string }>(`select datname from pg_database where datname like 'aidlink_t\\_%'`);
    for (const r of old.rows) await c.query(`drop database if exists ${r.datname} with (force)`);
    await c.query(`drop database if exists ${TEMPLATE_DB} with (force)`);
    await c.query(`create database ${TEMPLATE_DB}`);
  });
  const store = await openStore({ databaseUrl: urlFor(TEMPLATE_DB), poolSize: 1 });
  try {
    await migrateToLatest(store);
  } finally {
    await store.close();
  }
}

export async function teardown(): Promise<void> {
  await admin((c) => c.query(`drop database if exists ${TEMPLATE_DB} with (force)`));
}
