/**
 * One database API over two engines: PostgreSQL (pg) when DATABASE_URL is set,
 * and an embedded PostgreSQL (PGlite) in a data directory when it is not. Same
 * schema, same SQL. A `Tx` adds what Kysely lacks: COPY FROM STDIN for bulk loads.
 */
import { Kysely, PostgresDialect, sql, type CompiledQuery, type LogEvent } from 'kysely';
import { log } from '../log.js';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import type { DB } from './schema.js';
import { PGliteDialect } from './pglite-dialect.js';
import { Mutex } from '../util/mutex.js';

export type Engine = 'postgres' | 'pglite';

export interface Tx {
  readonly k: Kysely<DB>;
  /** COPY `table (columns)` FROM STDIN in text format; `data` is already COPY-encoded. */
  copyIn(table: string, columns: readonly string[], data: string | readonly Buffer[]): Promise<void>;
}

export interface Store {
  readonly engine: Engine;
  readonly k: Kysely<DB>;
  /** Runs `fn` in one transaction on one connection; commits on success, rolls back on error. */
  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  /**
   * Holds a session-level advisory lock on `key` while `fn` runs, or returns
   * `undefined` at once when another session holds it. Only one ingest of a file
   * runs at a time across processes; a crashed holder's lock dies with its session.
   */
  tryWithLock<T>(key: string, fn: () => Promise<T>): Promise<{ value: T } | undefined>;
  close(): Promise<void>;
}

/**
 * AIDLINK_SLOW_QUERY_MS=n logs every statement slower than n ms (its SQL, never its
 * parameters, which may be personal data): for an operator looking for a slow step.
 */
const slowQueryMs = Number(process.env.AIDLINK_SLOW_QUERY_MS ?? NaN);
function logSlow(event: LogEvent): void {
  if (event.queryDurationMillis >= slowQueryMs) {
    log.warn({ ms: Math.round(event.queryDurationMillis), sql: event.query.sql.replace(/\s+/g, ' ').slice(0, 300) }, 'slow query');
  }
}
const kyselyLog = Number.isFinite(slowQueryMs) ? logSlow : undefined;

// int8 (fen, counts) as numbers: safe below 2^53 fen (90 trillion yuan);
// date as its ISO text, never a Date shifted by the process time zone.
const INT8 = 20;
const DATE = 1082;
pg.types.setTypeParser(INT8, (v) => Number(v));
pg.types.setTypeParser(DATE, (v) => v);

export interface StoreOptions {
  databaseUrl?: string | undefined;
  /** Data directory for the embedded engine; `memory://` for a throwaway database. */
  dataDir?: string;
  poolSize?: number;
}

export async function openStore(opts: StoreOptions): Promise<Store> {
  if (opts.databaseUrl) return openPostgres(opts.databaseUrl, opts.poolSize ?? 10);
  return openPglite(opts.dataDir ?? '.aidlink');
}

function openPostgres(url: string, poolSize: number): Store {
  // a wait for a connection that never comes (every one held by jobs that each wait for a
  // second) ends in an error, which a job retries, rather than in a hang
  const pool = new pg.Pool({ connectionString: url, max: poolSize, application_name: 'aidlink', connectionTimeoutMillis: 60_000 });
  // an idle client losing its connection must not crash the process
  pool.on('error', () => undefined);
  const k = new Kysely<DB>({ dialect: new PostgresDialect({ pool }), log: kyselyLog });
  return {
    engine: 'postgres',
    k,
    async transaction(fn) {
      const client = await pool.connect();
      const watch = watchConnection(client);
      let broken = false;
      try {
        await client.query('begin');
        const tx = pgTx(client);
        const value = await fn(tx);
        await client.query('commit');
        return value;
      } catch (err) {
        try {
          await client.query('rollback');
        } catch {
          broken = true;
        }
        throw err;
      } finally {
        watch.release(broken);
      }
    },
    async tryWithLock(key, fn) {
      const client = await pool.connect();
      const watch = watchConnection(client);
      let locked = false;
      try {
        const r = await client.query<{ ok: boolean }>('select pg_try_advisory_lock(hashtextextended($1, 0)) as ok', [key]);
        locked = r.rows[0]?.ok === true;
        if (!locked) return undefined;
        return { value: await fn() };
      } finally {
        // a lost session has taken its lock with it
        if (locked && !watch.lost()) await client.query('select pg_advisory_unlock(hashtextextended($1, 0))', [key]).catch(() => undefined);
        watch.release();
      }
    },
    async close() {
      await k.destroy();
    },
  };
}

/**
 * While a client is checked out, the pool does not listen for its errors: a connection
 * lost between two queries (PostgreSQL restarted, the session terminated) would be an
 * unhandled 'error' event and end the process. Listened to here, the loss surfaces as
 * the error of the next query instead (a job fails and is retried), and the client is
 * released as broken, so that the pool drops it rather than handing it out again.
 */
function watchConnection(client: pg.PoolClient): { lost(): boolean; release(broken?: boolean): void } {
  let lost = false;
  const onError = (err: Error) => {
    lost = true;
    log.warn({ err: { message: err.message } }, 'database connection lost');
  };
  client.on('error', onError);
  return {
    lost: () => lost,
    release(broken = false) {
      client.off('error', onError);
      client.release(lost || broken);
    },
  };
}

/** A Kysely bound to one checked-out client, so builder queries join the client's transaction. */
function pgTx(client: pg.PoolClient): Tx {
  const single = {
    connect: async () => ({ query: client.query.bind(client), release: () => undefined }),
    end: async () => undefined,
  };
  const k = new Kysely<DB>({ dialect: new PostgresDialect({ pool: single as unknown as pg.Pool }), log: kyselyLog });
  return {
    k,
    async copyIn(table, columns, data) {
      const stream = client.query(copyFrom(`copy ${table} (${columns.join(', ')}) from stdin`));
      await pipeline(Readable.from(typeof data === 'string' ? [data] : data), stream);
    },
  };
}

async function openPglite(dataDir: string): Promise<Store> {
  const { PGlite } = await import('@electric-sql/pglite');
  let dir: string | undefined;
  if (dataDir !== 'memory://') {
    dir = resolve(dataDir, 'pgdata');
    mkdirSync(join(dir, '..'), { recursive: true });
  }
  const db: PGlite = await PGlite.create({
    dataDir: dir,
    parsers: { [INT8]: (v: string) => Number(v), [DATE]: (v: string) => v },
  });
  // PGlite is one connection: every use, transaction or not, takes turns.
  const mutex = new Mutex();
  const k = new Kysely<DB>({ dialect: new PGliteDialect(db, mutex), log: kyselyLog });
  const unlockedTx: Tx = {
    k: new Kysely<DB>({ dialect: new PGliteDialect(db, undefined), log: kyselyLog }),
    async copyIn(table, columns, data) {
      await db.query(`copy ${table} (${columns.join(', ')}) from '/dev/blob'`, [], { blob: new Blob(typeof data === 'string' ? [data] : [...data]) });
    },
  };
  return {
    engine: 'pglite',
    k,
    async transaction(fn) {
      return mutex.run(async () => {
        await db.exec('begin');
        try {
          const value = await fn(unlockedTx);
          await db.exec('commit');
          return value;
        } catch (err) {
          await db.exec('rollback');
          throw err;
        }
      });
    },
    async tryWithLock(_key, fn) {
      // one process owns the embedded database; nothing else can hold the lock
      return { value: await fn() };
    },
    async close() {
      await mutex.run(() => db.close());
    },
  };
}

/** Runs a compiled Kysely query; handy where a builder query must run through `Tx.k`. */
export async function run<R>(k: Kysely<DB>, q: CompiledQuery<R>): Promise<R[]> {
  return (await k.executeQuery(q)).rows;
}

export { sql };

/**
 * Work tables filled inside a transaction (the match's temporary tables) are never
 * analysed by autovacuum: without statistics the planner guesses their size, and a join of
 * a guessed table with a large one can run for many minutes. Every work table is
 * analysed once filled.
 */
/**
 * Memory for the sorts and hashes of a run over a county's rows (match, spells, assessment):
 * with the server's default 4 MB each spills to disk, and a hashed IN-list that outgrows it is
 * planned row by row. PostgreSQL only: the embedded engine's memory is the process's own.
 */
export const RUN_WORK_MEM = '256MB';

export async function setRunMemory(store: Store, tx: Tx): Promise<void> {
  if (store.engine !== 'postgres') return;
  await sql`set local work_mem = ${sql.lit(RUN_WORK_MEM)}`.execute(tx.k);
  await sql`set local maintenance_work_mem = ${sql.lit(RUN_WORK_MEM)}`.execute(tx.k);
}

/**
 * ANALYZE of the tables that changed by more than a tenth since their statistics were taken:
 * autovacuum's rule, applied by the run that is about to read them, since autovacuum may be
 * off (a table bulk-filled and never analysed is planned as a few hundred rows, and a join
 * of a million of them row by row). The server counts changes; the embedded engine keeps no
 * such counts, so a table never analysed, or grown by a tenth in pages since, counts too.
 * Returns the tables analysed.
 */
export async function analyzeChanged(tx: Tx, tables: readonly string[]): Promise<string[]> {
  const r = await sql<{ relname: string }>`
    select c.relname from pg_class c
    left join pg_stat_user_tables s on s.relid = c.oid
    where c.relname = any(${[...tables]}) and c.relkind = 'r' and c.relnamespace = to_regnamespace(current_schema())
      and (c.reltuples < 0
           or pg_relation_size(c.oid) / current_setting('block_size')::numeric > 1.1 * c.relpages + 10
           or coalesce(s.n_mod_since_analyze, 0) > 50 + 0.1 * coalesce(s.n_live_tup, 0))`.execute(tx.k);
  for (const t of r.rows) await analyze(tx, t.relname);
  return r.rows.map((t) => t.relname);
}

export async function analyze(tx: Tx, table: string): Promise<void> {
  await sql`analyze ${sql.table(table)}`.execute(tx.k);
}

/**
 * VACUUM (ANALYZE) of tables a run has just rewritten, after its transaction: with
 * autovacuum off nothing else reclaims the old versions of their rows or counts them,
 * and the next run would scan the dead versions and plan without statistics.
 */
export async function vacuumAnalyze(store: Store, tables: readonly string[]): Promise<void> {
  await sql`vacuum (analyze) ${sql.join(tables.map((t) => sql.table(t)))}`.execute(store.k);
}
