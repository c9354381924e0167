/**
 * The worklist by person (issue 19), on the sample county synced once: one row per person
 * sorted by amount owed, filters that narrow it with counts that match, bulk 下放 of the
 * selected persons and the township's 已接收, the Excel export of exactly the filtered list,
 * and phones masked for a viewer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import ExcelJS from 'exceljs';
import { syncInProcess } from '../../src/jobs/local.js';
import type { CaseStatus } from '../../src/db/schema.js';
import { consoleRig, type ConsoleClient, type ConsoleRig } from '../helpers/console.js';
import { SAMPLE_INBOX } from '../helpers/sample.js';

const CLOSED: CaseStatus[] = ['paid', 'declined', 'withdrawn'];
const FULL_ID = /\b\d{17}[\dX]\b/;
const FULL_PHONE = /(?<!\d)1[3-9]\d{9}(?!\d)/;

const decode = (s: string) =>
  s.replace(/<[^>]*>/g, '').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&').replace(/\s+/g, ' ').trim();

interface Listed {
  personId: number;
  /** cell texts by their data-label */
  cell: Record<string, string>;
}

function listRows(body: string): Listed[] {
  const tbody = /<table class="worklist">[\s\S]*?<tbody>([\s\S]*?)<\/tbody>/.exec(body)?.[1] ?? '';
  return [...tbody.matchAll(/<tr>([\s\S]*?)<\/tr>/g)].map((m) => ({
    personId: Number(/href="\/persons\/(\d+)"/.exec(m[1]!)?.[1]),
    cell: Object.fromEntries([...m[1]!.matchAll(/<td data-label="([^"]+)"[^>]*>([\s\S]*?)<\/td>/g)].map((c) => [c[1]!, decode(c[2]!)])),
  }));
}

/** "共 N 人（M 个个案…），第 x/y 页" */
function summaryOf(body: string): { persons: number; cases: number; page: number; pages: number } {
  const m = /共 (\d+) 人（(\d+) 个个案[^）]*），第 (\d+)\/(\d+) 页/.exec(decode(body));
  if (!m) throw new Error('no summary on the page');
  return { persons: Number(m[1]), cases: Number(m[2]), page: Number(m[3]), pages: Number(m[4]) };
}

async function allListed(c: ConsoleClient, url: string): Promise<Listed[]> {
  const out: Listed[] = [];
  for (let n = 1; n < 100; n++) {
    const r = await c.get(`${url}${url.includes('?') ? '&' : '?'}page=${n}`);
    expect(r.statusCode, r.body.slice(0, 300)).toBe(200);
    out.push(...listRows(r.body));
    const s = summaryOf(r.body);
    if (s.page >= s.pages) return out;
  }
  throw new Error('too many pages');
}

const yuanToFen = (s: string) => Math.round(Number(s.replace(/,/g, '')) * 100);

describe('console: the worklist by person', () => {
  let rig: ConsoleRig;
  let caseworker: ConsoleClient;
  let viewer: ConsoleClient;
  let township: string;
  const k = () => rig.db.store.k;

  /** a form post with repeated fields (person=1&person=2), CSRF token added */
  const postMany = (c: ConsoleClient, url: string, fields: [string, string][]) => {
    const body = new URLSearchParams([['_csrf', c.csrf], ...fields]);
    return rig.server.inject({ method: 'POST', url, payload: body.toString(), headers: { cookie: c.cookie, 'content-type': 'application/x-www-form-urlencoded' } });
  };

  /** persons with open cases (of outreach flags) and what they owe, from the database */
  async function openByPerson(where = sql`true`) {
    const r = await sql<{ person_id: number; n: number; owed: string }>`
      select person_id, count(*)::int as n, sum(amount)::bigint as owed from outreach_case c
      where status <> all(${CLOSED}) and ${where} group by person_id`.execute(k());
    return new Map(r.rows.map((x) => [x.person_id, { n: x.n, owed: Number(x.owed) }]));
  }

  beforeAll(async () => {
    rig = await consoleRig({ prepare: async (app) => void (await syncInProcess(app, { inbox: SAMPLE_INBOX, requestedBy: 'test' })) });
    caseworker = await rig.as('caseworker');
    viewer = await rig.as('viewer');
    township = (
      await sql<{ township: string }>`
        select township from outreach_case where status = 'pending' and township is not null
        group by 1 order by count(distinct person_id) desc, 1 limit 1`.execute(k())
    ).rows[0]!.township;
  }, 120_000);
  afterAll(() => rig?.close());

  it('the sync opened cases with their flag kind and settlement date', async () => {
    const wrong = await sql<{ n: number }>`
      select count(*)::int as n from outreach_case c join flag f on f.id = c.flag_id left join entitlement e on e.settlement_id = f.settlement_id
      where c.kind <> f.flag or c.settled_on is distinct from coalesce(e.settled_on, e.service_date)`.execute(k());
    expect(wrong.rows[0]!.n).toBe(0);
    const dated = await sql<{ n: number }>`select count(*)::int as n from outreach_case where settled_on is not null`.execute(k());
    expect(dated.rows[0]!.n).toBeGreaterThan(10);
  });

  it('shows one row per person, sorted by the amount owed, with the counts', async () => {
    const open = await openByPerson();
    expect(open.size).toBeGreaterThan(10);
    const first = await caseworker.get('/worklist');
    expect(first.statusCode).toBe(200);
    const s = summaryOf(first.body);
    expect(s.persons).toBe(open.size);
    expect(s.cases).toBe([...open.values()].reduce((n, x) => n + x.n, 0));
    expect(s.page).toBe(1);
    expect(s.pages).toBe(Math.ceil(open.size / 50));

    const listed = await allListed(caseworker, '/worklist');
    const ids = listed.map((r) => r.personId);
    expect(new Set(ids).size).toBe(ids.length); // one row per person
    expect(new Set(ids)).toEqual(new Set(open.keys()));
    for (const r of listed) {
      expect(yuanToFen(r.cell['应补金额（元）']!)).toBe(open.get(r.personId)!.owed);
      expect(Number(r.cell['标记数'])).toBe(open.get(r.personId)!.n);
    }
    const owed = listed.map((r) => yuanToFen(r.cell['应补金额（元）']!));
    expect(owed).toEqual([...owed].sort((a, b) => b - a));
    // names link to the person; id numbers masked
    expect(first.body).toMatch(/<td data-label="姓名" class="name"><a href="\/persons\/\d+">/);
    expect(first.body).not.toMatch(FULL_ID);

    // sorted the other way round, and by the oldest settlement
    const asc = listRows((await caseworker.get('/worklist?sort=owed&dir=asc')).body).map((r) => yuanToFen(r.cell['应补金额（元）']!));
    expect(asc).toEqual([...asc].sort((a, b) => a - b));
    const oldest = listRows((await caseworker.get('/worklist?sort=oldest')).body).map((r) => r.cell['最早结算日期']!).filter((d) => d !== '—');
    expect(oldest).toEqual([...oldest].sort());
  });

  it('filters by township, village, category, flag kind, status and date; the count matches', async () => {
    const inTownship = await openByPerson(sql`coalesce(township, '未知乡镇') = ${township}`);
    const url = `/worklist?township=${encodeURIComponent(township)}`;
    const listed = await allListed(caseworker, url);
    expect(listed.map((r) => r.personId).sort((a, b) => a - b)).toEqual([...inTownship.keys()].sort((a, b) => a - b));
    expect(listed.every((r) => r.cell['乡镇'] === township)).toBe(true);
    expect(summaryOf((await caseworker.get(url)).body).persons).toBe(inTownship.size);

    const village = listed[0]!.cell['村']!;
    const inVillage = await openByPerson(sql`coalesce(township, '未知乡镇') = ${township} and coalesce(village, '未知村') = ${village}`);
    const vUrl = `${url}&village=${encodeURIComponent(village)}`;
    expect(summaryOf((await caseworker.get(vUrl)).body).persons).toBe(inVillage.size);
    expect((await allListed(caseworker, vUrl)).every((r) => r.cell['村'] === village)).toBe(true);

    const kind = 'unclaimed';
    const ofKind = await openByPerson(sql`kind = ${kind}`);
    expect(ofKind.size).toBeGreaterThan(0);
    const kindListed = await allListed(caseworker, `/worklist?kind=${kind}`);
    expect(new Set(kindListed.map((r) => r.personId))).toEqual(new Set(ofKind.keys()));
    for (const r of kindListed) expect(yuanToFen(r.cell['应补金额（元）']!)).toBe(ofKind.get(r.personId)!.owed);

    const category = (await sql<{ category: string }>`
      select s.category from spell s join outreach_case c on c.person_id = s.person_id
      where s.superseded_at is null and s.valid_to is null group by 1 order by count(*) desc limit 1`.execute(k())).rows[0]!.category;
    const ofCategory = await openByPerson(sql`exists (select 1 from spell s where s.person_id = c.person_id and s.category = ${category} and s.superseded_at is null and s.valid_to is null)`);
    const catListed = await allListed(caseworker, `/worklist?category=${category}`);
    expect(new Set(catListed.map((r) => r.personId))).toEqual(new Set(ofCategory.keys()));
    expect(catListed.length).toBeLessThanOrEqual((await openByPerson()).size);

    const dates = (await sql<{ d: string }>`select settled_on::text as d from outreach_case where settled_on is not null order by 1`.execute(k())).rows.map((r) => r.d);
    const mid = dates[Math.floor(dates.length / 2)]!;
    const since = await openByPerson(sql`settled_on >= ${mid}::date`);
    expect(summaryOf((await caseworker.get(`/worklist?from=${mid}`)).body).persons).toBe(since.size);
    expect(since.size).toBeLessThan((await openByPerson()).size);

    const pending = await openByPerson(sql`status = 'pending'`);
    expect(summaryOf((await caseworker.get('/worklist?status=pending')).body).persons).toBe(pending.size);

    // what the worklist does not have is a bad request, not a crash
    for (const bad of ['status=bogus', 'category=nobody', 'kind=overpaid', 'from=2026-13-45', 'sort=name', 'page=0']) {
      expect((await caseworker.get(`/worklist?${bad}`)).statusCode, bad).toBe(400);
    }
  });

  it('sends the selected persons down to the township (下放), and the township acknowledges (已接收), audited', async () => {
    const persons = (
      await sql<{ person_id: number }>`
        select person_id from outreach_case where status = 'pending' and township = ${township}
        group by 1 order by sum(amount) desc limit 5`.execute(k())
    ).rows.map((r) => r.person_id);
    expect(persons).toHaveLength(5);
    const cases = await k().selectFrom('outreach_case').select(['id', 'status']).where('person_id', 'in', persons).where('township', '=', township).where('status', '=', 'pending').execute();
    const others = await k().selectFrom('outreach_case').select(['id', 'status']).where('person_id', 'not in', persons).where('status', '=', 'pending').execute();

    const page = await caseworker.get(`/worklist?township=${encodeURIComponent(township)}`);
    expect(page.body).toContain('action="/worklist/dispatch"');
    expect(page.body).toContain(`name="person" value="${persons[0]}"`);

    const sent = await postMany(caseworker, '/worklist/dispatch', [['township', township], ...persons.map((p): [string, string] => ['person', String(p)])]);
    expect(sent.statusCode).toBe(303);
    expect(sent.headers.location).toBe(`/worklist?township=${encodeURIComponent(township)}&moved=${cases.length}&movedTo=dispatched`);
    const after = await k().selectFrom('outreach_case').select(['id', 'status']).where('id', 'in', cases.map((c) => c.id)).execute();
    expect(after.every((c) => c.status === 'dispatched')).toBe(true);
    // nobody else moved
    const othersAfter = await k().selectFrom('outreach_case').select('status').where('id', 'in', others.map((c) => c.id)).execute();
    expect(othersAfter.every((c) => c.status === 'pending')).toBe(true);
    const events = await k().selectFrom('case_event').select(['case_id', 'actor', 'from_status', 'to_status']).where('case_id', 'in', cases.map((c) => c.id)).where('to_status', '=', 'dispatched').execute();
    expect(events).toHaveLength(cases.length);
    expect(events.every((e) => e.actor === 'console:caseworker1' && e.from_status === 'pending')).toBe(true);
    const audits = await k().selectFrom('audit_log').select(['subject', 'detail']).where('action', '=', 'case_update').where('actor', '=', 'caseworker1').execute();
    expect(audits.map((a) => a.subject).sort()).toEqual(cases.map((c) => `case:${c.id}`).sort());
    expect(audits[0]!.detail).toEqual({ from: 'pending', to: 'dispatched', bulk: true });
    const shown = await caseworker.get(sent.headers.location as string);
    expect(shown.body).toContain(`已将 ${cases.length} 个个案改为“已下放”。`);

    // sent again: nothing left to send
    const again = await postMany(caseworker, '/worklist/dispatch', [['township', township], ...persons.map((p): [string, string] => ['person', String(p)])]);
    expect(again.headers.location).toContain('moved=0');

    // the township acknowledges the list: 已下放 → 已接收, only the persons it names
    const got = await postMany(caseworker, '/worklist/receive', [['township', township], ['status', 'dispatched'], ...persons.slice(0, 3).map((p): [string, string] => ['person', String(p)])]);
    expect(got.statusCode).toBe(303);
    const received = await k().selectFrom('outreach_case').select(['person_id', 'status']).where('id', 'in', cases.map((c) => c.id)).execute();
    expect(received.every((c) => c.status === (persons.slice(0, 3).includes(c.person_id) ? 'received' : 'dispatched'))).toBe(true);
    // the flow goes on from 已接收 on the case page: 已联系 or 无法联系
    const one = received.find((c) => c.status === 'received')!;
    const caseId = (await k().selectFrom('outreach_case').select('id').where('person_id', '=', one.person_id).where('status', '=', 'received').executeTakeFirstOrThrow()).id;
    const casePage = await caseworker.get(`/cases/${caseId}`);
    expect(casePage.body).toContain('<option value="contacted">已联系</option>');
    expect((await caseworker.post(`/cases/${caseId}`, { to: 'contacted' })).statusCode).toBe(303);

    // a viewer may not; nor a post without the token
    const byViewer = await postMany(viewer, '/worklist/dispatch', [['person', String(persons[4])]]);
    expect(byViewer.statusCode).toBe(403);
    const noToken = await rig.server.inject({ method: 'POST', url: '/worklist/dispatch', payload: `person=${persons[4]}`, headers: { cookie: caseworker.cookie, 'content-type': 'application/x-www-form-urlencoded' } });
    expect(noToken.statusCode).toBe(403);
  });

  it('exports exactly the filtered list as Excel, with Chinese headers', async () => {
    const url = `/worklist?township=${encodeURIComponent(township)}&kind=unclaimed`;
    const listed = await allListed(caseworker, url);
    expect(listed.length).toBeGreaterThan(0);
    const r = await caseworker.get(`/worklist.xlsx?township=${encodeURIComponent(township)}&kind=unclaimed`);
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toContain('spreadsheetml');
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(r.rawPayload as unknown as ArrayBuffer);
    // the list to print first, the detail after it
    expect(wb.worksheets.map((w) => w.name)).toEqual(['打印名单', '外展工作台']);
    const ws = wb.getWorksheet('外展工作台')!;
    const header = (ws.getRow(5).values as unknown[]).slice(1);
    expect(header).toEqual(['乡镇', '村', '姓名', '身份证号', '联系电话', '救助类别', '标记数', '应补金额（元）', '最早结算日期', '个案状态']);
    const rows: unknown[][] = [];
    for (let n = 6; ws.getRow(n).getCell(1).value !== '合计'; n++) rows.push((ws.getRow(n).values as unknown[]).slice(1));
    expect(rows.length).toBe(listed.length);
    expect(rows.map((x) => x[2])).toEqual(listed.map((l) => l.cell['姓名']));
    expect(rows.map((x) => Math.round(Number(x[7]) * 100))).toEqual(listed.map((l) => yuanToFen(l.cell['应补金额（元）']!)));
    expect(rows.every((x) => x[0] === township)).toBe(true);
    const print = wb.getWorksheet('打印名单')!;
    // titled with the county the policy file names
    expect(print.getCell('A1').value).toBe(`六枝特区${township}医疗救助待联系人员名单`);
    expect(listed.map((_, i) => print.getCell(`C${5 + i}`).value)).toEqual(listed.map((l) => l.cell['姓名']));
    const audit = await k().selectFrom('audit_log').select(['actor', 'subject']).where('action', '=', 'export').where('subject', '=', 'worklist').execute();
    expect(audit).toEqual([{ actor: 'caseworker1', subject: 'worklist' }]);
  });

  it('a viewer sees phones masked, no bulk actions and no export', async () => {
    const withPhone = await sql<{ phone: string }>`
      select p.golden->'phone'->>'value' as phone from outreach_case c join person p on p.id = c.person_id
      where c.status <> all(${CLOSED}) and p.golden->'phone'->>'value' is not null
      group by p.id order by sum(c.amount) desc limit 1`.execute(k());
    const phone = withPhone.rows[0]?.phone;
    expect(phone).toBeDefined();
    const byWorker = await caseworker.get('/worklist');
    expect(byWorker.body).toContain(phone!);
    const byViewer = await viewer.get('/worklist');
    expect(byViewer.statusCode).toBe(200);
    expect(byViewer.body).not.toContain(phone!);
    expect(byViewer.body).not.toMatch(FULL_PHONE);
    expect(byViewer.body).not.toMatch(FULL_ID);
    expect(byViewer.body).toMatch(/<td data-label="联系电话">\d{3}\*{4}\d{4}<\/td>/);
    expect(byViewer.body).not.toContain('name="person"');
    expect(byViewer.body).not.toContain('/worklist/dispatch');

    // no export for a viewer (an export leaves the system), nor the link to it
    expect(byViewer.body).not.toContain('/worklist.xlsx');
    expect((await viewer.get('/worklist.xlsx')).statusCode).toBe(403);
  });
});
