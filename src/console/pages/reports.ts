/**
 * 报告: the reports of newly eligible people, each downloadable as Excel or CSV
 * (every download audited), a button to make the next one now, and — for a
 * supervisor — a download with id numbers shown in full (audited as unmasking).
 */
import { mkdirSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { audit } from '../../server/audit.js';
import { authOf } from '../../server/auth.js';
import { disclosureFor, may } from '../../server/users.js';
import { reportsDir } from '../../jobs/handlers.js';
import { reportItems, writeNewlyEligibleReport } from '../../report/newly-eligible.js';
import { writeNewlyEligibleCsv, writeNewlyEligibleXlsx } from '../../report/formats.js';
import { countyStamp } from '../../util/time.js';
import { html } from '../html.js';
import { page, postButton, table, when, yuan } from '../layout.js';
import { sendPage, viewerOf, type ConsoleDeps } from '../page-kit.js';
import { starterLabel } from './runs.js';

const CONTENT_TYPE = { xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', csv: 'text/csv; charset=utf-8' } as const;

export function registerReports(server: FastifyInstance, deps: ConsoleDeps): void {
  const { app } = deps;
  const store = app.store;

  server.get('/reports', async (req, reply) => {
    const v = viewerOf(req);
    const runs = await store.k.selectFrom('report_run').selectAll().where('kind', '=', 'newly-eligible').orderBy('id', 'desc').limit(100).execute();
    const newPersons = await store.k
      .selectFrom('report_item')
      .select(['report_run_id'])
      .select((eb) => eb.fn.count<number>('person_id').distinct().as('n'))
      .where('new_person', '=', true)
      .groupBy('report_run_id')
      .execute();
    const fresh = new Map(newPersons.map((r) => [r.report_run_id, Number(r.n)]));
    const canChange = may(v.role, 'change');
    const canUnmask = may(v.role, 'unmask');
    return sendPage(
      reply,
      page({
        title: '新增应救助人员报告',
        viewer: v,
        active: '/reports',
        done: (req.query as { done?: string }).done,
        body: [
          html`<p class="muted">每份报告列出自上一份报告以来首次出现的未申请、救助不足、高额负担和疑似因病致贫标记，按乡镇、村分组；此前已报告过的人员再次出现时标为“非新增”。每晚同步后自动生成。</p>`,
          canChange ? html`<p>${postButton(v, '/reports', '立即生成下一份报告')}</p>` : '',
          table(
            [
              { label: '编号', cell: (r) => r.id, num: true },
              { label: '生成时间', cell: (r) => when(r.created_at) },
              { label: '数据截至', cell: (r) => r.data_as_of ?? '—' },
              { label: '人数', cell: (r) => r.persons, num: true },
              { label: '新增人员', cell: (r) => fresh.get(r.id) ?? 0, num: true },
              { label: '标记数', cell: (r) => r.flags, num: true },
              { label: '预计金额（元）', cell: (r) => yuan(r.total), num: true },
              { label: '生成人', cell: (r) => starterLabel(r.requested_by) },
              {
                label: '下载',
                cell: (r) =>
                  canChange
                    ? html`<a href="/reports/${r.id}.xlsx">Excel</a> · <a href="/reports/${r.id}.csv">CSV</a>${canUnmask ? html` · <a href="/reports/${r.id}.xlsx?unmasked=1">Excel（完整身份证号）</a>` : ''}`
                    : html`<span class="muted">需经办权限</span>`,
              },
            ],
            runs,
            '还没有报告',
          ),
        ],
      }),
    );
  });

  server.post('/reports', { config: { permission: 'change' } }, async (req, reply) => {
    const v = viewerOf(req);
    const r = await writeNewlyEligibleReport(store, { dir: reportsDir(app), requestedBy: `console:${v.username}`, county: app.policy.county });
    await audit(store, { actor: v.username, action: 'export', subject: `report:${r.runId}`, detail: { what: 'newly-eligible', flags: r.flags }, ip: req.ip });
    return reply.redirect('/reports?done=report', 303);
  });

  // a report is written again from what it held, masked or (for a supervisor) not; every download is audited
  server.get('/reports/:file', { config: { permission: 'change' } }, async (req, reply) => {
    const { file } = z.object({ file: z.string().regex(/^\d+\.(xlsx|csv)$/) }).parse(req.params);
    const [id, format] = file.split('.') as [string, 'xlsx' | 'csv'];
    const unmasked = z.object({ unmasked: z.literal('1').optional() }).parse(req.query).unmasked === '1';
    const who = authOf(req).user;
    if (unmasked && !may(who.role, 'unmask')) return reply.code(403).type('text/plain; charset=utf-8').send('权限不足：查看完整身份证号需要“主管”权限');
    const report = await reportItems(store, Number(id), disclosureFor(who.role, unmasked));
    if (!report) return reply.code(404).type('text/plain; charset=utf-8').send('没有这份报告');
    const dir = resolve(join(app.config.AIDLINK_DATA_DIR, 'uploads'));
    mkdirSync(dir, { recursive: true });
    const tmp = join(dir, `report-${randomUUID()}.${format}`);
    await (format === 'xlsx' ? writeNewlyEligibleXlsx(report, tmp, { county: app.policy.county }) : writeNewlyEligibleCsv(report, tmp));
    const body = await readFile(tmp);
    await rm(tmp, { force: true });
    await audit(store, { actor: who.username, action: unmasked ? 'unmask' : 'download', subject: `report:${id}`, detail: { format, unmasked }, ip: req.ip });
    const name = `新增应救助人员_${countyStamp(report.createdAt)}_${id}${unmasked ? '_完整身份证号' : ''}.${format}`;
    return reply
      .type(CONTENT_TYPE[format])
      .header('Content-Disposition', `attachment; filename="report-${id}.${format}"; filename*=UTF-8''${encodeURIComponent(name)}`)
      .send(body);
  });
}
