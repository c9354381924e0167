/**
 * Workers as real processes, stopped in the middle of a large file: killed with
 * SIGKILL (a crash, a power cut) and stopped with SIGTERM (a deployment). Either
 * way the next worker finishes the file, and the delivery holds exactly the rows
 * that a clean ingest of the same file gives: none doubled, none missing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Job } from 'bullmq';
import { sql } from 'kysely';
import type { Store } from '../../src/db/store.js';
import { BullRunner, ingestJobId } from '../../src/jobs/bull.js';
import { writeSettlementCsv } from '../../tools/demo/generate.js';
import { ingestFile } from '../../src/ingest/ingest.js';
import { inspectFile } from '../../src/ingest/read/inspect.js';
import { loadMapping } from '../../src/ingest/mapping.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { testContext } from '../helpers/context.js';
import { dropQueues, queueEnv, until } from '../helpers/queues.js';

const BIN = fileURLToPath(new URL('../../bin/aidlink.mjs', import.meta.url));
const ROWS = 200_000;

interface WorkerProcess {
  child: ChildProcess;
  log: string[];
  exited: Promise<number | null>;
}

/**
 * Everything a delivery holds, apart from its id: the raw cells and normalised
 * fields of every row, every problem, and the counts on the delivery.
 */
async function fingerprint(store: Store, file: string): Promise<Record<string, unknown>> {
  const d = await store.k.selectFrom('delivery').select(['id', 'status', 'row_count', 'rejected_rows', 'warning_count']).where('file', '=', file).executeTakeFirstOrThrow();
  const r = await sql<{ rows: number; distinct_rows: number; source: string; settlement: string; problems: string; problem_count: number }>`
    select (select count(*)::int from source_row where delivery_id = ${d.id}) as rows,
           (select count(distinct row_no)::int from source_row where delivery_id = ${d.id}) as distinct_rows,
           (select md5(string_agg((to_jsonb(s) - 'delivery_id')::text, '|' order by row_no)) from source_row s where delivery_id = ${d.id}) as source,
           (select md5(string_agg((to_jsonb(s) - 'delivery_id')::text, '|' order by row_no)) from settlement_row s where delivery_id = ${d.id}) as settlement,
           (select md5(string_agg((to_jsonb(p) - 'delivery_id' - 'id')::text, '|' order by (to_jsonb(p) - 'delivery_id' - 'id')::text)) from row_problem p where delivery_id = ${d.id}) as problems,
           (select count(*)::int from row_problem where delivery_id = ${d.id}) as problem_count`.execute(store.k);
  const { id: _id, ...delivery } = d;
  return { ...delivery, ...r.rows[0]! };
}

describe('a worker stopped in the middle of a large file', () => {
  // small batches: more checkpoints to resume from; short locks: a dead worker's job is taken over in seconds
  const env = queueEnv({ AIDLINK_BATCH_ROWS: '5000', AIDLINK_SHUTDOWN_MS: '300' });
  const inbox = mkdtempSync(join(tmpdir(), 'aidlink-crash-'));
  const files = { kill: 'settlement/医保结算明细_202611.csv', term: 'settlement/医保结算明细_202612.csv' };
  let db: TestDb;
  let reference: TestDb;
  let runner: BullRunner;
  const workers: WorkerProcess[] = [];

  const startWorker = (): WorkerProcess => {
    const child = spawn(process.execPath, [BIN, 'worker', '--queues', 'ingest'], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, CI: 'true', LOG_LEVEL: 'info', DATABASE_URL: db.url, AIDLINK_DATA_DIR: inbox, ...env },
    });
    const log: string[] = [];
    child.stderr!.on('data', (d: Buffer) => log.push(...d.toString().split('\n').filter(Boolean)));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const w = { child, log, exited };
    workers.push(w);
    return w;
  };

  const loadedThrough = async (hash: string) =>
    (await db.store.k.selectFrom('delivery').select('loaded_through_row').where('content_hash', '=', hash).executeTakeFirst())?.loaded_through_row ?? 0;

  beforeAll(async () => {
    mkdirSync(join(inbox, 'settlement'));
    await writeSettlementCsv(join(inbox, files.kill), ROWS, 7);
    await writeSettlementCsv(join(inbox, files.term), ROWS, 8);
    db = await createTestDb();
    reference = await createTestDb();
    // the same files ingested in one go, undisturbed, for comparison
    for (const f of Object.values(files)) await ingestFile(reference.store, loadMapping(), join(inbox, f), { inboxRoot: inbox });
    runner = await BullRunner.connect(testContext(db.store, env).config);
  }, 180_000);
  afterAll(async () => {
    for (const w of workers) w.child.kill("SIGKILL");
    await runner?.close();
    await dropQueues(env.AIDLINK_QUEUE_PREFIX!);
    await db?.drop();
    await reference?.drop();
    rmSync(inbox, { recursive: true, force: true });
  });

  it('killed with SIGKILL, the next worker resumes from the last committed batch', async () => {
    const { hash } = await inspectFile(join(inbox, files.kill));
    const first = startWorker();
    const done = runner.ingestAll([{ inboxRoot: inbox, file: files.kill, hash }], 'test', async () => undefined);
    await until('some batches to be committed', async () => (await loadedThrough(hash)) >= 20_000, 60_000, 20);
    first.child.kill('SIGKILL');
    expect(await first.exited).toBeNull(); // killed, not finished
    const committed = await loadedThrough(hash);
    expect(committed).toBeLessThan(ROWS);

    const second = startWorker();
    await done;
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
    const job = await Job.fromId(runner.queue('ingest'), ingestJobId(hash));
    expect(await job!.getState()).toBe('completed');
    expect(job!.returnvalue).toMatchObject({ outcome: 'ingested', status: 'accepted', rows: ROWS, resumed: true });
    expect(job!.attemptsStarted).toBe(2);

    const got = await fingerprint(db.store, files.kill);
    expect(got).toMatchObject({ status: 'accepted', row_count: ROWS, rows: ROWS, distinct_rows: ROWS });
    expect(got).toEqual(await fingerprint(reference.store, files.kill));
  });

  it('stopped with SIGTERM, the worker hands the job back at once and the next one finishes it', async () => {
    const { hash } = await inspectFile(join(inbox, files.term));
    const first = startWorker();
    const done = runner.ingestAll([{ inboxRoot: inbox, file: files.term, hash }], 'test', async () => undefined);
    await until('some batches to be committed', async () => (await loadedThrough(hash)) >= 20_000, 60_000, 20);
    const signalled = Date.now();
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    // well before its lock would have expired: the job was put back, not abandoned
    expect(await runner.queue('ingest').getJobState(ingestJobId(hash))).toBe('waiting');
    expect(Date.now() - signalled).toBeLessThan(10_000);
    expect(first.log.some((l) => l.includes('released jobs still running at shutdown'))).toBe(true);

    startWorker();
    await done;
    const job = await Job.fromId(runner.queue('ingest'), ingestJobId(hash));
    expect(job!.returnvalue).toMatchObject({ outcome: 'ingested', status: 'accepted', rows: ROWS, resumed: true });
    expect(await fingerprint(db.store, files.term)).toEqual(await fingerprint(reference.store, files.term));
  });
});
