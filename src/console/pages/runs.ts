/**
 * 作业: the latest runs, buttons to sync now and to re-run matching, and one run
 * followed with a progress bar until it ends.
 */
import { resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { audit } from '../../server/audit.js';
import { localRedirect } from '../../server/redirect.js';
import { may } from '../../server/users.js';
import { currentProgress, failureOf, isFinished, progressText, type JobState } from '../../jobs/runner.js';
import { html, query, type SafeHtml } from '../html.js';
import { badge, page, postButton, table, when } from '../layout.js';
import { sendPage, viewerOf, type ConsoleDeps } from '../page-kit.js';

const JOB_LABEL: Record<string, string> = {
  'sync.nightly': '夜间同步（定时）',
  'sync.scan': '扫描收件箱',
  'ingest.file': '导入文件',
  'match.run': '身份匹配',
  'spells.derive': '救助类别时段',
  'assess.run': '救助测算',
  'outreach.update': '更新外展个案',
  'report.newly-eligible': '新增应救助人员报告',
};

const STATE_LABEL: Record<string, [string, 'ok' | 'warn' | 'bad' | 'info' | 'muted']> = {
  completed: ['已完成', 'ok'],
  failed: ['失败', 'bad'],
  active: ['进行中', 'info'],
  waiting: ['排队中', 'muted'],
  'waiting-children': ['等待前序步骤', 'muted'],
  delayed: ['等待重试', 'warn'],
  prioritized: ['排队中', 'muted'],
  unknown: ['未知', 'muted'],
};

const stateBadge = (s: string) => {
  const [label, tone] = STATE_LABEL[s] ?? [s, 'info' as const];
  return badge(label, tone);
};

function stages(s: JobState, depth = 0): SafeHtml[] {
  return [
    html`<tr>
      <td style="padding-left:${8 + depth * 20}px">${JOB_LABEL[s.name] ?? s.name}${s.about ? html` <span class="muted">${s.about}</span>` : ''}</td>
      <td>${stateBadge(s.state)}${s.attempts > 1 ? html` <span class="muted">第 ${s.attempts} 次尝试</span>` : ''}</td>
      <td>${s.progress && !isFinished(s) ? progressText(s.progress) : ''}</td>
      <td>${s.finishedAt ? when(s.finishedAt) : ''}</td>
      <td>${s.error ?? ''}</td>
    </tr>`,
    ...s.children.flatMap((c) => stages(c, depth + 1)),
  ];
}

export function registerRuns(server: FastifyInstance, deps: ConsoleDeps): void {
  const { app, runner } = deps;

  server.get('/runs', async (req, reply) => {
    const v = viewerOf(req);
    const runs = await runner.list({ limit: 30 });
    const failed = await runner.list({ failed: true, limit: 20 });
    const schedule = await runner.schedule();
    return sendPage(
      reply,
      page({
        title: '作业',
        viewer: v,
        active: '/runs',
        body: [
          html`<p>夜间同步：${schedule ? `${schedule.pattern}（${schedule.tz}），下次 ${when(schedule.next)}` : '尚未设置（请运行 aidlink scheduler）'}</p>`,
          may(v.role, 'change')
            ? html`<p>
                ${postButton(v, '/runs/sync', '立即同步收件箱')}
                ${postButton(v, '/runs/rematch', '重新匹配全部人员', { cls: 'secondary', confirm: '重新匹配全部记录，可能需要几分钟。继续？' })}
              </p>`
            : '',
          html`<h2>最近的作业</h2>`,
          table(
            [
              { label: '作业', cell: (s) => html`<a href="/runs/${s.id}">${s.id.split('/')[1]}</a>` },
              { label: '内容', cell: (s) => JOB_LABEL[s.name] ?? s.name },
              { label: '状态', cell: (s) => stateBadge(s.state) },
              { label: '进度', cell: (s) => (isFinished(s) ? '' : currentProgress(s)?.text ?? '') },
              { label: '开始', cell: (s) => when(s.createdAt) },
              { label: '结束', cell: (s) => (s.finishedAt ? when(s.finishedAt) : '') },
            ],
            runs,
            '还没有作业',
          ),
          html`<h2>失败的作业</h2>`,
          table(
            [
              { label: '作业', cell: (s) => html`<a href="/runs/${s.id}">${s.id}</a>` },
              { label: '内容', cell: (s) => html`${JOB_LABEL[s.name] ?? s.name} <span class="muted">${s.about}</span>` },
              { label: '失败原因', cell: (s) => s.error ?? '' },
              { label: '时间', cell: (s) => when(s.finishedAt ?? s.createdAt) },
            ],
            failed,
            '没有失败的作业',
          ),
        ],
      }),
    );
  });

  server.get('/runs/*', async (req, reply) => {
    const v = viewerOf(req);
    const ref = (req.params as { '*': string })['*'];
    // where the page sends the browser when the run ends: a page of this console only
    const then = localRedirect(z.object({ then: z.string().optional() }).parse(req.query).then);
    const s = await runner.get(ref);
    if (!s) return sendPage(reply, page({ title: '没有这个作业', viewer: v, active: '/runs', body: html`<p>作业 ${ref} 不存在或已过保留期（已完成的保留 30 天，失败的保留 90 天）。</p>` }), 404);
    const finished = isFinished(s);
    const failure = failureOf(s);
    const p = currentProgress(s);
    return sendPage(
      reply,
      page({
        title: `作业 ${s.id.split('/')[1]}`,
        viewer: v,
        active: '/runs',
        body: [
          finished
            ? html`<p>${stateBadge(s.state)} ${failure ? html`<span class="notice error">失败于“${JOB_LABEL[failure.name] ?? failure.name}”：${failure.error ?? ''}</span>` : ''}</p>
                ${then && !failure ? html`<p><a class="button" href="${then}">查看结果</a></p>` : ''}`
            : html`<div data-job="${s.id}" ${then ? html`data-done="${then}"` : ''}>
                <p><span class="job-state">进行中</span> · <span class="progress-text">${p?.text ?? '排队等待中'}</span></p>
                <div class="progress"><div style="width:${Math.round((p?.fraction ?? 0) * 100)}%"></div></div>
                <p class="muted">本页会自动刷新进度。</p>
              </div>`,
          html`<h2>步骤</h2>
            <table><thead><tr><th>步骤</th><th>状态</th><th>进度</th><th>结束</th><th>说明</th></tr></thead><tbody>${stages(s)}</tbody></table>`,
        ],
      }),
    );
  });

  server.post('/runs/sync', { config: { permission: 'change' } }, async (req, reply) => {
    const v = viewerOf(req);
    const s = await runner.submitSync({ inbox: resolve(app.config.AIDLINK_INBOX), requestedBy: `console:${v.username}` });
    await audit(app.store, { actor: v.username, action: 'run_start', subject: s.id, detail: { what: 'sync' }, ip: req.ip });
    return reply.redirect(`/runs/${s.id}`, 303);
  });

  server.post('/runs/rematch', { config: { permission: 'change' } }, async (req, reply) => {
    const v = viewerOf(req);
    const s = await runner.submitRematch({ scope: { kind: 'all' } }, `console:${v.username}`);
    await audit(app.store, { actor: v.username, action: 'run_start', subject: s.id, detail: { what: 'rematch' }, ip: req.ip });
    return reply.redirect(`/runs/${s.id}${query({})}`, 303);
  });
}
