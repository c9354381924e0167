/**
 * The `aidlink` command as an operator runs it: a real process, on PostgreSQL and
 * on the embedded database, with the output formats the issue names.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTestDb, type TestDb } from './helpers/db.js';
import { readTruth, SAMPLE_DIR, SAMPLE_INBOX } from './helpers/sample.js';
import { runLogEnv } from './helpers/log-scan.js';
import { run } from './helpers/process.js';

const BIN = fileURLToPath(new URL('../bin/aidlink.mjs', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'aidlink-cli-'));

/** The command as an operator runs it, in a process of its own. */
function aidlink(args: string[], env: Record<string, string | undefined>) {
  return run(process.execPath, [BIN, ...args], {
    // a data folder of its own: reports and the embedded database never land in the working copy
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...runLogEnv(), CI: 'true', AIDLINK_DATA_DIR: scratch, ...env },
    timeout: 120_000,
  });
}

const truth = readTruth('files.csv');
const expectedCsv = (rows: Record<string, string>[]) =>
  rows.map((t) => `${t.file},${t.source},${t.as_of},${t.expected === 'accept' ? 'accepted' : 'quarantined'},${t.rows}`).sort();

describe('aidlink on PostgreSQL', () => {
  let db: TestDb;
  beforeAll(async () => {
    db = await createTestDb();
  });
  afterAll(() => db?.drop());

  it('ingests the inbox and lists every delivery as file,source,as_of,status,rows,rejected_rows,warnings', async () => {
    const env = { DATABASE_URL: db.url };
    const ingest = await aidlink(['ingest', SAMPLE_INBOX], env);
    expect(ingest.code, ingest.err).toBe(0);
    expect(ingest.out).toContain('55 file(s): 54 accepted, 1 quarantined, 0 rejected, 0 already delivered');

    const files = await aidlink(['files', '--format', 'csv'], env);
    expect(files.code).toBe(0);
    const [header, ...lines] = files.out.trim().split('\n');
    expect(header).toBe('file,source,as_of,status,rows,rejected_rows,warnings');
    expect(lines.map((l) => l.split(',').slice(0, 5).join(',')).sort()).toEqual(expectedCsv(truth));
  });

  it('releases a quarantined snapshot and records who did', async () => {
    const env = { DATABASE_URL: db.url };
    const held = truth.find((t) => t.expected === 'quarantine')!.file!;
    expect((await aidlink(['quarantine', 'list'], env)).out).toContain(held);
    const release = await aidlink(['quarantine', 'release', held, '--by', '张科长'], env);
    expect(release.code, release.err).toBe(0);
    expect(release.out.trim()).toBe(`${held}: accepted`);
    expect((await aidlink(['quarantine', 'list'], env)).out).toContain('no quarantined deliveries');
  });

  it('explains problems by row and column, and fails clearly on a delivery that does not exist', async () => {
    const env = { DATABASE_URL: db.url };
    const problems = await aidlink(['problems', 'rural/防返贫监测和脱贫人口信息_2025年第1季度.xlsx', '--format', 'csv'], env);
    expect(problems.code).toBe(0);
    expect(problems.out.split('\n')[0]).toBe('file,sheet,row,severity,code,column,message');
    expect(problems.out).toContain('id_spreadsheet_damaged');
    const missing = await aidlink(['problems', 'civil/nope.csv'], env);
    expect(missing.code).toBe(1);
    expect(missing.err).toBe('aidlink: no delivery civil/nope.csv; see `aidlink files`\n');
  });

  it('refuses bad configuration and bad arguments with a message and exit code 2', async () => {
    const bad = await aidlink(['files'], { DATABASE_URL: 'mysql://nope' });
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('DATABASE_URL: must start with postgres:// or postgresql://');
    const mappingFile = join(mkdtempSync(join(tmpdir(), 'aidlink-map-')), 'county.yaml');
    writeFileSync(mappingFile, 'sources:\n  civil:\n    fields:\n      nickname: [昵称]\n');
    const badMapping = await aidlink(['files'], { DATABASE_URL: db.url, AIDLINK_MAPPING: mappingFile });
    expect(badMapping.code).toBe(2);
    expect(badMapping.err).toContain(`列名映射文件 ${mappingFile}：sources.civil.fields：不认识的字段「nickname」`);
    const arg = await aidlink(['ingest', SAMPLE_INBOX, '--source', 'housing'], { DATABASE_URL: db.url });
    expect(arg.code).not.toBe(0);
    expect(arg.err).toContain('must be one of civil, rural, disability, settlement');
  });
});

describe('matching from the command line', () => {
  let db: TestDb;
  const out = mkdtempSync(join(tmpdir(), 'aidlink-links-'));
  beforeAll(async () => {
    db = await createTestDb();
    expect((await aidlink(['ingest', SAMPLE_INBOX], { DATABASE_URL: db.url })).code).toBe(0);
  });
  afterAll(() => db?.drop());

  it('matches, explains a link in Chinese and English, and exports links that eval:links scores', async () => {
    const env = { DATABASE_URL: db.url };
    const match = await aidlink(['match'], env);
    expect(match.code, match.err).toBe(0);
    expect(match.out).toMatch(/23,605 rows \(23,605 new\): 21,598 linked by id number or 人员编号, 2,007 scored/);

    const explain = await aidlink(['explain-link', 'civil/civil_20250131.csv', '34'], env);
    expect(explain.code, explain.err).toBe(0);
    expect(explain.out).toContain('按多项信息评分关联 / linked by a score over several fields');
    expect(explain.out).toContain('姓名：完全相同 / name: identical');
    expect(explain.out).not.toMatch(/\d{17}[\dX]/); // no id numbers

    const links = join(out, 'links.csv');
    expect((await aidlink(['export', 'links', '--out', links], env)).out).toContain('23,605 links written');
    expect(readFileSync(links, 'utf8').split('\n')[0]).toBe('file,sheet,row,person_id,method,score');

    const evaluation = await run(process.execPath, [fileURLToPath(new URL('../bin/run.mjs', import.meta.url)), fileURLToPath(new URL('../scripts/eval-links.ts', import.meta.url)), '--truth', SAMPLE_DIR + 'truth', '--links', links]);
    expect(evaluation.code, evaluation.err).toBe(0);
    const metric = (name: string) => Number(new RegExp(`${name}\\s+([\\d.]+)`).exec(evaluation.out)?.[1]);
    expect(metric('precision')).toBeGreaterThanOrEqual(0.999);
    expect(metric('recall')).toBeGreaterThanOrEqual(0.995);
  });

  it('exports persons with id numbers and phones masked unless asked', async () => {
    const env = { DATABASE_URL: db.url };
    const masked = join(out, 'persons.csv');
    expect((await aidlink(['export', 'persons', '--out', masked], env)).code).toBe(0);
    const text = readFileSync(masked, 'utf8');
    expect(text.split('\n')[0]).toBe('person_id,id_number,name,gender,birth_date,township,village,phone,household,rows,sources');
    expect(text).not.toMatch(/,\d{17}[\dX],/);
    expect(text).toMatch(/,\d{6}\*{8}[\dX]{4},/);
    const full = join(out, 'persons-full.csv');
    await aidlink(['export', 'persons', '--out', full, '--unmasked'], env);
    expect(readFileSync(full, 'utf8')).toMatch(/,\d{17}[\dX],/);
  });

  it('explains clearly when a row has not been matched', async () => {
    const r = await aidlink(['explain-link', 'civil/nope.csv', '3'], { DATABASE_URL: db.url });
    expect(r.code).toBe(1);
    expect(r.err).toContain('run `aidlink match` first');
  });
});

describe('sync and the assessment exports', () => {
  let db: TestDb;
  const out = mkdtempSync(join(tmpdir(), 'aidlink-assess-'));
  beforeAll(async () => {
    db = await createTestDb();
  });
  afterAll(() => db?.drop());

  it('syncs up to a date, then the rest, and exports in yuan with two decimals', async () => {
    const env = { DATABASE_URL: db.url };
    const first = await aidlink(['sync', '--inbox', SAMPLE_INBOX, '--until', '2026-09-30', '--report'], env);
    expect(first.code, first.err).toBe(0);
    expect(first.out).toContain('3 dated after 2026-09-30 left for later');
    expect(first.out).toContain('data as of 2026-09-30');
    const second = await aidlink(['sync', '--inbox', SAMPLE_INBOX, '--report'], env);
    expect(second.out).toContain('files: 55 in the inbox; 3 new: 3 accepted, 0 quarantined, 0 rejected; 52 seen before');
    expect(second.out).toMatch(/outreach report: \d+ persons \(\d+ new\), \d+ items, [\d.]+ yuan → .*newly-eligible-\d{8}-\d{6}-2\.xlsx \(and \.csv\)/);
    expect(second.out).toContain('flags: 100 open');

    const files = Object.fromEntries((['spells', 'entitlements', 'flags', 'person-flags'] as const).map((k) => [k, join(out, `${k}.csv`)]));
    for (const [k, f] of Object.entries(files)) expect((await aidlink(['export', k, '--out', f], env)).code).toBe(0);
    const lines = (k: string) => readFileSync(files[k]!, 'utf8').trim().split('\n');
    expect(lines('spells')[0]).toBe('person_id,category,valid_from,valid_to');
    expect(lines('spells')).toHaveLength(1409);
    expect(lines('entitlements')[0]).toBe('settlement_id,person_id,service_date,category,base,entitled,paid,flag');
    expect(lines('entitlements')).toHaveLength(8793);
    expect(lines('entitlements')[1]).toMatch(/^\d+,\d+,\d{4}-\d\d-\d\d,[a-z_]*,\d+\.\d\d,\d+\.\d\d,\d+\.\d\d,[a-z]*$/);
    expect(lines('flags')[0]).toBe('settlement_id,person_id,flag,reason,entitled,paid');
    expect(lines('flags')).toHaveLength(94);
    expect(lines('person-flags')).toEqual(expect.arrayContaining(['person_id,year,flag,amount', expect.stringMatching(/,2025,high_burden,18404\.37$/)]));
  });

  it('puts a staff decision in effect at once, then assesses again', async () => {
    const env = { DATABASE_URL: db.url };
    const review = await aidlink(['review', 'list', '--format', 'csv'], env);
    expect(review.code, review.err).toBe(0);
    // file,row,candidates: "<person> (<probability>%) …"
    const [file, row, candidates] = review.out.trim().split('\n')[1]!.split(',');
    const person = candidates!.split(' ')[0]!;
    const r = await aidlink(['link', 'confirm', `${file}#${row}`, person, '--by', 'caseworker-1'], env);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(new RegExp(`decision \\d+ recorded and in effect: 1 rows changed person \\(persons ${person}\\) in \\d+ ms`));
    expect(r.out).toMatch(/spells: [\d,]+ /);
    expect(r.out).toMatch(/flags: \d+ open/);
    expect((await aidlink(['review', 'list'], env)).out).toContain('no rows waiting for review');
  });
});

describe('jobs from the command line', () => {
  it('queues a sync with REDIS_URL, prints its id at once, and shows it with `jobs`', async () => {
    const { queueEnv, dropQueues } = await import('./helpers/queues.js');
    const env = queueEnv({ AIDLINK_DATA_DIR: mkdtempSync(join(tmpdir(), 'aidlink-queued-')) });
    try {
      // no worker is running: the sync waits in its queue
      const queued = await aidlink(['sync', '--inbox', SAMPLE_INBOX, '--report', '--no-wait'], env);
      expect(queued.code, queued.err).toBe(0);
      const id = /sync queued: (report\/sync-\d{8}-\d{6}-[a-z0-9]{4})/.exec(queued.out)?.[1];
      expect(id).toBeDefined();
      expect(queued.out).toContain(`follow it with: aidlink jobs ${id}`);
      const shown = await aidlink(['jobs', id!], env);
      expect(shown.code, shown.err).toBe(0);
      expect(shown.out.split('\n').map((l) => l.trim().split('  ').slice(1, 3).join(' '))).toEqual(
        expect.arrayContaining(['report.newly-eligible waiting-children', `sync.scan (${SAMPLE_INBOX.replace(/\/$/, '')}) waiting`]),
      );
      const listed = await aidlink(['jobs'], env);
      expect(listed.out).toContain('nightly sync: not scheduled (run `aidlink scheduler`)');
      expect(listed.out).toContain(id!);
    } finally {
      await dropQueues(env.AIDLINK_QUEUE_PREFIX!);
    }
  });

  it('says so clearly when Redis does not answer', async () => {
    const r = await aidlink(['sync', '--inbox', SAMPLE_INBOX], { REDIS_URL: 'redis://:secret@127.0.0.1:1/0' });
    expect(r.code).toBe(1);
    expect(r.err.trim()).toMatch(/^aidlink: Redis at redis:\/\/\*\*\*@127\.0\.0\.1:1\/0 is not answering .*; is it running, and is REDIS_URL right\?$/);
    expect(r.err).not.toContain('secret');
  });
});

describe('aidlink on the embedded database', () => {
  it('runs the demo with nothing configured: a county generated, synced in-process, the outreach report written', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'aidlink-demo-'));
    const r = await aidlink(['demo', '--persons', '400', '--seed', '5'], { AIDLINK_DATA_DIR: dir });
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/files: 55 in the inbox; 55 new: \d+ accepted/);
    expect(r.out).toMatch(/persons: \d+; \d+ rows waiting for identity review/);
    const report = /outreach report: (\d+) persons \(\d+ new\), \d+ items, [\d.]+ yuan → (.+)\.xlsx \(and \.csv\)/.exec(r.out);
    expect(report).not.toBeNull();
    expect(report![2]!.startsWith(join(dir, 'reports'))).toBe(true);
    const lines = readFileSync(`${report![2]!}.csv`, 'utf8').trimEnd().split('\n');
    expect(lines[0]!.split(',').slice(0, 5).join(',')).toBe('\ufeff乡镇,村,人员ID,姓名,身份证号');
    expect(lines[lines.length - 1]).toMatch(new RegExp(`^合计,,${report![1]} 人,`));
    expect((await aidlink(['jobs'], { AIDLINK_DATA_DIR: dir })).out).toContain('no queues: REDIS_URL is not set');
  });

  it('opens the console on the demo county (demo --serve): the printed user signs in and sees the worklist; SIGTERM stops it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'aidlink-demo-serve-'));
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    const child = spawn(process.execPath, [BIN, 'demo', '--persons', '300', '--seed', '7', '--serve'], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...runLogEnv(), CI: 'true', AIDLINK_DATA_DIR: dir, AIDLINK_HTTP_PORT: String(port), AIDLINK_COOKIE_SECURE: 'false' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', () => undefined);
    const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
    try {
      const deadline = Date.now() + 150_000;
      let line: RegExpExecArray | null = null;
      while (!(line = /the console on the demo county: (\S+)\/ — sign in as demo, password (\S+) /.exec(out)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
      expect(line, out).not.toBeNull();
      const [, base, password] = line!;
      expect(base).toBe(`http://127.0.0.1:${port}`);
      const login = await fetch(`${base}/login`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ username: 'demo', password: password! }) });
      expect(login.status).toBe(303);
      const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
      const worklist = await fetch(`${base}/worklist`, { headers: { cookie } });
      expect(worklist.status).toBe(200);
      expect(await worklist.text()).toContain('外展工作台');
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  }, 200_000);

  it('ingests the sample with no DATABASE_URL, and a second run changes nothing', async () => {
    const env = { AIDLINK_DATA_DIR: mkdtempSync(join(tmpdir(), 'aidlink-embedded-')) };
    const first = await aidlink(['ingest', SAMPLE_INBOX], env);
    expect(first.code, first.err).toBe(0);
    const again = await aidlink(['ingest', SAMPLE_INBOX], env);
    expect(again.out).toContain('55 file(s): 0 accepted, 0 quarantined, 0 rejected, 55 already delivered');
    const files = await aidlink(['files', '--format', 'csv'], env);
    const lines = files.out.trim().split('\n').slice(1);
    expect(lines.map((l) => l.split(',').slice(0, 5).join(',')).sort()).toEqual(expectedCsv(truth));
  });
});
