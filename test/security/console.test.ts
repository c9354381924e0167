/**
 * The console's security, route by route: sessions and their cookie, sign-in
 * throttling, CSRF on every change, what a viewer may see and do (every route of
 * the server is walked, so a new page cannot slip through), id numbers masked
 * unless a supervisor asks, and the audit log of unmasked views and exports.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { syncInProcess } from '../../src/jobs/local.js';
import { ROUTES, type RouteInfo } from '../../src/server/app.js';
import { updateUser } from '../../src/server/users.js';
import { ADMIN_BOARD, OPS_BOARD } from '../../src/server/auth.js';
import { consoleRig, PASSWORD, signIn, type ConsoleRig } from '../helpers/console.js';
import { SAMPLE_INBOX } from '../helpers/sample.js';

const FULL_ID = /(?<![\d*])\d{17}[\dX](?![\d*])/;
const UNSAFE = ['POST', 'PUT', 'PATCH', 'DELETE'];
/** the posts that change nothing a viewer may not: signing out, and the person search */
const VIEWER_POSTS = ['/logout', '/persons/search'];

/** A route's URL with its parameters filled in (the check under test comes before the parameters matter). */
const concrete = (url: string, ids: Record<string, number | string>) => url.replace(/:(\w+)/g, (_, name: string) => String(ids[name] ?? 1)).replace(/\*$/, 'x');

async function changes(rig: ConsoleRig): Promise<string> {
  const r = await sql<Record<string, number>>`
    select (select count(*)::int from match_decision) as decisions,
           (select count(*)::int from case_event) as case_events,
           (select count(*)::int from report_run) as reports,
           (select count(*)::int from delivery where status = 'quarantined') as quarantined,
           (select count(*)::int from app_user) as users,
           (select string_agg(status, ',' order by id) from outreach_case) as cases`.execute(rig.db.store.k);
  return JSON.stringify(r.rows[0]);
}

describe('console security', () => {
  let rig: ConsoleRig;
  let routes: RouteInfo[];
  const ids: Record<string, number | string> = {};

  beforeAll(async () => {
    rig = await consoleRig({
      env: { AIDLINK_COOKIE_SECURE: 'true' },
      prepare: async (app) => {
        await syncInProcess(app, { inbox: SAMPLE_INBOX, requestedBy: 'test' });
      },
    });
    routes = ROUTES.get(rig.server)!;
    const k = rig.db.store.k;
    const person = await sql<{ id: number }>`select person_id as id from flag where withdrawn_at is null and flag = 'unclaimed' order by id limit 1`.execute(k);
    const review = await k.selectFrom('row_link').select(['delivery_id', 'row_no']).where('state', '=', 'review').executeTakeFirst();
    const c = await k.selectFrom('outreach_case').select('id').orderBy('id').executeTakeFirst();
    Object.assign(ids, { id: person.rows[0]!.id, personId: person.rows[0]!.id, deliveryId: review?.delivery_id ?? 1, rowNo: review?.row_no ?? 1, caseId: c?.id ?? 1 });
  }, 180_000);
  afterAll(() => rig?.close());

  it('signs in with a session cookie that is HttpOnly, Secure and SameSite=Strict, and signs out for good', async () => {
    const login = await rig.server.inject({ method: 'POST', url: '/login', payload: `username=viewer1&password=${PASSWORD.viewer}`, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(login.statusCode).toBe(303);
    const cookie = login.cookies.find((c) => c.name === 'aidlink_session')!;
    expect(cookie).toMatchObject({ httpOnly: true, secure: true, sameSite: 'Strict', path: '/' });
    // the database keeps only the token's hash
    const stored = await rig.db.store.k.selectFrom('app_session').select('token_hash').execute();
    expect(stored.map((s) => s.token_hash)).not.toContain(cookie.value);

    const client = await signIn(rig.server, 'viewer1', PASSWORD.viewer);
    expect((await client.get('/')).statusCode).toBe(200);
    expect((await client.post('/logout')).statusCode).toBe(303);
    const after = await client.get('/');
    expect(after.statusCode).toBe(302);
    expect(after.headers.location).toBe('/login?next=%2F');
  });

  it('ends sessions when the password changes or the account is disabled', async () => {
    const client = await signIn(rig.server, 'caseworker1', PASSWORD.caseworker);
    await updateUser(rig.db.store, 'caseworker1', { password: PASSWORD.caseworker });
    expect((await client.get('/')).statusCode).toBe(302);
    const again = await signIn(rig.server, 'caseworker1', PASSWORD.caseworker);
    await updateUser(rig.db.store, 'caseworker1', { disabled: true });
    expect((await again.get('/')).statusCode).toBe(302);
    await updateUser(rig.db.store, 'caseworker1', { disabled: false });
  });

  it('refuses sign-in after five failures for a user name, even with the right password, and audits it', async () => {
    const attempt = (password: string) =>
      rig.server.inject({ method: 'POST', url: '/login', payload: new URLSearchParams({ username: 'admin1', password }).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    for (let i = 0; i < 5; i++) expect((await attempt('wrong-password')).statusCode).toBe(401);
    const blocked = await attempt(PASSWORD.admin);
    expect(blocked.statusCode).toBe(429);
    expect(blocked.body).toMatch(/登录失败次数过多，请 1[45] 分钟后再试/);
    const refused = await rig.db.store.k.selectFrom('audit_log').select(['action', 'detail']).where('actor', '=', 'admin1').where('action', '=', 'sign_in_refused').execute();
    expect(refused.map((r) => (r.detail as { reason: string }).reason)).toEqual(['credentials', 'credentials', 'credentials', 'credentials', 'credentials', 'throttled']);
    await rig.db.store.k.deleteFrom('login_failure').execute();
    expect((await attempt(PASSWORD.admin)).statusCode).toBe(303);
  });

  it('refuses a sign-in form posted from another site', async () => {
    const r = await rig.server.inject({
      method: 'POST',
      url: '/login',
      payload: `username=viewer1&password=${PASSWORD.viewer}`,
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'cross-site' },
    });
    expect(r.statusCode).toBe(403);
    expect(r.cookies.find((c) => c.name === 'aidlink_session')).toBeUndefined();
  });

  it('lets no route change anything for less than a caseworker (checked on every route of the server)', async () => {
    const unsafe = routes.filter((r) => UNSAFE.includes(r.method) && !r.public);
    expect(unsafe.length).toBeGreaterThan(8);
    for (const r of unsafe) {
      const needed = r.url.startsWith(ADMIN_BOARD) || r.url.startsWith(OPS_BOARD) ? 'admin' : r.permission;
      // signing out and searching (a post, so that names and id numbers stay out of URLs) are what a viewer may post
      if (!VIEWER_POSTS.includes(r.url)) expect(needed, `${r.method} ${r.url}`).not.toBe('view');
    }
    const viewer = await rig.as('viewer');
    const before = await changes(rig);
    for (const r of unsafe.filter((x) => !VIEWER_POSTS.includes(x.url))) {
      const res = await rig.server.inject({
        method: r.method as 'POST',
        url: concrete(r.url, ids),
        payload: new URLSearchParams({ _csrf: viewer.csrf, to: 'dispatched', person: String(ids.personId), note: '查看者不应能修改' }).toString(),
        headers: { cookie: viewer.cookie, 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin' },
      });
      expect(res.statusCode, `${r.method} ${r.url}`).toBe(403);
    }
    expect(await changes(rig)).toBe(before);
  });

  it('refuses every change without the CSRF token, even from a caseworker', async () => {
    const caseworker = await rig.as('caseworker');
    const before = await changes(rig);
    for (const r of routes.filter((x) => UNSAFE.includes(x.method) && !x.public && x.permission === 'change' && !x.url.startsWith(ADMIN_BOARD))) {
      const res = await rig.server.inject({
        method: r.method as 'POST',
        url: concrete(r.url, ids),
        payload: new URLSearchParams({ to: 'dispatched', person: String(ids.personId), note: 'x' }).toString(),
        headers: { cookie: caseworker.cookie, 'content-type': 'application/x-www-form-urlencoded' },
      });
      expect(res.statusCode, `${r.method} ${r.url}`).toBe(403);
    }
    expect(await changes(rig)).toBe(before);
  });

  it('shows a viewer no full id number on any page, even when asking for one', async () => {
    const viewer = await rig.as('viewer');
    const pages = routes.filter((r) => r.method === 'GET' && !r.public && !r.url.includes('/queues') && !r.url.includes('*') && !/\.(xlsx|csv)$|:file/.test(r.url));
    expect(pages.length).toBeGreaterThan(8);
    for (const r of pages) {
      const res = await viewer.get(`${concrete(r.url, ids)}?unmask=1`);
      expect(res.statusCode, `GET ${r.url}`).toBeLessThan(500);
      expect(FULL_ID.test(res.body), `GET ${r.url} shows a full id number`).toBe(false);
    }
    // nor may a viewer download what holds them
    expect((await viewer.get('/reports/1.csv')).statusCode).toBe(403);
    expect((await viewer.get(`/deliveries/${ids.deliveryId}/quality.csv`)).statusCode).toBe(403);
    const unmasked = await rig.db.store.k.selectFrom('audit_log').select('id').where('action', '=', 'unmask').where('actor', '=', 'viewer1').execute();
    expect(unmasked).toHaveLength(0);
  });

  it('audits every export and download, and every unmasked report', async () => {
    const caseworker = await rig.as('caseworker');
    const supervisor = await rig.as('supervisor');
    expect((await caseworker.post('/reports')).statusCode).toBe(303);
    const run = await rig.db.store.k.selectFrom('report_run').select('id').orderBy('id', 'desc').executeTakeFirstOrThrow();
    const xlsx = await caseworker.get(`/reports/${run.id}.xlsx`);
    expect(xlsx.statusCode).toBe(200);
    expect(xlsx.headers['content-type']).toContain('spreadsheetml');
    expect(FULL_ID.test((await caseworker.get(`/reports/${run.id}.csv`)).body)).toBe(false);
    expect((await caseworker.get(`/reports/${run.id}.xlsx?unmasked=1`)).statusCode).toBe(403);
    const full = await supervisor.get(`/reports/${run.id}.csv?unmasked=1`);
    expect(full.statusCode).toBe(200);
    expect(FULL_ID.test(full.body)).toBe(true);
    const quality = await caseworker.get(`/deliveries/${ids.deliveryId}/quality.csv`);
    expect(quality.statusCode).toBe(200);
    const log = await rig.db.store.k.selectFrom('audit_log').select(['actor', 'action', 'subject']).where('action', 'in', ['export', 'download', 'unmask']).orderBy('id').execute();
    expect(log).toEqual(
      expect.arrayContaining([
        { actor: 'caseworker1', action: 'export', subject: `report:${run.id}` },
        { actor: 'caseworker1', action: 'download', subject: `report:${run.id}` },
        { actor: 'supervisor1', action: 'unmask', subject: `report:${run.id}` },
        { actor: 'caseworker1', action: 'export', subject: `delivery:${ids.deliveryId}` },
      ]),
    );
    // the refused unmasked download left no trace of a download
    expect(log.filter((l) => l.actor === 'caseworker1' && l.action === 'unmask')).toHaveLength(0);
  });

  it('serves pages with a Content-Security-Policy that forbids inline script and framing', async () => {
    const viewer = await rig.as('viewer');
    const r = await viewer.get('/');
    expect(r.headers['content-security-policy']).toContain("script-src 'self'");
    expect(r.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(r.headers['x-frame-options']).toBe('DENY');
    expect(r.body).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
  });
});
