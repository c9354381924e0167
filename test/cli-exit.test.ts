/**
 * Honest exit codes (issue 13): `aidlink ingest` and `aidlink sync` print their whole
 * summary and then exit 1 when a file they were given or found was rejected; a
 * quarantined snapshot waits for staff and is listed, not a failure. In-process and
 * on BullMQ (workers in this process, the command as its own process). Synthetic data only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { createTestDb, type TestDb } from './helpers/db.js';
import { CIVIL_HEADER, civilRow, inbox, makeId } from './helpers/fixtures.js';
import { runLogEnv } from './helpers/log-scan.js';
import { run } from './helpers/process.js';
import { dropQueues, queueEnv } from './helpers/queues.js';
import { testContext } from './helpers/context.js';
import { startWorkers, workerPoolSize, type RunningWorkers } from '../src/jobs/bull.js';

const BIN = fileURLToPath(new URL('../bin/aidlink.mjs', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'aidlink-cli-exit-'));

function aidlink(args: string[], env: Record<string, string | undefined>) {
  return run(process.execPath, [BIN, ...args], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...runLogEnv(), CI: 'true', AIDLINK_DATA_DIR: scratch, ...env },
    timeout: 120_000,
  });
}

const GOOD = 'civil/civil_20250131.csv';
const BAD = 'civil/civil_20250228.csv';
const SMALL = 'civil/civil_20250331.csv';
const REASON = '按格式「民政救助对象名册」读取：缺少必需列「认定日期」';

/** A civil roster of `count` synthetic persons; without 认定日期 when `bad`. */
function roster(count: number, opts: { bad?: boolean } = {}) {
  const drop = opts.bad ? CIVIL_HEADER.indexOf('认定日期') : -1;
  const keep = <T>(cells: T[]) => cells.filter((_, i) => i !== drop);
  const rows = Array.from({ length: count }, (_, i) => keep(civilRow(`测试${'甲乙丙丁戊己庚辛壬癸'[i % 10]}${i}`, makeId('1960-03-0' + ((i % 9) + 1), 500 + i))));
  return { header: keep(CIVIL_HEADER), rows };
}

/** An inbox with one good roster of 10 persons and one roster that is rejected (no 认定日期). */
function goodAndBad() {
  const box = inbox();
  box.put(GOOD, roster(10));
  box.put(BAD, roster(3, { bad: true }));
  return box;
}

async function rowsLinked(db: TestDb, file: string): Promise<number> {
  const r = await sql<{ n: number }>`select count(*)::int as n from row_link l join delivery d on d.id = l.delivery_id where d.file = ${file}`.execute(db.store.k);
  return r.rows[0]!.n;
}

describe('aidlink ingest', () => {
  let db: TestDb;
  beforeAll(async () => {
    db = await createTestDb();
  });
  afterAll(() => db?.drop());

  it('exits 1 when a file it was given is rejected, after printing its summary and the hint', async () => {
    const box = goodAndBad();
    const env = { DATABASE_URL: db.url };

    const one = await aidlink(['ingest', join(box.root, BAD), '--inbox', box.root], env);
    expect(one.code, one.err).toBe(1);
    expect(one.out).toMatch(new RegExp(`^rejected\\s+${BAD}  .*${REASON}`, 'm'));
    expect(one.out).toContain('1 file(s): 0 accepted, 0 quarantined, 1 rejected, 0 already delivered');
    expect(one.out).toContain('See why with: aidlink problems <file>');
    expect(one.err).toContain('aidlink: 1 of 1 file(s) rejected');

    // a folder: the good file is taken, the bad one tried again and rejected again
    const both = await aidlink(['ingest', box.root], env);
    expect(both.code, both.err).toBe(1);
    expect(both.out).toContain('2 file(s): 1 accepted, 0 quarantined, 1 rejected, 0 already delivered');
    expect(both.out).toContain('See why with: aidlink problems <file>');
    const good = await db.store.k.selectFrom('delivery').select(['status', 'row_count']).where('file', '=', GOOD).executeTakeFirstOrThrow();
    expect(good).toEqual({ status: 'accepted', row_count: 10 });

    // nothing rejected: 0
    const again = await aidlink(['ingest', join(box.root, GOOD), '--inbox', box.root], env);
    expect(again.code, again.err).toBe(0);
    expect(again.out).toContain('1 file(s): 0 accepted, 0 quarantined, 0 rejected, 1 already delivered');
    rmSync(box.root, { recursive: true, force: true });
  });
});

describe('aidlink sync, in-process', () => {
  let db: TestDb;
  beforeAll(async () => {
    db = await createTestDb();
  });
  afterAll(() => db?.drop());

  it('prints its whole summary with the rejected file and its reason, runs every stage on the good file, and exits 1', async () => {
    const box = goodAndBad();
    const env = { DATABASE_URL: db.url };
    const r = await aidlink(['sync', '--inbox', box.root], env);
    expect(r.code, r.err).toBe(1);
    expect(r.out).toContain('files: 2 in the inbox; 2 new: 1 accepted, 0 quarantined, 1 rejected; 0 seen before');
    expect(r.out).toContain('persons: 10; 0 rows waiting for identity review');
    expect(r.out).toMatch(/^spells: \d+ /m);
    expect(r.out).toMatch(/^settlements: \d+ /m);
    expect(r.out).toMatch(/^flags: \d+ open/m);
    expect(r.out).toMatch(/^outreach cases: \d+ opened/m);
    expect(r.out).toMatch(new RegExp(`^rejected \\(1\\):\\n  ${BAD}  ${REASON}`, 'm'));
    expect(r.out).toContain('See the files held back with: aidlink files --status rejected');
    expect(r.err).toBe('aidlink: the sync ran every stage, but 1 file(s) rejected (listed above)\n');
    expect(r.err).not.toContain('failed at');
    // the good file went all the way: its rows are linked to persons
    expect(await rowsLinked(db, GOOD)).toBe(10);
    const bad = await db.store.k.selectFrom('delivery').select(['status', 'error']).where('file', '=', BAD).executeTakeFirstOrThrow();
    expect(bad.status).toBe('rejected');
    expect(bad.error).toContain(REASON);

    // the bad file gone, a much smaller roster arrives: quarantined, listed with its reason, and not a failure
    rmSync(join(box.root, BAD));
    box.put(SMALL, roster(2));
    const held = await aidlink(['sync', '--inbox', box.root], env);
    expect(held.code, held.err).toBe(0);
    expect(held.out).toContain('files: 2 in the inbox; 1 new: 0 accepted, 1 quarantined, 0 rejected; 1 seen before');
    expect(held.out).toMatch(new RegExp(`^quarantined, waiting for staff \\(aidlink quarantine list\\) \\(1\\):\\n  ${SMALL}  有效行数 2 不足`, 'm'));
    expect(held.out).not.toMatch(/^rejected \(/m);
    rmSync(box.root, { recursive: true, force: true });
  });
});

describe('aidlink sync, on BullMQ', () => {
  const env = queueEnv();
  let db: TestDb;
  let workers: RunningWorkers | undefined;
  beforeAll(async () => {
    db = await createTestDb({ poolSize: workerPoolSize(1) });
    workers = await startWorkers(testContext(db.store, env), { concurrency: 1 });
  });
  afterAll(async () => {
    await workers?.stop(5_000);
    await dropQueues(env.AIDLINK_QUEUE_PREFIX!);
    await db?.drop();
  });

  it('follows the run, prints its whole summary with the rejected file and its reason, and exits 1', async () => {
    const box = goodAndBad();
    const r = await aidlink(['sync', '--inbox', box.root], { ...env, DATABASE_URL: db.url });
    expect(r.code, r.err).toBe(1);
    expect(r.out).toMatch(/^sync queued: \S+/m);
    expect(r.out).toContain('files: 2 in the inbox; 2 new: 1 accepted, 0 quarantined, 1 rejected; 0 seen before');
    expect(r.out).toContain('persons: 10; 0 rows waiting for identity review');
    expect(r.out).toMatch(/^outreach cases: \d+ opened/m);
    expect(r.out).toMatch(new RegExp(`^rejected \\(1\\):\\n  ${BAD}  ${REASON}`, 'm'));
    expect(r.err).toContain('aidlink: the sync ran every stage, but 1 file(s) rejected (listed above)\n');
    expect(await rowsLinked(db, GOOD)).toBe(10);
    rmSync(box.root, { recursive: true, force: true });
  });
});
