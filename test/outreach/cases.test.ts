/**
 * The outreach worklist on the sample county: a case per outreach flag, staff moves
 * along the statuses (and only those), and cases the data closes — paid when a later
 * delivery shows the assistance paid (the same settlement again, or a re-settlement
 * after a reversal), withdrawn when the flag goes for another reason.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { syncInProcess } from '../../src/jobs/local.js';
import { CaseError, moveCase, updateCases } from '../../src/outreach/cases.js';
import { caseMetrics } from '../../src/outreach/metrics.js';
import { OUTREACH_FLAGS } from '../../src/assess/labels.js';
import { csvLine } from '../../src/util/csv.js';
import { formatYuan } from '../../src/ingest/normalise/money.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { testContext } from '../helpers/context.js';
import { SAMPLE_INBOX } from '../helpers/sample.js';

interface Unclaimed {
  caseId: number;
  settlementId: string;
  entitled: number;
  headers: string[];
  /** field → column, as the delivery's header was read */
  columns: Record<string, number>;
  raw: string[];
}

describe('the outreach worklist', () => {
  let db: TestDb;
  const inbox = mkdtempSync(join(tmpdir(), 'aidlink-cases-'));
  let ctx: ReturnType<typeof testContext>;

  /** Open cases of unclaimed settlement flags, with the settlement's row as delivered. */
  async function unclaimed(status = 'pending'): Promise<Unclaimed[]> {
    const r = await sql<{ case_id: number; settlement_id: string; entitled: number; headers: string[]; column_map: Record<string, number>; raw: string[] }>`
      select c.id as case_id, f.settlement_id, e.entitled, d.headers, d.column_map, s.raw
      from outreach_case c join flag f on f.id = c.flag_id
      join entitlement e on e.settlement_id = f.settlement_id
      join delivery d on d.id = e.delivery_id
      join source_row s on s.delivery_id = e.delivery_id and s.row_no = e.row_no
      where c.status = ${status} and f.flag = 'unclaimed' and d.format = 'csv'
      order by c.id`.execute(db.store.k);
    return r.rows.map((x) => ({ caseId: x.case_id, settlementId: x.settlement_id, entitled: Number(x.entitled), headers: x.headers, columns: x.column_map, raw: x.raw }));
  }

  /** The row with one field changed (found by the field, whatever the export calls its column). */
  const cell = (u: Unclaimed, field: string, value: string) => u.raw.map((v, i) => (u.columns[field] === i ? value : v));
  const MONEY = ['total', 'self_paid', 'over_limit', 'in_scope', 'basic_paid', 'critical_paid', 'assistance_paid', 'other_paid', 'personal_burden'];

  /** A later settlement delivery, as the insurance system would send it. */
  function deliver(name: string, headers: string[], rows: string[][]): void {
    mkdirSync(join(inbox, 'settlement'), { recursive: true });
    writeFileSync(join(inbox, 'settlement', name), '\ufeff' + csvLine(headers) + rows.map((r) => csvLine(r)).join(''));
  }

  const status = async (id: number) => db.store.k.selectFrom('outreach_case').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

  beforeAll(async () => {
    db = await createTestDb();
    ctx = testContext(db.store);
    await syncInProcess(ctx, { inbox: SAMPLE_INBOX, requestedBy: 'test' });
  }, 120_000);
  afterAll(() => db?.drop());

  it('opens one case per open outreach flag, pending, and no second one on the next run', async () => {
    const flags = await sql<{ n: number }>`select count(*)::int as n from flag where withdrawn_at is null and flag = any(${[...OUTREACH_FLAGS]})`.execute(db.store.k);
    const cases = await db.store.k.selectFrom('outreach_case').select(['status', 'opened_month', 'township', 'village']).execute();
    // a roster or a certificate's address places everyone but those known only from settlements
    // (a high burden without a category): their township is unknown
    const unplaced = await sql<{ n: number; roster: number }>`
      select count(distinct c.id)::int as n, count(*) filter (where s.source <> 'settlement')::int as roster
      from outreach_case c join row_link l on l.person_id = c.person_id
      join source_row s on s.delivery_id = l.delivery_id and s.row_no = l.row_no
      where c.township is null or c.village is null`.execute(db.store.k);
    expect(unplaced.rows[0]).toEqual({ n: expect.any(Number), roster: 0 });
    expect(unplaced.rows[0]!.n).toBeLessThan(cases.length / 20);
    expect(cases).toHaveLength(flags.rows[0]!.n);
    expect(cases.length).toBeGreaterThan(50);
    expect(new Set(cases.map((c) => c.status))).toEqual(new Set(['pending']));
    expect(cases.every((c) => /^\d{4}-\d\d$/.test(c.opened_month))).toBe(true);
    expect(await updateCases(db.store)).toEqual({ opened: 0, paid: 0, withdrawn: 0 });
  });

  it('moves a case only along the worklist, recording who, when and why', async () => {
    const [u] = await unclaimed();
    await moveCase(db.store, u!.caseId, 'dispatched', 'console:甲', '已发乡镇');
    // the township acknowledges the list before it calls
    await expect(moveCase(db.store, u!.caseId, 'contacted', 'console:乙', null)).rejects.toThrow(new CaseError('个案当前为“已下放”，不能改为“已联系”；可改为：已接收'));
    await moveCase(db.store, u!.caseId, 'received', 'console:乙', '乡镇已接收');
    await moveCase(db.store, u!.caseId, 'contacted', 'console:乙', '电话联系本人');
    await expect(moveCase(db.store, u!.caseId, 'pending', 'console:乙', null)).rejects.toThrow(new CaseError('个案当前为“已联系”，不能改为“待下放”；可改为：已申请、已放弃、无法联系'));
    await expect(moveCase(db.store, u!.caseId, 'withdrawn', 'console:乙', null)).rejects.toThrow(CaseError);
    const events = await db.store.k.selectFrom('case_event').select(['actor', 'from_status', 'to_status', 'note']).where('case_id', '=', u!.caseId).orderBy('id').execute();
    expect(events).toEqual([
      { actor: 'system', from_status: null, to_status: 'pending', note: null },
      { actor: 'console:甲', from_status: 'pending', to_status: 'dispatched', note: '已发乡镇' },
      { actor: 'console:乙', from_status: 'dispatched', to_status: 'received', note: '乡镇已接收' },
      { actor: 'console:乙', from_status: 'received', to_status: 'contacted', note: '电话联系本人' },
    ]);
    expect((await status(u!.caseId)).status).toBe('contacted');
  });

  it('closes cases from the data: paid when the assistance shows up, withdrawn when the flag goes', async () => {
    // the case moved along in the test before, and three untouched ones
    const [contacted] = await unclaimed('contacted');
    const [redelivered, resettled, reversedOnly] = await unclaimed();
    // each in a file of its own, in its own export's columns
    // a reversal: a new 结算ID naming the original, with the amounts negated
    const reversal = (u: Unclaimed, id: string) =>
      u.raw.map((v, i) => {
        const field = Object.entries(u.columns).find(([, c]) => c === i)?.[0] ?? '';
        if (field === 'settlement_id') return id;
        if (field === 'reversed_id') return u.settlementId;
        return MONEY.includes(field) && /^[\d,]+\.?\d*$/.test(v) && Number(v.replace(/,/g, '')) !== 0 ? `-${v}` : v;
      });
    // the same settlement delivered again, with the assistance paid in full
    deliver('医保结算明细_202611.csv', redelivered!.headers, [cell(redelivered!, 'assistance_paid', formatYuan(redelivered!.entitled))]);
    deliver('医保结算明细_202702.csv', contacted!.headers, [cell(contacted!, 'assistance_paid', formatYuan(contacted!.entitled))]);
    // reversed, and settled again under a new 结算ID with the assistance paid
    const paidAgain = { ...resettled!, raw: cell(resettled!, 'assistance_paid', formatYuan(resettled!.entitled)) };
    deliver('医保结算明细_202612.csv', resettled!.headers, [reversal(resettled!, `${resettled!.settlementId}9`), cell(paidAgain, 'settlement_id', `${resettled!.settlementId}8`)]);
    // reversed, and nothing else
    deliver('医保结算明细_202701.csv', reversedOnly!.headers, [reversal(reversedOnly!, `${reversedOnly!.settlementId}9`)]);
    const r = await syncInProcess(ctx, { inbox, requestedBy: 'test' });
    expect(r.scan).toMatchObject({ accepted: 4, rejected: 0 });
    expect(r.cases).toMatchObject({ paid: 3, withdrawn: 1 });

    expect(await status(redelivered!.caseId)).toMatchObject({ status: 'paid', recovered: redelivered!.entitled, closed_by: 'data' });
    expect(await status(resettled!.caseId)).toMatchObject({ status: 'paid', recovered: resettled!.entitled, closed_by: 'data' });
    expect(await status(reversedOnly!.caseId)).toMatchObject({ status: 'withdrawn', recovered: 0, closed_by: 'data' });
    const note = await db.store.k.selectFrom('case_event').select('note').where('case_id', '=', redelivered!.caseId).where('to_status', '=', 'paid').executeTakeFirstOrThrow();
    expect(note.note).toBe(`结算数据显示已支付救助 ${formatYuan(redelivered!.entitled)} 元`);
    // a case staff had moved along is closed by the data all the same
    expect(await status(contacted!.caseId)).toMatchObject({ status: 'paid', recovered: contacted!.entitled, closed_by: 'data' });
  });

  it('counts cases by township and month: status, contact rate, conversion, amount recovered', async () => {
    const [u] = await unclaimed();
    await moveCase(db.store, u!.caseId, 'dispatched', 'console:甲', null);
    await moveCase(db.store, u!.caseId, 'received', 'console:甲', null);
    await moveCase(db.store, u!.caseId, 'contacted', 'console:甲', null);
    const metrics = await caseMetrics(db.store);
    const total = await sql<{ n: number; recovered: number }>`select count(*)::int as n, sum(recovered)::bigint as recovered from outreach_case`.execute(db.store.k);
    expect(metrics.reduce((s, m) => s + m.cases, 0)).toBe(total.rows[0]!.n);
    expect(metrics.reduce((s, m) => s + m.recovered, 0)).toBe(Number(total.rows[0]!.recovered));
    const withContact = metrics.find((m) => m.byStatus.contacted > 0)!;
    // one contacted of the sent-down cases in its township and month
    const sent = withContact.byStatus.dispatched + withContact.byStatus.received + withContact.byStatus.contacted + withContact.byStatus.applied + withContact.byStatus.paid + withContact.byStatus.unreachable + withContact.byStatus.declined;
    expect(withContact.contactRate).toBeCloseTo((withContact.byStatus.contacted + withContact.byStatus.applied + withContact.byStatus.paid + withContact.byStatus.declined) / sent);
    const anyPending = metrics.find((m) => m.byStatus.pending === m.cases && m.cases > 0)!;
    expect(anyPending.contactRate).toBeNull();
  });
});
