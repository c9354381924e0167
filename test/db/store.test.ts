/**
 * A database session lost under running work (PostgreSQL restarted, the session
 * terminated): the work fails with an error a job can retry, the process lives on,
 * and the pool gives out working connections afterwards.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { admin, createTestDb, type TestDb } from '../helpers/db.js';

describe('a database session lost while it is checked out', () => {
  let db: TestDb;
  beforeAll(async () => {
    db = await createTestDb();
  });
  afterAll(() => db?.drop());

  const terminate = (pid: number) => admin((c) => c.query('select pg_terminate_backend($1)', [pid]));
  // the session's end reaches the client while it runs no query
  const settle = () => new Promise((r) => setTimeout(r, 300));
  const works = async () => (await sql<{ n: number }>`select 1 as n`.execute(db.store.k)).rows[0]!.n === 1;

  it('between two statements of a transaction: the next statement fails, and the pool recovers', async () => {
    const failed = db.store.transaction(async (tx) => {
      const pid = (await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(tx.k)).rows[0]!.pid;
      await terminate(pid);
      await settle();
      await sql`select 1`.execute(tx.k);
    });
    await expect(failed).rejects.toThrow();
    expect(await works()).toBe(true);
  });

  it('holding a file lock: the lock goes with the session, and another session can take it', async () => {
    const key = 'aidlink:file:lost-session';
    const first = await db.store.tryWithLock(key, async () => {
      // this test's own database only: other test files hold advisory locks in theirs
      const holder = await sql<{ pid: number }>`
        select l.pid from pg_locks l join pg_database d on d.oid = l.database
        where l.locktype = 'advisory' and l.granted and d.datname = current_database() and l.pid <> pg_backend_pid()`.execute(db.store.k);
      expect(holder.rows).toHaveLength(1);
      await terminate(holder.rows[0]!.pid);
      await settle();
      return 'finished';
    });
    expect(first).toEqual({ value: 'finished' });
    expect(await db.store.tryWithLock(key, async () => 'taken')).toEqual({ value: 'taken' });
    expect(await works()).toBe(true);
  });
});
