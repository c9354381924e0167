/**
 * What the IT operator's tools see (issue 19): /health with the queues, the workers and the
 * nightly sync; /metrics scraped and read with a Prometheus text parser; Chinese pages for
 * browsers and JSON for API clients when a URL is unknown; the favicon.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import type { AppContext } from '../../src/context.js';
import { BullRunner, startWorkers, type RunningWorkers } from '../../src/jobs/bull.js';
import { QUEUES } from '../../src/jobs/definitions.js';
import { buildServer } from '../../src/server/app.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { testContext } from '../helpers/context.js';
import { dropQueues, queueEnv } from '../helpers/queues.js';
import { PASSWORD, signIn } from '../helpers/console.js';
import { addUser } from '../../src/server/users.js';
import { parsePrometheus, type Family } from './prometheus.js';
import { InProcessServerRunner } from '../../src/server/in-process.js';
import { openStore } from '../../src/db/store.js';

const SCRAPE = { accept: 'application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.3,*/*;q=0.1' };
const value = (f: Map<string, Family>, family: string, name: string, labels: Record<string, string> = {}) =>
  f.get(family)?.samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

describe('operations: /health, /metrics, error pages, favicon', () => {
  const env = queueEnv({ AIDLINK_INBOX: mkdtempSync(join(tmpdir(), 'aidlink-ops-inbox-')) });
  let db: TestDb;
  let app: AppContext;
  let runner: BullRunner;
  let server: FastifyInstance;
  let workers: RunningWorkers | undefined;

  beforeAll(async () => {
    db = await createTestDb({ poolSize: 8 });
    app = testContext(db.store, env);
    runner = await BullRunner.connect(app.config);
    server = await buildServer(app, runner, { cacheMs: 0, syncMaxHours: 36, metricsToken: 'a-metrics-token-for-tests' });
    await addUser(db.store, 'viewer1', PASSWORD.viewer, 'viewer');
    await addUser(db.store, 'supervisor1', PASSWORD.supervisor, 'supervisor');
  });
  afterAll(async () => {
    await workers?.stop(2_000);
    await server?.close();
    await runner?.close();
    await dropQueues(env.AIDLINK_QUEUE_PREFIX!);
    await db?.drop();
  });

  it('/health answers 503 while no worker listens, and 200 once one does', async () => {
    const down = await server.inject({ url: '/health' });
    expect(down.statusCode).toBe(503);
    const h = down.json();
    expect(h).toMatchObject({ status: 'unavailable', database: 'ok', redis: 'ok', runner: 'bullmq', sync: { lastNightly: null, checked: false, stale: false, maxHours: 36 } });
    expect(Object.keys(h.queues).sort()).toEqual([...QUEUES].sort());
    expect(h.queues.sync).toEqual({ waiting: 0, active: 0, delayed: 0, prioritized: 0, 'waiting-children': 0, failed: 0 });
    expect(Object.values(h.workers)).toEqual(QUEUES.map(() => 0));
    expect(h.problems).toContain('队列 sync 没有在运行的 worker（作业不会被执行）');

    workers = await startWorkers(app);
    const up = await server.inject({ url: '/health' });
    expect(up.statusCode, up.body).toBe(200);
    expect(up.json()).toMatchObject({ status: 'ok', problems: [], redis: 'ok' });
    for (const q of QUEUES) expect(up.json().workers[q]).toBeGreaterThanOrEqual(1);
  });

  it('/health answers 503 when the last nightly sync is older than the threshold, and 200 when it is recent', async () => {
    const at = (hours: number) => new Date(Date.now() - hours * 3_600_000).toISOString();
    await sql`insert into report_run (kind, created_at, requested_by, persons, flags, total, files) values ('newly-eligible', ${at(48)}, 'schedule', 0, 0, 0, '[]')`.execute(db.store.k);
    const stale = await server.inject({ url: '/health' });
    expect(stale.statusCode).toBe(503);
    expect(stale.json().sync).toMatchObject({ checked: true, stale: true, hoursAgo: 48 });
    expect(stale.json().problems).toEqual(['最近一次成功的夜间同步在 48 小时前，超过 36 小时']);
    // a sync by hand does not count as the nightly one
    await sql`insert into report_run (kind, created_at, requested_by, persons, flags, total, files) values ('newly-eligible', ${at(1)}, 'cli:root', 0, 0, 0, '[]')`.execute(db.store.k);
    expect((await server.inject({ url: '/health' })).statusCode).toBe(503);
    await sql`insert into report_run (kind, created_at, requested_by, persons, flags, total, files) values ('newly-eligible', ${at(2)}, 'schedule', 0, 0, 0, '[]')`.execute(db.store.k);
    const fresh = await server.inject({ url: '/health' });
    expect(fresh.statusCode, fresh.body).toBe(200);
    expect(fresh.json().sync).toMatchObject({ checked: true, stale: false, hoursAgo: 2 });
  });

  it('/metrics speaks the Prometheus text format to a scraper, with the metrics of the issue', async () => {
    const r = await server.inject({ url: '/metrics', headers: SCRAPE });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    const f = parsePrometheus(r.body);
    const types = Object.fromEntries([...f].map(([name, fam]) => [name, fam.type]));
    expect(types).toMatchObject({
      aidlink_http_request_duration_seconds: 'histogram',
      aidlink_job_duration_seconds: 'histogram',
      aidlink_rows_ingested: 'gauge',
      aidlink_rows_rejected: 'gauge',
      aidlink_review_rows: 'gauge',
      aidlink_open_flags: 'gauge',
      aidlink_cases: 'gauge',
      aidlink_queue_jobs: 'gauge',
      aidlink_queue_workers: 'gauge',
      aidlink_up: 'gauge',
      aidlink_healthy: 'gauge',
      aidlink_last_nightly_sync_timestamp_seconds: 'gauge',
      aidlink_metrics_scrapes_total: 'counter',
      process_cpu_seconds_total: 'counter',
    });
    expect(value(f, 'aidlink_review_rows', 'aidlink_review_rows')).toBe(0);
    expect(value(f, 'aidlink_up', 'aidlink_up', { component: 'database' })).toBe(1);
    expect(value(f, 'aidlink_up', 'aidlink_up', { component: 'redis' })).toBe(1);
    expect(value(f, 'aidlink_queue_workers', 'aidlink_queue_workers', { queue: 'ingest' })).toBeGreaterThanOrEqual(1);
    expect(value(f, 'aidlink_queue_jobs', 'aidlink_queue_jobs', { queue: 'ingest', state: 'waiting' })).toBe(0);
    expect(value(f, 'aidlink_last_nightly_sync_timestamp_seconds', 'aidlink_last_nightly_sync_timestamp_seconds')).toBeGreaterThan(Date.now() / 1000 - 3 * 3600);
    // route patterns only, never a URL as sent
    for (const s of f.get('aidlink_http_request_duration_seconds')!.samples) expect(s.labels.route === '(unmatched)' || s.labels.route?.startsWith('/')).toBe(true);
  });

  it('counts each request in the HTTP latency histogram, by route pattern and status', async () => {
    const count = async () => value(parsePrometheus((await server.inject({ url: '/metrics', headers: SCRAPE })).body), 'aidlink_http_request_duration_seconds', 'aidlink_http_request_duration_seconds_count', { method: 'GET', route: '/login', status: '200' }) ?? 0;
    const before = await count();
    expect((await server.inject({ url: '/login' })).statusCode).toBe(200);
    expect(await count()).toBe(before + 1);
    await server.inject({ url: '/login?next=/persons/123' });
    expect(await count()).toBe(before + 2);
    const scrapes = async () => value(parsePrometheus((await server.inject({ url: '/metrics', headers: SCRAPE })).body), 'aidlink_metrics_scrapes_total', 'aidlink_metrics_scrapes_total')!;
    const n = await scrapes();
    expect(await scrapes()).toBe(n + 1);
  });

  it('observes the duration of each job a worker finishes, by job name and outcome', async () => {
    // the server follows the queues from its first scrape on (done above)
    const job = await runner.submitReassess('test', [1]);
    expect(job.id).toMatch(/^assess\/reassess-/);
    const deadline = Date.now() + 60_000;
    let n: number | undefined;
    while (Date.now() < deadline) {
      const f = parsePrometheus((await server.inject({ url: '/metrics', headers: SCRAPE })).body);
      n = value(f, 'aidlink_job_duration_seconds', 'aidlink_job_duration_seconds_count', { job: 'outreach.update', outcome: 'completed' });
      if (n) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(n).toBe(1);
  }, 70_000);

  it('lets a scraper in from this machine, or with the token, and nobody else', async () => {
    const from = (remoteAddress: string, headers: Record<string, string> = {}) => server.inject({ url: '/metrics', remoteAddress, headers: { ...SCRAPE, ...headers } });
    expect((await from('10.1.2.3')).statusCode).toBe(401);
    expect((await from('10.1.2.3', { authorization: 'Bearer wrong-token-wrong-token' })).statusCode).toBe(401);
    expect((await from('10.1.2.3', { authorization: 'Bearer a-metrics-token-for-tests' })).statusCode).toBe(200);
    // relayed by a proxy on this machine: not "this machine"
    expect((await from('127.0.0.1', { 'x-forwarded-for': '203.0.113.9' })).statusCode).toBe(401);
    const refused = await from('10.1.2.3');
    expect(refused.json()).toMatchObject({ error: 'unauthorized' });
    expect(refused.headers['www-authenticate']).toBe('Bearer realm="aidlink-metrics"');
    // a browser at /metrics gets the staff's 统计 page: sign in first
    const browser = await server.inject({ url: '/metrics', headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
    expect(browser.statusCode).toBe(302);
    expect(browser.headers.location).toBe('/login?next=%2Fmetrics');
  });

  it('answers an unknown URL with a Chinese page to a browser and with JSON to an API client', async () => {
    const browser = { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' };
    // before sign-in, any address but the public ones leads to the sign-in page: which exist is not told
    expect((await server.inject({ url: '/no/such/page', headers: browser })).headers.location).toBe('/login?next=%2Fno%2Fsuch%2Fpage');
    const viewer = await signIn(server, 'viewer1', PASSWORD.viewer);
    const page = await server.inject({ url: '/no/such/page', headers: { ...browser, cookie: viewer.cookie } });
    expect(page.statusCode).toBe(404);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.body).toMatch(/^<!doctype html>/i);
    expect(page.body).toContain('页面不存在');
    expect(page.body).toContain('href="/"');
    expect(page.headers['content-security-policy']).toContain("default-src 'self'");
    expect(page.body).not.toMatch(/Route GET|not found/i);
    expect(page.body).toContain('viewer1');

    const json = await server.inject({ url: '/no/such/page', headers: { accept: 'application/json', cookie: viewer.cookie } });
    expect(json.statusCode).toBe(404);
    expect(json.json()).toEqual({ error: 'not_found', message: '没有这个地址' });
    // an /api/ path answers JSON whatever the client accepts
    const api = await server.inject({ url: '/api/no-such-thing', headers: { accept: 'text/html', cookie: viewer.cookie } });
    expect(api.statusCode).toBe(404);
    expect(api.json()).toEqual({ error: 'not_found', message: '没有这个地址' });
  });

  it('answers a request it cannot read in Chinese, without the framework English as the message', async () => {
    const bad = await server.inject({ method: 'POST', url: '/login', headers: { 'content-type': 'application/json', accept: 'application/json' }, payload: '{not json' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ error: 'bad_request', message: '请求内容不正确，请检查后重试' });
    expect(bad.body).not.toContain('/work/');
    const page = await server.inject({ method: 'POST', url: '/login', headers: { 'content-type': 'application/json', accept: 'text/html' }, payload: '{not json' });
    expect(page.statusCode).toBe(400);
    expect(page.body).toContain('请求无法处理');
  });

  it('serves the operations view without asking another host for anything (no web fonts)', async () => {
    const supervisor = await signIn(server, 'supervisor1', PASSWORD.supervisor);
    const board = await server.inject({ url: '/ops/queues', headers: { accept: 'text/html', cookie: supervisor.cookie } });
    expect(board.statusCode).toBe(200);
    expect(board.body).toContain('<div id="root">');
    expect(board.body).not.toMatch(/(?:href|src)="(?:https?:)?\/\//);
    expect(board.body).not.toContain('googleapis');
  });

  it('answers a server error with a Chinese page to a browser and JSON to an API client, no stack trace', async () => {
    const other = await buildServer(app, runner, { cacheMs: 0 });
    other.get('/boom', { config: { public: true } }, async () => {
      throw new Error('ENOENT: no such file or directory, open /srv/aidlink/secret/path.csv');
    });
    try {
      const page = await other.inject({ url: '/boom', headers: { accept: 'text/html' } });
      expect(page.statusCode).toBe(500);
      expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(page.body).toContain('服务器内部错误');
      expect(page.body).not.toMatch(/ENOENT|\/srv\/|at .*\.ts/);
      const json = await other.inject({ url: '/boom', headers: { accept: 'application/json' } });
      expect(json.statusCode).toBe(500);
      expect(json.json()).toEqual({ error: 'internal', message: '服务器内部错误，请联系系统管理员（详情见服务器日志）' });
    } finally {
      await other.close();
    }
  });

  it('serves its own favicon', async () => {
    const r = await server.inject({ url: '/favicon.ico' });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toMatch(/^image\//);
    expect([...r.rawPayload.subarray(0, 4)]).toEqual([0, 0, 1, 0]);
  });
});

describe('/health without the database', () => {
  it('answers 503 naming the database, with the in-process runner (no Redis to report)', async () => {
    // nothing listens on port 1: every query fails at once
    const store = await openStore({ databaseUrl: 'postgres://postgres@127.0.0.1:1/nowhere', poolSize: 1 });
    const app = testContext(store, {});
    const server = await buildServer(app, new InProcessServerRunner(app), { cacheMs: 0 });
    try {
      const r = await server.inject({ url: '/health' });
      expect(r.statusCode).toBe(503);
      expect(r.json()).toMatchObject({ status: 'unavailable', problems: ['数据库无法连接'], database: 'unavailable', runner: 'in-process', redis: 'not_used' });
      // the scrape still answers, saying the database is down
      const m = await server.inject({ url: '/metrics', headers: SCRAPE });
      expect(m.statusCode).toBe(200);
      expect(value(parsePrometheus(m.body), 'aidlink_up', 'aidlink_up', { component: 'database' })).toBe(0);
    } finally {
      await server.close();
      await store.close();
    }
  });
});
