/**
 * Unknown is not "not eligible" (issue 13): a person whose roster could not be read is
 * paid, entitled to nothing by what we know, and must not be flagged as overpaid. Their
 * settlement is held with the reason, until the roster arrives readable.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { CIVIL_HEADER, civilRow, inbox, makeId, SETTLEMENT_HEADER } from '../helpers/fixtures.js';
import { testContext } from '../helpers/context.js';
import { syncInProcess } from '../../src/jobs/local.js';

let db: TestDb;
beforeEach(async () => {
  db = await createTestDb();
});
afterEach(() => db?.drop());

const known = { name: '壬已知', id: makeId('1958-04-04', 13) };
const unread = { name: '癸未读', id: makeId('1962-06-06', 25) };
const others = Array.from({ length: 8 }, (_, i) => ({ name: `其他${i}`, id: makeId('1975-01-01', 101 + i * 2) }));

/** An inpatient stay on 2026-02-20: base 2,000.00, of which 1,500.00 paid as assistance (低保 75%). */
const stay = (id: string, who: { name: string; id: string }) =>
  [id, '', `P${id}`, who.name, who.id, '21', '本地', '2026-02-10', '2026-02-20', '2026-02-20', '6000', '0', '5000', '2500', '500', '1500', '一站式'];

async function heldAndFlags() {
  const e = await sql<{ settlement_id: string; entitled: number; paid: number; held: string | null }>`
    select settlement_id, entitled, paid, held from entitlement order by settlement_id`.execute(db.store.k);
  const f = await sql<{ settlement_id: string; flag: string }>`
    select settlement_id, flag from flag where withdrawn_at is null and scope = 'settlement' order by settlement_id`.execute(db.store.k);
  return { entitlements: e.rows, flags: f.rows };
}

describe('a settlement of a person whose roster could not be read', () => {
  it('is held with the reason, not flagged overpaid, while the roster file is rejected; assessed when it arrives readable', async () => {
    const box = inbox();
    const app = testContext(db.store);
    box.put('civil/civil_20260131.csv', { header: CIVIL_HEADER, rows: [known, ...others].map((p) => civilRow(p.name, p.id)) });
    // February's roster lacks 认定日期: rejected as a whole, so whether it lists anyone new is unknown
    const withoutDate = CIVIL_HEADER.filter((h) => h !== '认定日期');
    box.put('civil/civil_20260228.csv', { header: withoutDate, rows: [known, unread, ...others].map((p) => civilRow(p.name, p.id).filter((_, i) => i !== 7)) });
    box.put('settlement/settlement_20260228.csv', { header: SETTLEMENT_HEADER, rows: [stay('S1', known), stay('S2', unread)] });
    await syncInProcess(app, { inbox: box.root, requestedBy: 'test' });

    const before = await heldAndFlags();
    expect(before.entitlements).toEqual([
      { settlement_id: 'S1', entitled: 150_000, paid: 150_000, held: null },
      { settlement_id: 'S2', entitled: 0, paid: 150_000, held: '名册文件 civil/civil_20260228.csv 被拒收，尚未重新报送：类别未定，暂不判断多支付' },
    ]);
    expect(before.flags).toEqual([]); // before issue 13: S2 overpaid

    // the agency sends February again, readable: the person is 低保, and the settlement was right
    box.put('civil/civil_20260228_重报.csv', { header: CIVIL_HEADER, rows: [known, unread, ...others].map((p) => civilRow(p.name, p.id)) });
    await syncInProcess(app, { inbox: box.root, requestedBy: 'test' });
    const after = await heldAndFlags();
    expect(after.entitlements).toEqual([
      { settlement_id: 'S1', entitled: 150_000, paid: 150_000, held: null },
      { settlement_id: 'S2', entitled: 150_000, paid: 150_000, held: null },
    ]);
    expect(after.flags).toEqual([]);
  });

  it('is held naming the roster row that could not be read; a person with no such row is flagged as before', async () => {
    const box = inbox();
    const stranger = { name: '子无名', id: makeId('1966-08-08', 37) };
    // an unknown category label rejects the row, not the file: the person is linked, their category unknown
    box.put('civil/civil_20260131.csv', {
      header: CIVIL_HEADER,
      rows: [civilRow(known.name, known.id), civilRow(unread.name, unread.id, { category: '优抚对象' }), ...others.map((p) => civilRow(p.name, p.id))],
    });
    box.put('settlement/settlement_20260228.csv', { header: SETTLEMENT_HEADER, rows: [stay('S1', known), stay('S2', unread), stay('S3', stranger)] });
    await syncInProcess(testContext(db.store), { inbox: box.root, requestedBy: 'test' });
    const { entitlements, flags } = await heldAndFlags();
    expect(entitlements.map((e) => [e.settlement_id, e.held])).toEqual([
      ['S1', null],
      ['S2', '名册 civil/civil_20260131.csv 第 3 行（此人的记录）无法读取：类别未定，暂不判断多支付'],
      ['S3', null],
    ]);
    // nothing says the stranger has a category anywhere: paid, entitled to 0, overpaid
    expect(flags).toEqual([{ settlement_id: 'S3', flag: 'overpaid' }]);
  });
});
