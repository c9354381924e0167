/** The test server's administrative side, without vitest (global-setup.ts runs outside the test workers). */
import pg from 'pg';
import { randomBytes } from 'node:crypto';

export const ADMIN_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** `<prefix>_<seconds since 1970, base 36>_<random>`: the time in the name says when a leftover may go. */
export function testDbName(prefix: 'aidlink_t' | 'aidlink_tpl'): string {
  return `${prefix}_${Math.floor(Date.now() / 1000).toString(36)}_${randomBytes(4).toString('hex')}`;
}

/** A test database older than a few hours (or of the older naming) belongs to no running test. */
export function isStale(name: string, hours = 3): boolean {
  const m = /^aidlink_(?:t|tpl)_([0-9a-z]+)_[0-9a-f]{8}$/.exec(name);
  if (!m) return true;
  return Date.now() / 1000 - parseInt(m[1]!, 36) > hours * 3600;
}

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

