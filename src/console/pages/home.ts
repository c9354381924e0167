/** 首页: what needs attention today — files held back, rows waiting for review, open cases, the latest runs. */
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { countReviewRows } from '../../match/review.js';
import { CASE_STATUS_LABEL } from '../../outreach/cases.js';
import type { CaseStatus } from '../../db/schema.js';
import { html } from '../html.js';
import { page, table, when, yuan } from '../layout.js';
import { latestRuns, runsTable } from './runs.js';
import { sendPage, viewerOf, type ConsoleDeps } from '../page-kit.js';

export function registerHome(server: FastifyInstance, deps: ConsoleDeps): void {
  const { app } = deps;
  const store = app.store;

  server.get('/', async (req, reply) => {
    const v = viewerOf(req);
    const counts = (
      await sql<{ quarantined: number; rejected: number; as_of: string | null; open_flags: number }>`
        select (select count(*)::int from delivery where status = 'quarantined') as quarantined,
               (select count(*)::int from delivery where status = 'rejected') as rejected,
               (select max(as_of)::text from delivery where status = 'accepted') as as_of,
               (select count(*)::int from flag where withdrawn_at is null) as open_flags`.execute(store.k)
    ).rows[0]!;
    const review = await countReviewRows(store.k);
    const cases = await store.k.selectFrom('outreach_case').select(['status']).select((eb) => [eb.fn.countAll<number>().as('n'), eb.fn.sum<number>('amount').as('amount')]).groupBy('status').execute();
    const latestReport = await store.k.selectFrom('report_run').selectAll().orderBy('id', 'desc').executeTakeFirst();
    // queued and in-process runs alike (a sync from the command line too), as the runs page lists them
    const runs = (await latestRuns(deps, { limit: 6 })).filter((r) => r.state.name !== 'sync.nightly').slice(0, 5);
    const card = (value: unknown, label: string, href: string) => html`<a class="card" href="${href}"><div class="value">${value}</div><div class="label">${label}</div></a>`;
    return sendPage(
      reply,
      page({
        title: '首页',
        viewer: v,
        active: '/',
        body: [
          html`<p>数据截至 <strong>${counts.as_of ?? '—'}</strong>。</p>`,
          html`<div class="cards">
            ${card(counts.quarantined, '待核实的名册', '/deliveries')}
            ${card(counts.rejected, '被拒收的文件', '/deliveries')}
            ${card(review, '待人工核对的记录', '/review')}
            ${card(counts.open_flags, '当前标记', '/worklist')}
          </div>`,
          html`<h2>外展个案</h2>`,
          table(
            [
              { label: '状态', cell: (c) => CASE_STATUS_LABEL[c.status as CaseStatus] ?? c.status },
              { label: '个案数', cell: (c) => Number(c.n), num: true },
              { label: '金额（元）', cell: (c) => yuan(Number(c.amount ?? 0)), num: true },
            ],
            cases,
            '还没有外展个案',
          ),
          html`<h2>最新报告</h2>`,
          latestReport
            ? html`<p><a href="/reports">第 ${latestReport.id} 号报告</a>，${when(latestReport.created_at)} 生成：${latestReport.persons} 人，${latestReport.flags} 项，预计 ${yuan(latestReport.total)} 元。</p>`
            : html`<p class="empty">还没有报告</p>`,
          html`<h2>最近的作业</h2>`,
          runsTable(runs),
        ],
      }),
    );
  });
}
