/**
 * The sample county synced as the bureau would: first everything delivered by
 * 2026-09-30, then the rest. Spells, entitlements, flags and person flags against the
 * truth files, every row and every amount to the fen; the outreach report of each
 * sync against the people the truth makes newly eligible; and the incremental result
 * against one sync of everything.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { readTruth, SAMPLE_INBOX } from '../helpers/sample.js';
import { testContext } from '../helpers/context.js';
import { syncInProcess, type SyncResult } from '../../src/jobs/local.js';
import { reportItems, writeNewlyEligibleReport, type ReportRunResult } from '../../src/report/newly-eligible.js';
import { reportsDir } from '../../src/jobs/handlers.js';
import type { Store } from '../../src/db/store.js';
import { readFileSync } from 'node:fs';

/**
 * The truth's outreach flags at a cut, keyed `<settlement>/<flag>` or `<pid>/<year>/<flag>`, with their pid:
 * unclaimed or underpaid settlements, high-burden or potential-catastrophic years.
 */
function truthOutreach(cut: string): Map<string, string> {
  const settlements = readTruth(`entitlements_${cut}.csv`).filter((e) => e.flag === 'unclaimed' || e.flag === 'underpaid').map((e) => [`${e.settlement_id}/${e.flag}`, e.pid!] as const);
  const years = readTruth(`person_flags_${cut}.csv`).map((f) => [`${f.pid}/${f.year}/${f.flag}`, f.pid!] as const);
  return new Map([...settlements, ...years]);
}

/** A report's rows as objects by header (the report quotes nothing our data needs quoting for). */
function readReport(file: string): { header: string[]; rows: Record<string, string>[]; footer: string[]; bom: boolean } {
  const text = readFileSync(file, 'utf8');
  const lines = text.replace(/^\ufeff/, '').trim().split(/\r?\n/).map((l) => l.split(','));
  const header = lines[0]!;
  return { header, rows: lines.slice(1, -1).map((cells) => Object.fromEntries(header.map((h, i) => [h, cells[i] ?? '']))), footer: lines[lines.length - 1]!, bom: text.startsWith('\ufeff') };
}

/** Our person id → the truth's pid, through the links of the truth's rows. */
async function pidMap(store: Store): Promise<Map<number, string>> {
  const truth = new Map(readTruth('rows.csv').map((r) => [`${r.file}#${r.row}`, r.pid!]));
  const links = await store.k.selectFrom('row_link').innerJoin('delivery', 'delivery.id', 'row_link.delivery_id').select(['delivery.file', 'row_link.row_no', 'row_link.person_id']).execute();
  const map = new Map<number, string>();
  for (const l of links) if (l.person_id !== null) map.set(l.person_id, truth.get(`${l.file}#${l.row_no}`)!);
  return map;
}

async function spells(store: Store): Promise<string[]> {
  const pid = await pidMap(store);
  const r = await sql<{ person_id: number; category: string; vf: string; vt: string | null }>`
    select person_id, category, valid_from::text as vf, valid_to::text as vt from spell where superseded_at is null`.execute(store.k);
  return r.rows.map((s) => `${pid.get(s.person_id)},${s.category},${s.vf},${s.vt ?? ''}`).sort();
}

/** settlement_id → the truth file's columns, from our entitlements and open flags. */
async function entitlements(store: Store): Promise<Map<string, string>> {
  const pid = await pidMap(store);
  const r = await sql<{ settlement_id: string; person_id: number; sd: string; med_type: string; category: string | null; base: number; entitled: number; paid: number; flag: string | null; reason: string | null }>`
    select e.settlement_id, e.person_id, e.service_date::text as sd, e.med_type, e.category, e.base, e.entitled, e.paid, f.flag, f.reason
    from entitlement e left join flag f on f.scope = 'settlement' and f.settlement_id = e.settlement_id and f.withdrawn_at is null`.execute(store.k);
  return new Map(r.rows.map((e) => [e.settlement_id, [pid.get(e.person_id), e.sd, e.med_type, e.category ?? '', e.base, e.entitled, e.paid, e.flag ?? '', e.reason ?? ''].join(',')]));
}

async function personFlags(store: Store): Promise<string[]> {
  const pid = await pidMap(store);
  const r = await sql<{ person_id: number; year: number; flag: string; amount: number }>`
    select person_id, year, flag, amount from flag where scope = 'person_year' and withdrawn_at is null`.execute(store.k);
  return r.rows.map((f) => `${pid.get(f.person_id)},${f.year},${f.flag},${f.amount}`).sort();
}

function truthEntitlements(cut: string): Map<string, string> {
  return new Map(readTruth(`entitlements_${cut}.csv`).map((e) => [e.settlement_id!, [e.pid, e.service_date, e.med_type, e.category, e.base, e.entitled, e.paid, e.flag, e.reason].join(',')]));
}
const truthPersonFlags = (cut: string) => readTruth(`person_flags_${cut}.csv`).map((f) => `${f.pid},${f.year},${f.flag},${f.amount}`).sort();
const truthSpells = () => readTruth('spells.csv').map((s) => `${s.pid},${s.category},${s.valid_from},${s.valid_to}`).sort();

describe('syncing the sample county as the deliveries arrive', () => {
  let db: TestDb;
  let september: SyncResult;
  let september_entitlements: Map<string, string>;
  let september_person_flags: string[];
  let october: SyncResult;
  let reports: ReportRunResult[];
  beforeAll(async () => {
    db = await createTestDb();
    const ctx = testContext(db.store);
    // as the bureau would: sync up to September, report, sync the rest, report
    september = await syncInProcess(ctx, { inbox: SAMPLE_INBOX, until: '2026-09-30', requestedBy: 'test' });
    const first = await writeNewlyEligibleReport(db.store, { dir: reportsDir(ctx), requestedBy: 'test' });
    september_entitlements = await entitlements(db.store);
    september_person_flags = await personFlags(db.store);
    october = await syncInProcess(ctx, { inbox: SAMPLE_INBOX, requestedBy: 'test' });
    reports = [first, await writeNewlyEligibleReport(db.store, { dir: reportsDir(ctx), requestedBy: 'test' })];
  }, 300_000);
  afterAll(() => db?.drop());

  it('takes only the files delivered by 2026-09-30 first, and the rest on the next sync', () => {
    expect(september.scan.later).toBe(3);
    expect(september.assessment.dataAsOf).toBe('2026-09-30');
    expect(october.scan).toMatchObject({ queued: 3, accepted: 3, failed: 0 });
    expect(october.assessment.dataAsOf).toBe('2026-10-31');
  });

  it('assesses every settlement delivered by 2026-09-30 as the truth does, to the fen', () => {
    expect(september_entitlements).toEqual(truthEntitlements('20260930'));
    expect(september_person_flags).toEqual(truthPersonFlags('20260930'));
  });

  it('after the October deliveries: the spells, every settlement, every flag and reason, every person flag', async () => {
    expect(await spells(db.store)).toEqual(truthSpells());
    expect(await entitlements(db.store)).toEqual(truthEntitlements('20261031'));
    expect(await personFlags(db.store)).toEqual(truthPersonFlags('20261031'));
  });

  it('raises the flags first raised by the October deliveries in the second sync, and keeps the rest', async () => {
    const pid = await pidMap(db.store);
    const raised = await sql<{ settlement_id: string | null; person_id: number; year: number; flag: string; raised_data_as_of: string }>`
      select settlement_id, person_id, year, flag, raised_data_as_of::text as raised_data_as_of from flag where withdrawn_at is null`.execute(db.store.k);
    const inOctober = raised.rows.filter((f) => f.raised_data_as_of === '2026-10-31').map((f) => f.settlement_id ?? `${pid.get(f.person_id)}/${f.year}/${f.flag}`).sort();
    const septemberKeys = new Set([...truthEntitlements('20260930')].filter(([, v]) => v.split(',')[7] !== '').map(([k, v]) => `${k}/${v.split(',')[7]}`));
    const expected = [...truthEntitlements('20261031')].filter(([k, v]) => v.split(',')[7] !== '' && !septemberKeys.has(`${k}/${v.split(',')[7]}`)).map(([k]) => k);
    expect(inOctober).toEqual(expected.sort());
  });

  it('reports every outreach flag first, then exactly the flags first raised by the October deliveries, nobody reported before as new', async () => {
    const pid = await pidMap(db.store);
    const keyed = async (runId: number) => {
      const r = (await reportItems(db.store, runId))!;
      return new Map(r.items.map((i) => [i.settlementId ? `${i.settlementId}/${i.flag}` : `${pid.get(i.personId)}/${i.year}/${i.flag}`, { pid: pid.get(i.personId)!, newPerson: i.newPerson }]));
    };
    const first = await keyed(reports[0]!.runId);
    const second = await keyed(reports[1]!.runId);
    const september = truthOutreach('20260930');
    const october = truthOutreach('20261031');
    expect([...first.keys()].sort()).toEqual([...september.keys()].sort());
    expect([...first.values()].every((i) => i.newPerson)).toBe(true);
    // the flags October raised: in the 1031 truth and not in the 0930 truth
    const raisedInOctober = [...october.keys()].filter((k) => !september.has(k)).sort();
    expect(raisedInOctober.length).toBeGreaterThan(0);
    expect([...second.keys()].sort()).toEqual(raisedInOctober);
    // a person of the first report comes back with a new flag, but not as a new person
    const reportedBefore = new Set([...first.values()].map((i) => i.pid));
    for (const i of second.values()) expect(i.newPerson).toBe(!reportedBefore.has(i.pid));
    expect([...second.values()].some((i) => !i.newPerson)).toBe(true);
    expect(reports[1]).toMatchObject({ flags: raisedInOctober.length, newPersons: new Set([...second.values()].filter((i) => i.newPerson).map((i) => i.pid)).size });
  });

  it('writes each report as CSV and XLSX, id numbers masked, amounts in yuan, with a total line', () => {
    const csv = readReport(reports[0]!.files.csv);
    expect(csv.bom).toBe(true);
    expect(csv.header).toEqual(['乡镇', '村', '人员ID', '姓名', '身份证号', '联系电话', '救助类别', '新增人员', '标记', '原因', '结算ID', '医疗机构', '入院日期', '出院日期', '年度', '进入救助金额', '应救助金额', '已救助金额', '差额/金额']);
    expect(csv.rows).toHaveLength(reports[0]!.flags);
    for (const row of csv.rows) expect(row['身份证号']).toMatch(/^(\d{6}\*+\d{3}[\dX]|)$/);
    expect(csv.rows.every((row) => /^\d+\.\d\d$/.test(row['差额/金额']!))).toBe(true);
    expect(csv.footer[0]).toBe('合计');
    expect(csv.footer[2]).toBe(`${reports[0]!.persons} 人`);
    expect(readFileSync(reports[0]!.files.xlsx).subarray(0, 2).toString()).toBe('PK');
  });

  it('equals one sync of everything at once', async () => {
    const once = await createTestDb();
    try {
      await syncInProcess(testContext(once.store), { inbox: SAMPLE_INBOX, requestedBy: 'test' });
      expect(await spells(once.store)).toEqual(await spells(db.store));
      expect(await entitlements(once.store)).toEqual(await entitlements(db.store));
      expect(await personFlags(once.store)).toEqual(await personFlags(db.store));
    } finally {
      await once.drop();
    }
  });

  it('keeps the calculation of each entitlement', async () => {
    const e = await db.store.k.selectFrom('entitlement').selectAll().where('category', 'is not', null).where('entitled', '>', 0).orderBy('settlement_id').executeTakeFirstOrThrow();
    expect(e.calc).toMatchObject({ eligibleType: true, held: expect.arrayContaining([e.category]), ratio: expect.any(Number), capLeftBefore: expect.any(Number), deductibleApplied: expect.any(Number) });
  });
});
