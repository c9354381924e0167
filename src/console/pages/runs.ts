/**
 * 作业: the latest runs, however they were started (the console, the command line, the
 * nightly schedule), buttons to sync now and to re-run matching, and one run with its
 * steps in the order they ran, how long each took and what it counted, followed with a
 * progress bar until it ends. Runs that ran in-process (no Redis) are read from their
 * record (jobs/record.ts), the queued ones from the runner.
 *
 * Chinese throughout: every job name, state, progress stage, count and failure staff see
 * is worded here, in the tables below. The page runs under the console's Content Security
 * Policy: no inline script or style; the progress bar is a <progress> element, and the
 * console's own script (assets.ts) refreshes the part of the page marked `data-live`.
 */
import { resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { JobName } from '../../jobs/definitions.js';
import type { JobResult } from '../../jobs/handlers.js';
import { getLocalRun, listLocalRuns, type LocalRun } from '../../jobs/record.js';
import { isFinished, type JobState } from '../../jobs/runner.js';
import { scrubText } from '../../privacy.js';
import { audit } from '../../server/audit.js';
import { localRedirect } from '../../server/redirect.js';
import { may } from '../../server/users.js';
import { html, type SafeHtml } from '../html.js';
import { badge, fileShown, page, postButton, when, type Viewer } from '../layout.js';
import { sendPage, viewerOf, type ConsoleDeps } from '../page-kit.js';

// ---------------------------------------------------------------------------
// Words: every internal name a run carries, in Chinese, in one place
// ---------------------------------------------------------------------------

/** Each job (a step of a run) as staff call it. */
export const STEP_LABEL: Record<JobName, string> = {
  'sync.nightly': '启动夜间同步',
  'sync.scan': '扫描收件箱并导入新文件',
  'ingest.file': '导入文件',
  'match.run': '身份匹配',
  'spells.derive': '推算救助身份时段',
  'assess.run': '救助测算',
  'outreach.update': '更新外展工作台',
  'report.newly-eligible': '生成新增应救助人员报告',
};

/** The order steps run in (a run's stages, definitions.ts). */
const STEP_ORDER: string[] = ['sync.nightly', 'sync.scan', 'ingest.file', 'match.run', 'spells.derive', 'assess.run', 'outreach.update', 'report.newly-eligible'];

type Tone = 'ok' | 'warn' | 'bad' | 'info' | 'muted';

export const STATE_LABEL: Record<string, [string, Tone]> = {
  completed: ['已完成', 'ok'],
  failed: ['失败', 'bad'],
  active: ['进行中', 'info'],
  waiting: ['排队中', 'muted'],
  'waiting-children': ['等待前一步', 'muted'],
  delayed: ['等待重试', 'warn'],
  prioritized: ['排队中', 'muted'],
  unknown: ['已移除', 'muted'],
};

/** What the handlers report while they work (handlers.ts, match/run.ts), in Chinese. */
const PROGRESS_LABEL: Record<string, string> = {
  'scanning the inbox': '正在扫描收件箱',
  'ingesting files': '正在导入文件',
  'reading new rows': '正在读取新记录',
  'deterministic links': '正在按证件号关联',
  'the match model': '正在准备匹配模型',
  'estimating weights': '正在估计匹配权重',
  'scoring rows without an id': '正在比对无证件号的记录',
  'writing links': '正在写入匹配结果',
  matched: '匹配完成',
  'deriving category spells': '正在推算救助身份时段',
  'assessing settlements': '正在测算结算',
  'updating the outreach worklist': '正在更新外展工作台',
  'writing the report of newly eligible people': '正在生成报告',
};

const UNIT_LABEL: Record<string, string> = { files: '个文件', rows: '行', persons: '人', settlements: '条结算' };

/** What kind of run a job tree is, as a title. */
export function runLabel(s: JobState): string {
  const names = new Set(nodesOf(s).map((n) => n.name));
  if (s.name === 'sync.nightly') return '夜间同步（定时启动）';
  if (names.has('sync.scan')) return /sync-nightly/.test(s.id) ? '夜间同步' : '同步收件箱';
  if (s.name === 'ingest.file') return '导入上传的文件';
  if (names.has('match.run')) return '重新匹配';
  if (names.has('spells.derive')) return '重新测算';
  return STEP_LABEL[s.name as JobName] ?? '作业';
}

/** Who started a run, from what the run was asked by: `cli:root`, `console:alice`, `http:api1`, `schedule`. */
export function starterLabel(requestedBy: string | undefined, s?: JobState): string {
  const by = requestedBy ?? '';
  const [kind, ...rest] = by.split(':');
  const who = rest.join(':');
  if (kind === 'cli') return `命令行${who ? `（${who}）` : ''}`;
  if (kind === 'console') return `控制台（${who}）`;
  if (kind === 'http') return `接口（${who}）`;
  if (by === 'schedule' || (s && /sync-nightly/.test(s.id))) return '夜间定时';
  if (s && s.id.startsWith('local-run/')) return by ? `本机运行（${by}）` : '本机运行';
  if (by === 'system') return '系统';
  return by ? by : '—';
}

const stateBadge = (s: string) => {
  const [label, tone] = STATE_LABEL[s] ?? ['未知', 'muted' as const];
  return badge(label, tone);
};


const n = (v: unknown): string => (typeof v === 'number' ? v.toLocaleString('zh-CN') : '0');

/** 3 秒, 2 分 5 秒, 1 小时 4 分. */
export function duration(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms) || ms < 0) return '—';
  const s = Math.round(ms / 1000);
  if (s < 1) return '不到 1 秒';
  if (s < 60) return `${s} 秒`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} 分 ${s % 60} 秒`;
  return `${Math.floor(m / 60)} 小时 ${m % 60} 分`;
}

// ---------------------------------------------------------------------------
// A run's steps, in the order they ran
// ---------------------------------------------------------------------------

/** Every job in a tree, once. */
function nodesOf(s: JobState): JobState[] {
  const seen = new Map<string, JobState>();
  const walk = (x: JobState) => {
    if (!seen.has(x.id)) seen.set(x.id, x);
    x.children.forEach(walk);
  };
  walk(s);
  return [...seen.values()];
}

export interface Step {
  job: JobState;
  /** the files a scan ingested (in-process runs keep them in the tree) */
  files: JobState[];
  started: Date;
  ms: number | undefined;
}

/**
 * The stages of a run, first to last, whatever shape the runner gave the tree (BullMQ:
 * each stage the child of the next; in-process: the earlier stages under the last). A
 * stage starts when the one before it ends (queued stages were all created at once).
 */
export function stepsOf(s: JobState): Step[] {
  const rank = (x: JobState) => {
    const i = STEP_ORDER.indexOf(x.name);
    return i < 0 ? STEP_ORDER.length : i;
  };
  const all = nodesOf(s);
  const stages = all.filter((x) => x.name !== 'ingest.file' || x === s).sort((a, b) => rank(a) - rank(b) || a.createdAt.getTime() - b.createdAt.getTime());
  let previousEnd: Date | undefined;
  return stages.map((job) => {
    const started = previousEnd && previousEnd > job.createdAt ? previousEnd : job.createdAt;
    const end = job.finishedAt ?? (job.state === 'active' ? new Date() : undefined);
    if (job.finishedAt) previousEnd = job.finishedAt;
    const files = job === s ? [] : job.children.filter((c) => c.name === 'ingest.file');
    return { job, files, started, ms: end && job.state !== 'waiting' && job.state !== 'waiting-children' ? end.getTime() - started.getTime() : undefined };
  });
}

/** What a finished step counted, in a sentence. */
export function countsOf(job: JobState): string {
  if (job.state !== 'completed' || !job.result || typeof job.result !== 'object') return '';
  const r = job.result as Record<string, unknown>;
  switch (job.name) {
    case 'sync.scan': {
      const x = r as unknown as JobResult<'sync.scan'>;
      const parts = [`收件箱共 ${n(x.files)} 个文件，新文件 ${n(x.queued)} 个`];
      if (x.queued) parts.push(`已接收 ${n(x.accepted)} 个，暂扣待核实 ${n(x.quarantined)} 个，拒收 ${n(x.rejected)} 个${x.failed ? `，未导入完成 ${n(x.failed)} 个` : ''}`);
      if (x.known) parts.push(`此前已导入 ${n(x.known)} 个`);
      if (x.later) parts.push(`晚于截止日期、留待以后 ${n(x.later)} 个`);
      return parts.join('；');
    }
    case 'ingest.file': {
      const x = r as unknown as JobResult<'ingest.file'>;
      const status: Record<string, string> = { accepted: '已接收', quarantined: '暂扣待核实', rejected: '拒收', superseded: '已被替代', discarded: '已作废', staged: '导入中' };
      return `${n(x.rows)} 行，${status[x.status] ?? '已处理'}`;
    }
    case 'match.run': {
      const x = r as unknown as JobResult<'match.run'>;
      return `新记录 ${n(x.newRows)} 行（共 ${n(x.rows)} 行）；已关联 ${n(x.linked)} 行，待人工核对 ${n(x.review)} 行；人员 ${n(x.persons)} 人`;
    }
    case 'spells.derive': {
      const x = r as unknown as JobResult<'spells.derive'>;
      return `${x.scope === 'everyone' ? '全部人员' : `${n(x.scope)} 人`}；救助身份时段 ${n(x.spells)} 段，新记录 ${n(x.recorded)} 段，替换 ${n(x.superseded)} 段`;
    }
    case 'assess.run': {
      const x = r as unknown as JobResult<'assess.run'>;
      return `${typeof x.scope === 'number' ? `${n(x.scope)} 人` : '全部人员'}；测算结算 ${n(x.assessed)} 条；新增标记 ${n(x.flags?.raised)} 条，撤销 ${n(x.flags?.withdrawn)} 条，当前待跟进 ${n(x.flags?.open)} 条`;
    }
    case 'outreach.update': {
      const x = r as unknown as JobResult<'outreach.update'>;
      return `新开个案 ${n(x.opened)} 个，已支付结案 ${n(x.paid)} 个，撤销 ${n(x.withdrawn)} 个`;
    }
    case 'report.newly-eligible': {
      const x = r as unknown as JobResult<'report.newly-eligible'>;
      return `第 ${n(x.runId)} 期报告：${n(x.persons)} 人（首次 ${n(x.newPersons)} 人），标记 ${n(x.flags)} 条`;
    }
    case 'sync.nightly':
      return '已启动当晚的同步';
    default:
      return '';
  }
}

/** A run's result in one line, for the list: what a finished sync brought. */
export function summaryOf(s: JobState): string {
  if (s.state !== 'completed') return '';
  const find = (name: string) => nodesOf(s).find((x) => x.name === name && x.state === 'completed')?.result as Record<string, unknown> | undefined;
  const scan = find('sync.scan') as JobResult<'sync.scan'> | undefined;
  const match = find('match.run') as JobResult<'match.run'> | undefined;
  const assess = find('assess.run') as JobResult<'assess.run'> | undefined;
  const parts: string[] = [];
  if (scan) parts.push(`新文件 ${n(scan.queued)} 个`);
  if (match) parts.push(`新记录 ${n(match.newRows)} 行`, `人员 ${n(match.persons)} 人`);
  if (assess) parts.push(`新增标记 ${n(assess.flags?.raised)} 条`);
  if (!parts.length) {
    const only = stepsOf(s).at(-1);
    return only ? countsOf(only.job) : '';
  }
  return parts.join('，');
}

/** The stage a running run is at, in Chinese, and how far the whole run is (0–1). */
export function progressOf(s: JobState): { text: string; fraction: number } {
  const steps = stepsOf(s);
  const done = steps.filter((x) => x.job.state === 'completed').length;
  const current = steps.find((x) => x.job.state === 'active') ?? steps.find((x) => !isFinished(x.job));
  const p = current?.job.progress;
  const within = p?.total ? Math.min(1, (p.done ?? 0) / p.total) : 0;
  const fraction = steps.length ? Math.min(1, (done + within) / steps.length) : 0;
  if (!current) return { text: '即将完成', fraction };
  const label = STEP_LABEL[current.job.name as JobName] ?? '处理中';
  if (current.job.state !== 'active') return { text: `排队等待：${label}`, fraction };
  if (!p) return { text: `${label}（第 ${steps.indexOf(current) + 1}/${steps.length} 步）`, fraction };
  const stage = PROGRESS_LABEL[p.stage] ?? (p.stage.startsWith('ingesting ') ? '正在导入文件' : label);
  const unit = p.unit ? UNIT_LABEL[p.unit] ?? '' : '';
  const count = p.total !== undefined ? ` ${n(p.done ?? 0)}/${n(p.total)} ${unit}` : p.done !== undefined ? ` ${n(p.done)} ${unit}` : '';
  // the detail a runner reports is a file name (relative to the inbox), never personal data
  const detail = p.detail && p.unit === 'files' ? ` · ${fileShown(p.detail)}` : '';
  return { text: `第 ${steps.indexOf(current) + 1}/${steps.length} 步 ${label}：${stage}${count.trimEnd()}${detail}`, fraction };
}

// ---------------------------------------------------------------------------
// Failures, explained
// ---------------------------------------------------------------------------

/** The first failed step (deepest first), ingest failures of single files aside when the run went on. */
export function failedStep(s: JobState): JobState | undefined {
  const failed = stepsOf(s).map((x) => x.job).filter((x) => x.state === 'failed');
  return failed[0] ?? (s.state === 'failed' ? s : undefined);
}

/** Why a step failed and what to do, in Chinese, from the error the job left. */
export function explainFailure(job: JobState, runLink?: string): { why: string; todo: string } {
  const e = job.error ?? '';
  const retry = '可以在本页点击“立即同步收件箱”重新运行；如果再次失败，请联系系统管理员';
  if (/inbox .* does not exist/.test(e)) return { why: '找不到收件箱文件夹。', todo: '请系统管理员检查服务器上的收件箱设置和文件夹是否存在，然后重新同步。' };
  if (/no longer in the inbox/.test(e)) return { why: '要导入的文件已不在收件箱中（可能被移走或删除）。', todo: '请重新放入或上传该文件，再同步一次。' };
  if (/rejected/.test(e)) return { why: '文件被拒收：文件内容不符合要求。', todo: '请到“数据文件”页查看拒收原因，请报送单位更正后重新报送。' };
  if (/another worker is ingesting/.test(e)) return { why: '另一个作业正在导入同一个文件。', todo: '系统会自动重试，无需操作。' };
  if (/invalid payload/.test(e)) return { why: '作业参数不正确（程序问题）。', todo: `请联系系统管理员，并告知作业开始时间${runLink ? '和本页地址' : ''}。` };
  if (/ECONNREFUSED|ETIMEDOUT|ECONNRESET|connect|Connection terminated|timeout/i.test(e)) return { why: '连接数据库或作业队列失败。', todo: `请系统管理员检查数据库和 Redis 是否正常运行。${retry}。` };
  if (/stalled|lock/i.test(e)) return { why: '运行该步骤的后台进程中途停止。', todo: `请系统管理员检查后台作业进程（worker）是否正常运行。${retry}。` };
  if (/out of memory|heap/i.test(e)) return { why: '服务器内存不足。', todo: `请系统管理员检查服务器资源。${retry}。` };
  if (job.state === 'unknown') return { why: '该步骤已被管理员从队列中移除。', todo: retry + '。' };
  return { why: '该步骤运行出错。', todo: `${retry}（技术详情见服务器日志）。` };
}

function failureNotice(v: Viewer, s: JobState): SafeHtml {
  const f = failedStep(s);
  if (!f) return html``;
  const { why, todo } = explainFailure(f, `/runs/${s.id}`);
  return html`<div class="notice error" role="alert">
    <p><strong>失败于“${STEP_LABEL[f.name as JobName] ?? '未知步骤'}”${f.about && f.name === 'ingest.file' ? html`（${fileShown(f.about)}）` : ''}：</strong>${why}</p>
    <p>怎么办：${todo}</p>
    ${may(v.role, 'operations') && f.error ? html`<details><summary>技术详情（供系统管理员）</summary><pre class="evidence">${scrubText(f.error)}</pre></details>` : ''}
  </div>`;
}

// ---------------------------------------------------------------------------
// Reading runs: the queues and the record of in-process runs
// ---------------------------------------------------------------------------

/** A run as the page lists it: its job tree, and who started it where that is known (in-process runs). */
export interface Run {
  state: JobState;
  requestedBy?: string;
}

async function readRun(deps: ConsoleDeps, ref: string): Promise<Run | undefined> {
  const local = await getLocalRun(deps.app.store, ref);
  if (local) return local;
  const s = await deps.runner.get(ref).catch(() => undefined);
  return s ? { state: s } : undefined;
}

/** The latest runs, queued and in-process, newest first, finished ones with their stages (for their counts); the home page may list these too. */
export async function latestRuns(deps: ConsoleDeps, opts: { failed?: boolean; limit: number }): Promise<Run[]> {
  const queued = await deps.runner.list({ ...(opts.failed ? { failed: true } : {}), limit: opts.limit }).catch(() => [] as JobState[]);
  // failed jobs: one entry per run (a stage that fails fails the stages after it), read as the whole run
  const jobs = opts.failed ? [...new Map(queued.map((s) => [runKeyOf(s), s])).entries()] : queued.map((s) => [s.id, s] as const);
  // a finished run is listed with its stages, for its counts
  const full = await Promise.all(
    jobs.map(async ([key, s]) => {
      if (s.children.length) return s;
      return (await deps.runner.get(opts.failed ? key : s.id).catch(() => undefined)) ?? s;
    }),
  );
  const local: LocalRun[] = await listLocalRuns(deps.app.store, { limit: opts.limit, ...(opts.failed ? { failed: true } : {}) });
  const byId = new Map<string, Run>();
  for (const state of full) byId.set(state.id, { state });
  // a server running its jobs in-process lists them itself, and they are recorded too: once
  const same = (a: JobState, b: JobState) => runLabel(a) === runLabel(b) && a.finishedAt && b.finishedAt && Math.abs(a.finishedAt.getTime() - b.finishedAt.getTime()) < 2_000;
  for (const r of local) if (!byId.has(r.state.id) && !full.some((s) => same(s, r.state))) byId.set(r.state.id, r);
  return [...byId.values()].sort((a, b) => b.state.createdAt.getTime() - a.state.createdAt.getTime()).slice(0, opts.limit);
}

/** The run a queued job belongs to: a stage's id is its run's id and the stage's name (bull.ts submitFlow). */
function runKeyOf(s: JobState): string {
  const id = s.id.slice(s.id.indexOf('/') + 1);
  const suffix = `-${s.name.replace('.', '-')}`;
  return id.endsWith(suffix) ? id.slice(0, -suffix.length) : id;
}

const runHref = (s: JobState) => `/runs/${s.id}`;
const runTime = (s: JobState) => (s.finishedAt ? s.finishedAt.getTime() - s.createdAt.getTime() : isFinished(s) ? undefined : Date.now() - s.createdAt.getTime());

function progressBar(fraction: number): SafeHtml {
  const pct = Math.round(fraction * 100);
  return html`<progress class="run-progress" max="100" value="${pct}" aria-label="进度">${pct}%</progress>`;
}

/** The runs as a table: what, who started it, state, progress or result, when, how long (the runs page and the home page). */
export function runsTable(runs: Run[]): SafeHtml {
  if (!runs.length) return html`<p class="empty">还没有作业</p>`;
  return html`<table class="runs">
    <thead><tr><th>作业</th><th>发起</th><th>状态</th><th>进度或结果</th><th>开始</th><th>用时</th></tr></thead>
    <tbody>${runs.map(({ state: s, requestedBy }) => {
      const p = isFinished(s) ? undefined : progressOf(s);
      return html`<tr>
        <td><a href="${runHref(s)}">${runLabel(s)}</a></td>
        <td>${starterLabel(requestedBy, s)}</td>
        <td>${stateBadge(s.state)}</td>
        <td>${p ? html`${progressBar(p.fraction)} <span class="muted">${p.text}</span>` : s.state === 'failed' ? explainFailure(failedStep(s) ?? s).why : summaryOf(s)}</td>
        <td>${when(s.createdAt)}</td>
        <td>${duration(runTime(s))}</td>
      </tr>`;
    })}</tbody>
  </table>`;
}

function stepsTable(s: JobState): SafeHtml {
  const steps = stepsOf(s);
  return html`<table class="steps">
    <thead><tr><th>#</th><th>步骤</th><th>状态</th><th>开始</th><th>用时</th><th>结果</th></tr></thead>
    <tbody>${steps.map((step, i) => {
      const j = step.job;
      const running = j.state === 'active' ? progressOf(s) : undefined;
      return [
        html`<tr>
          <td class="num">${i + 1}</td>
          <td>${STEP_LABEL[j.name as JobName] ?? '其他步骤'}${j.name === 'ingest.file' && j.about ? html` <span class="muted">${fileShown(j.about)}</span>` : ''}</td>
          <td>${stateBadge(j.state)}${j.attempts > 1 ? html` <span class="muted">第 ${j.attempts} 次尝试</span>` : ''}</td>
          <td>${j.state === 'waiting' || j.state === 'waiting-children' ? '' : when(step.started)}</td>
          <td>${duration(step.ms)}</td>
          <td>${running ? running.text : j.state === 'failed' ? explainFailure(j).why : countsOf(j)}</td>
        </tr>`,
        ...step.files.map(
          (f) => html`<tr class="sub">
            <td></td>
            <td class="sub">${STEP_LABEL['ingest.file']} <span class="muted">${fileShown(f.about)}</span></td>
            <td>${stateBadge(f.state)}</td>
            <td>${when(f.createdAt)}</td>
            <td>${duration(f.finishedAt ? f.finishedAt.getTime() - f.createdAt.getTime() : undefined)}</td>
            <td>${f.state === 'failed' ? explainFailure(f).why : countsOf(f)}</td>
          </tr>`,
        ),
      ];
    })}</tbody>
  </table>`;
}

export function registerRuns(server: FastifyInstance, deps: ConsoleDeps): void {
  const { app, runner } = deps;

  server.get('/runs', async (req, reply) => {
    const v = viewerOf(req);
    const runs = await latestRuns(deps, { limit: 30 });
    const failed = await latestRuns(deps, { failed: true, limit: 20 });
    const schedule = 'schedule' in runner ? await runner.schedule().catch(() => undefined) : undefined;
    const going = runs.some((r) => !isFinished(r.state));
    return sendPage(
      reply,
      page({
        title: '作业',
        viewer: v,
        active: '/runs',
        body: [
          html`<p>夜间同步：${schedule ? html`已设置，下次运行 ${when(schedule.next)}` : '尚未设置定时同步（请系统管理员启动定时任务）'}</p>`,
          may(v.role, 'change')
            ? html`<p>
                ${postButton(v, '/runs/sync', '立即同步收件箱')}
                ${postButton(v, '/runs/rematch', '重新匹配全部人员', { cls: 'secondary', confirm: '重新匹配全部记录，可能需要几分钟。继续？' })}
              </p>`
            : '',
          html`<section id="runs-live" ${going ? html`data-live="/runs"` : ''}>
            <h2>最近的作业</h2>
            ${runsTable(runs)}
            ${going ? html`<p class="muted">本页会自动刷新进度。</p>` : ''}
          </section>`,
          html`<h2>失败的作业</h2>`,
          failed.length
            ? html`<table class="runs">
                <thead><tr><th>作业</th><th>失败原因</th><th>怎么办</th><th>时间</th></tr></thead>
                <tbody>${failed.map(({ state: s }) => {
                  const f = failedStep(s) ?? s;
                  const x = explainFailure(f);
                  return html`<tr>
                    <td><a href="${runHref(s)}">${runLabel(s)}</a>${s.name === 'ingest.file' && s.about ? html` <span class="muted">${fileShown(s.about)}</span>` : ''}</td>
                    <td>${x.why}</td>
                    <td>${x.todo}</td>
                    <td>${when(s.finishedAt ?? s.createdAt)}</td>
                  </tr>`;
                })}</tbody>
              </table>`
            : html`<p class="empty">没有失败的作业</p>`,
        ],
      }),
    );
  });

  server.get('/runs/*', async (req, reply) => {
    const v = viewerOf(req);
    const ref = (req.params as { '*': string })['*'];
    // where the page sends the browser when the run ends: a page of this console only
    const then = localRedirect(z.object({ then: z.string().optional() }).parse(req.query).then);
    const run = await readRun(deps, ref);
    if (!run) return sendPage(reply, page({ title: '没有这个作业', viewer: v, active: '/runs', body: html`<p>该作业不存在或已过保留期（已完成的作业保留 30 天，失败的保留 90 天）。</p><p><a href="/runs">返回作业列表</a></p>` }), 404);
    const s = run.state;
    const finished = isFinished(s);
    const failure = failedStep(s);
    const p = progressOf(s);
    return sendPage(
      reply,
      page({
        title: `${runLabel(s)} · ${when(s.createdAt)}`,
        viewer: v,
        active: '/runs',
        body: [
          html`<section id="run" ${finished ? html`data-finished="${failure ? 'failed' : 'completed'}"` : html`data-live="${runHref(s)}"`} ${then ? html`data-done="${then}"` : ''}>
            ${html`<dl class="details">
              <dt>状态</dt><dd>${stateBadge(s.state)}</dd>
              <dt>发起</dt><dd>${starterLabel(run.requestedBy, s)}</dd>
              <dt>开始</dt><dd>${when(s.createdAt)}</dd>
              <dt>${finished ? '结束' : '已用时'}</dt><dd>${finished ? html`${when(s.finishedAt)}（用时 ${duration(runTime(s))}）` : duration(runTime(s))}</dd>
              ${finished && !failure ? html`<dt>结果</dt><dd>${summaryOf(s) || '—'}</dd>` : ''}
            </dl>`}
            ${finished
              ? html`${failureNotice(v, s)}${then && !failure ? html`<p><a class="button" href="${then}">查看结果</a></p>` : ''}`
              : html`<p>${progressBar(p.fraction)} <span class="progress-text">${p.text}</span></p>
                  <p class="muted">本页会自动刷新进度。</p>`}
            <h2>步骤</h2>
            ${stepsTable(s)}
          </section>`,
          html`<p><a href="/runs">返回作业列表</a></p>`,
        ],
      }),
    );
  });

  server.post('/runs/sync', { config: { permission: 'change' } }, async (req, reply) => {
    const v = viewerOf(req);
    const s = await runner.submitSync({ inbox: resolve(app.config.AIDLINK_INBOX), requestedBy: `console:${v.username}` });
    await audit(app.store, { actor: v.username, action: 'run_start', subject: s.id, detail: { what: 'sync' }, ip: req.ip });
    return reply.redirect(runHref(s), 303);
  });

  server.post('/runs/rematch', { config: { permission: 'change' } }, async (req, reply) => {
    const v = viewerOf(req);
    const s = await runner.submitRematch({ scope: { kind: 'all' } }, `console:${v.username}`);
    await audit(app.store, { actor: v.username, action: 'run_start', subject: s.id, detail: { what: 'rematch' }, ip: req.ip });
    return reply.redirect(runHref(s), 303);
  });
}
