/**
 * The life of a delivery: the same file twice, a corrected file, quarantine and
 * staff decisions, order independence, an interrupted load, two loads at once.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { CIVIL_HEADER, civilRow, inbox, makeId } from '../helpers/fixtures.js';
import { loadMapping } from '../../src/ingest/mapping.js';
import { ingestFile, type IngestOutcome } from '../../src/ingest/ingest.js';
import { decideQuarantine, DeliveryError } from '../../src/ingest/deliveries.js';
import type { Delivery } from '../../src/db/schema.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';

const mapping = loadMapping();
let db: TestDb;
let box: ReturnType<typeof inbox>;

beforeEach(async () => {
  db = await createTestDb();
  box = inbox();
});
afterEach(() => db?.drop());

/** A civil roster of `n` people (ids from `from`), as of the date in its name. */
function roster(n: number, from = 0, extra: string[][] = []) {
  const rows = Array.from({ length: n }, (_, i) => civilRow(`测试${from + i}`, makeId('1980-01-01', 1 + ((from + i) % 999))));
  return { header: CIVIL_HEADER, rows: [...rows, ...extra] };
}

async function put(rel: string, content: Parameters<typeof box.put>[1]) {
  return ingestFile(db.store, mapping, box.put(rel, content), { inboxRoot: box.root });
}

function delivery(o: IngestOutcome): Delivery {
  if (o.outcome === 'busy') throw new Error('busy');
  return o.delivery;
}

const statuses = async () =>
  Object.fromEntries((await db.store.k.selectFrom('delivery').select(['file', 'status']).orderBy('file').execute()).map((d) => [d.file, d.status]));
const rowCount = async (deliveryId?: number) =>
  (await sql<{ n: number }>`select count(*)::int as n from source_row where ${deliveryId === undefined ? sql`true` : sql`delivery_id = ${deliveryId}`}`.execute(db.store.k)).rows[0]!.n;

describe('identity of a delivery', () => {
  it('the same file twice, even under another name, is one delivery', async () => {
    const first = delivery(await put('civil/civil_20250131.csv', roster(10)));
    const again = await put('civil/civil_20250131.csv', roster(10));
    const renamed = await put('civil/copy_of_civil_20250131.csv', roster(10));
    expect(again).toMatchObject({ outcome: 'duplicate', delivery: { id: first.id } });
    expect(renamed).toMatchObject({ outcome: 'duplicate', delivery: { id: first.id, file: 'civil/civil_20250131.csv' } });
    expect(await rowCount()).toBe(10);
  });

  it('a later file for the same source and as-of date supersedes the earlier', async () => {
    const first = delivery(await put('civil/civil_20250131.csv', roster(10)));
    const corrected = delivery(await put('civil/civil_20250131_更正.csv', { title: ['导出日期:2025-01-31'], ...roster(11) }));
    expect(corrected.status).toBe('accepted');
    const old = await db.store.k.selectFrom('delivery').selectAll().where('id', '=', first.id).executeTakeFirstOrThrow();
    expect(old).toMatchObject({ status: 'superseded', superseded_by: corrected.id });
    const events = await db.store.k.selectFrom('delivery_event').selectAll().where('delivery_id', '=', first.id).orderBy('id').execute();
    expect(events.map((e) => e.to_status)).toEqual(['staged', 'accepted', 'superseded']);
    expect(events[2]!.reason).toContain('civil_20250131_更正.csv');
  });
});

describe('quarantine (spec §6)', () => {
  const files = {
    jan: ['civil/civil_20250131.csv', roster(100)],
    feb: ['civil/civil_20250228.csv', roster(79)], // under 80% of January
    mar: ['civil/civil_20250331.csv', roster(81)], // 81% of January, the last accepted
  } as const;

  it('holds a snapshot under 80% of the previous accepted one, and compares the next with the last accepted', async () => {
    for (const [rel, content] of Object.values(files)) await put(rel, content);
    expect(await statuses()).toEqual({ 'civil/civil_20250131.csv': 'accepted', 'civil/civil_20250228.csv': 'quarantined', 'civil/civil_20250331.csv': 'accepted' });
    const feb = await db.store.k.selectFrom('delivery').selectAll().where('file', '=', files.feb[0]).executeTakeFirstOrThrow();
    expect(feb.status_reason).toContain('79');
    expect(feb.status_reason).toContain('civil/civil_20250131.csv');
  });

  it('ends in the same statuses whatever the order of arrival', async () => {
    for (const [rel, content] of [files.mar, files.feb, files.jan]) await put(rel, content);
    expect(await statuses()).toEqual({ 'civil/civil_20250131.csv': 'accepted', 'civil/civil_20250228.csv': 'quarantined', 'civil/civil_20250331.csv': 'accepted' });
  });

  it('counts only usable rows: a snapshot whose rows are mostly unreadable is held too', async () => {
    await put(...files.jan);
    const bad = roster(100).rows.map((r, i) => (i < 30 ? r.map((c, j) => (j === 7 ? 'unknown' : c)) : r));
    const d = delivery(await put('civil/civil_20250228.csv', { header: CIVIL_HEADER, rows: bad }));
    expect(d).toMatchObject({ status: 'quarantined', row_count: 100, rejected_rows: 30 });
  });

  it('a release is a staff decision that re-evaluation keeps; a discard takes the snapshot out', async () => {
    await put(...files.jan);
    const feb = delivery(await put(...files.feb));
    const released = await decideQuarantine(db.store, feb.id, 'release', 'caseworker-1');
    expect(released).toMatchObject({ status: 'accepted', decision: 'released', decided_by: 'caseworker-1' });
    // a new, larger snapshot before it must not put it back into quarantine
    await put('civil/civil_20250115.csv', roster(200));
    expect((await statuses())['civil/civil_20250228.csv']).toBe('accepted');
    await expect(decideQuarantine(db.store, feb.id, 'discard', 'x')).rejects.toThrow(DeliveryError);
  });

  it('a discarded snapshot is never used; the next one is compared with the last accepted', async () => {
    await put(...files.jan);
    const feb = delivery(await put(...files.feb));
    expect((await decideQuarantine(db.store, feb.id, 'discard', 'caseworker-1')).status).toBe('discarded');
    await put('civil/civil_20250331.csv', roster(79, 500));
    expect((await statuses())['civil/civil_20250331.csv']).toBe('quarantined');
  });

  it('a truncated correction for a date is held and replaces nothing until staff release it', async () => {
    await put(...files.jan);
    const feb = delivery(await put('civil/civil_20250228.csv', roster(100, 200)));
    const cut = delivery(await put('civil/civil_20250228_更正.csv', { title: ['导出日期:2025-02-28'], ...roster(10, 200) }));
    expect(cut.status).toBe('quarantined');
    // February's good file stays in force: a held file must not take its place
    expect(await statuses()).toMatchObject({ 'civil/civil_20250228.csv': 'accepted', 'civil/civil_20250228_更正.csv': 'quarantined' });
    await decideQuarantine(db.store, cut.id, 'release', 'caseworker-1');
    const old = await db.store.k.selectFrom('delivery').selectAll().where('id', '=', feb.id).executeTakeFirstOrThrow();
    expect(old).toMatchObject({ status: 'superseded', superseded_by: cut.id });
    expect((await statuses())['civil/civil_20250228_更正.csv']).toBe('accepted');
  });

  it('never holds a delta (settlements)', async () => {
    const header = ['结算ID', '人员编号', '姓名', '身份证号', '医疗类别', '出院日期', '结算日期', '医疗费总额', '符合政策范围金额', '统筹基金支付', '大病保险支付', '医疗救助支付'];
    const row = (i: number) => [`2025010000${String(i).padStart(4, '0')}`, `5202030000000000${String(i).padStart(4, '0')}`, '王伟', makeId('1980-01-01', 1 + i), '21', '2025-01-05', '2025-01-06', '100', '90', '50', '0', '0'];
    await put('settlement/医保结算明细_202501.csv', { header, rows: Array.from({ length: 100 }, (_, i) => row(i)) });
    const small = delivery(await put('settlement/医保结算明细_202502.csv', { header, rows: [row(200)] }));
    expect(small.status).toBe('accepted');
  });
});

describe('an interrupted load', () => {
  it('leaves a staged delivery that nothing reads, and the next run completes it exactly', async () => {
    const path = box.put('civil/civil_20250131.csv', roster(950, 0, [civilRow('重复', makeId('1990-01-01', 5)), civilRow('重复', makeId('1990-01-01', 5))]));
    let batches = 0;
    const crash = ingestFile(db.store, mapping, path, {
      inboxRoot: box.root,
      batchRows: 200,
      onProgress: () => {
        if (++batches === 3) throw new Error('power cut');
      },
    });
    await expect(crash).rejects.toThrow('power cut');
    const staged = await db.store.k.selectFrom('delivery').selectAll().executeTakeFirstOrThrow();
    expect(staged.status).toBe('staged');
    expect(staged.loaded_through_row).toBeGreaterThan(0);
    const partial = await rowCount(staged.id);
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(952);

    const done = await ingestFile(db.store, mapping, path, { inboxRoot: box.root, batchRows: 200 });
    expect(done).toMatchObject({ outcome: 'ingested', resumed: true, delivery: { id: staged.id, status: 'accepted', row_count: 952 } });
    const r = await sql<{ n: number; distinct_rows: number; dup: number }>`
      select count(*)::int as n, count(distinct row_no)::int as distinct_rows,
             (select count(*)::int from row_problem where code = 'duplicate_row') as dup
      from source_row`.execute(db.store.k);
    expect(r.rows[0]).toEqual({ n: 952, distinct_rows: 952, dup: 1 });
  });

  it('two loads of the same file at once make one delivery with each row once', async () => {
    const path = box.put('civil/civil_20250131.csv', roster(3000));
    const [a, b] = await Promise.all([
      ingestFile(db.store, mapping, path, { inboxRoot: box.root, batchRows: 500 }),
      ingestFile(db.store, mapping, path, { inboxRoot: box.root, batchRows: 500 }),
    ]);
    expect([a.outcome, b.outcome].sort()).toEqual(expect.arrayContaining(['ingested']));
    expect([a.outcome, b.outcome].filter((o) => o === 'ingested')).toHaveLength(1);
    expect(await rowCount()).toBe(3000);
    expect((await db.store.k.selectFrom('delivery').selectAll().execute()).length).toBe(1);
  });
});

describe('a rejected file', () => {
  it('is retried in place once the mapping knows its columns', async () => {
    const content = { header: ['姓名', '身份证号', '镇（街）', '救助类别', '认定日期'], rows: [['王伟', makeId('1970-01-01', 11), '郎岱镇', '低保对象', '2020-01-01']] };
    const path = box.put('civil/civil_20250131.csv', content);
    const first = delivery(await ingestFile(db.store, mapping, path, { inboxRoot: box.root }));
    expect(first.status).toBe('accepted'); // 镇（街） is unknown but optional: kept in the raw row only

    const missingCategory = { header: ['姓名', '身份证号', '对象类型', '认定日期'], rows: [['王伟', makeId('1970-01-01', 11), '低保对象', '2020-01-01']] };
    const path2 = box.put('civil/civil_20250228.csv', missingCategory);
    const rejected = delivery(await ingestFile(db.store, mapping, path2, { inboxRoot: box.root }));
    expect(rejected.status).toBe('rejected');

    const extra = join(tmpdir(), `aidlink-map-${process.pid}.yaml`);
    writeFileSync(extra, 'sources:\n  civil:\n    fields:\n      category: [对象类型]\n');
    const retried = delivery(await ingestFile(db.store, loadMapping(extra), path2, { inboxRoot: box.root }));
    expect(retried).toMatchObject({ id: rejected.id, status: 'accepted', row_count: 1, error: null });
  });
});
