/**
 * What the reliability scenarios share: inboxes made from the sample county, clean
 * reference runs, workers as real processes, a private Redis that can be stopped and
 * started, and a sync followed through BullMQ.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { sql } from 'kysely';
import { openStore, type Store } from '../../src/db/store.js';
import type { BullRunner } from '../../src/jobs/bull.js';
import { syncInProcess } from '../../src/jobs/local.js';
import { follow, type JobState } from '../../src/jobs/runner.js';
import { peekDelivery } from '../../src/ingest/ingest.js';
import { loadMapping } from '../../src/ingest/mapping.js';
import { admin, createTestDb, type TestDb } from '../helpers/db.js';
import { testDbName, urlFor } from '../helpers/pg-admin.js';
import { testContext } from '../helpers/context.js';
import { SAMPLE_INBOX } from '../helpers/sample.js';
import { until } from '../helpers/queues.js';
import { stateFingerprint, type StateFingerprint } from './fingerprint.js';

const BIN = fileURLToPath(new URL('../../bin/aidlink.mjs', import.meta.url));

export const tempDir = (what: string): string => mkdtempSync(join(tmpdir(), `aidlink-faults-${what}-`));

/** Every file of an inbox, as delivery names (`civil/…`), sorted. */
export function inboxFiles(root: string): string[] {
  return readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .flatMap((d) => readdirSync(join(root, d.name)).map((f) => `${d.name}/${f}`))
    .sort();
}

/** A new inbox holding these files of `from` (all of them by default). */
export function copyInbox(files: readonly string[] = inboxFiles(SAMPLE_INBOX), from = SAMPLE_INBOX): string {
  const root = tempDir('inbox');
  for (const f of files) putFile(root, f, readFileSync(join(from, f)));
  return root;
}

export function putFile(root: string, file: string, content: Buffer | string): void {
  mkdirSync(dirname(join(root, file)), { recursive: true });
  writeFileSync(join(root, file), content);
}

/** The files of an inbox with their as-of dates, newest first (ties: later name first). */
export async function newestFirst(root: string): Promise<{ file: string; asOf: string }[]> {
  const mapping = loadMapping();
  const dated = await Promise.all(
    inboxFiles(root).map(async (file) => ({ file, asOf: (await peekDelivery(mapping, join(root, file), { inboxRoot: root }))?.asOf ?? '' })),
  );
  return dated.sort((a, b) => (a.asOf !== b.asOf ? (a.asOf < b.asOf ? 1 : -1) : a.file < b.file ? 1 : -1));
}

/**
 * A roster cut to its first `keep` rows, as an export that stopped short: its title
 * lines (month and 导出日期 rewritten to `title`), header, those rows and a footer.
 */
export function truncatedRoster(source: string, keep: number, title: { month: string; date: string }): string {
  const lines = readFileSync(source, 'utf8').split(/\r?\n/).filter((l) => l !== '');
  const header = lines.findIndex((l) => l.includes('姓名') && l.includes(','));
  const data = lines.slice(header + 1).filter((l) => !l.startsWith('合计'));
  const titles = lines.slice(0, header).map((l) => l.replace(/\d{4}年\d{1,2}月/, title.month).replace(/\d{4}-\d\d-\d\d/, title.date));
  return [...titles, lines[header]!, ...data.slice(0, keep), `合计:${keep}人`, ''].join('\n');
}

/** A database and its state after one undisturbed in-process sync of an inbox. */
export interface Reference {
  fp: StateFingerprint;
  db: TestDb;
  seconds: number;
}

export async function cleanReference(inbox: string): Promise<Reference> {
  const started = Date.now();
  const db = await createTestDb();
  await syncInProcess(testContext(db.store), { inbox, requestedBy: 'faults-reference' });
  const fp = await stateFingerprint(db.store);
  return { fp, db, seconds: (Date.now() - started) / 1000 };
}

/**
 * A copy of a reference database, to carry on from its clean state. The reference's
 * own connections are closed for good (a template database must have none).
 */
export async function cloneReference(ref: Reference): Promise<TestDb> {
  await ref.db.store.close().catch(() => undefined);
  const name = testDbName('aidlink_t');
  await admin((c) => c.query(`create database ${name} template ${ref.db.name}`));
  const url = urlFor(name);
  const store = await openStore({ databaseUrl: url, poolSize: 4 });
  return {
    store,
    url,
    name,
    async drop() {
      await store.close();
      await dropDatabase(name);
    },
  };
}

export async function dropDatabase(name: string): Promise<void> {
  await admin((c) => c.query(`drop database if exists ${name} with (force)`));
}

export interface WorkerProcess {
  child: ChildProcess;
  log: string[];
  exited: Promise<number | null>;
}

/** `aidlink worker` as a process of its own, on this database and these queues. */
export function startWorkerProcess(databaseUrl: string, env: Record<string, string>, dataDir: string): WorkerProcess {
  const child = spawn(process.execPath, [BIN, 'worker'], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, CI: 'true', LOG_LEVEL: 'info', DATABASE_URL: databaseUrl, AIDLINK_DATA_DIR: dataDir, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const log: string[] = [];
  child.stderr!.on('data', (d: Buffer) => log.push(...d.toString().split('\n').filter(Boolean)));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, log, exited };
}

/** Log lines of a worker with this message (pino JSON). */
export const logged = (w: WorkerProcess, msg: string): Record<string, unknown>[] =>
  w.log.flatMap((l) => {
    try {
      const o = JSON.parse(l) as Record<string, unknown>;
      return o.msg === msg ? [o] : [];
    } catch {
      return [];
    }
  });

/** The stages of a run, one line each: `name state (attempts) progress error`. */
function describeRun(s: JobState, depth = 0): string[] {
  const p = s.progress ? ` [${s.progress.stage}${s.progress.done !== undefined ? ` ${s.progress.done}/${s.progress.total ?? '?'}` : ''}]` : '';
  return [`${'  '.repeat(depth)}${s.name} ${s.state} (attempts ${s.attempts})${p}${s.error ? ` error: ${s.error}` : ''}`, ...s.children.flatMap((c) => describeRun(c, depth + 1))];
}

/** Follows a run to its end; past `timeoutMs`, fails with the state of each of its stages. */
export async function finish(runner: BullRunner, id: string, timeoutMs = 240_000): Promise<JobState> {
  let last: JobState | undefined;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`run ${id} did not finish in ${timeoutMs / 1000} s:\n${last ? describeRun(last).join('\n') : '(never seen)'}`)), timeoutMs);
  });
  try {
    return await Promise.race([follow(runner, id, (s) => (last = s), 200), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Submits a sync of `inbox` and follows it to its end. */
export async function syncThroughQueues(runner: BullRunner, inbox: string, requestedBy = 'faults'): Promise<JobState> {
  const submitted = await runner.submitSync({ inbox, requestedBy });
  return finish(runner, submitted.id);
}

export async function loadedThrough(store: Store, file: string): Promise<number> {
  const read = async () => (await store.k.selectFrom('delivery').select('loaded_through_row').where('file', '=', file).executeTakeFirst())?.loaded_through_row ?? 0;
  try {
    return await read();
  } catch (err) {
    // scenario 4 terminates every connection to the database, this test's idle ones too: read again on a new one
    if ((err as { code?: string }).code !== '57P01') throw err;
    return read();
  }
}

export async function countRows(store: Store, table: 'delivery' | 'assessment_run' | 'match_run'): Promise<number> {
  return (await sql<{ n: number }>`select count(*)::int as n from ${sql.table(table)}`.execute(store.k)).rows[0]!.n;
}

/** Whether a session holds the advisory lock a stage takes for its transaction (`aidlink:assess`, …). */
export async function advisoryLockHeld(store: Store, key: string): Promise<boolean> {
  const r = await sql<{ held: boolean }>`
    select exists (
      select 1 from pg_locks l
      where l.locktype = 'advisory' and l.granted and l.database = (select oid from pg_database where datname = current_database())
        and ((l.classid::bigint << 32) | l.objid::bigint) = hashtextextended(${key}, 0)
    ) as held`.execute(store.k);
  return r.rows[0]!.held;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * A Redis of the scenario's own, configured as docker-compose runs it (append-only,
 * noeviction), on a free port, that can be stopped and started again on the same
 * port and data directory. The shared Redis of the other tests is never touched.
 */
export class PrivateRedis {
  private child: ChildProcess | undefined;
  private constructor(
    readonly port: number,
    private readonly dir: string,
  ) {}

  static async start(): Promise<PrivateRedis> {
    const r = new PrivateRedis(await freePort(), tempDir('redis'));
    await r.start();
    return r;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const child = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--appendonly', 'yes', '--appendfsync', 'everysec', '--save', '', '--maxmemory-policy', 'noeviction'],
      { stdio: 'ignore' },
    );
    this.child = child;
    await until('the private Redis to answer', async () => {
      if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
      const probe = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 500 });
      probe.on('error', () => undefined);
      try {
        await probe.connect();
        return (await probe.ping()) === 'PONG';
      } catch {
        return false;
      } finally {
        probe.disconnect();
      }
    }, 20_000, 100);
  }

  /** Stops it for good and removes its data. */
  async dispose(): Promise<void> {
    await this.stop('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** SIGTERM: Redis writes its append-only file and exits, as `docker compose restart redis` does. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    await exited;
  }
}
