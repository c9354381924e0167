/**
 * The reliability suite (`npm run test:faults`, not part of `npm test`): the sample
 * county, or a part of it, synced through the real pipeline while something goes
 * wrong — a worker killed in the middle of a file or of the assessment, Redis
 * restarted, the database connections cut, the same file twice at once, files out of
 * order, a truncated snapshot. The system recovers on its own (retries, take-over of
 * a dead worker's job, resume from the last committed batch) or at the next sync, and
 * then the database must equal that of an undisturbed in-process sync of the same
 * inbox, compared through stateFingerprint (fingerprint.ts).
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { readFileSync, rmSync } from 'node:fs';
import { Job } from 'bullmq';
import { sql } from 'kysely';
import { BullRunner, ingestJobId, startWorkers, workerPoolSize, type RunningWorkers } from '../../src/jobs/bull.js';
import { jobProgress } from '../../src/jobs/definitions.js';
import { resultOf, type JobState } from '../../src/jobs/runner.js';
import { syncInProcess } from '../../src/jobs/local.js';
import { ingestFile, type IngestOutcome } from '../../src/ingest/ingest.js';
import { inspectFile } from '../../src/ingest/read/inspect.js';
import { loadMapping } from '../../src/ingest/mapping.js';
import { writeSettlementCsv } from '../../tools/demo/generate.js';
import { admin, createTestDb, type TestDb } from '../helpers/db.js';
import { testContext } from '../helpers/context.js';
import { SAMPLE_INBOX } from '../helpers/sample.js';
import { dropQueues, queueEnv, until } from '../helpers/queues.js';
import { byFile, currentState, stateFingerprint, summary } from './fingerprint.js';
import {
  advisoryLockHeld, cleanReference, finish, cloneReference, copyInbox, countRows, dropDatabase, inboxFiles, loadedThrough, logged, newestFirst,
  PrivateRedis, putFile, startWorkerProcess, syncThroughQueues, tempDir, truncatedRoster, type Reference, type WorkerProcess,
} from './harness.js';

const SCENARIO_MS = 360_000;

/** A part of the sample: the 2026 snapshots of every source (a quarantined roster among them) and four months of settlements. */
const PART = inboxFiles(SAMPLE_INBOX).filter((f) => (f.startsWith('settlement/') ? /_2026(0[7-9]|10)\.csv$/.test(f) : f.includes('2026')));
/** A big settlement file beside the part: long enough to be interrupted in the middle. */
const BIG = 'settlement/医保结算明细_202611.csv';
const BIG_ROWS = 20_000;
/** Interrupt once this many rows of the big file are committed (of BIG_ROWS, in batches of BATCH_ROWS). */
const INTERRUPT_AT = 5_000;
const BATCH_ROWS = '1000';
/**
 * A dead worker's job is taken over after this: short, so that take-overs happen in
 * seconds, but not so short that a match keeping a worker's event loop busy on a loaded
 * two-core machine has its job taken for dead. Scenario 3 keeps Redis away longer.
 */
const LOCK_MS = 5_000;

/** A scenario's log line: what it measured. */
const note = (scenario: string, facts: Record<string, unknown>) => console.info(`[faults] ${scenario}: ${JSON.stringify(facts)}`);
const seconds = (since: number) => Math.round((Date.now() - since) / 100) / 10;

// ---------------------------------------------------------------------------------------------
// inboxes and their clean references, each made once, when a scenario first needs it

const inboxes = new Map<string, Promise<string>>();
function inbox(name: 'sample' | 'part' | 'part+big'): Promise<string> {
  let p = inboxes.get(name);
  if (!p) {
    p = (async () => {
      if (name === 'sample') return SAMPLE_INBOX;
      const root = copyInbox(PART);
      if (name === 'part+big') await writeSettlementCsv(join(root, BIG), BIG_ROWS, 7);
      return root;
    })();
    inboxes.set(name, p);
  }
  return p;
}

const references = new Map<string, Promise<Reference>>();
function reference(name: 'sample' | 'part' | 'part+big'): Promise<Reference> {
  let r = references.get(name);
  if (!r) {
    r = inbox(name).then(async (root) => {
      const ref = await cleanReference(root);
      note(`clean reference of ${name}`, { seconds: ref.seconds, ...summary(ref.fp) });
      // what "clean" means: one sync, nothing withdrawn, no spell history, nobody without rows
      expect(ref.fp.supersededSpells).toEqual([]);
      expect(ref.fp.flags.every((f) => f.endsWith('|open'))).toBe(true);
      expect(JSON.stringify(ref.fp)).not.toContain('person without rows');
      return ref;
    });
    references.set(name, r);
  }
  return r;
}

// ---------------------------------------------------------------------------------------------
// a scenario's database, queues, workers; released after each scenario

const cleanups: (() => Promise<unknown>)[] = [];
/** the worker processes of the running scenario: their logs tell what went wrong when it fails */
const running: WorkerProcess[] = [];
/** the database of the running scenario: what its sessions are doing tells what a stuck scenario waits for */
let scenarioDb: string | undefined;
afterEach(async (ctx) => {
  if (ctx.task.result?.state === 'fail') {
    for (const [i, w] of running.entries()) console.warn(`[faults] worker ${i + 1} (exit ${w.child.exitCode ?? w.child.signalCode ?? 'running'}), last lines:\n${w.log.slice(-60).join('\n')}`);
    if (scenarioDb) {
      const sessions = await admin((c) =>
        c.query(`select pid, application_name, state, wait_event_type, wait_event, now() - xact_start as in_transaction, left(query, 120) as query from pg_stat_activity where datname = $1`, [scenarioDb]),
      );
      console.warn(`[faults] sessions on ${scenarioDb}:\n${sessions.rows.map((r) => JSON.stringify(r)).join('\n')}`);
    }
  }
  running.splice(0);
  scenarioDb = undefined;
  for (const c of cleanups.splice(0).reverse()) await c().catch((err: unknown) => console.warn('[faults] cleanup failed', err));
});
afterAll(async () => {
  for (const r of references.values()) {
    const ref = await r.catch(() => undefined);
    if (ref) await ref.db.store.close().catch(() => undefined);
    if (ref) await dropDatabase(ref.db.name);
  }
  for (const [name, p] of inboxes) if (name !== 'sample') rmSync(await p, { recursive: true, force: true });
});

interface Scenario {
  db: TestDb;
  env: Record<string, string>;
  runner: BullRunner;
  /** starts one more `aidlink worker` process on every queue */
  worker(): WorkerProcess;
}

async function scenario(extraEnv: Record<string, string> = {}): Promise<Scenario> {
  // small batches: many checkpoints to resume from; short locks and retries
  const env = queueEnv({ AIDLINK_BATCH_ROWS: BATCH_ROWS, AIDLINK_JOB_LOCK_MS: String(LOCK_MS), AIDLINK_SHUTDOWN_MS: '300', ...extraEnv });
  const db = await createTestDb();
  cleanups.push(() => db.drop());
  scenarioDb = db.name;
  const dataDir = tempDir('data');
  cleanups.push(async () => rmSync(dataDir, { recursive: true, force: true }));
  const runner = await BullRunner.connect(testContext(db.store, env).config);
  cleanups.push(() => dropQueues(env.AIDLINK_QUEUE_PREFIX!));
  cleanups.push(() => runner.close());
  return {
    db,
    env,
    runner,
    worker() {
      const w = startWorkerProcess(db.url, env, dataDir);
      running.push(w);
      cleanups.push(async () => {
        if (w.child.exitCode === null && w.child.signalCode === null) {
          w.child.kill('SIGKILL');
          await w.exited;
        }
      });
      return w;
    },
  };
}

const ingestJob = async (runner: BullRunner, root: string, file: string) => Job.fromId(runner.queue('ingest'), ingestJobId((await inspectFile(join(root, file))).hash));

describe('reliability: a fault in the middle of a sync, then recovery, ends in the state of a clean sync', () => {
  it('1. a worker killed with SIGKILL in the middle of a file: the next worker resumes it from its last batch', async () => {
    const ref = await reference('part+big');
    const root = await inbox('part+big');
    const s = await scenario();
    const started = Date.now();
    const first = s.worker();
    const submitted = await s.runner.submitSync({ inbox: root, requestedBy: 'faults' });
    await until('part of the big file to be committed', async () => (await loadedThrough(s.db.store, BIG)) >= INTERRUPT_AT, 180_000, 20);
    first.child.kill('SIGKILL');
    expect(await first.exited).toBeNull(); // killed, not finished
    const committed = await loadedThrough(s.db.store, BIG);
    expect(committed).toBeLessThan(BIG_ROWS);
    const killedAt = seconds(started);

    const second = s.worker();
    const done = await finish(s.runner, submitted.id);
    expect(done.state).toBe('completed');
    const job = await ingestJob(s.runner, root, BIG);
    expect(job!.returnvalue).toMatchObject({ outcome: 'ingested', status: 'accepted', rows: BIG_ROWS, resumed: true });
    expect(logged(second, 'resuming a staged delivery')).toHaveLength(1);

    const fp = await stateFingerprint(s.db.store);
    expect(fp).toEqual(ref.fp);
    note('1 SIGKILL mid-ingest', { killedAfterSeconds: killedAt, committedRowsAtKill: committed, bigFileRows: BIG_ROWS, ingestAttempts: job!.attemptsStarted, totalSeconds: seconds(started), ...summary(fp) });
  }, SCENARIO_MS);

  it('2. a worker killed with SIGKILL in the middle of the assessment: another worker takes the job over and the flow goes on', async () => {
    const ref = await reference('sample');
    const s = await scenario();
    const started = Date.now();
    const first = s.worker();
    const submitted = await s.runner.submitSync({ inbox: SAMPLE_INBOX, requestedBy: 'faults' });
    const assessId = `${submitted.id.split('/')[1]}-assess-run`;
    // running: active in BullMQ, its progress says so, and its transaction holds the assessment's lock
    await until('the assessment to be running', async () => {
      const job = await Job.fromId(s.runner.queue('assess'), assessId);
      if (!job || (await job.getState()) !== 'active') return false;
      const p = jobProgress.safeParse(job.progress);
      return p.success && p.data.stage === 'assessing settlements' && (await advisoryLockHeld(s.db.store, 'aidlink:assess'));
    }, 240_000, 20);
    first.child.kill('SIGKILL');
    expect(await first.exited).toBeNull();
    const killedAt = seconds(started);
    // its transaction never committed: no assessment run is recorded
    expect(await countRows(s.db.store, 'assessment_run')).toBe(0);

    s.worker();
    const done = await finish(s.runner, submitted.id);
    expect(done.state).toBe('completed');
    const assess = await Job.fromId(s.runner.queue('assess'), assessId);
    expect(await assess!.getState()).toBe('completed');
    expect(assess!.attemptsStarted).toBeGreaterThanOrEqual(2);
    expect(await countRows(s.db.store, 'assessment_run')).toBe(1);

    const fp = await stateFingerprint(s.db.store);
    expect(fp).toEqual(ref.fp);
    note('2 SIGKILL mid-assessment', { killedAfterSeconds: killedAt, assessAttempts: assess!.attemptsStarted, rerunSeconds: (assess!.finishedOn! - assess!.processedOn!) / 1000, totalSeconds: seconds(started), ...summary(fp) });
  }, SCENARIO_MS);

  it('3. Redis restarted in the middle of a sync, then crashed: the workers reconnect and the sync ends (re-submitted if it was lost)', async () => {
    const ref = await reference('sample');
    const redis = await PrivateRedis.start();
    cleanups.push(() => redis.dispose());
    const s = await scenario({ REDIS_URL: redis.url });
    const started = Date.now();
    const worker = s.worker();
    const submitted = await s.runner.submitSync({ inbox: SAMPLE_INBOX, requestedBy: 'faults' });
    const runId = submitted.id.split('/')[1]!;
    const total = inboxFiles(SAMPLE_INBOX).length;
    // away longer than a job's lock: the running jobs' locks expire meanwhile
    const away = () => new Promise((r) => setTimeout(r, LOCK_MS + 2_000));

    // a restart (docker compose restart redis): SIGTERM, Redis writes its append-only file and exits
    await until('about half the files to be ingested', async () => (await countRows(s.db.store, 'delivery')) >= Math.floor(total / 2), 240_000, 50);
    const deliveriesAtRestart = await countRows(s.db.store, 'delivery');
    await redis.stop('SIGTERM');
    const restartedAt = seconds(started);
    await away();
    await redis.start();

    // a crash (SIGKILL, no shutdown: what the append-only file had synced is what comes back) while the match runs
    const matchRunning = async () => (await Job.fromId(s.runner.queue('match'), `${runId}-match-run`).then((j) => j?.getState(), () => undefined)) === 'active';
    const crashed = await until('the match to be running', matchRunning, 240_000, 50).then(() => true, () => false);
    if (crashed) {
      await redis.stop('SIGKILL');
      await away();
      await redis.start();
    }
    const crashedAt = seconds(started);

    // as an operator (or the next nightly sync) would: follow the run, and submit a sync again
    // if the run was lost, failed, or left a file unfinished
    let done: JobState | undefined = await finish(s.runner, submitted.id).catch(() => undefined);
    const resubmitted = done?.state !== 'completed' || (resultOf(done, 'sync.scan')?.failed ?? 0) > 0;
    if (resubmitted) done = await syncThroughQueues(s.runner, SAMPLE_INBOX);
    expect(done!.state).toBe('completed');
    expect(crashed).toBe(true);
    expect(worker.child.exitCode).toBeNull(); // the worker lived through both
    expect(logged(worker, 'redis connection').length).toBeGreaterThan(0); // and saw Redis go

    const fp = await stateFingerprint(s.db.store);
    expect(fp).toEqual(ref.fp);
    note('3 Redis restart and crash', {
      restartedAfterSeconds: restartedAt, deliveriesAtRestart, of: total, crashedDuringMatchAfterSeconds: crashedAt, resubmitted,
      stalledJobs: logged(worker, 'job stalled (its worker stopped renewing the lock); taken over').map((l) => l.job), matchRuns: await countRows(s.db.store, 'match_run'),
      totalSeconds: seconds(started), ...summary(fp),
    });
  }, SCENARIO_MS);

  it('4. the database connections cut in the middle of a batch: the ingest fails, is retried, resumes, and nothing is doubled or missing', async () => {
    const ref = await reference('part+big');
    const root = await inbox('part+big');
    const s = await scenario();
    const started = Date.now();
    const worker = s.worker();
    const submitted = await s.runner.submitSync({ inbox: root, requestedBy: 'faults' });
    await until('part of the big file to be committed', async () => (await loadedThrough(s.db.store, BIG)) >= INTERRUPT_AT, 180_000, 20);
    const cut = await admin((c) => c.query<{ ok: boolean }>('select pg_terminate_backend(pid) as ok from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()', [s.db.name]));
    expect(cut.rows.filter((r) => r.ok).length).toBeGreaterThan(0);
    const committed = await loadedThrough(s.db.store, BIG);
    const cutAt = seconds(started);

    const done = await finish(s.runner, submitted.id);
    expect(done.state).toBe('completed');
    expect(worker.child.exitCode).toBeNull(); // the worker lived through it
    const job = await ingestJob(s.runner, root, BIG);
    expect(job!.returnvalue).toMatchObject({ outcome: 'ingested', status: 'accepted', rows: BIG_ROWS, resumed: true });
    // it failed (the connection gone under it) and was retried; the worker saw the connections go
    const failures = job!.stacktrace ?? [];
    expect(failures.length).toBeGreaterThanOrEqual(1);
    expect(logged(worker, 'job failed, will retry').some((l) => String(l.job).startsWith('ingest/'))).toBe(true);
    expect(logged(worker, 'database connection lost').length).toBeGreaterThan(0);
    const rows = await sql<{ n: number; distinct_rows: number }>`
      select count(*)::int as n, count(distinct row_no)::int as distinct_rows from source_row where delivery_id = (select id from delivery where file = ${BIG})`.execute(s.db.store.k);
    expect(rows.rows[0]).toEqual({ n: BIG_ROWS, distinct_rows: BIG_ROWS });

    const fp = await stateFingerprint(s.db.store);
    expect(fp).toEqual(ref.fp);
    note('4 PostgreSQL connections cut mid-batch', { cutAfterSeconds: cutAt, stalledJobs: logged(worker, 'job stalled (its worker stopped renewing the lock); taken over').map((l) => l.job), connectionsCut: cut.rowCount, committedRowsAtCut: committed, ingestFailures: failures.length, firstFailure: failures[0]?.split('\n')[0], totalSeconds: seconds(started), ...summary(fp) });
  }, SCENARIO_MS);

  it('5. the same file delivered twice at once, under its name and as a byte-identical copy: one delivery, its rows once', async () => {
    const ref = await reference('sample');
    const started = Date.now();
    const roster = 'civil/六枝特区城乡低保特困名册_2026年10月.csv';
    const rosterCopy = 'civil/六枝特区城乡低保特困名册_2026年10月_重发.csv';
    const settlement = 'settlement/医保结算明细_202610.csv';
    const settlementCopy = 'settlement/医保结算明细_202610_重发.csv';

    // (a) four ingests of one content at the same moment: two of its path, two of a copy under another name
    const racing = await createTestDb();
    cleanups.push(() => racing.drop());
    const box = copyInbox([roster]);
    cleanups.push(async () => rmSync(box, { recursive: true, force: true }));
    putFile(box, rosterCopy, readFileSync(join(box, roster)));
    const mapping = loadMapping();
    const at = (f: string) => ingestFile(racing.store, mapping, join(box, f), { inboxRoot: box, batchRows: 100 });
    const outcomes = await Promise.all([at(roster), at(rosterCopy), at(roster), at(rosterCopy)]);
    const later = await Promise.all([at(roster), at(rosterCopy)]);
    const kinds = (os: IngestOutcome[]) => os.map((o) => o.outcome).sort();
    expect(kinds(outcomes).filter((k) => k === 'ingested')).toHaveLength(1);
    expect(kinds(outcomes).every((k) => k === 'ingested' || k === 'busy' || k === 'duplicate')).toBe(true);
    expect(kinds(later)).toEqual(['duplicate', 'duplicate']);
    const raced = await stateFingerprint(racing.store);
    expect(raced.deliveries).toHaveLength(1);
    const winner = raced.deliveries[0]!;
    const clean = ref.fp.deliveries.find((d) => d.file === roster)!;
    // the same delivery as the clean run's, whichever name came first; every row once, as the clean run has them
    expect({ ...winner, file: roster, status: clean.status }).toEqual(clean);
    expect(raced.rows[winner.file]).toEqual(ref.fp.rows[roster]);
    const staged = await sql<{ n: number }>`select count(*)::int as n from delivery_event where to_status = 'staged'`.execute(racing.store.k);
    expect(staged.rows[0]!.n).toBe(1);

    // (b) the whole county with two copies in it, synced twice at once by two sets of workers
    const root = copyInbox();
    cleanups.push(async () => rmSync(root, { recursive: true, force: true }));
    putFile(root, rosterCopy, readFileSync(join(root, roster)));
    putFile(root, settlementCopy, readFileSync(join(root, settlement)));
    const env = queueEnv({ AIDLINK_BATCH_ROWS: BATCH_ROWS });
    cleanups.push(() => dropQueues(env.AIDLINK_QUEUE_PREFIX!));
    const db = await createTestDb({ poolSize: 2 * workerPoolSize(2) });
    cleanups.push(() => db.drop());
    const app = testContext(db.store, env);
    const workers: RunningWorkers[] = [await startWorkers(app, { concurrency: 2 }), await startWorkers(app, { concurrency: 2 })];
    cleanups.push(() => Promise.all(workers.map((w) => w.stop(5_000))));
    const runner = await BullRunner.connect(app.config);
    cleanups.push(() => runner.close());
    const [a, b] = await Promise.all([runner.submitSync({ inbox: root, requestedBy: 'faults-a' }), runner.submitSync({ inbox: root, requestedBy: 'faults-b' })]);
    const [doneA, doneB] = await Promise.all([finish(runner, a.id), finish(runner, b.id)]);
    expect([doneA.state, doneB.state]).toEqual(['completed', 'completed']);
    for (const f of [roster, settlement]) expect((await ingestJob(runner, root, f))!.attemptsStarted).toBe(1);

    const fp = await stateFingerprint(db.store);
    expect(fp).toEqual(ref.fp);
    note('5 same file twice at once', {
      racingOutcomes: kinds(outcomes), deliveredAs: winner.file, rosterRows: winner.row_count,
      scanA: resultOf(doneA, 'sync.scan'), scanB: resultOf(doneB, 'sync.scan'), totalSeconds: seconds(started), ...summary(fp),
    });
  }, SCENARIO_MS);

  it('6. files delivered out of order, newest first, one sync each: the state of one clean sync in order', async () => {
    const ref = await reference('part');
    const started = Date.now();
    const order = await newestFirst(await inbox('part'));
    const db = await createTestDb();
    cleanups.push(() => db.drop());
    const root = tempDir('inbox');
    cleanups.push(async () => rmSync(root, { recursive: true, force: true }));
    const app = testContext(db.store, { AIDLINK_BATCH_ROWS: BATCH_ROWS });
    for (const { file } of order) {
      putFile(root, file, readFileSync(join(SAMPLE_INBOX, file)));
      const r = await syncInProcess(app, { inbox: root, requestedBy: 'faults' });
      expect(r.scan).toMatchObject({ queued: 1, failed: 0, rejected: 0 });
    }
    const fp = await stateFingerprint(db.store);
    // the flags raised and withdrawn on the way, and the spells superseded, are history: one sync at once has none
    expect(currentState(fp)).toEqual(currentState(ref.fp));
    note('6 out of order', { syncs: order.length, first: order[0], last: order[order.length - 1], totalSeconds: seconds(started), historyFlagsWithdrawn: fp.flags.length - currentState(fp).flags.length, historySpellsSuperseded: fp.supersededSpells.length, ...summary(currentState(fp)) });
  }, SCENARIO_MS);

  it('7. a truncated snapshot is quarantined and changes nothing downstream, nor does a truncated re-export of a month', async () => {
    const ref = await reference('sample');
    const started = Date.now();
    // carry on from the clean sync of the whole county
    const db = await cloneReference(ref);
    cleanups.push(() => db.drop());
    const root = copyInbox();
    cleanups.push(async () => rmSync(root, { recursive: true, force: true }));
    const october = join(root, 'civil/六枝特区城乡低保特困名册_2026年10月.csv');
    // November's roster arrives cut to a tenth of October's rows; so does a re-export of October
    // itself (a corrected file for a date replaces the earlier one, but not while it is held)
    const truncated = ['civil/六枝特区城乡低保特困名册_2026年11月.csv', 'civil/六枝特区城乡低保特困名册_2026年10月_更正.csv'];
    putFile(root, truncated[0]!, truncatedRoster(october, 36, { month: '2026年11月', date: '2026-11-30' }));
    putFile(root, truncated[1]!, truncatedRoster(october, 36, { month: '2026年10月', date: '2026-10-31' }));
    const r = await syncInProcess(testContext(db.store), { inbox: root, requestedBy: 'faults' });
    expect(r.scan).toMatchObject({ queued: 2, quarantined: 2 });

    const fp = await stateFingerprint(db.store, { ignoreRowsOf: truncated });
    const held = fp.deliveries.filter((d) => truncated.includes(d.file));
    expect(held.map((d) => [d.file, d.status, d.as_of, d.row_count])).toEqual([
      [truncated[1], 'quarantined', '2026-10-31', 36],
      [truncated[0], 'quarantined', '2026-11-30', 36],
    ]);
    // the clean state, plus the held deliveries themselves: October's roster still in force, no
    // spell ended or superseded, no flag withdrawn, no amount changed
    expect(fp).toEqual({ ...ref.fp, deliveries: [...ref.fp.deliveries, ...held].sort(byFile) });
    note('7 truncated snapshots', { held: held.map((d) => ({ file: d.file, rows: d.row_count, reason: d.status_reason })), totalSeconds: seconds(started), ...summary(fp) });
  }, SCENARIO_MS);
});

