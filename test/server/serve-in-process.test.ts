/**
 * `aidlink serve` without REDIS_URL (issue 19), as an operator starts it: a real process on a
 * test database and a real port. It serves the console, says in /health that it runs the jobs
 * itself, runs a sync started through the API in the background, and /metrics shows the sync's
 * stages and the rows it ingested.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { addUser } from '../../src/server/users.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { runLogEnv } from '../helpers/log-scan.js';
import { SAMPLE_INBOX } from '../helpers/sample.js';
import { until } from '../helpers/queues.js';
import { parsePrometheus } from './prometheus.js';

const BIN = fileURLToPath(new URL('../../bin/aidlink.mjs', import.meta.url));

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

describe('aidlink serve without REDIS_URL', () => {
  let db: TestDb;
  let child: ChildProcess | undefined;
  let base = '';
  let output = '';
  const caseworker = { authorization: `Basic ${Buffer.from('caseworker1:caseworker-password-1').toString('base64')}` };

  beforeAll(async () => {
    db = await createTestDb();
    await addUser(db.store, 'caseworker1', 'caseworker-password-1', 'caseworker');
    const inbox = mkdtempSync(join(tmpdir(), 'aidlink-serve-inbox-'));
    mkdirSync(join(inbox, 'civil'));
    copyFileSync(join(SAMPLE_INBOX, 'civil', 'civil_20250131.csv'), join(inbox, 'civil', 'civil_20250131.csv'));
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    // no REDIS_URL: not inherited either
    const env = { PATH: process.env.PATH, HOME: process.env.HOME, ...runLogEnv(), CI: 'true', DATABASE_URL: db.url, AIDLINK_DATA_DIR: mkdtempSync(join(tmpdir(), 'aidlink-serve-data-')), AIDLINK_INBOX: inbox, AIDLINK_HTTP_PORT: String(port), AIDLINK_COOKIE_SECURE: 'false', AIDLINK_HEALTH_CACHE_MS: '0' };
    child = spawn(process.execPath, [BIN, 'serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    await until('the server to listen', async () => output.includes('listening on') || (child!.exitCode !== null ? Promise.reject(new Error(`serve exited: ${output}`)) : false), 60_000);
  }, 90_000);

  afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    await db?.drop();
  });

  it('says it runs the jobs in this process', () => {
    expect(output).toContain('jobs run in this process');
  });

  it('serves the console', async () => {
    const login = await fetch(`${base}/login`, { headers: { accept: 'text/html' } });
    expect(login.status).toBe(200);
    expect(await login.text()).toContain('登录');
    const home = await fetch(`${base}/`, { headers: { accept: 'text/html' }, redirect: 'manual' });
    expect(home.status).toBe(302);
    expect(home.headers.get('location')).toBe('/login?next=%2F');
    const favicon = await fetch(`${base}/favicon.ico`);
    expect(favicon.headers.get('content-type')).toMatch(/^image\//);
  });

  it('answers /health 200 with the in-process runner, without Redis or queues', async () => {
    const r = await fetch(`${base}/health`);
    expect(r.status).toBe(200);
    const h = (await r.json()) as Record<string, unknown>;
    expect(h).toMatchObject({ status: 'ok', database: 'ok', runner: 'in-process', redis: 'not_used', sync: { checked: false, stale: false } });
    expect(h.queues).toBeUndefined();
    expect(h.workers).toBeUndefined();
  });

  it('runs a sync started through the API in the background, and /metrics shows it', async () => {
    const started = await fetch(`${base}/api/sync`, { method: 'POST', headers: { ...caseworker, 'content-type': 'application/json' }, body: '{}' });
    expect(started.status).toBe(202);
    const run = (await started.json()) as { id: string; state: string };
    expect(run.id).toMatch(/^local\/sync-\d{8}-\d{6}-[a-z0-9]{4}$/);
    expect(['waiting', 'active']).toContain(run.state);

    const done = await until(
      'the sync to finish',
      async () => {
        const s = (await (await fetch(`${base}/api/jobs/${run.id}`, { headers: caseworker })).json()) as { state: string; error?: string; children: { name: string }[] };
        return s.state === 'completed' || s.state === 'failed' ? s : false;
      },
      120_000,
      250,
    );
    expect(done.state, done.error).toBe('completed');
    expect(done.children.map((c) => c.name)).toEqual(['assess.run', 'spells.derive', 'match.run', 'sync.scan']);
    const list = (await (await fetch(`${base}/api/jobs`, { headers: caseworker })).json()) as { jobs: { id: string }[]; schedule: unknown };
    expect(list.jobs.map((j) => j.id)).toContain(run.id);
    expect(list.schedule).toBeNull();

    const scrape = await fetch(`${base}/metrics`, { headers: { accept: 'text/plain;version=0.0.4' } });
    expect(scrape.status).toBe(200);
    const f = parsePrometheus(await scrape.text());
    const sample = (family: string, name: string, labels: Record<string, string>) => f.get(family)?.samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
    for (const job of ['sync.scan', 'ingest.file', 'match.run', 'spells.derive', 'assess.run', 'outreach.update']) {
      expect(sample('aidlink_job_duration_seconds', 'aidlink_job_duration_seconds_count', { job, outcome: 'completed' }), job).toBe(1);
    }
    expect(sample('aidlink_rows_ingested', 'aidlink_rows_ingested', { source: 'civil' })).toBeGreaterThan(100);
    expect(f.get('aidlink_queue_workers')?.samples).toEqual([]);
  }, 150_000);
});
