/**
 * The console's page shell and the small pieces every page uses: navigation by
 * role, forms that carry the CSRF token, tables, amounts in yuan, dates in county
 * time. Chinese throughout: the bureau's staff read it.
 */
import type { AppRole, SourceKey } from '../db/schema.js';
import { formatYuan } from '../ingest/normalise/money.js';
import { countyTime } from '../util/time.js';
import { isTownship, may, ROLE_LABEL, type Permission } from '../server/users.js';
import { html, type SafeHtml } from './html.js';

export interface Viewer {
  username: string;
  role: AppRole;
  csrfToken: string;
  /** township staff's township: the only cases they see */
  township?: string | undefined;
}

/** The console's name as staff read it (in Chinese: the product's name aidlink is for the technical side). */
const BRAND = '医疗救助主动发现';

const NAV: { href: string; label: string; permission: Permission }[] = [
  { href: '/', label: '首页', permission: 'view' },
  { href: '/deliveries', label: '数据文件', permission: 'view' },
  { href: '/review', label: '身份核对', permission: 'view' },
  { href: '/persons', label: '人员查询', permission: 'view' },
  { href: '/worklist', label: '外展工作台', permission: 'view' },
  { href: '/reports', label: '报告', permission: 'view' },
  { href: '/stats', label: '统计', permission: 'view' },
  { href: '/runs', label: '作业', permission: 'view' },
  { href: '/audit', label: '审计日志', permission: 'audit' },
];

/** Township staff have one page (server/auth.ts TOWNSHIP_ROUTES): their township's worklist. */
const TOWNSHIP_NAV: readonly { href: string; label: string }[] = [{ href: '/worklist', label: '外展工作台' }];

/** Fixed messages shown after a redirect (`?done=…`): a link cannot put words of its own on the page. */
export const DONE_MESSAGE: Record<string, string> = {
  released: '已放行该名册，数据已生效。',
  discarded: '已作废该名册。',
  confirmed: '已确认为同一人，已生效；相关人员的救助身份和应救助金额正在重算。',
  rejected: '已确认不是同一人，已生效；相关人员的救助身份和应救助金额正在重算。',
  // a match run held the lock: it or the next one applies the decision
  confirmed_later: '已记录“是同一人”。匹配作业正在运行，该决定将在匹配完成后生效。',
  rejected_later: '已记录“不是同一人”。匹配作业正在运行，该决定将在匹配完成后生效。',
  case: '个案已更新。',
  noted: '备注已保存。',
  report: '报告已生成。',
  signed_out: '已退出登录。',
};

/** A whole page. `body` is rendered as `html` renders a value: markup built with `html`, text escaped. */
export function page(opts: { title: string; viewer?: Viewer; active?: string; body: unknown; done?: string | undefined; error?: string | undefined }): string {
  const v = opts.viewer;
  const nav = v
    ? html`<nav class="top">
        <span class="brand">${BRAND}</span>
        ${(isTownship(v.role) ? TOWNSHIP_NAV : NAV.filter((n) => may(v.role, n.permission))).map((n) => html`<a href="${n.href}" class="${n.href === opts.active ? 'active' : ''}">${n.label}</a>`)}
        ${may(v.role, 'operations') ? html`<a href="${may(v.role, 'admin') ? '/admin/queues' : '/ops/queues'}">队列监控</a>` : ''}
        <span class="user">${v.username}（${ROLE_LABEL[v.role]}）
          <form method="post" action="/logout" class="inline">${csrfField(v)}<button type="submit" class="link">退出</button></form>
        </span>
      </nav>`
    : html`<nav class="top"><span class="brand">${BRAND}</span></nav>`;
  const done = opts.done ? DONE_MESSAGE[opts.done] : undefined;
  return (
    '<!doctype html>' +
    html`<html lang="zh-CN">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${opts.title} · ${BRAND}</title>
        <link rel="stylesheet" href="/assets/console.css" />
        <script src="/assets/console.js" defer></script>
      </head>
      <body>
        ${nav}
        <main>
          <h1>${opts.title}</h1>
          ${done ? html`<p class="notice ok" role="status">${done}</p>` : ''}
          ${opts.error ? html`<p class="notice error" role="alert">${opts.error}</p>` : ''}
          ${opts.body}
        </main>
      </body>
    </html>`.value
  );
}

export function csrfField(v: Viewer): SafeHtml {
  return html`<input type="hidden" name="_csrf" value="${v.csrfToken}" />`;
}

/** A button that posts to `action` (a change: only shown to those who may make it). */
export function postButton(v: Viewer, action: string, label: string, opts: { fields?: Record<string, string | number>; confirm?: string; cls?: string } = {}): SafeHtml {
  return html`<form method="post" action="${action}" class="inline" ${opts.confirm ? html`data-confirm="${opts.confirm}"` : ''}>
    ${csrfField(v)}${Object.entries(opts.fields ?? {}).map(([k, val]) => html`<input type="hidden" name="${k}" value="${val}" />`)}
    <button type="submit" class="${opts.cls ?? ''}">${label}</button>
  </form>`;
}

export interface Column<T> {
  label: string;
  cell: (row: T) => unknown;
  /** numbers right-aligned */
  num?: boolean;
}

export function table<T>(columns: Column<T>[], rows: readonly T[], empty = '没有记录'): SafeHtml {
  if (rows.length === 0) return html`<p class="empty">${empty}</p>`;
  return html`<table>
    <thead><tr>${columns.map((c) => html`<th class="${c.num ? 'num' : ''}">${c.label}</th>`)}</tr></thead>
    <tbody>${rows.map((r) => html`<tr>${columns.map((c) => html`<td class="${c.num ? 'num' : ''}">${c.cell(r)}</td>`)}</tr>`)}</tbody>
  </table>`;
}

/** Key–value pairs, for a record's details. */
export function details(pairs: [string, unknown][]): SafeHtml {
  return html`<dl class="details">${pairs.map(([k, val]) => html`<dt>${k}</dt><dd>${val === null || val === undefined || val === '' ? '—' : val}</dd>`)}</dl>`;
}

/** A delivered file as staff know it: its name, without the inbox's folder (`civil/…` is ours, not theirs). */
export const fileShown = (file: string): string => file.split('/').pop() ?? file;

export const yuan = (fen: number | null | undefined): string => (fen === null || fen === undefined ? '—' : `${formatYuan(Number(fen))}`);
export const when = (d: Date | string | null | undefined): string => (d ? countyTime(typeof d === 'string' ? new Date(d) : d) : '—');
export const percent = (x: number | null): string => (x === null ? '—' : `${(x * 100).toFixed(1)}%`);

export function badge(text: string, tone: 'ok' | 'warn' | 'bad' | 'info' | 'muted' = 'info'): SafeHtml {
  return html`<span class="badge ${tone}">${text}</span>`;
}

export const DELIVERY_STATUS_LABEL: Record<string, [string, 'ok' | 'warn' | 'bad' | 'info' | 'muted']> = {
  staged: ['导入中', 'info'],
  accepted: ['已接收', 'ok'],
  quarantined: ['待核实（已暂扣）', 'warn'],
  rejected: ['已拒收', 'bad'],
  discarded: ['已作废', 'muted'],
  superseded: ['已被替代', 'muted'],
};

export const SOURCE_LABEL: Record<SourceKey, string> & Record<string, string> = {
  civil: '民政（低保、特困等）',
  rural: '乡村振兴（脱贫、监测对象）',
  disability: '残联（残疾人证）',
  settlement: '医保结算明细',
  death: '卫健（死亡人员名单）',
};

/** Paging links for a list: ?page=N. */
export function pager(base: string, pageNo: number, hasMore: boolean, params: Record<string, string | undefined> = {}): SafeHtml {
  const link = (n: number) => `${base}?${new URLSearchParams({ ...Object.fromEntries(Object.entries(params).filter(([, v]) => v)), page: String(n) } as Record<string, string>).toString()}`;
  return html`<p class="pager">
    ${pageNo > 1 ? html`<a href="${link(pageNo - 1)}">上一页</a>` : ''}
    <span>第 ${pageNo} 页</span>
    ${hasMore ? html`<a href="${link(pageNo + 1)}">下一页</a>` : ''}
  </p>`;
}
