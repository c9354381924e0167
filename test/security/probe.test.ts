/**
 * The probe of the server, as a tester with every role would run it on the synced
 * sample county: every registered route read from the server itself (a new route is
 * covered without editing this file) without a user, with each role, and with broken
 * CSRF tokens; open-redirect payloads; multipart bodies to every POST; refused uploads;
 * HTTP Basic brute force; users disabled, demoted or with a new password; phones and id
 * numbers on every page a viewer can open; and, at the end, the run's log searched for
 * the county's names, id numbers and phones.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'kysely';
import type { UserRole } from '../../src/db/schema.js';
import { syncInProcess } from '../../src/jobs/local.js';
import { log } from '../../src/log.js';
import { ROUTES, type RouteInfo } from '../../src/server/app.js';
import { ADMIN_BOARD, OPS_BOARD } from '../../src/server/auth.js';
import { addUser, may, ROLES, updateUser, type Permission } from '../../src/server/users.js';
import { consoleRig, PASSWORD, type ConsoleClient, type ConsoleRig } from '../helpers/console.js';
import { describeFindings, scanLogFile, scanLogText } from '../helpers/log-scan.js';
import { SAMPLE_INBOX } from '../helpers/sample.js';

const UNSAFE = ['POST', 'PUT', 'PATCH', 'DELETE'];
const FULL_ID = /(?<![\d*])\d{17}[\dX](?![\d*])/;
const FULL_PHONE = /(?<![\d*])1[3-9]\d{9}(?![\d*])/;
const REDIRECT_PAYLOADS = ['/\t/x.example', '/\\x.example', '//x.example', '/%5Cx.example', 'https:x.example', '/%09/x.example', '/.//x.example', 'https://x.example/'];
const UPLOAD_MAX_MB = 1;

const concrete = (url: string, ids: Record<string, number | string>) => url.replace(/:(\w+)/g, (_, name: string) => String(ids[name] ?? 1)).replace(/\*$/, 'x');
const basic = (username: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}` });
const form = (fields: Record<string, string>) => ({ payload: new URLSearchParams(fields).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } });

/** A multipart/form-data body of fields and files, in the order given (a browser sends the form's order). */
function multipart(parts: ({ name: string; value: string } | { name: string; filename: string; content: Buffer | string })[]) {
  const boundary = `----aidlinkprobe${Math.random().toString(16).slice(2)}`;
  const chunks: Buffer[] = [];
  for (const p of parts) {
    const head = 'filename' in p ? `Content-Disposition: form-data; name="${p.name}"; filename="${p.filename}"\r\nContent-Type: application/octet-stream` : `Content-Disposition: form-data; name="${p.name}"`;
    chunks.push(Buffer.from(`--${boundary}\r\n${head}\r\n\r\n`), Buffer.from('filename' in p ? p.content : p.value), Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { payload: Buffer.concat(chunks), headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } };
}

// a civil roster's header (an upload whose header fits no source is refused before the inbox)
const CSV = '姓名,身份证号,救助类别,认定日期\n测试,110101199001010011,A,2020-01-01\n';

describe('security probe of every route', () => {
  let rig: ConsoleRig;
  let routes: RouteInfo[];
  let uploads: string;
  const ids: Record<string, number | string> = {};
  const clients = {} as Record<UserRole, ConsoleClient>;
  const leftInUploads = () => {
    try {
      return readdirSync(uploads);
    } catch {
      return [];
    }
  };
  const needed = (r: RouteInfo): Permission => (r.url.startsWith(ADMIN_BOARD) ? 'admin' : r.url.startsWith(OPS_BOARD) ? (UNSAFE.includes(r.method) ? 'admin' : 'operations') : r.permission);

  beforeAll(async () => {
    rig = await consoleRig({
      env: { AIDLINK_UPLOAD_MAX_MB: String(UPLOAD_MAX_MB), AIDLINK_UPLOADS_PER_HOUR: '40' },
      prepare: async (app) => {
        await syncInProcess(app, { inbox: SAMPLE_INBOX, requestedBy: 'test' });
      },
    });
    routes = ROUTES.get(rig.server)!;
    uploads = join(rig.app.config.AIDLINK_DATA_DIR, 'uploads');
    const k = rig.db.store.k;
    const person = await sql<{ id: number }>`select person_id as id from flag where withdrawn_at is null and flag = 'unclaimed' order by id limit 1`.execute(k);
    const review = await k.selectFrom('row_link').select(['delivery_id', 'row_no']).where('state', '=', 'review').executeTakeFirst();
    const c = await k.selectFrom('outreach_case').select('id').orderBy('id').executeTakeFirst();
    Object.assign(ids, { id: person.rows[0]!.id, personId: person.rows[0]!.id, deliveryId: review?.delivery_id ?? 1, rowNo: review?.row_no ?? 1, caseId: c?.id ?? 1 });
    for (const role of ROLES) clients[role] = await rig.as(role);
  }, 240_000);
  afterAll(() => rig?.close());

  it('lets nobody in without signing in, on any route but the public ones', async () => {
    const open = routes.filter((r) => r.public).map((r) => `${r.method} ${r.url}`);
    expect(open.sort()).toEqual(['GET /assets/console.css', 'GET /assets/console.js', 'GET /favicon.ico', 'HEAD /favicon.ico', 'GET /health', 'GET /login', 'HEAD /assets/console.css', 'HEAD /assets/console.js', 'HEAD /health', 'HEAD /login', 'POST /login'].sort());
    const closed = routes.filter((r) => !r.public && r.method !== 'HEAD');
    expect(closed.length).toBeGreaterThan(30);
    for (const r of closed) {
      // (a wrong Basic password would count towards the lock: the brute-force test below covers it)
      for (const headers of [{}, { cookie: 'aidlink_session=forged-token' }, { authorization: 'Basic !!!' }, { authorization: 'Bearer x' }]) {
        const res = await rig.server.inject({ method: r.method as 'GET', url: concrete(r.url, ids), headers });
        expect([302, 401], `${r.method} ${r.url} ${JSON.stringify(headers)}`).toContain(res.statusCode);
        if (res.statusCode === 302) expect(res.headers.location).toMatch(/^\/login\?next=/);
      }
    }
  });

  it('refuses each role every change it may not make, on every state-changing route', async () => {
    const unsafe = routes.filter((r) => UNSAFE.includes(r.method) && !r.public);
    let refused = 0;
    for (const r of unsafe) {
      for (const role of ROLES.filter((x) => !may(x, needed(r)))) {
        const c = clients[role];
        const res = await rig.server.inject({
          method: r.method as 'POST',
          url: concrete(r.url, ids),
          ...form({ _csrf: c.csrf, to: 'dispatched', person: String(ids.personId), note: '无权限' }),
          headers: { cookie: c.cookie, 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin' },
        });
        expect(res.statusCode, `${role}: ${r.method} ${r.url}`).toBe(403);
        refused++;
      }
    }
    expect(refused).toBeGreaterThan(20);
  });

  it('refuses a change with a missing, wrong, foreign or query-string CSRF token', async () => {
    const cw = clients.caseworker;
    const other = await rig.as('caseworker');
    const before = await rig.db.store.k.selectFrom('case_event').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    const variants: [string, Record<string, string>, string][] = [
      ['missing', {}, ''],
      ['wrong', { _csrf: 'x'.repeat(cw.csrf.length) }, ''],
      ['empty', { _csrf: '' }, ''],
      ['another session', { _csrf: other.csrf === cw.csrf ? 'x' : other.csrf }, ''],
      ['in the query string only', {}, `?_csrf=${cw.csrf}`],
    ];
    for (const [what, fields, qs] of variants) {
      const res = await rig.server.inject({
        method: 'POST',
        url: `/cases/${ids.caseId}/note${qs}`,
        payload: new URLSearchParams({ ...fields, note: `CSRF ${what}` }).toString(),
        headers: { cookie: cw.cookie, 'content-type': 'application/x-www-form-urlencoded' },
      });
      expect(res.statusCode, what).toBe(403);
    }
    // a JSON change with a session still needs the token (a cookie alone proves nothing)
    const json = await rig.server.inject({ method: 'POST', url: '/api/sync', payload: {}, headers: { cookie: cw.cookie } });
    expect(json.statusCode).toBe(403);
    const after = await rig.db.store.k.selectFrom('case_event').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    expect(Number(after.n)).toBe(Number(before.n));
    // the same note with the token goes through: the refusals above were the token's
    expect((await cw.post(`/cases/${ids.caseId}/note`, { note: 'CSRF 正常' })).statusCode).toBe(303);
  });

  it('sends the browser only to paths of this site, after sign-in and when a run ends', async () => {
    const cw = clients.caseworker;
    const run = await cw.post('/runs/sync');
    expect(run.statusCode).toBe(303);
    const runPage = run.headers.location as string;
    // a good target is honoured: the checks below are not vacuous
    expect((await cw.get(`${runPage}?then=${encodeURIComponent('/deliveries')}`)).body).toMatch(/data-done="\/deliveries"|href="\/deliveries"/);
    for (const p of REDIRECT_PAYLOADS) {
      const loginPage = await rig.server.inject({ url: `/login?next=${encodeURIComponent(p)}` });
      expect(loginPage.body, p).toContain('name="next" value="/"');
      const signedIn = await rig.server.inject({ method: 'POST', url: '/login', ...form({ username: 'viewer1', password: PASSWORD.viewer, next: p }) });
      expect(signedIn.statusCode, p).toBe(303);
      expect(signedIn.headers.location, p).toBe('/');
      const page = await cw.get(`${runPage}?then=${encodeURIComponent(p)}`);
      expect(page.statusCode, p).toBe(200);
      expect(page.body, p).not.toContain('data-done');
      expect(page.body, p).not.toContain('x.example');
    }
  });

  it('writes no file for a multipart body to any POST route but the upload, signed in or not', async () => {
    const posts = routes.filter((r) => r.method === 'POST' && r.url !== '/deliveries/upload');
    expect(posts.map((r) => r.url)).toContain('/login');
    const body = (csrf: string) => multipart([{ name: '_csrf', value: csrf }, { name: 'source', value: 'civil' }, { name: 'file', filename: 'civil_20261031.csv', content: 'x'.repeat(200_000) }]);
    for (const r of posts) {
      for (const who of [undefined, clients.caseworker, clients.admin]) {
        const b = body(who?.csrf ?? '');
        await rig.server.inject({ method: 'POST', url: concrete(r.url, ids), payload: b.payload, headers: { ...b.headers, ...(who ? { cookie: who.cookie } : {}) } });
      }
    }
    expect(leftInUploads()).toEqual([]);
  });

  it('reads no upload before the user, the role and the CSRF token are checked, and leaves no file when it refuses one', async () => {
    const cw = clients.caseworker;
    const upload = async (who: ConsoleClient | undefined, parts: Parameters<typeof multipart>[0]) => {
      const b = multipart(parts);
      return rig.server.inject({ method: 'POST', url: '/deliveries/upload', payload: b.payload, headers: { ...b.headers, ...(who ? { cookie: who.cookie } : {}) } });
    };
    const file = (filename: string, content: Buffer | string = CSV) => ({ name: 'file', filename, content });
    const cases: [string, number, () => Promise<{ statusCode: number }>][] = [
      ['no user', 302, () => upload(undefined, [{ name: 'source', value: 'civil' }, file('civil_20261031.csv')])],
      ['Basic credentials', 403, async () => {
        const b = multipart([{ name: 'source', value: 'civil' }, file('civil_20261031.csv')]);
        return rig.server.inject({ method: 'POST', url: '/deliveries/upload', payload: b.payload, headers: { ...b.headers, ...basic('caseworker1', PASSWORD.caseworker) } });
      }],
      ['a viewer', 403, () => upload(clients.viewer, [{ name: '_csrf', value: clients.viewer.csrf }, { name: 'source', value: 'civil' }, file('civil_20261031.csv')])],
      ['no token', 403, () => upload(cw, [{ name: 'source', value: 'civil' }, file('civil_20261031.csv')])],
      ['a wrong token', 403, () => upload(cw, [{ name: '_csrf', value: 'not-the-token' }, { name: 'source', value: 'civil' }, file('civil_20261031.csv')])],
      ['the token after the file', 403, () => upload(cw, [{ name: 'source', value: 'civil' }, file('civil_20261031.csv'), { name: '_csrf', value: cw.csrf }])],
      ['too large', 413, () => upload(cw, [{ name: '_csrf', value: cw.csrf }, { name: 'source', value: 'civil' }, file('civil_20261031.csv', Buffer.alloc(UPLOAD_MAX_MB * 1024 * 1024 + 1, 'a'))])],
      ['two files', 400, () => upload(cw, [{ name: '_csrf', value: cw.csrf }, { name: 'source', value: 'civil' }, file('civil_20261031.csv'), file('civil_20261130.csv')])],
      ['not CSV or XLSX', 400, () => upload(cw, [{ name: '_csrf', value: cw.csrf }, { name: 'source', value: 'civil' }, file('civil_20261031.exe')])],
      ['no source', 400, () => upload(cw, [{ name: '_csrf', value: cw.csrf }, file('civil_20261031.csv')])],
      ['an empty file', 400, () => upload(cw, [{ name: '_csrf', value: cw.csrf }, { name: 'source', value: 'civil' }, file('civil_20261031.csv', '')])],
      ['a traversing name', 400, () => upload(cw, [{ name: '_csrf', value: cw.csrf }, { name: 'source', value: 'civil' }, file('../../etc/passwd')])],
    ];
    for (const [what, status, send] of cases) {
      expect((await send()).statusCode, what).toBe(status);
      expect(leftInUploads(), what).toEqual([]);
    }
    // a good upload still goes through (into the inbox, not left in uploads/)
    const ok = await upload(cw, [{ name: '_csrf', value: cw.csrf }, { name: 'source', value: 'civil' }, file('civil_20261031_probe.csv')]);
    expect(ok.statusCode).toBe(303);
    expect(ok.headers.location).toMatch(/^\/runs\//);
    expect(leftInUploads()).toEqual([]);
  });

  it('limits uploads per user', async () => {
    const cw = await rig.as('caseworker');
    const statuses: number[] = [];
    for (let i = 0; i < 45 && !statuses.includes(429); i++) {
      const b = multipart([{ name: '_csrf', value: cw.csrf }, { name: 'source', value: 'civil' }, { name: 'file', filename: 'civil_20261031.exe', content: CSV }]);
      statuses.push((await rig.server.inject({ method: 'POST', url: '/deliveries/upload', payload: b.payload, headers: { ...b.headers, cookie: cw.cookie } })).statusCode);
    }
    expect(statuses.at(-1)).toBe(429);
    expect(statuses.length).toBeLessThanOrEqual(41);
    expect(leftInUploads()).toEqual([]);
  });

  it('locks HTTP Basic after five wrong passwords as the form does, for both ways in, and audits every failure and the lock', async () => {
    await addUser(rig.db.store, 'api1', 'api-password-1', 'caseworker');
    const api = (password: string) => rig.server.inject({ url: '/api/jobs', headers: basic('api1', password) });
    expect((await api('api-password-1')).statusCode).toBe(200);
    for (let i = 0; i < 5; i++) expect((await api(`wrong-${i}`)).statusCode).toBe(401);
    // locked: the right password is refused too, by Basic (even with the credentials cached) and by the form
    const locked = await api('api-password-1');
    expect(locked.statusCode).toBe(429);
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(0);
    const viaForm = await rig.server.inject({ method: 'POST', url: '/login', ...form({ username: 'api1', password: 'api-password-1' }) });
    expect(viaForm.statusCode).toBe(429);
    const entries = await rig.db.store.k.selectFrom('audit_log').select(['action', 'detail']).where('actor', '=', 'api1').orderBy('id').execute();
    const summary = entries.map((e) => `${e.action}:${(e.detail as { reason?: string; via?: string }).reason ?? ''}:${(e.detail as { via?: string }).via}`);
    expect(summary).toEqual([
      ...Array.from({ length: 5 }, () => 'sign_in_refused:credentials:basic'),
      'sign_in_locked::basic',
      'sign_in_refused:throttled:basic',
      'sign_in_refused:throttled:form',
    ]);
    await rig.db.store.k.deleteFrom('login_failure').execute();
    expect((await api('api-password-1')).statusCode).toBe(200);
  });

  it('locks an address that tries many user names', async () => {
    for (let i = 0; i < 30; i++) expect((await rig.server.inject({ url: '/api/jobs', headers: basic(`guess${i}`, 'wrong-password') })).statusCode).toBe(401);
    expect((await rig.server.inject({ url: '/api/jobs', headers: basic('viewer1', PASSWORD.viewer) })).statusCode).toBe(429);
    await rig.db.store.k.deleteFrom('login_failure').execute();
    expect((await rig.server.inject({ url: '/api/jobs', headers: basic('viewer1', PASSWORD.viewer) })).statusCode).toBe(200);
  });

  it('refuses a disabled, demoted or re-passworded user at the very next request, cached credentials or not', async () => {
    await addUser(rig.db.store, 'ops1', 'ops-password-1', 'admin');
    const asOps = (url: string, password = 'ops-password-1') => rig.server.inject({ url, headers: basic('ops1', password) });
    expect((await asOps('/admin/queues/api/queues')).statusCode).toBe(200);
    await updateUser(rig.db.store, 'ops1', { role: 'viewer' });
    expect((await asOps('/admin/queues/api/queues')).statusCode).toBe(403);
    expect((await asOps('/api/jobs')).statusCode).toBe(200);
    await updateUser(rig.db.store, 'ops1', { disabled: true });
    expect((await asOps('/api/jobs')).statusCode).toBe(401);
    await updateUser(rig.db.store, 'ops1', { disabled: false });
    expect((await asOps('/api/jobs')).statusCode).toBe(200);
    await updateUser(rig.db.store, 'ops1', { password: 'ops-password-2' });
    expect((await asOps('/api/jobs')).statusCode).toBe(401);
    expect((await asOps('/api/jobs', 'ops-password-2')).statusCode).toBe(200);
    // a console session ends as well
    const session = await rig.as('supervisor');
    expect((await session.get('/audit')).statusCode).toBe(200);
    await updateUser(rig.db.store, 'supervisor1', { role: 'caseworker' });
    expect((await session.get('/audit')).statusCode).toBe(302);
    await updateUser(rig.db.store, 'supervisor1', { role: 'supervisor' });
    await rig.db.store.k.deleteFrom('login_failure').execute();
  });

  it('shows a viewer no full phone or id number on any page, and no export at all', async () => {
    const viewer = await rig.as('viewer');
    const gets = routes.filter((r) => r.method === 'GET' && !r.public && !r.url.includes('*'));
    const pages = gets.filter((r) => !/\.(xlsx|csv)$|:file/.test(r.url) && !r.url.startsWith(OPS_BOARD) && !r.url.startsWith(ADMIN_BOARD));
    expect(pages.length).toBeGreaterThan(10);
    for (const r of pages) {
      for (const url of [concrete(r.url, ids), `${concrete(r.url, ids)}?unmask=1`]) {
        const res = await viewer.get(url);
        expect(res.statusCode, url).toBeLessThan(500);
        expect(FULL_ID.test(res.body), `${url} shows a full id number`).toBe(false);
        expect(FULL_PHONE.test(res.body), `${url} shows a full phone`).toBe(false);
      }
    }
    for (const r of gets.filter((x) => /\.(xlsx|csv)$|:file/.test(x.url) || x.url.startsWith(OPS_BOARD) || x.url.startsWith(ADMIN_BOARD))) {
      expect((await viewer.get(concrete(r.url.replace(':file', '1.csv'), ids))).statusCode, r.url).toBe(403);
    }
    // the same pages hold phones for a caseworker, who calls people: the check above could fail
    const worklist = await clients.caseworker.get('/worklist?status=all');
    expect(worklist.body).toMatch(FULL_PHONE);
    expect((await viewer.get('/worklist?status=all')).body).toMatch(/1[3-9]\d\*{4}\d{4}/);
  });

  it('sends downloads with Cache-Control: no-store, and every page with its security headers', async () => {
    const cw = clients.caseworker;
    expect((await cw.post('/reports')).statusCode).toBe(303);
    const run = await rig.db.store.k.selectFrom('report_run').select('id').orderBy('id', 'desc').executeTakeFirstOrThrow();
    for (const url of [`/reports/${run.id}.xlsx`, `/reports/${run.id}.csv`, `/deliveries/${ids.deliveryId}/quality.xlsx`, `/deliveries/${ids.deliveryId}/quality.csv`]) {
      const r = await cw.get(url);
      expect(r.statusCode, url).toBe(200);
      expect(r.headers['cache-control'], url).toBe('no-store');
      expect(r.headers['x-content-type-options'], url).toBe('nosniff');
    }
    for (const url of ['/', '/worklist', '/api/jobs', '/login']) {
      const r = url === '/login' ? await rig.server.inject({ url }) : await cw.get(url);
      expect(r.headers['cache-control'], url).toBe('no-store');
      expect(r.headers['x-frame-options'], url).toBe('DENY');
    }
  });

  it('logs requests by route pattern, and the run so far has logged no name, id number or phone', async () => {
    const viewer = clients.viewer;
    const person = (await rig.db.store.k.selectFrom('person').select(['name', 'id_number', 'golden']).where('id_number', 'is not', null).where('name', 'is not', null).orderBy('id').executeTakeFirstOrThrow()) as { name: string; id_number: string };
    expect((await viewer.post('/persons/search', { idno: person.id_number })).statusCode).toBe(200);
    expect((await viewer.post('/persons/search', { name: person.name })).statusCode).toBe(200);
    // even a URL that carries them (a link someone typed) leaves no trace of them
    await viewer.get(`/persons?name=${encodeURIComponent(person.name)}&idno=${person.id_number}`);
    await viewer.get(`/persons/${encodeURIComponent(person.id_number)}`);
    await rig.server.inject({ url: `/login?next=${encodeURIComponent(`/persons?idno=${person.id_number}`)}` });
    // the scanner finds what it looks for, raw and in a URL (the checks below could fail)
    expect(scanLogText(`${person.name} ${person.id_number}`).map((f) => f.kind).sort()).toEqual(['id number', 'name']);
    expect(scanLogText(`{"url":"/persons?name=${encodeURIComponent(person.name)}"}`).map((f) => f.kind)).toEqual(['name']);
    const file = process.env.AIDLINK_LOG_FILE;
    if (!file || !log.isLevelEnabled('info')) return;
    log.flush();
    const text = (await import('node:fs')).readFileSync(file, 'utf8');
    expect(text).toContain('"route":"/persons/search"');
    expect(text).toContain('"route":"/persons/:id"');
    const findings = scanLogFile(file);
    expect(findings, describeFindings(file, findings)).toEqual([]);
  });
});
