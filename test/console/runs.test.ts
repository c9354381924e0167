/**
 * The runs page (作业, issue 19): runs started from the command line without Redis are
 * recorded and listed beside the queued ones; a finished sync shows its steps in Chinese,
 * in the order they ran, with durations and counts; a failed one says why and what to do,
 * in Chinese; a running one has a progress bar the page's own Content Security Policy
 * allows (no inline style, no inline script). Synthetic sample county only.
 */
import { localRunOf } from '../../src/jobs/record.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONSOLE_CSP } from '../../src/server/headers.js';
import { CONSOLE_JS } from '../../src/console/assets.js';
import { STEP_LABEL, stepsOf } from '../../src/console/pages/runs.js';
import type { JobState } from '../../src/jobs/state.js';
import { consoleRig, type ConsoleRig } from '../helpers/console.js';
import { runLogEnv } from '../helpers/log-scan.js';
import { run } from '../helpers/process.js';
import { SAMPLE_INBOX } from '../helpers/sample.js';

const BIN = fileURLToPath(new URL('../../bin/aidlink.mjs', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'aidlink-runs-'));

/** The CLI as a process of its own, on the rig's database, without Redis: the in-process runner. */
function aidlink(args: string[], databaseUrl: string) {
  return run(process.execPath, [BIN, ...args], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...runLogEnv(), CI: 'true', AIDLINK_DATA_DIR: scratch, DATABASE_URL: databaseUrl },
    timeout: 180_000,
  });
}

const SYNC_STEPS = ['sync.scan', 'match.run', 'spells.derive', 'assess.run', 'outreach.update'] as const;

/** The step labels of the page's steps table, in order. */
function stepLabels(body: string): string[] {
  const table = body.slice(body.indexOf('<table class="steps">'), body.indexOf('</table>', body.indexOf('<table class="steps">')));
  return [...table.matchAll(/<tr>\s*<td class="num">\d+<\/td>\s*<td>([^<]+?)\s*(?:<span|<\/td>)/g)].map((m) => m[1]!.trim());
}

/** Latin words a staff member would read (outside tags, the progress value's %, dates and numbers). */
function englishWords(body: string): string[] {
  const main = body.slice(body.indexOf('<main>'), body.indexOf('</main>'));
  // file names are the agencies' own
  const text = main.replace(/<[^>]+>/g, ' ').replace(/[^\s<>]+\.(?:csv|xlsx|xls)\b/g, ' ').replace(/&[a-z]+;|&#\d+;/g, ' ');
  // the name of whoever ran the command is a name, not English
  return (text.match(/[A-Za-z]{3,}/g) ?? []).filter((w) => !['XLSX', 'CSV', 'PDF', userInfo().username].includes(w));
}

describe('console: 作业', () => {
  let rig: ConsoleRig;
  let cli: Awaited<ReturnType<typeof aidlink>>;
  let failedCli: Awaited<ReturnType<typeof aidlink>>;

  beforeAll(async () => {
    rig = await consoleRig();
    cli = await aidlink(['sync', '--inbox', SAMPLE_INBOX], rig.db.url);
    failedCli = await aidlink(['sync', '--inbox', join(scratch, 'no-such-inbox')], rig.db.url);
  }, 240_000);
  afterAll(async () => {
    await rig?.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('lists a sync run from the command line, with who ran it, its state and its counts', async () => {
    expect(cli.code, cli.err).toBe(0);
    const r = await (await rig.as('viewer')).get('/runs');
    expect(r.statusCode).toBe(200);
    expect(r.body).not.toContain('还没有作业');
    const live = r.body.slice(r.body.indexOf('id="runs-live"'), r.body.indexOf('失败的作业'));
    expect(live).toContain('同步收件箱');
    expect(live).toMatch(/命令行（[^）]+）/);
    expect(live).toContain('已完成');
    const deliveries = await rig.db.store.k.selectFrom('delivery').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    expect(live).toContain(`新文件 ${Number(deliveries.n).toLocaleString('zh-CN')} 个`);
    expect(live).toMatch(/新记录 [\d,]+ 行，人员 [\d,]+ 人，新增标记 [\d,]+ 条/);
    // no internal names: no run id, no cli: prefix, no server path
    expect(live).not.toContain('cli:');
    expect(live).not.toContain(SAMPLE_INBOX);
    expect(englishWords(r.body)).toEqual([]);
  });

  it('shows a finished sync step by step, in the order the steps ran, with durations and counts', async () => {
    const viewer = await rig.as('viewer');
    const list = await viewer.get('/runs');
    const href = /<a href="(\/runs\/local-run\/\d+)">同步收件箱<\/a><\/td>\s*<td>[^<]*<\/td>\s*<td><span class="badge ok">已完成/.exec(list.body)?.[1];
    expect(href).toBeDefined();
    const r = await viewer.get(href!);
    expect(r.statusCode).toBe(200);
    expect(r.body).toContain('<title>同步收件箱 · ');
    expect(stepLabels(r.body)).toEqual(SYNC_STEPS.map((s) => STEP_LABEL[s]));
    // each file the scan ingested is listed under it, with its rows
    expect(r.body).toMatch(/<td class="sub">导入文件 <span class="muted">civil_20250131\.csv<\/span><\/td>/);
    expect(r.body).toMatch(/[\d,]+ 行，已接收/);
    // counts from the stages' results, against the database
    const persons = await rig.db.store.k.selectFrom('person').select((eb) => eb.fn.countAll<number>().as('n')).where('retired_at', 'is', null).executeTakeFirstOrThrow();
    expect(r.body).toMatch(/收件箱共 [\d,]+ 个文件，新文件 [\d,]+ 个；已接收 [\d,]+ 个/);
    expect(r.body).toContain(`人员 ${Number(persons.n).toLocaleString('zh-CN')} 人`);
    expect(r.body).toMatch(/测算结算 [\d,]+ 条；新增标记 [\d,]+ 条/);
    expect(r.body).toMatch(/新开个案 [\d,]+ 个/);
    // durations: one per step, and the run's
    expect((r.body.match(/<td>(?:不到 1 秒|\d+ 秒|\d+ 分 \d+ 秒)<\/td>/g) ?? []).length).toBeGreaterThanOrEqual(SYNC_STEPS.length);
    expect(r.body).toMatch(/用时 (?:不到 1 秒|\d+ 秒|\d+ 分 \d+ 秒)/);
    // the run's time is the whole run's: it began with its first step, not with its last
    const recorded = await rig.db.store.k.selectFrom('audit_log').select(['id', 'detail']).where('action', '=', 'run_local').orderBy('id').execute();
    const run = recorded.map((x) => localRunOf(x)!).find((x) => x.state.children.some((c) => c.name === 'sync.scan'))!;
    const steps = run.state.children.filter((c) => c.name !== 'ingest.file');
    expect(steps.length).toBeGreaterThan(0);
    for (const c of steps) expect(run.state.createdAt.getTime()).toBeLessThanOrEqual(c.createdAt.getTime());
    expect(r.body).toContain('data-finished="completed"');
    expect(r.body).not.toContain('data-live');
    expect(englishWords(r.body)).toEqual([]);
  });

  it('explains a failed run in Chinese, with what to do', async () => {
    expect(failedCli.code).toBe(1);
    const viewer = await rig.as('viewer');
    const list = await viewer.get('/runs');
    const failed = list.body.slice(list.body.indexOf('<h2>失败的作业</h2>'));
    expect(failed).toContain('找不到收件箱文件夹');
    expect(failed).toContain('请系统管理员检查');
    const href = /<a href="(\/runs\/local-run\/\d+)">[^<]+<\/a>/.exec(failed)?.[1];
    const r = await viewer.get(href!);
    expect(r.statusCode).toBe(200);
    expect(r.body).toContain('失败于“扫描收件箱并导入新文件”');
    expect(r.body).toContain('怎么办：');
    expect(r.body).not.toContain('does not exist');
    expect(englishWords(r.body)).toEqual([]);
    // the technical detail is for those who run the system, folded away
    const sup = await (await rig.as('supervisor')).get(href!);
    expect(sup.body).toContain('<details><summary>技术详情（供系统管理员）</summary>');
  });

  it('follows a queued run with a progress bar the page\'s CSP allows: no inline style, no inline script', async () => {
    const cw = await rig.as('caseworker');
    const started = await cw.post('/runs/sync');
    expect(started.statusCode).toBe(303);
    const location = String(started.headers.location);
    expect(location).toMatch(/^\/runs\/assess\/sync-/);
    // no worker runs in this test: the run waits, every stage queued
    const r = await cw.get(location);
    expect(r.statusCode).toBe(200);
    const csp = String(r.headers['content-security-policy']);
    expect(csp).toBe(CONSOLE_CSP);
    expect(csp).toContain("style-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(r.body).toMatch(/<progress class="run-progress" max="100" value="0" aria-label="进度">0%<\/progress>/);
    expect(r.body).toMatch(/data-live="\/runs\/assess\/sync-[^"]+"/);
    expect(r.body).not.toMatch(/\sstyle\s*=/i);
    expect(r.body).not.toMatch(/<style/i);
    // scripts only from this origin's assets
    const scripts = [...r.body.matchAll(/<script([^>]*)>/gi)].map((m) => m[1]!);
    expect(scripts.length).toBeGreaterThan(0);
    for (const s of scripts) expect(s).toMatch(/src="\/assets\/console\.js"/);
    expect(r.body).not.toMatch(/\son[a-z]+\s*=/i);
    // the queued steps, in the order they will run
    expect(stepLabels(r.body)).toEqual(SYNC_STEPS.map((s) => STEP_LABEL[s]));
    expect(r.body).toContain('排队等待：扫描收件箱并导入新文件');
    expect(englishWords(r.body)).toEqual([]);
    // the script that follows it is served by the app and refreshes the part marked data-live
    const js = await cw.get('/assets/console.js');
    expect(js.statusCode).toBe(200);
    expect(js.body).toBe(CONSOLE_JS);
    expect(js.body).toContain('[data-live]');
    // the list shows it going, with a bar of its own
    const list = await cw.get('/runs');
    expect(list.body).toContain('data-live="/runs"');
    expect(list.body).toMatch(/<progress class="run-progress"/);
    expect(list.body).toMatch(/控制台|排队中|等待前一步/);
    expect(list.body).not.toMatch(/\sstyle\s*=/i);
  });

  it('orders the steps the way they ran, whichever shape the runner gave the tree', () => {
    const at = (s: number) => new Date(Date.UTC(2026, 11, 7, 2, 0, s));
    const job = (name: string, created: number, finished: number | undefined, children: JobState[] = []): JobState => ({
      id: `q/${name}`, name, about: '', state: finished === undefined ? 'waiting-children' : 'completed', progress: null, attempts: 1, createdAt: at(created), ...(finished !== undefined ? { finishedAt: at(finished) } : {}), children,
    });
    // BullMQ: each stage the child of the next, all created at once
    const bull = job('outreach.update', 0, 50, [job('assess.run', 0, 40, [job('spells.derive', 0, 30, [job('match.run', 0, 20, [job('sync.scan', 0, 10)])])])]);
    // in-process: the earlier stages under the last, newest first; the scan's files under it
    const local = job('outreach.update', 40, 50, [job('assess.run', 30, 40), job('spells.derive', 20, 30), job('match.run', 10, 20), job('sync.scan', 0, 10, [job('ingest.file', 1, 5)])]);
    for (const tree of [bull, local]) {
      const steps = stepsOf(tree);
      expect(steps.map((s) => s.job.name)).toEqual([...SYNC_STEPS]);
      expect(steps.map((s) => s.ms)).toEqual([10_000, 10_000, 10_000, 10_000, 10_000]);
    }
    expect(stepsOf(local)[0]!.files.map((f) => f.name)).toEqual(['ingest.file']);
  });
});

describe('console: 作业, failed queued runs', () => {
  it('lists a failed queued run once, as the whole run, whichever of its stages failed', async () => {
    const { latestRuns } = await import('../../src/console/pages/runs.js');
    const at = new Date('2026-12-07T02:00:00Z');
    const stage = (id: string, name: string, state: JobState['state'], children: JobState[] = [], error?: string): JobState => ({
      id, name, about: '', state, progress: null, attempts: 5, createdAt: at, finishedAt: at, children, ...(error ? { error } : {}),
    });
    const scan = stage('sync/sync-20261207-100000-abcd-sync-scan', 'sync.scan', 'failed', [], 'connect ECONNREFUSED 127.0.0.1:5432');
    const top = stage('assess/sync-20261207-100000-abcd', 'outreach.update', 'failed', [
      stage('assess/sync-20261207-100000-abcd-assess-run', 'assess.run', 'failed', [stage('assess/sync-20261207-100000-abcd-spells-derive', 'spells.derive', 'failed', [stage('match/sync-20261207-100000-abcd-match-run', 'match.run', 'failed', [scan])])]),
    ]);
    const flat = (s: JobState): JobState[] => [{ ...s, children: [] }, ...s.children.flatMap(flat)];
    const asked: string[] = [];
    const runner = {
      list: async () => flat(top),
      get: async (ref: string) => {
        asked.push(ref);
        return ref === 'sync-20261207-100000-abcd' ? top : undefined;
      },
    };
    const store = { k: { selectFrom: () => ({ select: () => ({ where: () => ({ orderBy: () => ({ limit: () => ({ execute: async () => [] }) }) }) }) }) } };
    const deps = { app: { store }, runner } as unknown as Parameters<typeof latestRuns>[0];
    const failed = await latestRuns(deps, { failed: true, limit: 20 });
    expect(failed.map((r) => r.state.id)).toEqual(['assess/sync-20261207-100000-abcd']);
    expect(asked).toEqual(['sync-20261207-100000-abcd']);
    const { failedStep, explainFailure } = await import('../../src/console/pages/runs.js');
    const f = failedStep(failed[0]!.state)!;
    expect(f.name).toBe('sync.scan');
    expect(explainFailure(f).why).toBe('连接数据库或作业队列失败。');
  });
});

describe('console: 作业, a running run', () => {
  it('says in Chinese which step a run is at, and how far the whole run is', async () => {
    const { progressOf } = await import('../../src/console/pages/runs.js');
    const at = new Date('2026-12-07T02:00:00Z');
    const job = (name: string, state: JobState['state'], children: JobState[] = [], progress: JobState['progress'] = null): JobState => ({ id: `q/${name}`, name, about: '', state, progress, attempts: 1, createdAt: at, children });
    const scan = job('sync.scan', 'active', [], { stage: 'ingesting files', done: 3, total: 10, unit: 'files', detail: 'civil/civil_20250131.csv' });
    const tree = job('outreach.update', 'waiting-children', [job('assess.run', 'waiting-children', [job('spells.derive', 'waiting-children', [job('match.run', 'waiting-children', [scan])])])]);
    const p = progressOf(tree);
    expect(p.text).toBe('第 1/5 步 扫描收件箱并导入新文件：正在导入文件 3/10 个文件 · civil_20250131.csv');
    expect(p.fraction).toBeCloseTo(0.06);
    // a stage reporting no numbers, later in the run
    const later = job('outreach.update', 'waiting-children', [job('assess.run', 'waiting-children', [job('spells.derive', 'active', [job('match.run', 'completed', [job('sync.scan', 'completed')])], { stage: 'deriving category spells' })])]);
    expect(progressOf(later).text).toBe('第 3/5 步 推算救助身份时段：正在推算救助身份时段');
    expect(progressOf(later).fraction).toBeCloseTo(0.4);
  });
});
