/**
 * Township staff (乡镇经办, issue 19), on the sample county synced once, some of two townships'
 * cases sent down by a caseworker: a township user sees their township's cases sent down and
 * no other — on /worklist and in /worklist.xlsx, whatever the query says — marks 已接收, 已联系
 * and adds notes, is refused 已支付, and every other route answers 403. A township user
 * cannot exist without a township.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import ExcelJS from 'exceljs';
import { syncInProcess } from '../../src/jobs/local.js';
import type { CaseStatus } from '../../src/db/schema.js';
import { ROUTES } from '../../src/server/app.js';
import { TOWNSHIP_ROUTES } from '../../src/server/auth.js';
import { addUser, updateUser, UserError } from '../../src/server/users.js';
import { consoleRig, signIn, type ConsoleClient, type ConsoleRig } from '../helpers/console.js';
import { SAMPLE_INBOX } from '../helpers/sample.js';

const FULL_ID = /(?<!\d)\d{17}[\dX](?!\d)/;
const PASSWORD = 'township-password-1';

const decode = (s: string) =>
  s.replace(/<[^>]*>/g, '').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&').replace(/\s+/g, ' ').trim();

/** "共 N 人（M 个个案…）" */
function summaryOf(body: string): { persons: number; cases: number } {
  const m = /共 (\d+) 人（(\d+) 个个案/.exec(decode(body));
  if (!m) throw new Error('no summary on the page');
  return { persons: Number(m[1]), cases: Number(m[2]) };
}

/** the 乡镇 cells of the list */
const townshipsListed = (body: string): string[] => [...body.matchAll(/<td data-label="乡镇">([^<]*)<\/td>/g)].map((m) => m[1]!);

describe('console: the township role (乡镇经办)', () => {
  let rig: ConsoleRig;
  let caseworker: ConsoleClient;
  let tw: ConsoleClient;
  /** the user's township, and another one */
  let mine: string;
  let other: string;
  const k = () => rig.db.store.k;

  /** a caseworker sends down the cases of the five persons owed most in `township` */
  async function dispatch(township: string): Promise<void> {
    const persons = (
      await sql<{ person_id: number }>`
        select person_id from outreach_case where status = 'pending' and township = ${township}
        group by 1 order by sum(amount) desc, 1 limit 5`.execute(k())
    ).rows.map((r) => String(r.person_id));
    const body = new URLSearchParams([['_csrf', caseworker.csrf], ['township', township], ...persons.map((p): [string, string] => ['person', p])]);
    const r = await rig.server.inject({ method: 'POST', url: '/worklist/dispatch', payload: body.toString(), headers: { cookie: caseworker.cookie, 'content-type': 'application/x-www-form-urlencoded' } });
    expect(r.statusCode).toBe(303);
  }

  /** open cases the township user should see: their township's, sent down */
  async function expected(): Promise<{ persons: number; cases: number }> {
    const r = await sql<{ persons: number; cases: number }>`
      select count(distinct person_id)::int as persons, count(*)::int as cases from outreach_case c
      where township = ${mine} and status not in ('pending', 'paid', 'declined', 'withdrawn')
        and exists (select 1 from case_event e where e.case_id = c.id and e.to_status = 'dispatched')`.execute(k());
    return r.rows[0]!;
  }

  const caseOf = async (township: string, status: CaseStatus) =>
    (await k().selectFrom('outreach_case').select('id').where('township', '=', township).where('status', '=', status).orderBy('id').executeTakeFirstOrThrow()).id;

  beforeAll(async () => {
    rig = await consoleRig({ prepare: async (app) => void (await syncInProcess(app, { inbox: SAMPLE_INBOX, requestedBy: 'test' })) });
    caseworker = await rig.as('caseworker');
    const townships = (
      await sql<{ township: string }>`
        select township from outreach_case where status = 'pending' and township is not null
        group by 1 having count(distinct person_id) > 5 order by count(distinct person_id) desc, 1 limit 2`.execute(k())
    ).rows.map((r) => r.township);
    expect(townships).toHaveLength(2);
    [mine, other] = townships as [string, string];
    await dispatch(mine);
    await dispatch(other);
    await addUser(rig.db.store, 'township1', PASSWORD, 'township', mine);
    tw = await signIn(rig.server, 'township1', PASSWORD, '/worklist');
  }, 120_000);
  afterAll(() => rig?.close());

  it('refuses a township user without a township, and a township for anyone else', async () => {
    await expect(addUser(rig.db.store, 'township2', PASSWORD, 'township')).rejects.toThrow(UserError);
    await expect(addUser(rig.db.store, 'township2', PASSWORD, 'township', '   ')).rejects.toThrow(/needs their township/);
    await expect(addUser(rig.db.store, 'caseworker9', PASSWORD, 'caseworker', mine)).rejects.toThrow(/only township staff/);
    await expect(updateUser(rig.db.store, 'viewer1', { role: 'township' })).rejects.toThrow(/needs their township/);
    expect(await k().selectFrom('app_user').select('username').where('username', 'in', ['township2', 'caseworker9']).execute()).toEqual([]);
    expect((await k().selectFrom('app_user').select('role').where('username', '=', 'viewer1').executeTakeFirstOrThrow()).role).toBe('viewer');
    // the database holds the rule too (the migration's check constraint)
    await expect(sql`insert into app_user (username, password_hash, role) values ('township3', 'x', 'township')`.execute(k())).rejects.toThrow(/app_user_township_check/);
    // and a caseworker made township staff with a township, then back, loses it
    await addUser(rig.db.store, 'moving1', PASSWORD, 'caseworker');
    await updateUser(rig.db.store, 'moving1', { role: 'township', township: other });
    expect(await k().selectFrom('app_user').select(['role', 'township']).where('username', '=', 'moving1').executeTakeFirstOrThrow()).toEqual({ role: 'township', township: other });
    await updateUser(rig.db.store, 'moving1', { role: 'caseworker' });
    expect(await k().selectFrom('app_user').select(['role', 'township']).where('username', '=', 'moving1').executeTakeFirstOrThrow()).toEqual({ role: 'caseworker', township: null });
  });

  it('sends GET / to the worklist, which lists only their township and cases sent down, whatever the query says', async () => {
    const home = await tw.get('/');
    expect(home.statusCode).toBe(302);
    expect(home.headers.location).toBe('/worklist');

    const want = await expected();
    expect(want.persons).toBeGreaterThan(0);
    for (const url of ['/worklist', `/worklist?township=${encodeURIComponent(other)}`, '/worklist?status=all']) {
      const r = await tw.get(url);
      expect(r.statusCode, url).toBe(200);
      const listed = townshipsListed(r.body);
      expect(listed.length, url).toBeGreaterThan(0);
      expect(listed.every((t) => t === mine), url).toBe(true);
    }
    const first = await tw.get('/worklist');
    expect(summaryOf(first.body)).toEqual(want);
    // the top navigation offers their one page, and none they may not open
    const nav = first.body.slice(first.body.indexOf('<nav class="top">'), first.body.indexOf('</nav>'));
    expect(nav).toContain('href="/worklist"');
    for (const href of ['/deliveries', '/review', '/persons', '/reports', '/stats', '/runs']) expect(nav).not.toContain(`href="${href}"`);
    // nothing pending, even when asked for
    expect(summaryOf((await tw.get('/worklist?status=pending')).body).persons).toBe(0);
    // phones in full (they make the calls), id numbers never; no links to pages they may not open
    const phone = (
      await sql<{ phone: string }>`
        select p.golden->'phone'->>'value' as phone from outreach_case c join person p on p.id = c.person_id
        where c.township = ${mine} and c.status = 'dispatched' and p.golden->'phone'->>'value' is not null limit 1`.execute(k())
    ).rows[0]?.phone;
    expect(phone).toBeDefined();
    expect(first.body).toContain(phone!);
    expect(first.body).not.toMatch(FULL_ID);
    expect(first.body).not.toContain('href="/persons/');
    expect(first.body).not.toContain('/worklist/dispatch');
    expect(first.body).not.toContain('<option value="pending"');
    expect(first.body).toContain('action="/worklist/receive"');
  });

  it('exports the same list: their township, cases sent down, id numbers masked', async () => {
    const r = await tw.get(`/worklist.xlsx?township=${encodeURIComponent(other)}`);
    expect(r.statusCode).toBe(200);
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(r.rawPayload as unknown as ArrayBuffer);
    const ws = wb.getWorksheet('外展工作台')!;
    const rows: unknown[][] = [];
    for (let n = 6; ws.getRow(n).getCell(1).value !== '合计'; n++) rows.push((ws.getRow(n).values as unknown[]).slice(1));
    const want = await expected();
    expect(rows.length).toBe(want.persons);
    expect(rows.reduce((n, x) => n + Number(x[6]), 0)).toBe(want.cases);
    expect(rows.every((x) => x[0] === mine)).toBe(true);
    expect(rows.some((x) => FULL_ID.test(String(x[3] ?? '')))).toBe(false);
    const audit = await k().selectFrom('audit_log').select('actor').where('action', '=', 'export').where('actor', '=', 'township1').execute();
    expect(audit).toHaveLength(1);
  });

  it("answers 404 for another township's case and for a case of their own not yet sent down", async () => {
    const theirs = await caseOf(other, 'dispatched');
    const pending = await caseOf(mine, 'pending');
    for (const id of [theirs, pending]) {
      expect((await tw.get(`/cases/${id}`)).statusCode).toBe(404);
      expect((await tw.post(`/cases/${id}`, { to: 'received' })).statusCode).toBe(404);
      expect((await tw.post(`/cases/${id}/note`, { note: '试图备注' })).statusCode).toBe(404);
    }
    expect((await k().selectFrom('outreach_case').select('status').where('id', '=', theirs).executeTakeFirstOrThrow()).status).toBe('dispatched');
    expect(await k().selectFrom('case_event').select('id').where('actor', '=', 'console:township1').execute()).toEqual([]);
  });

  it('marks 已接收 then 已联系 and adds a note; 已支付 and 已申请 are refused', async () => {
    const id = await caseOf(mine, 'dispatched');
    const page = await tw.get(`/cases/${id}`);
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('<option value="received">已接收</option>');
    expect(page.body).not.toContain('name="amount"');
    expect(page.body).not.toMatch(FULL_ID);

    expect((await tw.post(`/cases/${id}`, { to: 'received' })).statusCode).toBe(303);
    expect((await tw.post(`/cases/${id}`, { to: 'contacted', note: '已电话联系' })).statusCode).toBe(303);
    expect((await tw.post(`/cases/${id}/note`, { note: '约定下周送材料' })).statusCode).toBe(303);
    const events = await k().selectFrom('case_event').select(['from_status', 'to_status', 'note']).where('case_id', '=', id).where('actor', '=', 'console:township1').orderBy('id').execute();
    expect(events).toEqual([
      { from_status: 'dispatched', to_status: 'received', note: null },
      { from_status: 'received', to_status: 'contacted', note: '已电话联系' },
      { from_status: 'contacted', to_status: 'contacted', note: '约定下周送材料' },
    ]);

    const refused: Record<string, string>[] = [{ to: 'paid', amount: '100.00', paid_on: '2026-11-01' }, { to: 'applied' }, { to: 'declined' }];
    for (const form of refused) {
      const r = await tw.post(`/cases/${id}`, form);
      expect(r.statusCode, form.to).toBe(400);
      expect(decode(r.body)).toContain('乡镇经办只能将个案改为：已接收、已联系、无法联系');
    }
    const after = await k().selectFrom('outreach_case').select(['status', 'recovered']).where('id', '=', id).executeTakeFirstOrThrow();
    expect(after).toEqual({ status: 'contacted', recovered: 0 });
  });

  it("acknowledges (已接收) their township's cases in bulk, and no other township's", async () => {
    const before = await k().selectFrom('outreach_case').select('id').where('township', '=', other).where('status', '=', 'dispatched').execute();
    expect(before.length).toBeGreaterThan(0);
    const r = await tw.post('/worklist/receive', { all: '1', township: other, status: 'dispatched' });
    expect(r.statusCode).toBe(303);
    const left = await k().selectFrom('outreach_case').select('id').where('township', '=', mine).where('status', '=', 'dispatched').execute();
    expect(left).toEqual([]);
    const theirs = await k().selectFrom('outreach_case').select('id').where('township', '=', other).where('status', '=', 'dispatched').execute();
    expect(theirs.map((c) => c.id)).toEqual(before.map((c) => c.id));
  });

  it('answers 403 on every other route: a Chinese page for the console, JSON for the API', async () => {
    const routes = ROUTES.get(rig.server)!.filter((x) => !x.public && x.method !== 'HEAD');
    const others = routes.filter((x) => !TOWNSHIP_ROUTES.has(`${x.method} ${x.url}`) && !(x.method === 'GET' && x.url === '/'));
    expect(others.length).toBeGreaterThan(25);
    for (const x of others) {
      const url = x.url.replace(/:\w+/g, '1').replace(/\*/g, 'x');
      const res =
        x.method === 'GET'
          ? await tw.get(url)
          : await rig.server.inject({ method: x.method as 'POST', url, payload: new URLSearchParams({ _csrf: tw.csrf, to: 'dispatched', person: '1' }).toString(), headers: { cookie: tw.cookie, 'content-type': 'application/x-www-form-urlencoded' } });
      expect(res.statusCode, `${x.method} ${x.url}`).toBe(403);
    }
    const page = await tw.get('/persons');
    expect(page.headers['content-type']).toContain('text/html');
    expect(decode(page.body)).toContain('“乡镇经办”只能使用外展工作台');
    const api = await tw.get('/api/jobs');
    expect(api.json()).toMatchObject({ error: 'forbidden' });
    // the allowlist is what they use: each of its routes exists
    const all = new Set(routes.map((x) => `${x.method} ${x.url}`));
    expect([...TOWNSHIP_ROUTES].filter((r) => !all.has(r))).toEqual([]);
  });
});
