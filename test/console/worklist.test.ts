/**
 * The outreach worklist in the console, on the sample county synced once: the list
 * and its filters, moving a case along (and refusing a move the worklist does not
 * have, a viewer, a post without the CSRF token), the metrics against the database,
 * and the charts escaping what they draw.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { syncInProcess } from '../../src/jobs/local.js';
import { barChart, groupedBarChart } from '../../src/console/charts.js';
import type { CaseStatus } from '../../src/db/schema.js';
import { consoleRig, type ConsoleClient, type ConsoleRig } from '../helpers/console.js';
import { SAMPLE_INBOX } from '../helpers/sample.js';

const FULL_ID = /\b\d{17}[\dX]\b/;
const CLOSED: CaseStatus[] = ['paid', 'declined', 'withdrawn'];
const REACHED: CaseStatus[] = ['contacted', 'applied', 'paid', 'declined'];
const SENT: CaseStatus[] = [...REACHED, 'dispatched', 'received', 'unreachable'];

const decode = (s: string) =>
  s.replace(/<[^>]*>/g, '').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&').replace(/\s+/g, ' ').trim();

/** The body rows of the page's n-th table (from 0), as cell texts; the case link kept as its id. */
function tableRows(body: string, n = 0): { cells: string[]; caseId: number | undefined }[] {
  const tbody = [...body.matchAll(/<tbody>([\s\S]*?)<\/tbody>/g)][n]?.[1] ?? '';
  return [...tbody.matchAll(/<tr>([\s\S]*?)<\/tr>/g)].map((m) => ({
    cells: [...m[1]!.matchAll(/<td[^>]*>([\s\S]*?)<\/td>/g)].map((c) => decode(c[1]!)),
    caseId: Number(/href="\/cases\/(\d+)"/.exec(m[1]!)?.[1] ?? NaN) || undefined,
  }));
}

describe('console: outreach worklist, cases and metrics', () => {
  let rig: ConsoleRig;
  let caseworker: ConsoleClient;
  let viewer: ConsoleClient;
  /** the (named) township with the most pending cases, and three of its pending cases */
  let township: string;
  let pending: number[];

  const k = () => rig.db.store.k;
  const statusOf = async (id: number) => (await k().selectFrom('outreach_case').select('status').where('id', '=', id).executeTakeFirstOrThrow()).status;
  const eventCount = async (id: number) => Number((await k().selectFrom('case_event').select((eb) => eb.fn.countAll<number>().as('n')).where('case_id', '=', id).executeTakeFirstOrThrow()).n);
  const auditCount = async (id: number) =>
    Number((await k().selectFrom('audit_log').select((eb) => eb.fn.countAll<number>().as('n')).where('action', '=', 'case_update').where('subject', '=', `case:${id}`).executeTakeFirstOrThrow()).n);

  beforeAll(async () => {
    rig = await consoleRig({ prepare: async (app) => void (await syncInProcess(app, { inbox: SAMPLE_INBOX, requestedBy: 'test' })) });
    caseworker = await rig.as('caseworker');
    viewer = await rig.as('viewer');
    const best = (
      await sql<{ township: string; n: number }>`
        select township, count(*)::int as n from outreach_case where status = 'pending' and township is not null
        group by 1 order by 2 desc, 1 limit 1`.execute(k())
    ).rows[0]!;
    township = best.township;
    pending = (
      await sql<{ id: number }>`select id from outreach_case where status = 'pending' and coalesce(township, '未知乡镇') = ${township} order by id limit 3`.execute(k())
    ).rows.map((r) => r.id);
  }, 120_000);
  afterAll(() => rig?.close());

  it('the sync opened cases to work on', async () => {
    const n = Number((await k().selectFrom('outreach_case').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
    expect(n).toBeGreaterThan(20);
    expect(pending).toHaveLength(3);
  });

  // the worklist itself (one row per person, filters, bulk moves, export): worklist-person.test.ts

  it('a caseworker moves a case 待下放 → 已下放 → 已接收 → 已联系 with notes, recorded and audited', async () => {
    const id = pending[0]!;
    const before = await eventCount(id);
    const r1 = await caseworker.post(`/cases/${id}`, { to: 'dispatched', note: '已下放至乡镇经办人' });
    expect(r1.statusCode).toBe(303);
    expect(r1.headers.location).toBe(`/cases/${id}?done=case`);
    expect(await statusOf(id)).toBe('dispatched');
    expect((await caseworker.post(`/cases/${id}`, { to: 'received', note: '乡镇已接收名单' })).statusCode).toBe(303);
    const r2 = await caseworker.post(`/cases/${id}`, { to: 'contacted', note: '电话联系本人，同意申请' });
    expect(r2.statusCode).toBe(303);
    expect(r2.headers.location).toBe(`/cases/${id}?done=case`);
    expect(await statusOf(id)).toBe('contacted');

    const events = await k().selectFrom('case_event').selectAll().where('case_id', '=', id).where('actor', '=', 'console:caseworker1').orderBy('id').execute();
    expect(events.map((e) => [e.from_status, e.to_status, e.note])).toEqual([
      ['pending', 'dispatched', '已下放至乡镇经办人'],
      ['dispatched', 'received', '乡镇已接收名单'],
      ['received', 'contacted', '电话联系本人，同意申请'],
    ]);
    expect(await eventCount(id)).toBe(before + 3);
    const audits = await k().selectFrom('audit_log').selectAll().where('action', '=', 'case_update').where('subject', '=', `case:${id}`).orderBy('id').execute();
    expect(audits.map((a) => [a.actor, a.detail])).toEqual([
      ['caseworker1', { from: 'pending', to: 'dispatched' }],
      ['caseworker1', { from: 'dispatched', to: 'received' }],
      ['caseworker1', { from: 'received', to: 'contacted' }],
    ]);

    // the page after the redirect: the message, the new status, the history and the next moves
    const shown = await caseworker.get(`/cases/${id}?done=case`);
    expect(shown.statusCode).toBe(200);
    expect(shown.body).toContain('个案已更新。');
    expect(shown.body).toContain('电话联系本人，同意申请');
    expect(shown.body).not.toMatch(FULL_ID);
    const options = [...(/<select id="to" name="to"[^>]*>([\s\S]*?)<\/select>/.exec(shown.body)?.[1] ?? '').matchAll(/<option value="(\w+)">([^<]*)<\/option>/g)].map((m) => [m[1], m[2]]);
    expect(options).toEqual([
      ['applied', '已申请'],
      ['unreachable', '无法联系'],
    ]);
    // the outcomes that close a case have forms of their own, which ask first (case-page.test.ts)
    expect(shown.body).toContain('<input type="hidden" name="to" value="declined" />');
  });

  it('refuses a move the worklist does not have, with the message, changing nothing', async () => {
    const id = pending[0]!; // contacted since the test above
    expect(await statusOf(id)).toBe('contacted');
    const events = await eventCount(id);
    const audits = await auditCount(id);
    const back = await caseworker.post(`/cases/${id}`, { to: 'pending', note: '退回' });
    expect(back.statusCode).toBe(400);
    expect(back.body).toContain('个案当前为“已联系”，不能改为“待下放”；可改为：已申请、已放弃、无法联系');
    expect(await statusOf(id)).toBe('contacted');

    const other = pending[2]!;
    const otherEvents = await eventCount(other);
    const jump = await caseworker.post(`/cases/${other}`, { to: 'paid' });
    expect(jump.statusCode).toBe(400);
    expect(jump.body).toContain('个案当前为“待下放”，不能改为“已支付”');
    expect(await statusOf(other)).toBe('pending');

    // not a status at all
    const bogus = await caseworker.post(`/cases/${other}`, { to: 'closed' });
    expect(bogus.statusCode).toBe(400);
    expect(bogus.body).toContain('请选择要改为的状态');
    expect(await statusOf(other)).toBe('pending');

    expect(await eventCount(id)).toBe(events);
    expect(await auditCount(id)).toBe(audits);
    expect(await eventCount(other)).toBe(otherEvents);
    expect(await auditCount(other)).toBe(0);
    // no such case
    expect((await caseworker.post('/cases/99999999', { to: 'dispatched' })).statusCode).toBe(404);
  });

  it('a note without a change of status', async () => {
    const id = pending[2]!;
    const r = await caseworker.post(`/cases/${id}/note`, { note: '村委会称本人外出务工' });
    expect(r.statusCode).toBe(303);
    expect(r.headers.location).toBe(`/cases/${id}?done=noted`);
    const last = await k().selectFrom('case_event').selectAll().where('case_id', '=', id).orderBy('id', 'desc').executeTakeFirstOrThrow();
    expect([last.actor, last.from_status, last.to_status, last.note]).toEqual(['console:caseworker1', 'pending', 'pending', '村委会称本人外出务工']);
    expect(await statusOf(id)).toBe('pending');
    expect(await auditCount(id)).toBe(1);
    const empty = await caseworker.post(`/cases/${id}/note`, { note: '   ' });
    expect(empty.statusCode).toBe(400);
    expect(empty.body).toContain('备注不能为空');
  });

  it('a viewer sees no forms and may not change a case; a post without the CSRF token is refused', async () => {
    const id = pending[1]!;
    const seen = await viewer.get(`/cases/${id}`);
    expect(seen.statusCode).toBe(200);
    expect(seen.body).toContain('待下放');
    expect(seen.body).toContain('下一步可改为');
    expect(seen.body).not.toMatch(/<form[^>]*action="\/cases\//);
    expect(seen.body).not.toContain('<textarea');
    expect(seen.body).not.toMatch(FULL_ID);
    // …where a caseworker has both forms
    const worker = await caseworker.get(`/cases/${id}`);
    expect(worker.body).toContain(`action="/cases/${id}"`);
    expect(worker.body).toContain(`action="/cases/${id}/note"`);

    const byViewer = await viewer.post(`/cases/${id}`, { to: 'dispatched' });
    expect(byViewer.statusCode).toBe(403);
    const noteByViewer = await viewer.post(`/cases/${id}/note`, { note: '试图添加' });
    expect(noteByViewer.statusCode).toBe(403);
    const noToken = await caseworker.post(`/cases/${id}`, { to: 'dispatched' }, { csrf: false });
    expect(noToken.statusCode).toBe(403);
    const wrongToken = await caseworker.post(`/cases/${id}`, { to: 'dispatched', _csrf: 'x'.repeat(43) }, { csrf: false });
    expect(wrongToken.statusCode).toBe(403);
    expect(await statusOf(id)).toBe('pending');
    expect(await eventCount(id)).toBe(1);
    expect(await auditCount(id)).toBe(0);
  });

  it('/metrics agrees with the database after the moves, with charts', async () => {
    // one more case of the township sent down: its contact rate is now 1 of 2
    expect((await caseworker.post(`/cases/${pending[1]!}`, { to: 'dispatched' })).statusCode).toBe(303);
    expect((await caseworker.post(`/cases/${pending[1]!}`, { to: 'received' })).statusCode).toBe(303);
    const counts = await sql<{ status: CaseStatus; month: string; n: number }>`
      select status, opened_month as month, count(*)::int as n from outreach_case
      where coalesce(township, '未知乡镇') = ${township} group by 1, 2`.execute(k());
    const n = (ss: CaseStatus[], month?: string) => counts.rows.filter((r) => ss.includes(r.status) && (!month || r.month === month)).reduce((s, r) => s + r.n, 0);
    const all = [...new Set(counts.rows.map((r) => r.status))];
    const rate = (num: number, den: number) => (den ? `${((num / den) * 100).toFixed(1)}%` : '—');
    const contact = rate(n(REACHED), n(SENT));
    expect(contact).toBe('50.0%'); // one contacted, one only sent down
    const countyCases = Number((await k().selectFrom('outreach_case').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);

    // the page's old address (now the Prometheus scrape's) sends a browser on, filter kept
    const old = await viewer.get(`/metrics?township=${encodeURIComponent(township)}`);
    expect(old.statusCode).toBe(301);
    expect(old.headers.location).toBe(`/stats?township=${encodeURIComponent(township)}`);
    for (const url of ['/stats', `/stats?township=${encodeURIComponent(township)}`]) {
      const r = await viewer.get(url);
      expect(r.statusCode, r.body.slice(0, 300)).toBe(200);
      expect(r.body).toContain('<svg');
      expect(r.body).not.toMatch(/\sstyle="/);
      expect(r.body).toContain('联系率 = 已联系及以后');
      // the totals: 乡镇, 个案数, 9 statuses, 联系率, 转化率, 挽回金额
      const totals = tableRows(r.body, 0);
      const total = totals.find((x) => x.cells[0] === township);
      expect(total, url).toBeDefined();
      expect(total!.cells).toHaveLength(14);
      expect(Number(total!.cells[1])).toBe(n(all));
      expect(Number(total!.cells[2])).toBe(n(['pending']));
      expect(Number(total!.cells[3])).toBe(n(['dispatched']));
      expect(Number(total!.cells[4])).toBe(n(['received']));
      expect(Number(total!.cells[5])).toBe(n(['contacted']));
      expect(total!.cells[11]).toBe(contact);
      expect(total!.cells[12]).toBe(rate(n(['paid']), n(REACHED)));
      // each of the township's months: 乡镇, 月份, 个案数, …
      const rows = tableRows(r.body, 1);
      for (const month of new Set(counts.rows.map((x) => x.month))) {
        const row = rows.find((x) => x.cells[0] === township && x.cells[1] === month);
        expect(row?.cells, `${township} ${month}`).toHaveLength(15);
        expect(Number(row?.cells[2])).toBe(n(all, month));
        expect(row?.cells[12]).toBe(rate(n(REACHED, month), n(SENT, month)));
      }
      if (url.includes('township=')) {
        expect([...totals, ...rows].every((x) => x.cells[0] === township)).toBe(true);
      } else {
        expect(Number(totals.find((x) => x.cells[0] === '全县')?.cells[1])).toBe(countyCases);
      }
    }
  });

  it('a closed case says so: no moves left, notes still possible, off the open worklist', async () => {
    const id = pending[1]!; // dispatched and received by the metrics test
    for (const to of ['contacted', 'declined']) expect((await caseworker.post(`/cases/${id}`, { to, note: to === 'declined' ? '本人表示不申请' : '' })).statusCode).toBe(303);
    const row = await k().selectFrom('outreach_case').select(['status', 'closed_at', 'closed_by']).where('id', '=', id).executeTakeFirstOrThrow();
    expect(row.status).toBe('declined');
    expect(row.closed_by).toBe('staff');
    const shown = await caseworker.get(`/cases/${id}`);
    expect(shown.body).toContain('个案已结束，不能再更改状态');
    expect(shown.body).toContain('工作人员结案（caseworker1）');
    expect(shown.body).not.toContain('name="to"');
    expect(shown.body).toContain(`action="/cases/${id}/note"`);
    const again = await caseworker.post(`/cases/${id}`, { to: 'contacted' });
    expect(again.statusCode).toBe(400);
    expect(again.body).toContain('个案已结束');
    const declined = await caseworker.get('/worklist?status=declined');
    expect(decode(declined.body)).toContain('共 1 人（1 个个案');
    expect(tableRows(declined.body).map((r) => r.caseId)).toEqual([id]);
    const person = (await k().selectFrom('outreach_case').select('person_id').where('id', '=', id).executeTakeFirstOrThrow()).person_id;
    const openOfPerson = await k().selectFrom('outreach_case').select('id').where('person_id', '=', person).where('status', 'not in', CLOSED).execute();
    const listed = await caseworker.get(`/worklist?sort=owed`);
    expect(listed.body).not.toContain(`href="/cases/${id}"`);
    if (openOfPerson.length === 0) expect(listed.body).not.toContain(`href="/persons/${person}"`);
  });

  it('charts escape their labels, use no inline style, and say when there is nothing to draw', () => {
    const hostile = '<script>alert(1)</script>"&';
    const bars = barChart({ title: `标题${hostile}`, bars: [{ label: hostile, value: 12 }, { label: '大用镇', value: 3 }], format: String });
    const grouped = groupedBarChart({ title: '分组', groups: [hostile, '2026-10'], series: [{ label: hostile, values: [1, 2] }, { label: '已联系', values: [3, 0] }], format: String });
    for (const out of [bars.value, grouped.value]) {
      expect(out).toContain('<svg');
      expect(out).not.toContain('<script>');
      expect(out).toContain('&lt;script&gt;alert(1)&lt;/script&gt;&quot;&amp;');
      expect(out).not.toMatch(/\sstyle=/);
      expect(out).toContain('font-family="Noto Sans CJK SC');
    }
    expect(bars.value).toContain('大用镇：3');
    expect(grouped.value).toContain('已联系：3');
    const none = barChart({ title: '空', bars: [], format: String });
    expect(none.value).toContain('暂无数据');
    expect(none.value).not.toContain('<svg');
    expect(groupedBarChart({ title: '空', groups: [], series: [], format: String }).value).toContain('暂无数据');
  });
});
