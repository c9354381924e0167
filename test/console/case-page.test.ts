/**
 * The case page on the sample county synced once: its 测算过程 against the stored
 * entitlement, the status form without a preselected outcome, and outcomes recorded in one
 * action — 已支付 refused without its amount, recorded with the steps before it, and counted
 * in 挽回金额 on /stats.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { syncInProcess } from '../../src/jobs/local.js';
import { formatYuan } from '../../src/ingest/normalise/money.js';
import { countyToday } from '../../src/outreach/cases.js';
import { consoleRig, type ConsoleClient, type ConsoleRig } from '../helpers/console.js';
import { SAMPLE_INBOX } from '../helpers/sample.js';

const decode = (s: string) =>
  s.replace(/<[^>]*>/g, '').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&').replace(/\s+/g, ' ').trim();

/** Every table row of a page, as cell texts. */
const rowsOf = (body: string): string[][] =>
  [...body.matchAll(/<tr>([\s\S]*?)<\/tr>/g)].map((m) => [...m[1]!.matchAll(/<td[^>]*>([\s\S]*?)<\/td>/g)].map((c) => decode(c[1]!)));

interface StoredCalc {
  options: { category: string; deductible: number; ratio: number; remainingDeductible: number; amount: number }[];
  deductibleUsedBefore: number;
  deductibleApplied: number;
  amount: number;
  annualCap: number;
  capLeftBefore: number;
  period: string;
}

describe('console: the case page, its calculation and its outcomes', () => {
  let rig: ConsoleRig;
  let caseworker: ConsoleClient;
  const k = () => rig.db.store.k;
  const caseRow = (id: number) => k().selectFrom('outreach_case').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  const eventsOf = (id: number) => k().selectFrom('case_event').selectAll().where('case_id', '=', id).orderBy('id').execute();

  /** pending cases of settlement flags whose settlement a category was applied to, in one township */
  let cases: { id: number; township: string | null }[];

  beforeAll(async () => {
    rig = await consoleRig({ prepare: async (app) => void (await syncInProcess(app, { inbox: SAMPLE_INBOX, requestedBy: 'test' })) });
    caseworker = await rig.as('caseworker');
    const town = (
      await sql<{ township: string }>`
        select c.township from outreach_case c join flag f on f.id = c.flag_id join entitlement e on e.settlement_id = f.settlement_id
        where c.status = 'pending' and e.category is not null and c.township is not null
        group by 1 order by count(*) desc, 1 limit 1`.execute(k())
    ).rows[0]!.township;
    cases = (
      await sql<{ id: number; township: string | null }>`
        select c.id, c.township from outreach_case c join flag f on f.id = c.flag_id join entitlement e on e.settlement_id = f.settlement_id
        where c.status = 'pending' and e.category is not null and c.township = ${town}
        order by c.id limit 3`.execute(k())
    ).rows;
  }, 120_000);
  afterAll(() => rig?.close());

  it('shows 测算过程 with the figures of the stored entitlement, the policy, the spell and the files', async () => {
    expect(cases).toHaveLength(3);
    const id = cases[0]!.id;
    const e = (
      await sql<{ person_id: number; base: number; entitled: number; paid: number; category: string; calc: StoredCalc; settlement_id: string; file: string; in_scope: number; basic_paid: number; critical_paid: number; total: number; policy: string }>`
        select c.person_id, e.base, e.entitled, e.paid, e.category, e.calc, e.settlement_id, d.file, sr.in_scope, sr.basic_paid, sr.critical_paid, sr.total,
               r.policy->>'name' as policy
        from outreach_case c join flag f on f.id = c.flag_id join entitlement e on e.settlement_id = f.settlement_id
        join delivery d on d.id = e.delivery_id join settlement_row sr on sr.delivery_id = e.delivery_id and sr.row_no = e.row_no
        join assessment_run r on r.id = e.run_id
        where c.id = ${id}`.execute(k())
    ).rows[0]!;
    const option = e.calc.options.find((o) => o.category === e.category)!;
    const y = (fen: number | string) => `${formatYuan(Number(fen))} 元`;

    const r = await caseworker.get(`/cases/${id}`);
    expect(r.statusCode).toBe(200);
    expect(r.body).toContain('<h2>测算过程</h2>');
    expect(r.body).toContain(`href="/persons/${e.person_id}"`);
    const text = decode(r.body);
    expect(text).toContain(`结算 ${e.settlement_id}`);
    // the file by its name, without the inbox folder (layout.ts fileShown)
    expect(text).toContain(e.file.split('/').pop()!);
    expect(text).not.toContain(e.file);
    expect(text).toContain(`${e.policy}；政策期间 ${e.calc.period.replace('/', ' 至 ')}`);
    // the spell the calculation used, with its dates
    const spell = (
      await sql<{ valid_from: string }>`
        select s.valid_from::text as valid_from from spell s join entitlement e on e.person_id = s.person_id and e.category = s.category
        where e.settlement_id = ${e.settlement_id} and s.superseded_at is null and s.valid_from <= e.service_date and (s.valid_to is null or s.valid_to > e.service_date)
        order by s.valid_from limit 1`.execute(k())
    ).rows[0]!;
    expect(text).toMatch(new RegExp(`适用的救助类别时段[^，]+，[^，]+，${spell.valid_from} 至`));

    const value = Object.fromEntries(rowsOf(r.body).filter((c) => c.length === 3).map((c) => [c[0], c[1]]));
    expect(value['医疗费总额']).toBe(y(e.total));
    expect(value['政策范围内费用']).toBe(y(e.in_scope));
    expect(value['基本医保统筹支付']).toBe(y(e.basic_paid));
    expect(value['大病保险支付']).toBe(y(e.critical_paid));
    expect(value['进入医疗救助金额（救助基数）']).toBe(y(e.base));
    expect(value['起付线']).toBe(y(option.deductible));
    expect(value['救助比例']).toBe(`${option.ratio / 100}%`);
    expect(value['按比例计算']).toBe(y(e.calc.amount));
    expect(value['年度救助限额']).toBe(y(e.calc.annualCap));
    expect(value['应救助']).toBe(y(e.entitled));
    expect(value['已救助']).toBe(y(e.paid));
    expect(value['差额']).toBe(y(Number(e.entitled) - Number(e.paid)));
    // the cap already used this year, as the calculation stored it
    expect(text).toContain(`本年此前已用 ${y(e.calc.annualCap - e.calc.capLeftBefore)}，尚余 ${y(e.calc.capLeftBefore)}`);
    expect(text).toContain(`本年此前已计 ${y(e.calc.deductibleUsedBefore)}，尚余 ${y(option.remainingDeductible)}`);
  });

  it('the status form preselects no outcome, and final outcomes ask before they are sent', async () => {
    const id = cases[1]!.id;
    expect((await caseworker.post(`/cases/${id}`, { to: 'dispatched' })).statusCode).toBe(303);
    const r = await caseworker.get(`/cases/${id}`);
    const select = /<select id="to" name="to"[^>]*>([\s\S]*?)<\/select>/.exec(r.body)?.[1] ?? '';
    const options = [...select.matchAll(/<option value="(\w*)"[^>]*>([^<]*)<\/option>/g)].map((m) => [m[1], m[2]]);
    expect(options).toEqual([
      ['', '请选择'],
      ['received', '已接收'],
    ]);
    expect(select).not.toContain('selected');
    // 已支付 and 已放弃: forms of their own, each asking first
    const paidForm = /<form[^>]*data-confirm="([^"]*)"[^>]*>\s*<input[^>]*name="_csrf"[^>]*>\s*<input type="hidden" name="to" value="paid" \/>/.exec(r.body);
    expect(paidForm?.[1]).toContain('确定记录为“已支付”吗？将同时记录已接收、已联系、已申请。');
    expect(r.body).toMatch(/<form[^>]*data-confirm="确定记录为“已放弃”吗？[^"]*"[^>]*>\s*<input[^>]*name="_csrf"[^>]*>\s*<input type="hidden" name="to" value="declined" \/>/);
    expect(r.body).toContain(`max="${countyToday()}"`);
  });

  it('refuses 已支付 without an amount, with a zero amount or a future date, changing nothing', async () => {
    const id = cases[1]!.id; // 已下放 since the test above
    const before = await caseRow(id);
    const events = (await eventsOf(id)).length;
    const later = countyToday(new Date(Date.now() + 2 * 86_400_000));
    const cases_ = [
      [{ to: 'paid', paid_on: countyToday() }, '记录“已支付”须填写支付金额（元）和支付日期'],
      [{ to: 'paid', amount: '', paid_on: countyToday() }, '记录“已支付”须填写支付金额（元）和支付日期'],
      [{ to: 'paid', amount: '0', paid_on: countyToday() }, '支付金额应为大于 0 的金额'],
      [{ to: 'paid', amount: '12.345', paid_on: countyToday() }, '支付金额应为大于 0 的金额'],
      [{ to: 'paid', amount: '100.00', paid_on: later }, `支付日期不能晚于今天（${countyToday()}）`],
      [{ to: 'paid', amount: '100.00', paid_on: '2026-02-30' }, '支付日期不正确'],
    ] as const;
    for (const [form, message] of cases_) {
      const r = await caseworker.post(`/cases/${id}`, form);
      expect(r.statusCode, JSON.stringify(form)).toBe(400);
      expect(r.body).toContain(message);
    }
    expect(await caseRow(id)).toEqual(before);
    expect(await eventsOf(id)).toHaveLength(events);
  });

  it('已支付 on a 已下放 case records the steps between, and the case ends paid with the amount', async () => {
    const id = cases[1]!.id;
    const day = countyToday();
    const r = await caseworker.post(`/cases/${id}`, { to: 'paid', amount: '1,234.56', paid_on: day, note: '乡镇反馈已打卡发放' });
    expect(r.statusCode, r.body.slice(0, 500)).toBe(303);
    const c = await caseRow(id);
    expect(c).toMatchObject({ status: 'paid', recovered: 123456, paid_on: day, closed_by: 'staff' });
    expect(c.closed_at).not.toBeNull();
    const moved = (await eventsOf(id)).filter((e) => e.from_status !== null).slice(1);
    expect(moved.map((e) => [e.actor, e.from_status, e.to_status, e.note, e.amount, e.paid_on])).toEqual([
      ['console:caseworker1', 'dispatched', 'received', '乡镇反馈已打卡发放', null, null],
      ['console:caseworker1', 'received', 'contacted', '乡镇反馈已打卡发放', null, null],
      ['console:caseworker1', 'contacted', 'applied', '乡镇反馈已打卡发放', null, null],
      ['console:caseworker1', 'applied', 'paid', '乡镇反馈已打卡发放', 123456, day],
    ]);
    const audit = await k().selectFrom('audit_log').select('detail').where('subject', '=', `case:${id}`).orderBy('id', 'desc').executeTakeFirstOrThrow();
    expect(audit.detail).toEqual({ from: 'dispatched', to: 'paid', steps: ['received', 'contacted', 'applied', 'paid'], amount: 123456, paidOn: day });
    const shown = decode((await caseworker.get(`/cases/${id}`)).body);
    expect(shown).toContain('已挽回（元）1234.56');
    expect(shown).toContain(`1234.56 元（${day}）`);
    expect(shown).toContain('个案已结束，不能再更改状态');
  });

  it('已放弃 on a 已下放 case records the steps between it too; 待下放 cannot jump to an outcome', async () => {
    const id = cases[2]!.id;
    const jump = await caseworker.post(`/cases/${id}`, { to: 'declined' });
    expect(jump.statusCode).toBe(400);
    expect(jump.body).toContain('个案当前为“待下放”，不能改为“已放弃”');
    expect((await caseworker.post(`/cases/${id}`, { to: 'dispatched' })).statusCode).toBe(303);
    expect((await caseworker.post(`/cases/${id}`, { to: 'declined', note: '本人不申请' })).statusCode).toBe(303);
    const steps = (await eventsOf(id)).filter((e) => e.note === '本人不申请').map((e) => e.to_status);
    expect(steps).toEqual(['received', 'contacted', 'declined']);
    expect(await caseRow(id)).toMatchObject({ status: 'declined', recovered: 0, paid_on: null });
  });

  it('挽回金额 on /stats comes from the recorded amounts', async () => {
    const township = cases[1]!.township!;
    const sum = Number((await sql<{ s: string }>`select coalesce(sum(recovered), 0)::text as s from outreach_case where township = ${township}`.execute(k())).rows[0]!.s);
    expect(sum).toBeGreaterThanOrEqual(123456);
    const r = await caseworker.get(`/stats?township=${encodeURIComponent(township)}`);
    expect(r.statusCode).toBe(200);
    const total = rowsOf(r.body).find((c) => c[0] === township && c.length === 14)!;
    expect(total.at(-1)).toBe(formatYuan(sum));
  });
});
