/**
 * A 死亡人员名单 (issue 13): the health commission's list of deaths ends every category on
 * the date of death, withdraws outreach for later dates, and a report never lists the
 * person for contact.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { CIVIL_HEADER, civilRow, inbox, makeId, SETTLEMENT_HEADER } from '../helpers/fixtures.js';
import { testContext } from '../helpers/context.js';
import { syncInProcess } from '../../src/jobs/local.js';
import { endAtDeath } from '../../src/spells/derive.js';

let db: TestDb;
beforeEach(async () => {
  db = await createTestDb();
});
afterEach(() => db?.drop());

const died = { name: '丑已故', id: makeId('1940-02-02', 15) };
const alive = { name: '寅在世', id: makeId('1945-03-03', 27) };
const others = Array.from({ length: 8 }, (_, i) => ({ name: `其他${i}`, id: makeId('1975-01-01', 201 + i * 2) }));

/** An inpatient stay ending on `ended`, nothing paid as assistance: base 2,000.00, 低保 75% = 1,500.00 unclaimed. */
const stay = (id: string, who: { name: string; id: string }, ended: string) =>
  [id, '', `P${id}`, who.name, who.id, '21', '本地', ended, ended, ended, '6000', '0', '5000', '2500', '500', '0', '一站式'];

describe('a death list', () => {
  it('ends the categories on the date of death, withdraws outreach for later stays, and keeps the person out of the report', async () => {
    const box = inbox();
    const app = testContext(db.store);
    box.put('civil/civil_20260131.csv', { header: CIVIL_HEADER, rows: [died, alive, ...others].map((p) => civilRow(p.name, p.id)) });
    box.put('settlement/settlement_20260331.csv', {
      header: SETTLEMENT_HEADER,
      rows: [stay('S1', died, '2026-02-20'), stay('S2', died, '2026-03-01'), stay('S3', died, '2026-03-20'), stay('S4', alive, '2026-03-20')],
    });
    await syncInProcess(app, { inbox: box.root, requestedBy: 'test' });
    const openFlags = async () =>
      (await sql<{ settlement_id: string }>`select settlement_id from flag where withdrawn_at is null and flag = 'unclaimed' order by 1`.execute(db.store.k)).rows.map((r) => r.settlement_id);
    expect(await openFlags()).toEqual(['S1', 'S2', 'S3', 'S4']);

    // the health commission's list, in its own format: the person died on 1 March
    box.put('death/死亡人员名单_20260331.csv', {
      header: ['序号', '姓名', '身份证号码', '死亡时间', '镇街', '备注'],
      rows: [['1', died.name, died.id, '2026-03-01', '郎岱镇', '']],
    });
    await syncInProcess(app, { inbox: box.root, requestedBy: 'test', report: true });

    const delivery = await db.store.k.selectFrom('delivery').select(['status', 'source', 'row_count']).where('file', 'like', 'death/%').executeTakeFirstOrThrow();
    expect(delivery).toEqual({ status: 'accepted', source: 'death', row_count: 1 });
    const spells = await sql<{ id: string; vt: string | null }>`
      select p.id_number as id, s.valid_to::text as vt from spell s join person p on p.id = s.person_id
      where s.superseded_at is null and p.id_number in (${died.id}, ${alive.id}) order by 2 nulls last`.execute(db.store.k);
    // the day of death still counts (a stay ending with the death is covered); from the next day, nothing
    expect(spells.rows).toEqual([{ id: died.id, vt: '2026-03-02' }, { id: alive.id, vt: null }]);
    expect(await openFlags()).toEqual(['S1', 'S2', 'S4']);
    const cases = await sql<{ settlement_id: string; status: string }>`
      select f.settlement_id, c.status from outreach_case c join flag f on f.id = c.flag_id order by 1`.execute(db.store.k);
    expect(cases.rows.find((c) => c.settlement_id === 'S3')?.status).toBe('withdrawn');
    const reported = await sql<{ id: string }>`
      select distinct p.id_number as id from report_item ri join person p on p.id = ri.person_id`.execute(db.store.k);
    expect(reported.rows.map((r) => r.id)).toEqual([alive.id]);
  });
});

describe('endAtDeath', () => {
  const spell = (validFrom: string, validTo: string | null) => ({ validFrom, validTo, explicitEnd: false, listedIn: [] });
  it('ends open and later-ending spells the day after death, keeps earlier ones, drops later ones', () => {
    expect(endAtDeath([spell('2020-01-01', '2021-01-01'), spell('2022-01-01', null), spell('2026-04-01', null)], '2026-03-01')).toEqual([
      spell('2020-01-01', '2021-01-01'),
      { ...spell('2022-01-01', '2026-03-02'), explicitEnd: true },
    ]);
  });
});
