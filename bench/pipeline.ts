/**
 * npm run bench [-- --persons 200000] [--points 50000,400000] [--seed 40] [--skip-embedded | --embedded-persons N]
 *                  [--skip-server | --http-seconds 10] [--out BENCHMARKS.md]
 *
 * The pipeline at county scale, on this machine, in one run:
 *
 *   1. generates synthetic counties (bench/out/county-<persons>-s<seed>, kept for the next run):
 *      the main one (200,000 people, about a million rows in 55 deliveries) and the growth points;
 *   2. for each county, with PostgreSQL and one `aidlink worker` process on Redis, as deployed:
 *      the backfill (a sync of every delivery up to the last month) and the nightly increment
 *      (the last month's deliveries, ending with the report) — wall time per stage, rows per
 *      second, the worker's peak RSS (/usr/bin/time), the database's size;
 *   3. the same two syncs in embedded mode (PGlite, one process), for the main county unless
 *      --embedded-persons says otherwise;
 *   4. the floor: `psql \copy` of the same rows (each delivery's cells as stored, exported to
 *      plain CSV beforehand) into plain tables of text columns, timed in the same run, and the
 *      ratio of aidlink's rows per second to it;
 *   5. the HTTP server on the main county once synced (unless --skip-server): `aidlink serve` as its
 *      own process on 127.0.0.1, a caseworker signed in, then 20 keep-alive connections against
 *      GET /worklist and GET /health for --http-seconds each after a 2 s warm-up (bench/http-load.ts):
 *      requests per second, latency, every non-2xx answer, and the server's RSS;
 *   6. last, the console at the worklist's scale (bench/console.ts, `npm run bench:console`): server
 *      time of worklist pages at 50,000 open flags and of sending 1,000 cases down, against the
 *      issue's targets;
 *
 * and writes BENCHMARKS.md with the figures and the command that made them. Timings are noisy
 * on a shared machine: compare ratios within one run, not numbers across runs.
 */
import { spawn, spawnSync, type ChildProcess, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { loadConfig } from '../src/config.js';
import { BullRunner } from '../src/jobs/bull.js';
import type { JobState } from '../src/jobs/runner.js';
import { stageTimes, type StageTime } from './stages.js';
import { runLoad, type LoadResult } from './http-load.js';
import { dropQueues } from '../test/helpers/queues.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(root, 'bin', 'aidlink.mjs');
const RUN = join(root, 'bin', 'run.mjs');
const OUT = join(root, 'bench', 'out');

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
}
const mainPersons = Number(arg('persons') ?? 200_000);
const points = (arg('points') ?? '50000,400000').split(',').filter(Boolean).map(Number);
const seed = Number(arg('seed') ?? 40);
const withEmbedded = !process.argv.includes('--skip-embedded');
/** embedded mode at this size (default: the main county's) */
const embeddedPersons = Number(arg('embedded-persons') ?? mainPersons);
const withServer = !process.argv.includes('--skip-server');
/** each route's measured load, after HTTP_WARMUP_MS */
const httpSeconds = Number(arg('http-seconds') ?? 10);
const report = resolve(root, arg('out') ?? 'BENCHMARKS.md');
const adminUrl = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const redisUrl = process.env.BENCH_REDIS_URL ?? process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
/** No sync may take longer than this; a hung benchmark is a failed one. */
const SYNC_TIMEOUT_MS = 3 * 3600_000;
/** The server stage: connections, warm-up, and a bound on requests per route besides the duration. */
const HTTP_CONNECTIONS = 20;
const HTTP_WARMUP_MS = 2000;
const HTTP_MAX_REQUESTS = 2_000_000;
/** The server must be listening within this, and gone this long after SIGTERM. */
const SERVER_START_MS = 120_000;
const SERVER_STOP_MS = 30_000;

const fmt = (n: number) => Math.round(n).toLocaleString('en');
const secs = (ms: number) => (ms / 1000).toFixed(1);
const mb = (bytes: number) => `${Math.round(bytes / 1024 ** 2)} MB`;
const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);

// ---------------------------------------------------------------- databases

function dbUrl(name: string): string {
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return u.toString();
}

async function query<T extends pg.QueryResultRow>(url: string, text: string): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<T>(text)).rows;
  } finally {
    await c.end();
  }
}

async function freshDatabase(name: string): Promise<string> {
  await query(adminUrl, `drop database if exists ${name} with (force)`);
  await query(adminUrl, `create database ${name}`);
  return dbUrl(name);
}

const dropDatabase = (name: string) => query(adminUrl, `drop database if exists ${name} with (force)`);

// ---------------------------------------------------------------- processes

interface Timed {
  status: number | null;
  stdout: string;
  stderr: string;
  peakRssBytes: number;
}

/** Runs a command under /usr/bin/time -v, for its peak RSS. */
function timed(args: string[], env: NodeJS.ProcessEnv): Timed {
  const r = spawnSync('/usr/bin/time', ['-v', process.execPath, ...args], { env, encoding: 'utf8', maxBuffer: 64 * 1024 ** 2 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, peakRssBytes: peakRss(r.stderr) };
}

function peakRss(timeOutput: string): number {
  return Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(timeOutput)?.[1] ?? NaN) * 1024;
}

function must(r: Timed, what: string): Timed {
  if (r.status !== 0) throw new Error(`${what} failed (exit ${r.status}):\n${r.stderr.slice(-4000)}`);
  return r;
}

function dirSize(dir: string): number {
  let total = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    total += e.isDirectory() ? dirSize(p) : statSync(p).size;
  }
  return total;
}

// ---------------------------------------------------------------- counties

interface County {
  persons: number;
  dir: string;
  inbox: string;
  rows: number;
  /** the backfill takes every delivery up to this date; the increment the rest (the last month) */
  until: string;
  backfillRows: number;
  incrementRows: number;
  incrementFiles: number;
}

function county(persons: number): County {
  const dir = join(OUT, `county-${persons}-s${seed}`);
  const filesCsv = join(dir, 'truth', 'files.csv');
  if (!existsSync(filesCsv)) {
    log(`generating a county of ${fmt(persons)} people in ${dir}`);
    rmSync(dir, { recursive: true, force: true });
    must(timed([BIN, 'demo-data', '--persons', String(persons), '--seed', String(seed), '--out', dir], process.env), 'demo-data');
  }
  // files.csv: file,source,as_of,kind,rows,expected (no field holds a comma)
  const files = readFileSync(filesCsv, 'utf8').trim().split('\n').slice(1).map((l) => l.split(','));
  const lastMonth = files.map((f) => f[2]!.slice(0, 7)).sort().at(-1)!;
  const until = new Date(Date.UTC(Number(lastMonth.slice(0, 4)), Number(lastMonth.slice(5, 7)) - 1, 0)).toISOString().slice(0, 10);
  const later = files.filter((f) => f[2]! > until);
  const rowsOf = (fs: string[][]) => fs.reduce((s, f) => s + Number(f[4]), 0);
  return { persons, dir, inbox: join(dir, 'inbox'), rows: rowsOf(files), until, backfillRows: rowsOf(files) - rowsOf(later), incrementRows: rowsOf(later), incrementFiles: later.length };
}

// ---------------------------------------------------------------- runs

interface SyncRun {
  wallMs: number;
  stages: StageTime[];
  /** rows the sync's deliveries hold */
  rows: number;
  /** whom the sync's spells and assessment covered (its runs' stats), where the database could be read */
  scope?: { spells: string; assessed: string; persons: number };
}

interface ModeRun {
  mode: 'queued' | 'embedded';
  county: County;
  backfill: SyncRun;
  increment: SyncRun;
  /** the worker process (queued) or the sync process (embedded), the larger of the two syncs */
  peakRssBytes: number;
  dbBytes: number;
  copy?: { backfillMs: number; incrementMs: number };
  /** the server stage (main county only) */
  http?: HttpRun;
}

/** PostgreSQL and one worker process on Redis, as docker-compose deploys it. */
async function runQueued(c: County, withCopy: boolean, withHttp = false): Promise<ModeRun> {
  const name = `aidlink_bench_${c.persons}`;
  const url = await freshDatabase(name);
  const dataDir = join(OUT, `data-${c.persons}`);
  rmSync(dataDir, { recursive: true, force: true });
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: url,
    REDIS_URL: redisUrl,
    AIDLINK_QUEUE_PREFIX: `aidlink-bench-${randomBytes(4).toString('hex')}`,
    AIDLINK_DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
  };
  must(timed([BIN, 'migrate'], env), 'migrate');
  const worker = spawn('/usr/bin/time', ['-v', process.execPath, BIN, 'worker'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  const workerErr: string[] = [];
  worker.stderr!.on('data', (b: Buffer) => workerErr.push(b.toString()));
  // 'close': the exit status and all of /usr/bin/time's report on stderr
  const workerExit = new Promise<number | null>((r) => worker.on('close', r));
  const runner = await BullRunner.connect(loadConfig(env));
  try {
    log(`${fmt(c.persons)} people, queued: backfill up to ${c.until}`);
    const backfill = await followSync(runner, () => runner.submitSync({ inbox: c.inbox, until: c.until, requestedBy: 'bench' }, { report: false }), url);
    log(`  backfill ${secs(backfill.wallMs)} s; increment`);
    const increment = await followSync(runner, () => runner.submitSync({ inbox: c.inbox, requestedBy: 'bench' }, { report: true }), url);
    log(`  increment ${secs(increment.wallMs)} s`);
    const dbBytes = Number((await query<{ n: string }>(url, 'select pg_database_size(current_database()) as n'))[0]!.n);
    const copy = withCopy ? await copyFloor(url, c) : undefined;
    const peakRssBytes = await stopWorker(worker, workerExit, workerErr);
    const http = withHttp ? await serverStage(env, url) : undefined;
    return { mode: 'queued', county: c, backfill, increment, peakRssBytes, dbBytes, ...(copy ? { copy } : {}), ...(http ? { http } : {}) };
  } finally {
    await runner.close();
    if (worker.exitCode === null) worker.kill('SIGKILL');
    await dropQueues(env.AIDLINK_QUEUE_PREFIX!, redisUrl);
    await dropDatabase(name);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function followSync(runner: BullRunner, submit: () => Promise<JobState>, url: string): Promise<SyncRun> {
  const before = await deliveredRows(url);
  const t0 = Date.now();
  const first = await submit();
  for (;;) {
    const s = await runner.get(first.id);
    if (s?.state === 'completed') {
      const wallMs = Date.now() - t0;
      return { wallMs, stages: stageTimes(s), rows: (await deliveredRows(url)) - before, scope: await stagesScope(s, url) };
    }
    if (s?.state === 'failed') throw new Error(`sync ${first.id} failed: ${s.error ?? JSON.stringify(s.children.map((c) => [c.name, c.state, c.error]))}`);
    if (Date.now() - t0 > SYNC_TIMEOUT_MS) throw new Error(`sync ${first.id} did not finish in ${SYNC_TIMEOUT_MS / 60_000} minutes`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Whom the sync's spells and assessment covered: a number of persons, or everyone (and why), from their jobs' results. */
async function stagesScope(tree: JobState, url: string): Promise<SyncRun['scope']> {
  const results = new Map<string, unknown>();
  const walk = (s: JobState) => {
    results.set(s.name, s.result);
    s.children.forEach(walk);
  };
  walk(tree);
  const whom = (x: unknown) => {
    const scope = (x as { scope?: unknown } | undefined)?.scope;
    return typeof scope === 'number' ? `${fmt(scope)} persons` : scope && typeof scope === 'object' && 'everyone' in scope ? `everyone (${String(scope.everyone)})` : scope === 'everyone' ? 'everyone' : '—';
  };
  const persons = Number((await query<{ n: string }>(url, 'select count(*) as n from person'))[0]!.n);
  return { spells: whom(results.get('spells.derive')), assessed: whom(results.get('assess.run')), persons };
}

async function deliveredRows(url: string): Promise<number> {
  return Number((await query<{ n: string }>(url, "select coalesce(sum(row_count), 0) as n from delivery where status in ('accepted', 'quarantined')"))[0]!.n);
}

async function stopWorker(worker: ChildProcess, exited: Promise<number | null>, err: string[]): Promise<number> {
  // the worker itself, not /usr/bin/time, which reports once its child is gone
  const pid = Number(spawnSync('pgrep', ['-P', String(worker.pid)], { encoding: 'utf8' }).stdout.trim());
  if (pid) process.kill(pid, 'SIGTERM');
  else worker.kill('SIGTERM');
  await exited;
  return peakRss(err.join(''));
}

/** PGlite in one process: `aidlink sync` without DATABASE_URL, through bench/sync-child.ts for its stage times. */
function runEmbedded(c: County): ModeRun {
  const dataDir = join(OUT, `embedded-${c.persons}`);
  rmSync(dataDir, { recursive: true, force: true });
  const env: NodeJS.ProcessEnv = { ...process.env, AIDLINK_DATA_DIR: dataDir, LOG_LEVEL: 'warn' };
  delete env.DATABASE_URL;
  delete env.REDIS_URL;
  const once = (until: string | undefined, report: boolean): { run: SyncRun; rss: number } => {
    const t = must(timed([RUN, join(root, 'bench', 'sync-child.ts'), '--inbox', c.inbox, ...(until ? ['--until', until] : []), ...(report ? ['--report'] : [])], env), 'embedded sync');
    const run = JSON.parse(t.stdout.trim().split('\n').at(-1)!) as SyncRun;
    return { run, rss: t.peakRssBytes };
  };
  try {
    log(`${fmt(c.persons)} people, embedded: backfill up to ${c.until}`);
    const b = once(c.until, false);
    log(`  backfill ${secs(b.run.wallMs)} s; increment`);
    const i = once(undefined, true);
    log(`  increment ${secs(i.run.wallMs)} s`);
    return { mode: 'embedded', county: c, backfill: b.run, increment: i.run, peakRssBytes: Math.max(b.rss, i.rss), dbBytes: dirSize(dataDir) };
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/**
 * psql \copy of the same rows into plain tables: each delivery's cells exported to a CSV
 * beforehand (not timed), then loaded by one psql per phase (timed).
 */
async function copyFloor(url: string, c: County): Promise<{ backfillMs: number; incrementMs: number }> {
  const dir = join(OUT, `copy-${c.persons}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const deliveries = await query<{ id: number; as_of: string; width: number }>(
    url,
    `select d.id, d.as_of::text as as_of, (select max(cardinality(raw)) from source_row s where s.delivery_id = d.id)::int as width
     from delivery d where d.status in ('accepted', 'quarantined') order by d.id`,
  );
  const scripts = { backfill: [] as string[], increment: [] as string[] };
  const ddl: string[] = [];
  for (const d of deliveries) {
    const file = join(dir, `${d.id}.csv`);
    const cols = Array.from({ length: d.width }, (_, i) => `raw[${i + 1}]`).join(', ');
    must(asTimed(spawnSync('psql', [url, '-qc', `\\copy (select ${cols} from source_row where delivery_id = ${d.id} order by row_no) to '${file}' with (format csv)`], { encoding: 'utf8' })), 'export');
    ddl.push(`create table plain_${d.id} (${Array.from({ length: d.width }, (_, i) => `c${i + 1} text`).join(', ')});`);
    scripts[d.as_of > c.until ? 'increment' : 'backfill'].push(`\\copy plain_${d.id} from '${file}' with (format csv)`);
  }
  const plain = await freshDatabase(`aidlink_bench_plain_${c.persons}`);
  try {
    must(asTimed(spawnSync('psql', [plain, '-qc', ddl.join('\n')], { encoding: 'utf8' })), 'plain tables');
    const load = (lines: string[]) => {
      const script = join(dir, 'load.sql');
      writeFileSync(script, lines.join('\n') + '\n');
      const t0 = Date.now();
      must(asTimed(spawnSync('psql', [plain, '-v', 'ON_ERROR_STOP=1', '-qf', script], { encoding: 'utf8' })), 'psql \\copy');
      return Date.now() - t0;
    };
    return { backfillMs: load(scripts.backfill), incrementMs: load(scripts.increment) };
  } finally {
    await dropDatabase(`aidlink_bench_plain_${c.persons}`);
    rmSync(dir, { recursive: true, force: true });
  }
}

const asTimed = (r: ReturnType<typeof spawnSync>): Timed => ({ status: r.status, stdout: String(r.stdout), stderr: String(r.stderr), peakRssBytes: NaN });

// ---------------------------------------------------------------- the HTTP server

interface HttpRun {
  /** open cases on the worklist (its first page, 100 rows, is what GET /worklist shows) */
  openCases: number;
  connections: number;
  warmupMs: number;
  durationMs: number;
  routes: (LoadResult & { serverCpuMs: number })[];
  /** the server process from /proc/<pid>/status: RSS once signed in (before load), RSS after, peak (VmHWM) */
  rss: { idleBytes: number; afterBytes: number; peakBytes: number };
  /** lines the server logged at error level or above while it ran */
  serverErrors: string[];
  /** the stage could not be measured: why */
  error?: string;
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (a && typeof a === 'object' ? resolvePort(a.port) : reject(new Error('no port'))));
    });
  });
}

/** Resident memory of a process, from /proc/<pid>/status (bytes). */
function procMemory(pid: number): { rssBytes: number; peakBytes: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rssBytes: kb('VmRSS'), peakBytes: kb('VmHWM') };
}

/** CPU time (user + system) a process has used so far, from /proc/<pid>/stat (ms). */
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
function procCpuMs(pid: number): number {
  // the fields after the command name, which may hold spaces: state is field 3, utime 14, stime 15
  const rest = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ').at(-1)!.split(' ');
  return ((Number(rest[11]) + Number(rest[12])) * 1000) / CLK_TCK;
}

/** pino's JSON lines at level error (50) or above. */
function errorLines(text: string): string[] {
  return text.split('\n').filter((l) => {
    try {
      return (JSON.parse(l) as { level?: number }).level! >= 50;
    } catch {
      return false;
    }
  });
}

async function waitListening(server: ChildProcessWithoutNullStreams, out: string[], err: string[]): Promise<void> {
  await new Promise<void>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`aidlink serve not listening after ${SERVER_START_MS / 1000} s:\n${err.join('').slice(-4000)}`)), SERVER_START_MS);
    const done = (f: () => void) => {
      clearTimeout(timer);
      server.stdout.off('data', onData);
      server.off('exit', onExit);
      f();
    };
    const onData = () => {
      if (out.join('').includes('listening on ')) done(ok);
    };
    const onExit = (code: number | null) => done(() => fail(new Error(`aidlink serve exited (${code}) before listening:\n${err.join('').slice(-4000)}`)));
    server.stdout.on('data', onData);
    server.on('exit', onExit);
    onData();
  });
}

/** POST /login as the form does; the session cookie from the 303. */
async function signIn(origin: string, username: string, password: string): Promise<string> {
  const res = await fetch(`${origin}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ username, password, next: '/worklist' }).toString(),
  });
  await res.arrayBuffer();
  const cookie = res.headers.getSetCookie().map((c) => c.split(';')[0]!).find((c) => c.startsWith('aidlink_session='));
  if (res.status !== 303 || !cookie) throw new Error(`sign-in answered ${res.status}${cookie ? '' : ' without a session cookie'}`);
  return cookie;
}

/**
 * `aidlink serve` on the synced county, as its own process on 127.0.0.1 (plain HTTP, so the
 * cookie's Secure flag is off), a caseworker added with `aidlink user add --password-stdin` and
 * signed in, then bench/http-load.ts against each route in turn. A failure here is reported in
 * BENCHMARKS.md, not thrown: the rest of the run still measures.
 */
async function serverStage(baseEnv: NodeJS.ProcessEnv, url: string): Promise<HttpRun> {
  const run: HttpRun = {
    openCases: NaN,
    connections: HTTP_CONNECTIONS,
    warmupMs: HTTP_WARMUP_MS,
    durationMs: httpSeconds * 1000,
    routes: [],
    rss: { idleBytes: NaN, afterBytes: NaN, peakBytes: NaN },
    serverErrors: [],
  };
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const env: NodeJS.ProcessEnv = { ...baseEnv, AIDLINK_HTTP_HOST: '127.0.0.1', AIDLINK_HTTP_PORT: String(port), AIDLINK_COOKIE_SECURE: 'false' };
  const username = 'bench-caseworker';
  const password = randomBytes(18).toString('base64url');
  let server: ChildProcessWithoutNullStreams | undefined;
  const out: string[] = [];
  const err: string[] = [];
  try {
    run.openCases = Number((await query<{ n: string }>(url, "select count(*) as n from outreach_case where status not in ('paid', 'declined', 'withdrawn')"))[0]!.n);
    const add = spawnSync(process.execPath, [BIN, 'user', 'add', username, '--role', 'caseworker', '--password-stdin'], { env, input: `${password}\n`, encoding: 'utf8' });
    must(asTimed(add), 'aidlink user add');
    log(`server: aidlink serve on ${origin}`);
    server = spawn(process.execPath, [BIN, 'serve'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    server.stdin.end();
    server.stdout.on('data', (b: Buffer) => out.push(b.toString()));
    server.stderr.on('data', (b: Buffer) => err.push(b.toString()));
    const exited = new Promise<number | null>((r) => server!.on('exit', r));
    await waitListening(server, out, err);
    const cookie = await signIn(origin, username, password);
    // the page must be the worklist itself, not a redirect to the sign-in page
    const probe = await fetch(`${origin}/worklist`, { redirect: 'manual', headers: { cookie } });
    await probe.arrayBuffer();
    if (probe.status !== 200) throw new Error(`GET /worklist signed in answered ${probe.status} ${probe.headers.get('location') ?? ''}`);
    run.rss.idleBytes = procMemory(server.pid!).rssBytes;
    for (const [path, headers] of [['/worklist', { cookie }], ['/health', {}]] as const) {
      log(`  ${path}: ${HTTP_CONNECTIONS} connections, ${httpSeconds} s after ${HTTP_WARMUP_MS / 1000} s warm-up`);
      const pid = server.pid!;
      let cpu0 = NaN;
      let serverCpuMs = NaN;
      const onMeasure = (edge: 'start' | 'end') => (edge === 'start' ? (cpu0 = procCpuMs(pid)) : (serverCpuMs = procCpuMs(pid) - cpu0));
      const r = await runLoad({ origin, path, headers, connections: HTTP_CONNECTIONS, durationMs: run.durationMs, warmupMs: HTTP_WARMUP_MS, maxRequests: HTTP_MAX_REQUESTS, onMeasure });
      log(`    ${fmt(r.requestsPerSec)} requests/s, p50 ${r.p50Ms.toFixed(1)} ms, p99 ${r.p99Ms.toFixed(1)} ms, non-2xx ${r.non2xx}, failed ${r.errors}, server CPU ${(serverCpuMs / r.requests).toFixed(2)} ms a request`);
      run.routes.push({ ...r, serverCpuMs });
    }
    const mem = procMemory(server.pid!);
    run.rss.afterBytes = mem.rssBytes;
    run.rss.peakBytes = mem.peakBytes;
    server.kill('SIGTERM');
    const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), SERVER_STOP_MS))]);
    if (code !== 0) throw new Error(`aidlink serve ${code === 'timeout' ? `still running ${SERVER_STOP_MS / 1000} s after SIGTERM` : `exited ${code} on SIGTERM`}`);
  } catch (e) {
    run.error = e instanceof Error ? e.message : String(e);
    log(`server stage: ${run.error}`);
  } finally {
    if (server && server.exitCode === null && server.signalCode === null) server.kill('SIGKILL');
    run.serverErrors = errorLines(err.join(''));
    if (run.serverErrors.length) log(`server logged ${run.serverErrors.length} error lines, the first:\n${run.serverErrors[0]!.slice(0, 2000)}`);
  }
  return run;
}

// ---------------------------------------------------------------- report

/** Issue 14's: a 200,000-person county's backfill within 60 s, its nightly increment within 5 s, each process within 300 MB; embedded at 50,000 people, backfill within 60 s. */
const TARGETS = { backfillMs: 60_000, incrementMs: 5_000, rssBytes: 300 * 1024 ** 2 };

function stageTable(r: ModeRun): string {
  const names = [...new Set([...r.backfill.stages, ...r.increment.stages].map((s) => s.stage))];
  const cell = (run: SyncRun, stage: string, rows: number) => {
    const s = run.stages.find((x) => x.stage === stage);
    return s ? `${secs(s.ms)} | ${fmt(rows / (s.ms / 1000))}` : '— | —';
  };
  const lines = [
    `| stage | backfill s | backfill rows/s | increment s | increment rows/s |`,
    `|---|---:|---:|---:|---:|`,
    ...names.map((n) => `| ${n} | ${cell(r.backfill, n, r.backfill.rows)} | ${cell(r.increment, n, r.increment.rows)} |`),
    `| **whole sync (wall)** | **${secs(r.backfill.wallMs)}** | **${fmt(r.backfill.rows / (r.backfill.wallMs / 1000))}** | **${secs(r.increment.wallMs)}** | **${fmt(r.increment.rows / (r.increment.wallMs / 1000))}** |`,
  ];
  return lines.join('\n');
}

/** The server stage's section: figures only, no target. */
function httpSection(c: County, h: HttpRun): string {
  const title = `## HTTP server (${h.connections} connections)`;
  const setting = `\`aidlink serve\` as its own process on the county above once synced (${fmt(c.persons)} people, ${fmt(h.openCases)} open
cases on the worklist), on the same machine as PostgreSQL, Redis and the load generator, which share
its cores. ${h.connections} keep-alive connections from one client (bench/http-load.ts), each sending its next
request when the last is answered, for ${secs(h.durationMs)} s per route after a ${secs(h.warmupMs)} s warm-up. GET /worklist is
the first page (up to 100 cases) of open cases as a signed-in caseworker (session cookie); GET /health runs
\`select 1\` and a Redis ping. The server logs at LOG_LEVEL=warn (no line per request).`;
  if (h.routes.length === 0) return `${title}\n\n${setting}\n\n**Not measured:** ${h.error?.split('\n')[0] ?? 'no route ran'} (details in the bench's output).\n`;
  const ms = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '—');
  const per = (x: number, r: LoadResult) => (r.requests ? x / r.requests : NaN);
  const rows = h.routes.map(
    (r) =>
      `| GET ${r.path} | ${fmt(r.requests)} | ${fmt(r.requestsPerSec)} | ${ms(r.meanMs)} | ${ms(r.p50Ms)} | ${ms(r.p99Ms)} | ${ms(r.maxMs)} | ${fmt(r.non2xx)} | ${fmt(r.errors)} | ${ms(per(r.serverCpuMs, r))} | ${r.requests ? fmt(per(r.bytes, r)) : '—'} |`,
  );
  const odd = h.routes.flatMap((r) => [
    ...(r.non2xx ? [`GET ${r.path} answered ${Object.entries(r.statuses).filter(([s]) => !s.startsWith('2')).map(([s, n]) => `${s} ×${fmt(n)}`).join(', ')}`] : []),
    ...(r.errors ? [`GET ${r.path}: ${fmt(r.errors)} requests without an answer (${r.errorSamples.join('; ')})`] : []),
  ]);
  const [w, hl] = [h.routes.find((r) => r.path === '/worklist'), h.routes.find((r) => r.path === '/health')];
  return `${title}

${setting}

| route | requests | requests/s | mean ms | p50 ms | p99 ms | max ms | non-2xx | failed | server CPU ms a request | bytes an answer |
|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|
${rows.join('\n')}

Latency is from the client, request sent to answer read. Server CPU is the \`aidlink serve\` process's
user and system time over the measured phase (PostgreSQL's and Redis's are not in it) per answer.
${w && hl ? `GET /worklist's requests per second ÷ GET /health's: ${(w.requestsPerSec / hl.requestsPerSec).toFixed(3)}.\n` : ''}
| server process | RSS |
|---|---:|
| signed in, before the load | ${mb(h.rss.idleBytes)} |
| after the load | ${mb(h.rss.afterBytes)} |
| peak (VmHWM) | ${mb(h.rss.peakBytes)} |
${odd.length ? `\n**Non-2xx and failed requests:** ${odd.join('; ')}.\n` : ''}${h.serverErrors.length ? `\n**The server logged ${h.serverErrors.length} errors** during the stage (see the bench's output).\n` : ''}${h.error ? `\n**The stage did not finish:** ${h.error.split('\n')[0]}\n` : ''}`;
}

/** Whom each sync's spells and assessment covered (issue 14: a sync's are scoped to the persons its changes touched). */
function scopeLine(r: ModeRun): string {
  const one = (what: string, run: SyncRun) =>
    run.scope ? `the ${what}'s spells covered ${run.scope.spells} and its assessment ${run.scope.assessed}, of ${fmt(run.scope.persons)} persons` : '';
  const parts = [one('backfill', r.backfill), one('increment', r.increment)].filter(Boolean);
  return parts.length ? `\nWhom the syncs' spells and assessment covered: ${parts.join('; ')}.\n` : '';
}

/** The stage that took longest in each sync, as measured. */
function limitsLine(r: ModeRun): string {
  const biggest = (run: SyncRun) => [...run.stages].sort((a, b) => b.ms - a.ms)[0];
  const [b, i] = [biggest(r.backfill), biggest(r.increment)];
  const share = (st: StageTime | undefined, run: SyncRun) => (st ? `${st.stage}, ${secs(st.ms)} of ${secs(run.wallMs)} s` : '—');
  return `The largest stage: of the backfill ${share(b, r.backfill)}; of the increment ${share(i, r.increment)}.`;
}

function verdict(ok: boolean): string {
  return ok ? 'reached' : '**not reached**';
}

function writeReport(main: ModeRun, embedded: ModeRun | undefined, growth: ModeRun[], command: string, startedAt: Date, pending: string[]): void {
  const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).stdout.trim();
  const dirty = spawnSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: root, encoding: 'utf8' }).stdout.trim() ? ' (with uncommitted changes)' : '';
  const c = main.county;
  const ingestOf = (run: SyncRun) => run.stages.find((s) => s.stage === 'ingest')?.ms ?? run.wallMs;
  const ratio = (rows: number, aidlinkMs: number, copyMs: number) => (rows / aidlinkMs / (rows / copyMs)).toFixed(3);
  const copy = main.copy!;
  const md = `# Benchmarks

Made by \`${command}\` on ${startedAt.toISOString().slice(0, 10)}, commit ${commit}${dirty};
${cpus().length} cores (${cpus()[0]?.model.trim() ?? 'unknown CPU'}), ${Math.round(totalmem() / 1024 ** 3)} GiB, Node ${process.version}.
Timings on a shared machine are noisy: the ratios, measured within one run, are the figures to compare.

The county: ${fmt(c.persons)} synthetic people, ${fmt(c.rows)} data rows in 55 deliveries (the sample
county's forms and damage at ${Math.round(c.persons / 5000)}× its size). The backfill is one \`aidlink sync\` of
every delivery up to ${c.until} (${fmt(c.backfillRows)} rows); the nightly increment is the next sync, of the last
month's ${c.incrementFiles} deliveries (${fmt(c.incrementRows)} rows), ending with the outreach report.

## PostgreSQL and one worker on Redis (as deployed)

${stageTable(main)}

Stages are measured from the job tree: each stage from the end of the one before it (ingest from the
submission). Rows per second divide the sync's rows by the stage's time.
${scopeLine(main)}

| measure | value | target | |
|---|---:|---:|---|
| backfill | ${secs(main.backfill.wallMs)} s | ${TARGETS.backfillMs / 1000} s | ${verdict(main.backfill.wallMs <= TARGETS.backfillMs)} |
| nightly increment | ${secs(main.increment.wallMs)} s | ${TARGETS.incrementMs / 1000} s | ${verdict(main.increment.wallMs <= TARGETS.incrementMs)} |
| worker peak RSS | ${mb(main.peakRssBytes)} | ${mb(TARGETS.rssBytes)} | ${verdict(main.peakRssBytes <= TARGETS.rssBytes)} |
| database size after both | ${mb(main.dbBytes)} | | |

### Against \`psql \\copy\` of the same rows

| | psql \\copy s | aidlink ingest s | ratio (ingest) | aidlink whole sync s | ratio (whole sync) |
|---|---:|---:|---:|---:|---:|
| backfill | ${secs(copy.backfillMs)} | ${secs(ingestOf(main.backfill))} | ${ratio(main.backfill.rows, ingestOf(main.backfill), copy.backfillMs)} | ${secs(main.backfill.wallMs)} | ${ratio(main.backfill.rows, main.backfill.wallMs, copy.backfillMs)} |
| increment | ${secs(copy.incrementMs)} | ${secs(ingestOf(main.increment))} | ${ratio(main.increment.rows, ingestOf(main.increment), copy.incrementMs)} | ${secs(main.increment.wallMs)} | ${ratio(main.increment.rows, main.increment.wallMs, copy.incrementMs)} |

The ratio is aidlink's rows per second over \`psql \\copy\`'s: 1 would mean aidlink ingests as fast as
PostgreSQL loads the bare cells into a table of text columns, without parsing, validating, keeping
row numbers and problems, matching or assessing.
${main.http ? `\n${httpSection(c, main.http)}` : ''}${
  embedded
    ? `
## Embedded (PGlite, one process, no Redis), ${fmt(embedded.county.persons)} people, ${fmt(embedded.county.rows)} rows

${stageTable(embedded)}

| measure | value | target | |
|---|---:|---:|---|
| backfill | ${secs(embedded.backfill.wallMs)} s | ${TARGETS.backfillMs / 1000} s | ${verdict(embedded.backfill.wallMs <= TARGETS.backfillMs)} |
| nightly increment | ${secs(embedded.increment.wallMs)} s | ${TARGETS.incrementMs / 1000} s | ${verdict(embedded.increment.wallMs <= TARGETS.incrementMs)} |
| process peak RSS | ${mb(embedded.peakRssBytes)} | ${mb(TARGETS.rssBytes)} | ${verdict(embedded.peakRssBytes <= TARGETS.rssBytes)} |
| database size after both | ${mb(embedded.dbBytes)} | | |
| rows/s embedded ÷ rows/s PostgreSQL, backfill | ${(embedded.backfill.rows / embedded.backfill.wallMs / (main.backfill.rows / main.backfill.wallMs)).toFixed(2)} | | |
`
    : ''
}
## Growth with size (PostgreSQL and one worker)

| people | rows | backfill s | backfill rows/s | increment rows | increment s | worker peak RSS | database |
|---:|---:|---:|---:|---:|---:|---:|---:|
${growth
  .sort((a, b) => a.county.persons - b.county.persons)
  .map((g) => `| ${fmt(g.county.persons)} | ${fmt(g.county.rows)} | ${secs(g.backfill.wallMs)} | ${fmt(g.backfill.rows / (g.backfill.wallMs / 1000))} | ${fmt(g.increment.rows)} | ${secs(g.increment.wallMs)} | ${mb(g.peakRssBytes)} | ${mb(g.dbBytes)} |`)
  .join('\n')}

Cost grows linearly when rows per second stay level from one size to the next.

**What limits it.** ${limitsLine(main)} Matching takes most of both syncs: an increment
re-scores every row without a usable id when the month changes the anchored rows of more than 2%
of persons (docs/matching.md); anchors, person blocks and golden records are kept between runs and
redone only for the rows and persons the month touched (the backfill builds them once). Spells and
assessment redo only the persons the sync's changes touched (docs/assessment.md), except in the
backfill, which is everyone's. Ingest parses and validates every cell and keeps each problem with its
file, row and column, where \`psql \\copy\` loads bare text.
${pending.length ? `\n**Not measured in this run** (the run was stopped or is still going): ${pending.join('; ')}.\n` : ''}`;
  writeFileSync(report, md + (consoleSection ? `\n${consoleSection}` : '') + keptSections(main.http !== undefined, consoleSection !== undefined));
  log(`wrote ${report}`);
}

/** The console at the worklist's scale (bench/console.ts), once the syncs are measured: its markdown section. */
let consoleSection: string | undefined;
function runConsoleBench(): string | undefined {
  log('the console: the worklist at 50,000 open flags');
  // its stdout is the section: the server's request log stays out of it
  const r = spawnSync(process.execPath, [join(root, 'bin/run.mjs'), join(root, 'bench/console.ts'), '--section'], {
    cwd: root, encoding: 'utf8', maxBuffer: 16 * 1024 ** 2, env: { ...process.env, LOG_LEVEL: 'warn' },
  });
  if (r.status !== 0) {
    log(`the console bench failed: ${(r.stderr || r.stdout).slice(-500)}`);
    return undefined;
  }
  return r.stdout;
}

/**
 * Sections of the report this run does not measure, kept from the file as it was: matching alone
 * (\`npm run bench:match\`, written by hand from its output), the HTTP server when --skip-server, the
 * console until its bench has run (last).
 */
function keptSections(httpMeasured: boolean, consoleMeasured: boolean): string {
  if (!existsSync(report)) return '';
  const old = readFileSync(report, 'utf8');
  const sections = old.split(/^(?=## )/m).slice(1);
  const kept = sections.filter(
    (x) => x.startsWith('## Matching alone') || (!httpMeasured && x.startsWith('## HTTP server')) || (!consoleMeasured && x.startsWith('## Console')),
  );
  return kept.length ? `\n${kept.map((x) => (x.includes('(kept from an earlier run)') ? x : x.replace(/\n/, ' (kept from an earlier run)\n'))).join('').trimEnd()}\n` : '';
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const startedAt = new Date();
  const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
  mkdirSync(OUT, { recursive: true });
  const sizes = [...new Set([mainPersons, ...points, ...(withEmbedded ? [embeddedPersons] : [])])];
  const counties = new Map(sizes.map((p) => [p, county(p)]));
  const main = await runQueued(counties.get(mainPersons)!, true, withServer);
  const growth = [main];
  const rest = points.filter((x) => x !== mainPersons);
  const pending = () => [
    ...rest.filter((p) => !growth.some((g) => g.county.persons === p)).map((p) => `${fmt(p)} people with PostgreSQL`),
    ...(withEmbedded && !embedded ? [`${fmt(embeddedPersons)} people embedded`] : []),
  ];
  let embedded: ModeRun | undefined;
  // the report is rewritten after every measurement, so a long run stopped early keeps what it measured
  writeReport(main, embedded, growth, command, startedAt, pending());
  if (withEmbedded) {
    embedded = runEmbedded(counties.get(embeddedPersons)!);
    writeReport(main, embedded, growth, command, startedAt, pending());
  }
  for (const p of rest) {
    growth.push(await runQueued(counties.get(p)!, false));
    writeReport(main, embedded, growth, command, startedAt, pending());
  }
  consoleSection = runConsoleBench();
  if (consoleSection) writeReport(main, embedded, growth, command, startedAt, pending());
}

await main();
