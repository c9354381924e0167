/**
 * The HTTP server as clients meet it (fastify's inject: no port needed): who may
 * do what, jobs started and followed through the API, the operations view
 * read-only for viewers and full for admins, and errors in a form staff can read.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BullRunner } from '../src/jobs/bull.js';
import { buildServer } from '../src/server/app.js';
import { addUser, authenticate, hashPassword, updateUser, UserError, verifyPassword } from '../src/server/users.js';
import { createTestDb, type TestDb } from './helpers/db.js';
import { testContext } from './helpers/context.js';
import { dropQueues, queueEnv } from './helpers/queues.js';

const basic = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });
const PASSWORDS = { admin: 'admin-password-1', supervisor: 'supervisor-password-1', caseworker: 'caseworker-password-1', viewer: 'viewer-password-1' };
const as = (role: keyof typeof PASSWORDS) => basic(`${role}1`, PASSWORDS[role]);

describe('passwords', () => {
  it('are stored as salted scrypt hashes and checked in constant time', async () => {
    const a = await hashPassword('correct horse battery');
    const b = await hashPassword('correct horse battery');
    expect(a).toMatch(/^scrypt\$16384\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    expect(a).not.toBe(b); // salted
    expect(a).not.toContain('correct');
    expect(await verifyPassword('correct horse battery', a)).toBe(true);
    expect(await verifyPassword('correct horse batterY', a)).toBe(false);
    expect(await verifyPassword('anything', 'not a hash')).toBe(false);
  });
});

describe('the HTTP server', () => {
  const env = queueEnv({ AIDLINK_INBOX: mkdtempSync(join(tmpdir(), 'aidlink-http-inbox-')) });
  let db: TestDb;
  let runner: BullRunner;
  let server: FastifyInstance;

  beforeAll(async () => {
    db = await createTestDb();
    const app = testContext(db.store, env);
    for (const role of ['admin', 'supervisor', 'caseworker', 'viewer'] as const) await addUser(db.store, `${role}1`, PASSWORDS[role], role);
    await addUser(db.store, 'gone1', 'gone-password-1', 'admin');
    await updateUser(db.store, 'gone1', { disabled: true });
    runner = await BullRunner.connect(app.config);
    server = await buildServer(app, runner);
  });
  afterAll(async () => {
    await server?.close();
    await runner?.close();
    await dropQueues(env.AIDLINK_QUEUE_PREFIX!);
    await db?.drop();
  });

  it('answers /health without a user, naming the database and Redis (503 here: no worker listens; see test/server/ops.test.ts)', async () => {
    const r = await server.inject({ url: '/health' });
    expect(r.statusCode).toBe(503);
    expect(r.json()).toMatchObject({ status: 'unavailable', database: 'ok', redis: 'ok', runner: 'bullmq' });
  });

  it('asks for a user everywhere else, and refuses wrong, unknown and disabled ones', async () => {
    for (const headers of [{}, basic('viewer1', 'wrong-password'), basic('nobody', 'whatever-1234'), basic('gone1', 'gone-password-1'), { authorization: 'Bearer x' }]) {
      const r = await server.inject({ url: '/api/jobs', headers });
      expect(r.statusCode).toBe(401);
      expect(r.headers['www-authenticate']).toBe('Basic realm="aidlink", charset="UTF-8"');
      expect(r.json().message).toBe('请先登录（用户名和密码）');
    }
    expect(await authenticate(db.store, 'viewer1', PASSWORDS.viewer)).toEqual({ id: expect.any(Number), username: 'viewer1', role: 'viewer' });
  });

  it('lets a viewer look but not start anything', async () => {
    expect((await server.inject({ url: '/api/jobs', headers: as('viewer') })).statusCode).toBe(200);
    const r = await server.inject({ method: 'POST', url: '/api/sync', headers: as('viewer'), payload: {} });
    expect(r.statusCode).toBe(403);
    expect(r.json().message).toBe('权限不足：此操作需要“经办”权限，当前用户为“查看”');
  });

  it('lets a caseworker start a sync and a rematch, each answered with a job id to follow', async () => {
    const sync = await server.inject({ method: 'POST', url: '/api/sync', headers: as('caseworker'), payload: { until: '2026-10-31', report: true } });
    expect(sync.statusCode).toBe(202);
    const job = sync.json();
    expect(job).toMatchObject({ id: expect.stringMatching(/^report\/sync-\d{8}-\d{6}-[a-z0-9]{4}$/), name: 'report.newly-eligible', state: 'waiting-children' });
    // the stages below it, down to the scan of the configured inbox
    let scan = job;
    while (scan.children.length) scan = scan.children[0];
    expect(scan).toMatchObject({ name: 'sync.scan', about: `${env.AIDLINK_INBOX} until 2026-10-31` });

    const followed = await server.inject({ url: `/api/jobs/${job.id}`, headers: as('viewer') });
    expect(followed.statusCode).toBe(200);
    expect(followed.json().current).toBe('report.newly-eligible: waiting for earlier stages');
    // a bare run id finds the top of its flow
    expect((await server.inject({ url: `/api/jobs/${job.id.split('/')[1]}`, headers: as('viewer') })).json().id).toBe(job.id);

    const rematch = await server.inject({ method: 'POST', url: '/api/rematch', headers: as('caseworker'), payload: { scope: { kind: 'person', personId: 12 } } });
    expect(rematch.statusCode).toBe(202);
    expect(rematch.json()).toMatchObject({ id: expect.stringMatching(/^assess\/rematch-/), name: 'outreach.update' });

    const list = (await server.inject({ url: '/api/jobs?limit=10', headers: as('viewer') })).json();
    expect(list.jobs.map((j: { id: string }) => j.id)).toEqual(expect.arrayContaining([job.id, rematch.json().id]));
  });

  it('refuses a request it cannot read, saying what is wrong', async () => {
    const bad = await server.inject({ method: 'POST', url: '/api/rematch', headers: as('caseworker'), payload: { scope: { kind: 'person', personId: -1 } } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ error: 'invalid_request', message: '请求内容不正确', issues: [expect.objectContaining({ path: 'scope.personId' })] });
    // a client does not choose the folder the server reads
    const inbox = await server.inject({ method: 'POST', url: '/api/sync', headers: as('caseworker'), payload: { inbox: '/etc' } });
    expect(inbox.statusCode).toBe(400);
    // a change with Basic credentials must be JSON: a form another site's page posts is not
    const form = await server.inject({ method: 'POST', url: '/api/sync', headers: { ...as('caseworker'), 'content-type': 'application/x-www-form-urlencoded' }, payload: 'until=2026-10-31' });
    expect(form.statusCode).toBe(403);
    const missing = await server.inject({ url: '/api/jobs/report/no-such-run', headers: as('viewer') });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().message).toContain('没有作业 report/no-such-run');
  });

  it('shows the operations view read-only to supervisors, in full to admins only, and not at all to viewers and caseworkers', async () => {
    for (const role of ['viewer', 'caseworker'] as const) {
      expect((await server.inject({ url: '/ops/queues/', headers: as(role) })).statusCode, role).toBe(403);
      expect((await server.inject({ url: '/ops/queues/api/queues', headers: as(role) })).statusCode, role).toBe(403);
    }
    const page = await server.inject({ url: '/ops/queues/', headers: as('supervisor') });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('aidlink 作业（只读）');
    // behind security headers of its own: no framing, scripts of this origin only
    expect(page.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page.headers['x-frame-options']).toBe('DENY');
    expect(page.headers['cache-control']).toBe('no-store');
    const queues = (await server.inject({ url: '/ops/queues/api/queues', headers: as('supervisor') })).json();
    expect(queues.queues.map((q: { name: string }) => q.name).sort()).toEqual(['assess', 'ingest', 'match', 'report', 'sync']);
    expect(queues.queues.every((q: { readOnlyMode: boolean }) => q.readOnlyMode)).toBe(true);
    // an action on the read-only view is refused by the server, not only hidden in the page
    const pause = await server.inject({ method: 'PUT', url: '/ops/queues/api/queues/sync/pause', headers: { ...as('admin'), 'content-type': 'application/json' }, payload: '{}' });
    expect(pause.statusCode, pause.body).toBe(405);
    expect(await runner.queue('sync').isPaused()).toBe(false);

    expect((await server.inject({ url: '/admin/queues/api/queues', headers: as('caseworker') })).statusCode).toBe(403);
    const admin = (await server.inject({ url: '/admin/queues/api/queues', headers: as('admin') })).json();
    expect(admin.queues.every((q: { readOnlyMode: boolean }) => !q.readOnlyMode)).toBe(true);
    // the board's buttons must come from a page of this site: a request another site's page made is refused
    const crossSite = await server.inject({ method: 'PUT', url: '/admin/queues/api/queues/sync/pause', headers: { ...as('admin'), 'sec-fetch-site': 'cross-site' } });
    expect(crossSite.statusCode).toBe(403);
    expect(await runner.queue('sync').isPaused()).toBe(false);
    const adminPause = await server.inject({ method: 'PUT', url: '/admin/queues/api/queues/sync/pause', headers: { ...as('admin'), 'sec-fetch-site': 'same-origin' } });
    expect(adminPause.statusCode).toBe(200);
    expect(await runner.queue('sync').isPaused()).toBe(true);
    await runner.queue('sync').resume();
  });

  it('manages users with clear errors', async () => {
    await expect(addUser(db.store, 'viewer1', 'another-password', 'viewer')).rejects.toThrow(new UserError('there is already a user viewer1'));
    await expect(addUser(db.store, 'short1', 'short', 'viewer')).rejects.toThrow('at least 10 characters');
    await expect(addUser(db.store, 'Not A Name', 'long-enough-pass', 'viewer')).rejects.toThrow('a user name is');
    await expect(updateUser(db.store, 'nobody', { role: 'admin' })).rejects.toThrow('no user nobody');
  });
});
