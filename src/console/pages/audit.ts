/**
 * 审计日志: who saw or took what, for supervisors and admins, each entry as a Chinese
 * sentence ("张** 的完整身份证号已查看（理由：核对报销）"). Entries name persons and rows
 * by id only (server/audit.ts); the page looks their names up and shows them masked, so
 * that the log never shows more personal data than a masked list does.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Store } from '../../db/store.js';
import { localRunOf } from '../../jobs/record.js';
import { CASE_STATUS_LABEL } from '../../outreach/cases.js';
import { maskName, scrubText } from '../../privacy.js';
import { listAudit, type AuditAction } from '../../server/audit.js';
import { ROLE_LABEL } from '../../server/users.js';
import { html, type SafeHtml } from '../html.js';
import { page, table, when } from '../layout.js';
import { sendPage, viewerOf, type ConsoleDeps } from '../page-kit.js';
import { runLabel, starterLabel, STATE_LABEL } from './runs.js';

export const AUDIT_LABEL: Record<AuditAction, string> = {
  sign_in: '登录',
  sign_in_refused: '登录被拒',
  sign_in_locked: '账户暂时锁定（登录失败过多）',
  sign_out: '退出',
  unmask: '查看完整身份证号',
  unmask_refused: '查看完整身份证号被拒绝（无权限）',
  export: '导出',
  download: '下载',
  upload: '上传文件',
  quarantine_release: '放行名册',
  quarantine_discard: '作废名册',
  link_confirm: '确认同一人',
  link_reject: '确认非同一人',
  case_update: '更新个案',
  run_start: '启动作业',
  run_local: '本机运行作业（命令行）',
  user_change: '修改用户',
};

const filters = z.object({ action: z.enum(Object.keys(AUDIT_LABEL) as [AuditAction, ...AuditAction[]]).optional(), actor: z.string().max(64).optional() });

type Row = Awaited<ReturnType<typeof listAudit>>[number];

/** The masked names of the persons and rows the entries name, looked up once for the page. */
interface Names {
  person: Map<number, string>;
  row: Map<string, string>;
}

async function namesFor(store: Store, rows: Row[]): Promise<Names> {
  const persons = new Set<number>();
  const rowRefs: [number, number][] = [];
  for (const r of rows) {
    const s = r.subject ?? '';
    let m = /^person:(\d+)$/.exec(s);
    if (m) persons.add(Number(m[1]));
    m = /^row:(\d+):(\d+)$/.exec(s);
    if (m) rowRefs.push([Number(m[1]), Number(m[2])]);
    const d = detailOf(r);
    if (typeof d.person === 'number') persons.add(d.person);
  }
  const person = new Map<number, string>();
  const ids = [...persons].filter((id) => id > 0 && id <= 2_147_483_647);
  if (ids.length) for (const p of await store.k.selectFrom('person').select(['id', 'name']).where('id', 'in', ids).execute()) person.set(p.id, maskName(p.name));
  const row = new Map<string, string>();
  const refs = rowRefs.filter(([d, n]) => d <= 2_147_483_647 && n <= 2_147_483_647).slice(0, 500);
  if (refs.length) {
    const found = await store.k
      .selectFrom('source_row')
      .select(['delivery_id', 'row_no', 'name'])
      .where((eb) => eb.or(refs.map(([d, n]) => eb.and([eb('delivery_id', '=', d), eb('row_no', '=', n)]))))
      .execute();
    for (const f of found) row.set(`${f.delivery_id}:${f.row_no}`, maskName(f.name));
  }
  return { person, row };
}

function detailOf(r: Row): Record<string, unknown> {
  const d = typeof r.detail === 'string' ? (() => { try { return JSON.parse(r.detail as string) as unknown; } catch { return null; } })() : r.detail;
  return d && typeof d === 'object' && !Array.isArray(d) ? (d as Record<string, unknown>) : {};
}

/** Who did it: a user's name, or where a command came from. */
export function actorLabel(actor: string): string {
  if (actor.startsWith('cli:')) return `${actor.slice(4)}（命令行）`;
  if (actor === 'schedule') return '夜间定时';
  return actor;
}

const FORMAT: Record<string, string> = { csv: 'CSV', xlsx: 'XLSX', pdf: 'PDF' };
const EXPORT_KIND: Record<string, string> = {
  links: '人员关联表',
  persons: '人员索引',
  spells: '救助身份时段',
  entitlements: '应救助金额',
  flags: '待跟进标记',
  'person-flags': '人员标记汇总',
  worklist: '待办清单',
};
const reasonOf = (d: Record<string, unknown>) => (typeof d.reason === 'string' && d.reason.trim() ? `（理由：${scrubText(d.reason.trim()).slice(0, 200)}）` : '');

/** Whom or what an entry is about, as words (and a link where there is a page). */
function subjectOf(r: Row, names: Names): SafeHtml | string {
  const s = r.subject ?? '';
  let m: RegExpExecArray | null;
  if ((m = /^person:(\d+)$/.exec(s))) return html`<a href="/persons/${m[1]}">${names.person.get(Number(m[1])) || '人员'}（人员编号 ${m[1]}）</a>`;
  if ((m = /^row:(\d+):(\d+)$/.exec(s))) return html`<a href="/review/${m[1]}/${m[2]}">${names.row.get(`${m[1]}:${m[2]}`) || '记录'}（文件 ${m[1]} 第 ${m[2]} 行）</a>`;
  if ((m = /^report:(\d+)$/.exec(s))) return html`<a href="/reports">第 ${m[1]} 期新增应救助人员报告</a>`;
  if ((m = /^delivery:(\d+)$/.exec(s))) return html`<a href="/deliveries/${m[1]}">数据文件 ${m[1]}</a>`;
  if ((m = /^case:(\d+)$/.exec(s))) return html`<a href="/cases/${m[1]}">个案 ${m[1]}</a>`;
  if ((m = /^user:(.+)$/.exec(s))) return `用户 ${m[1]}`;
  if (r.action === 'run_start' || r.action === 'run_local') return '';
  if (EXPORT_KIND[s]) return EXPORT_KIND[s];
  return s;
}

/** The entry as a sentence, without raw data: what was done, to whom (masked), why. */
export function sentenceOf(r: Row, names: Names): string {
  const d = detailOf(r);
  const s = r.subject ?? '';
  const who = (() => {
    let m = /^person:(\d+)$/.exec(s);
    if (m) return `${names.person.get(Number(m[1])) || '人员'}（人员编号 ${m[1]}）`;
    m = /^row:(\d+):(\d+)$/.exec(s);
    if (m) return `${names.row.get(`${m[1]}:${m[2]}`) || '记录'}（文件 ${m[1]} 第 ${m[2]} 行）`;
    return '';
  })();
  const report = /^report:(\d+)$/.exec(s)?.[1];
  const format = typeof d.format === 'string' ? FORMAT[d.format] ?? '' : '';
  const rows = typeof d.rows === 'number' ? `，共 ${d.rows} 行` : '';
  switch (r.action as AuditAction) {
    case 'sign_in':
      return '登录控制台';
    case 'sign_out':
      return '退出登录';
    case 'sign_in_refused':
      return d.reason === 'throttled' ? `登录失败次数过多，暂不允许登录${d.via === 'basic' ? '（接口）' : ''}` : `用户名或密码不正确，登录被拒${d.via === 'basic' ? '（接口）' : ''}`;
    case 'sign_in_locked':
      return `登录失败次数过多，账户锁定${typeof d.minutes === 'number' ? ` ${d.minutes} 分钟` : ''}`;
    case 'unmask':
      if (who) return `${who} 的完整身份证号已查看${reasonOf(d)}`;
      if (report) return `下载第 ${report} 期新增应救助人员报告，含完整身份证号${format ? `（${format}）` : ''}${reasonOf(d)}`;
      if (s === 'persons') return `导出人员索引，含完整身份证号${rows}`;
      return `查看了完整身份证号${reasonOf(d)}`;
    case 'unmask_refused':
      return `${who || '记录'} 的完整身份证号：该用户无权查看，已拒绝`;
    case 'export':
      if (report) return `生成第 ${report} 期新增应救助人员报告${typeof d.flags === 'number' ? `（${d.flags} 条标记）` : ''}`;
      if (/^delivery:/.test(s)) return `导出数据文件 ${s.slice(9)} 的问题清单${format ? `（${format}）` : ''}`;
      return `导出${EXPORT_KIND[s] ?? '数据'}${rows}`;
    case 'download':
      return report ? `下载第 ${report} 期新增应救助人员报告${format ? `（${format}）` : ''}，身份证号已隐去` : '下载文件';
    case 'upload':
      return `上传文件 ${s}`;
    case 'quarantine_release':
      return `放行暂扣的数据文件 ${s.replace(/^delivery:/, '')}，数据已生效`;
    case 'quarantine_discard':
      return `作废暂扣的数据文件 ${s.replace(/^delivery:/, '')}`;
    case 'link_confirm':
      return `确认${who || '该记录'}与人员编号 ${typeof d.person === 'number' ? `${d.person}（${names.person.get(d.person) || '—'}）` : '—'}是同一人`;
    case 'link_reject':
      return `确认${who || '该记录'}与人员编号 ${typeof d.person === 'number' ? `${d.person}（${names.person.get(d.person) || '—'}）` : '—'}不是同一人`;
    case 'case_update': {
      const label = (v: unknown) => (typeof v === 'string' ? (CASE_STATUS_LABEL as Record<string, string>)[v] ?? '其他状态' : '');
      const c = s.replace(/^case:/, '个案 ');
      if (d.note) return `${c} 添加备注`;
      if (d.from && d.to) return `${c} 状态由“${label(d.from)}”改为“${label(d.to)}”`;
      if (d.to) return `${c} 状态改为“${label(d.to)}”`;
      return `${c} 已更新`;
    }
    case 'run_start': {
      const scope = d.scope && typeof d.scope === 'object' ? (d.scope as { kind?: string }).kind : undefined;
      if (d.what === 'rematch' || scope) return `启动重新匹配（${scope === 'person' ? '一个人员' : scope === 'file' ? '一个文件' : scope === 'new' ? '新记录' : '全部记录'}）${d.reestimate ? '，并重新估计匹配模型' : ''}`;
      return '启动同步收件箱';
    }
    case 'run_local':
      return '';
    case 'user_change': {
      const u = s.replace(/^user:/, '');
      const role = (v: unknown) => (typeof v === 'string' ? (ROLE_LABEL as Record<string, string>)[v] ?? '其他' : '');
      const parts: string[] = [];
      if (d.added) parts.push(`添加用户 ${u}（角色：${role(d.added)}）`);
      if (d.password) parts.push(`修改用户 ${u} 的密码`);
      if (d.role) parts.push(`用户 ${u} 的角色改为“${role(d.role)}”`);
      if (d.disabled === true) parts.push(`停用用户 ${u}`);
      if (d.disabled === false) parts.push(`启用用户 ${u}`);
      return parts.join('；') || `修改用户 ${u}`;
    }
    default:
      return '';
  }
}

/** A run recorded in the log: its kind, how it ended, with a link to its steps. */
function runSentence(r: Row): SafeHtml | string {
  if (r.action === 'run_local') {
    const run = localRunOf(r);
    if (!run) return '本机运行了一个作业';
    return html`${starterLabel(run.requestedBy, run.state)}运行了<a href="/runs/${run.state.id}">${runLabel(run.state)}</a>：${(STATE_LABEL[run.state.state] ?? ['结束'])[0]}`;
  }
  const text = sentenceOf(r, { person: new Map(), row: new Map() });
  return r.subject ? html`<a href="/runs/${r.subject}">${text}</a>` : text;
}

export function registerAudit(server: FastifyInstance, deps: ConsoleDeps): void {
  server.get('/audit', { config: { permission: 'audit' } }, async (req, reply) => {
    const v = viewerOf(req);
    const f = filters.parse(req.query);
    const rows = await listAudit(deps.app.store, { ...(f.action ? { action: f.action } : {}), ...(f.actor ? { actor: f.actor } : {}), limit: 500 });
    const names = await namesFor(deps.app.store, rows);
    const runs = new Map<number, SafeHtml | string>();
    for (const r of rows) if (r.action === 'run_local' || r.action === 'run_start') runs.set(r.id, runSentence(r));
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
              { label: '用户', cell: (r) => actorLabel(r.actor) },
              { label: '操作', cell: (r) => AUDIT_LABEL[r.action as AuditAction] ?? '其他操作' },
              { label: '对象', cell: (r) => subjectOf(r, names) },
              { label: '详情', cell: (r) => runs.get(r.id) ?? sentenceOf(r, names) },
              { label: '地址', cell: (r) => r.ip ?? '' },
            ],
            rows,
            '没有记录',
          ),
          html`<p class="muted">最多显示最近 500 条。姓名已隐去部分字。</p>`,
        ],
      }),
    );
  });
}
