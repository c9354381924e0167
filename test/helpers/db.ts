/**
 * Tests talk to the real PostgreSQL on this machine. A template database is
 * migrated once per run (global-setup.ts); each test file clones it into a
 * database of its own, so files run in parallel without seeing each other.
 */
import { inject } from 'vitest';
import { admin, testDbName, urlFor } from './pg-admin.js';
import { openStore, type Store } from '../../src/db/store.js';

export { admin, ADMIN_URL, urlFor } from './pg-admin.js';

export interface TestDb {
  store: Store;
  url: string;
  name: string;
  drop(): Promise<void>;
}

/** A fresh, migrated database for one test file (or one test). */
export async function createTestDb(opts: { poolSize?: number } = {}): Promise<TestDb> {
  const name = testDbName('aidlink_t');
  await admin((c) => c.query(`create database ${name} template ${inject('templateDb')}`));
  const url = urlFor(name);
  const store = await openStore({ databaseUrl: url, poolSize: opts.poolSize ?? 4 });
  return {
    store,
    url,
    name,
    async drop() {
      await store.close();
      await admin((c) => c.query(`drop database if exists ${name} with (force)`));
    },
  };
}

/** The engines the code runs on: PostgreSQL as deployed, PGlite embedded. */
export const ENGINES = ['postgres', 'pglite'] as const;

/** A store on one engine: a fresh test database on PostgreSQL, an empty in-memory PGlite (not migrated). */
export async function engineStore(engine: (typeof ENGINES)[number]): Promise<{ store: Store; close(): Promise<void> }> {
  if (engine === 'postgres') {
    const db = await createTestDb();
    return { store: db.store, close: () => db.drop() };
  }
  const store = await openStore({ dataDir: 'memory://' });
  return { store, close: () => store.close() };
}
