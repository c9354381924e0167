/**
 * The pipeline as BullMQ jobs, against the real Redis and PostgreSQL on this
 * machine: workers in this process (two sets, as two worker processes would be),
 * the sample county as the inbox, and the scheduler as separate processes.
 */
import { runLogEnv } from '../helpers/log-scan.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Job } from 'bullmq';
import { sql } from 'kysely';
import type { AppContext } from '../../src/context.js';
import { BullRunner, ingestJobId, NIGHTLY_SCHEDULE_ID, startWorkers, workerPoolSize, type RunningWorkers } from '../../src/jobs/bull.js';
import { follow, progressText, resultOf, type JobState } from '../../src/jobs/runner.js';
import { syncResult } from '../../src/jobs/local.js';
import { inspectFile } from '../../src/ingest/read/inspect.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { testContext } from '../helpers/context.js';
import { readTruth, SAMPLE_INBOX } from '../helpers/sample.js';
import { dropQueues, queueEnv, until } from '../helpers/queues.js';

const BIN = fileURLToPath(new URL('../../bin/aidlink.mjs', import.meta.url));
const HELD_BACK = 'settlement/医保结算明细_202610.csv';
const heldBackRows = Number(readTruth('files.csv').find((f) => f.file === HELD_BACK)!.rows);

/** `aidlink <args>` as its own process; resolves with its exit code and output. */
function aidlinkProcess(args: string[], env: Record<string, string>): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH, HOME: process.env.HOME, CI: 'true', ...runLogEnv(), ...env } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('close', (code) => resolve({ code, out, err }));
  });
}

describe('the pipeline on BullMQ', () => {
  const env = queueEnv();
  const prefix = env.AIDLINK_QUEUE_PREFIX!;
  const inbox = mkdtempSync(join(tmpdir(), 'aidlink-inbox-'));
  let db: TestDb;
  let app: AppContext;
  let runner: BullRunner;
  const workers: RunningWorkers[] = [];

  beforeAll(async () => {
    cpSync(SAMPLE_INBOX, inbox, { recursive: true });
    rmSync(join(inbox, HELD_BACK));
    // two worker sets in one process share this pool
    db = await createTestDb({ poolSize: 2 * workerPoolSize(2) });
    app = testContext(db.store, env);
    // two worker sets with their own Redis connections, as two worker processes would have
    workers.push(await startWorkers(app, { concurrency: 2 }), await startWorkers(app, { concurrency: 2 }));
    runner = await BullRunner.connect(app.config);
  });
  afterAll(async () => {
    await Promise.all(workers.map((w) => w.stop(5_000)));
    await runner?.close();
    await dropQueues(prefix);
    await db?.drop();
    rmSync(inbox, { recursive: true, force: true });
  });

  const sync = async (): Promise<JobState> => follow(runner, (await runner.submitSync({ inbox, requestedBy: 'test' }, { report: true })).id, () => undefined, 100);

  it('runs a sync as a flow: each stage after the one before, one ingest job per file', async () => {
    const done = await sync();
    expect(done.state).toBe('completed');
    const r = syncResult(done)!;
    expect(r.scan).toMatchObject({ files: 54, queued: 54, accepted: 53, quarantined: 1, rejected: 0, failed: 0 });
    expect(r.report!.files.xlsx).toMatch(/newly-eligible-\d{8}-\d{6}-\d+\.xlsx$/);
    // the stages, top down: report ← assess ← spells ← match ← scan, each finished before its parent started
    const chain: JobState[] = [];
    for (let s: JobState | undefined = done; s; s = s.children[0]) chain.push(s);
    expect(chain.map((s) => s.name)).toEqual(['report.newly-eligible', 'outreach.update', 'assess.run', 'spells.derive', 'match.run', 'sync.scan']);
    for (let i = 0; i + 1 < chain.length; i++) expect(chain[i + 1]!.finishedAt!.getTime()).toBeLessThanOrEqual(chain[i]!.finishedAt!.getTime());
    const ingestJobs = (await runner.list({ all: true, limit: 500 })).filter((j) => j.name === 'ingest.file');
    expect(ingestJobs).toHaveLength(54);
    expect(new Set(ingestJobs.map((j) => j.about)).size).toBe(54);
  });

  it('ingests a file dropped into the inbox once, even when two syncs overlap', async () => {
    cpSync(join(SAMPLE_INBOX, HELD_BACK), join(inbox, HELD_BACK));
    const [a, b] = await Promise.all([runner.submitSync({ inbox, requestedBy: 'test-a' }), runner.submitSync({ inbox, requestedBy: 'test-b' })]);
    const [doneA, doneB] = await Promise.all([follow(runner, a.id, () => undefined, 100), follow(runner, b.id, () => undefined, 100)]);
    expect([doneA.state, doneB.state]).toEqual(['completed', 'completed']);

    // the two scans ran at the same time, and both waited for the new file
    const scans = await Promise.all([a, b].map((s) => Job.fromId(runner.queue('sync'), `${s.id.split('/')[1]}-sync-scan`)));
    const [sa, sb] = scans.map((j) => ({ from: j!.processedOn!, to: j!.finishedOn! }));
    expect(sa!.from < sb!.to && sb!.from < sa!.to).toBe(true);
    expect(resultOf(doneA, 'sync.scan')).toMatchObject({ queued: 1, accepted: 1 });
    expect(resultOf(doneB, 'sync.scan')).toMatchObject({ queued: 1, accepted: 1 });

    // one job for the file, started once; one delivery, staged once, with every row once
    const { hash } = await inspectFile(join(inbox, HELD_BACK));
    const job = await Job.fromId(runner.queue('ingest'), ingestJobId(hash));
    expect(job!.attemptsStarted).toBe(1);
    const deliveries = await db.store.k.selectFrom('delivery').select(['id', 'status', 'row_count']).where('file', '=', HELD_BACK).execute();
    expect(deliveries).toEqual([{ id: expect.any(Number), status: 'accepted', row_count: heldBackRows }]);
    const staged = await db.store.k.selectFrom('delivery_event').select((eb) => eb.fn.countAll<number>().as('n')).where('delivery_id', '=', deliveries[0]!.id).where('to_status', '=', 'staged').executeTakeFirstOrThrow();
    expect(Number(staged.n)).toBe(1);
    const rows = await sql<{ n: number }>`select count(*)::int as n from settlement_row where delivery_id = ${deliveries[0]!.id}`.execute(db.store.k);
    expect(rows.rows[0]!.n).toBe(heldBackRows);
  });

  it('reruns a re-match on request and reports its progress while it runs', async () => {
    const runsBefore = await sql<{ n: number }>`select count(*)::int as n from match_run`.execute(db.store.k);
    const seen = new Set<string>();
    const results = [];
    for (let i = 0; i < 2; i++) {
      const submitted = await runner.submitRematch({ scope: { kind: 'all' } }, 'test');
      const done = await follow(runner, submitted.id, (s) => {
        const walk = (n: JobState): void => {
          if (n.state === 'active' && n.progress) seen.add(`${n.name}: ${progressText(n.progress)}`);
          n.children.forEach(walk);
        };
        walk(s);
      }, 50);
      expect(done.state).toBe('completed');
      results.push(done);
    }
    // two runs, not one deduplicated: each matched every row again
    const runsAfter = await sql<{ n: number }>`select count(*)::int as n from match_run`.execute(db.store.k);
    expect(runsAfter.rows[0]!.n).toBe(runsBefore.rows[0]!.n + 2);
    expect(new Set(results.map((r) => r.id)).size).toBe(2);
    const persons = await sql<{ n: number }>`select count(*)::int as n from person where retired_at is null`.execute(db.store.k);
    for (const r of results) {
      expect(resultOf(r, 'match.run')).toMatchObject({ persons: persons.rows[0]!.n, changed: 0 });
      // the finished match job keeps its last progress: persons matched
      const find = (n: JobState): JobState | undefined => (n.name === 'match.run' ? n : n.children.map(find).find(Boolean));
      const match = find(r)!;
      expect(match.progress).toEqual({ stage: 'matched', done: persons.rows[0]!.n, unit: 'persons' });
    }
    // progress was visible while the jobs ran
    expect([...seen].some((s) => s.startsWith('match.run: '))).toBe(true);
  });

  it('fails a bad file at once, with the reason on its delivery, and the sync goes on', async () => {
    writeFileSync(join(inbox, 'settlement', '结算_坏文件.csv'), '这不是,一个表格\n1,2\n');
    const done = await sync();
    expect(done.state).toBe('completed');
    expect(resultOf(done, 'sync.scan')).toMatchObject({ queued: 1, rejected: 1, failed: 0 });
    const delivery = await db.store.k.selectFrom('delivery').select(['status', 'error']).where('file', '=', 'settlement/结算_坏文件.csv').executeTakeFirstOrThrow();
    expect(delivery.status).toBe('rejected');
    expect(delivery.error).toBeTruthy();
    const failed = await runner.list({ failed: true });
    const job = failed.find((j) => j.about === 'settlement/结算_坏文件.csv');
    expect(job).toMatchObject({ name: 'ingest.file', state: 'failed', attempts: 1 });
    expect(job!.error).toContain('rejected');
  });

  it('retries a transient failure with backoff until it passes', async () => {
    const file = 'settlement/医保结算明细_202610_补报.csv';
    cpSync(join(SAMPLE_INBOX, HELD_BACK), join(inbox, file));
    writeFileSync(join(inbox, file), '\n', { flag: 'a' }); // other content, so another delivery
    const { hash } = await inspectFile(join(inbox, file));
    // another session holds the file's lock: the ingest job finds it busy and is retried
    const held = await db.store.tryWithLock(`aidlink:file:${hash}`, async () => {
      const submitted = await runner.submitSync({ inbox, requestedBy: 'test' });
      await until('the ingest job to fail once', async () => ((await Job.fromId(runner.queue('ingest'), ingestJobId(hash)))?.attemptsMade ?? 0) >= 1, 30_000);
      return submitted.id;
    });
    const finished = await follow(runner, held!.value, () => undefined, 100);
    expect(finished.state).toBe('completed');
    const job = await Job.fromId(runner.queue('ingest'), ingestJobId(hash));
    expect(job!.attemptsStarted).toBeGreaterThanOrEqual(2);
    expect(await job!.getState()).toBe('completed');
    // the bad file of the test before is tried again on every sync (the mapping may since know its columns)
    expect(resultOf(finished, 'sync.scan')).toMatchObject({ queued: 2, accepted: 1, rejected: 1, failed: 0 });
  });

  it('registers the nightly schedule once however many schedulers start, and the schedule starts syncs', async () => {
    const schedulerEnv = { ...env, AIDLINK_INBOX: inbox };
    const started = await Promise.all([1, 2, 3].map(() => aidlinkProcess(['scheduler', '--once'], schedulerEnv)));
    for (const s of started) expect(s.code, s.err).toBe(0);
    expect(started[0]!.out).toMatch(/nightly sync: 0 2 \* \* \* \(Asia\/Shanghai\), next at \d{4}-\d\d-\d\d 02:00:00/);
    const queue = runner.queue('sync');
    expect(await queue.getJobSchedulers()).toHaveLength(1);
    expect(await queue.getDelayedCount()).toBe(1);
    // 02:00 in Shanghai is 18:00 UTC
    expect(new Date((await queue.getJobScheduler(NIGHTLY_SCHEDULE_ID))!.next!).getUTCHours()).toBe(18);

    // a changed pattern replaces the schedule; it never adds a second one. Every two
    // seconds here, so that the workers run what it starts.
    const every2s = await aidlinkProcess(['scheduler', '--once'], { ...schedulerEnv, AIDLINK_SYNC_CRON: '*/2 * * * * *' });
    expect(every2s.code, every2s.err).toBe(0);
    expect(await queue.getJobSchedulers()).toEqual([expect.objectContaining({ key: NIGHTLY_SCHEDULE_ID, pattern: '*/2 * * * * *', tz: 'Asia/Shanghai' })]);
    const nightly = await until('a scheduled sync to finish', async () => {
      const runs = await runner.list({ limit: 100 });
      return runs.find((r) => r.name === 'report.newly-eligible' && r.id.includes('sync-nightly-') && r.state === 'completed');
    }, 60_000, 250);
    expect(nightly.id).toMatch(/^report\/sync-nightly-\d{8}-\d{6}$/);
    await queue.removeJobScheduler(NIGHTLY_SCHEDULE_ID);
  });
});
