/**
 * Tests talk to the real PostgreSQL on this machine. A template database is
 * migrated once per run (global-setup.ts); each test file clones it into a
 * database of its own, so files run in parallel without seeing each other.
 */
import pg from 'pg';
import { randomBytes } from 'node:crypto';
import { openStore, type Store } from '../../src/db/store.js';

export const ADMIN_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const TEMPLATE_DB = 'aidlink_test_template';

export function urlFor(database: string): string {
  const u = new URL(ADMIN_URL);
  u.pathname = `/${database}`;
  return u.toString();
}

export async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: ADMIN_URL });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

export interface TestDb {
  store: Store;
  url: string;
  name: string;
  drop(): Promise<void>;
}

/** A fresh, migrated database for one test file (or one test). */
export async function createTestDb(opts: { poolSize?: number } = {}): Promise<TestDb> {
  const name = `aidlink_t_${randomBytes(5).toString('hex')}`;
  await admin((c) => c.query(`create database ${name} template ${TEMPLATE_DB}`));
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
