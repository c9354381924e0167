/** 审计日志: who saw or took what, for supervisors and admins. */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { listAudit, type AuditAction } from '../../server/audit.js';
import { html } from '../html.js';
import { page, table, when } from '../layout.js';
import { sendPage, viewerOf, type ConsoleDeps } from '../page-kit.js';

export const AUDIT_LABEL: Record<AuditAction, string> = {
  sign_in: '登录',
  sign_in_refused: '登录被拒',
  sign_in_locked: '账户暂时锁定（登录失败过多）',
  sign_out: '退出',
  unmask: '查看完整身份证号',
  export: '导出',
  download: '下载',
  upload: '上传文件',
  quarantine_release: '放行名册',
  quarantine_discard: '作废名册',
  link_confirm: '确认同一人',
  link_reject: '确认非同一人',
  case_update: '更新个案',
  run_start: '启动作业',
  user_change: '修改用户',
};

const filters = z.object({ action: z.enum(Object.keys(AUDIT_LABEL) as [AuditAction, ...AuditAction[]]).optional(), actor: z.string().max(64).optional() });

export function registerAudit(server: FastifyInstance, deps: ConsoleDeps): void {
  server.get('/audit', { config: { permission: 'audit' } }, async (req, reply) => {
    const v = viewerOf(req);
    const f = filters.parse(req.query);
    const rows = await listAudit(deps.app.store, { ...(f.action ? { action: f.action } : {}), ...(f.actor ? { actor: f.actor } : {}), limit: 500 });
    return sendPage(
      reply,
      page({
        title: '审计日志',
        viewer: v,
        active: '/audit',
        body: [
          html`<form method="get" action="/audit" class="form-row">
            <label for="action">操作</label>
            <select id="action" name="action"><option value="">全部</option>${Object.entries(AUDIT_LABEL).map(([k, label]) => html`<option value="${k}" ${f.action === k ? 'selected' : ''}>${label}</option>`)}</select>
            <label for="actor">用户</label><input id="actor" name="actor" value="${f.actor ?? ''}" />
            <button type="submit" class="secondary">筛选</button>
          </form>`,
          table(
            [
              { label: '时间', cell: (r) => when(r.at) },
              { label: '用户', cell: (r) => r.actor },
              { label: '操作', cell: (r) => AUDIT_LABEL[r.action as AuditAction] ?? r.action },
              { label: '对象', cell: (r) => r.subject ?? '' },
              { label: '详情', cell: (r) => (r.detail ? JSON.stringify(r.detail) : '') },
              { label: '地址', cell: (r) => r.ip ?? '' },
            ],
            rows,
            '没有记录',
          ),
          html`<p class="muted">最多显示最近 500 条。</p>`,
        ],
      }),
    );
  });
}
