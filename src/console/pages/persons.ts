/**
 * 人员查询: find a person by one search box (part of a name, a phone or id number by its
 * last digits, a person number: console/person-search.ts); and one person's page: the
 * golden record, the source rows linked to them, their category spells (with a
 * timeline), their settlements with the calculation, their flags and outreach cases.
 *
 * Id numbers are masked unless a supervisor asks (`?unmask=1&reason=…`, a reason is
 * required), and every unmasked view is audited with its reason; a role that may not
 * unmask asking to gets 403, audited too; phones are masked for viewers (server/users.ts `disclosureFor`, the one
 * rule). The helpers for that are shared with the review and worklist pages.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { sql, type Selectable } from 'kysely';
import { z } from 'zod';
import { FLAG_LABEL, REASON_LABEL, WITHDRAWN_LABEL } from '../../assess/labels.js';
import { calculationSteps, storedCalculation } from '../../assess/steps.js';
import type { CaseStatus, EntitlementTable, FlagTable, GoldenField, IdStatus, SpellTable } from '../../db/schema.js';
import type { Store } from '../../db/store.js';
import { CASE_STATUS_LABEL } from '../../outreach/cases.js';
import { CATEGORIES, CATEGORY_LABEL } from '../../policy/policy.js';
import { scrubText, shownAs } from '../../privacy.js';
import { audit } from '../../server/audit.js';
import { disclosureFor, may, ROLE_LABEL } from '../../server/users.js';
import { html, query, type SafeHtml } from '../html.js';
import { badge, csrfField, details, fileShown, page, SOURCE_LABEL, table, when, yuan, type Viewer } from '../layout.js';
import { sendPage, viewerOf, type ConsoleDeps } from '../page-kit.js';
import { findPersons, MAX_PERSON_ID, MAX_RESULTS, MIN_NAME_CHARS, MIN_TAIL_DIGITS, readSearch, type MatchKind, type ReadSearch } from '../person-search.js';

// ---------------------------------------------------------------------------
// Shared with review.ts: labels, masking, golden fields
// ---------------------------------------------------------------------------

export const GENDER_LABEL: Record<string, string> = { M: '男', F: '女' };

/** How a row came to its person (the Chinese half of match/explain.ts, which does not export it). */
export const METHOD_LABEL: Record<string, string> = {
  id: '身份证号一致（确定性关联）',
  cert_id: '残疾人证号中的身份证号一致（确定性关联）',
  insurance_no: '医保人员编号一致（确定性关联）',
  scored: '按多项信息评分关联',
  new: '无匹配对象，建立新人员',
  staff: '工作人员确认',
  pending: '尚未匹配',
};

/** What is wrong with an id number as the file gave it; nothing to say for a valid one. */
export const ID_STATUS_NOTE: Record<IdStatus, string> = {
  valid: '',
  legacy15: '15 位旧号，已转换',
  checksum_failed: '校验位错误',
  masked: '原文件已隐去部分数字',
  spreadsheet_damaged: '表格损坏，仅余前几位',
  missing: '未填写',
  malformed: '格式不正确',
};

export const categoryLabel = (c: string | null | undefined): string => (c ? ((CATEGORY_LABEL as Record<string, string>)[c] ?? c) : '—');

export const localPercent = (p: number | null | undefined): string => (typeof p === 'number' ? `${(p * 100).toFixed(1)}%` : '—');

/** Id numbers and phones as this request may see them. */
export interface Reveal {
  /** the viewer may unmask and asked to, with a reason: values are shown in full */
  unmasked: boolean;
  canUnmask: boolean;
  /** asked to unmask without a reason (or from another site): the form asks for one */
  needsReason: boolean;
  /** the reason given, as audited */
  reason?: string;
  id(v: string | null | undefined): string;
  phone(v: string | null | undefined): string;
}

const unmaskQuery = z.object({ unmask: z.string().optional(), reason: z.string().optional() });
const REASON_MIN = 2;
const REASON_MAX = 200;

/** What a request asks: to unmask, and why (scrubbed: the log holds no id number or phone, whatever is typed). */
function unmaskAsked(req: FastifyRequest): { asked: boolean; reason: string | undefined } {
  const q = unmaskQuery.safeParse(req.query).data;
  const asked = q?.unmask === '1';
  const reason = q?.reason ? scrubText(q.reason.replace(/\s+/g, ' ').trim()) : '';
  // a link from another site cannot unmask on a signed-in supervisor's behalf
  const site = req.headers['sec-fetch-site'];
  const sameSite = !site || site === 'same-origin' || site === 'none';
  return { asked, reason: sameSite && reason.length >= REASON_MIN ? reason.slice(0, REASON_MAX) : undefined };
}

/**
 * Id numbers in full only for those who may unmask and asked with `?unmask=1` and a
 * reason (`&reason=…`); every such view is written to the audit log under `subject`, with
 * the reason. Those who may not unmask never get here asking: the pages that unmask refuse
 * them first (refuseUnmask, 403, audited). Phones by role. Call it once the record is found.
 */
export async function revealFor(req: FastifyRequest, store: Store, subject: string): Promise<Reveal> {
  const v = viewerOf(req);
  const canUnmask = may(v.role, 'unmask');
  const { asked, reason } = unmaskAsked(req);
  const d = disclosureFor(v.role, asked && reason !== undefined);
  if (d.fullIdNumbers) await audit(store, { actor: v.username, action: 'unmask', subject, detail: { reason }, ip: req.ip });
  return { unmasked: d.fullIdNumbers, canUnmask, needsReason: canUnmask && asked && !d.fullIdNumbers, ...(d.fullIdNumbers && reason ? { reason } : {}), ...shownAs(d) };
}

/** The form to show full id numbers (with the reason it asks for), or the line to hide them again, for those who may. */
export function unmaskLink(r: Reveal, path: string): SafeHtml {
  if (!r.canUnmask) return html``;
  if (r.unmasked) return html`<p class="muted">正在显示完整身份证号（理由：${r.reason ?? ''}；本次查看已记入审计日志）。<a href="${path}">隐藏</a></p>`;
  return html`<form method="get" action="${path}" class="form-row unmask">
    ${r.needsReason ? html`<p class="notice error" role="alert">请填写查看完整身份证号的理由（至少 ${REASON_MIN} 个字）。</p>` : ''}
    <input type="hidden" name="unmask" value="1" />
    <label for="unmask-reason">查看完整身份证号的理由</label>
    <input id="unmask-reason" name="reason" required minlength="${REASON_MIN}" maxlength="${REASON_MAX}" placeholder="如：核对报销" autocomplete="off" />
    <button type="submit" class="secondary">显示完整身份证号</button>
    <span class="muted">（查看和理由将记入审计日志）</span>
  </form>`;
}

/** The pages that can show full id numbers, and the audit subject of each request to them. */
const UNMASK_PAGES: Record<string, (params: Record<string, string>) => string | undefined> = {
  '/persons/:id': (p) => (/^\d{1,10}$/.test(p.id ?? '') ? `person:${p.id}` : undefined),
  '/review/:deliveryId/:rowNo': (p) => (/^\d{1,10}$/.test(p.deliveryId ?? '') && /^\d{1,10}$/.test(p.rowNo ?? '') ? `row:${p.deliveryId}:${p.rowNo}` : undefined),
};

/**
 * A user whose role may not unmask who asks to (`?unmask=1`) gets 403, in Chinese, and
 * the attempt is audited (`unmask_refused`): before the page is read, on every page that
 * can unmask.
 */
function registerUnmaskRefusal(server: FastifyInstance, store: Store): void {
  server.addHook('preHandler', async (req, reply) => {
    if (req.method !== 'GET') return;
    const subjectOf = UNMASK_PAGES[req.routeOptions.url ?? ''];
    if (!subjectOf || !unmaskAsked(req).asked) return;
    const v = viewerOf(req);
    if (may(v.role, 'unmask')) return;
    const subject = subjectOf((req.params ?? {}) as Record<string, string>);
    await audit(store, { actor: v.username, action: 'unmask_refused', subject: subject ?? null, ip: req.ip });
    const back = req.url.split('?')[0] ?? '/';
    return sendPage(
      reply,
      page({
        title: '无权查看完整身份证号',
        viewer: v,
        body: html`<p class="notice error" role="alert">您的角色（${ROLE_LABEL[v.role]}）不能查看完整身份证号，此次请求已记入审计日志。</p>
          <p>工作中确需核对完整身份证号的，请联系主管。</p>
          <p><a href="${back}">返回（身份证号部分隐去）</a></p>`,
      }),
      403,
    );
  });
}

/** A golden field's value (masked by `show` when given), with where it came from as a tooltip. */
export function goldenCell(g: GoldenField | undefined, show: (v: string) => string = (v) => v): SafeHtml | '' {
  if (!g || g.value === '') return '';
  return html`<span title="${`${SOURCE_LABEL[g.source] ?? g.source}：${fileShown(g.file)} 第 ${g.row} 行（数据截至 ${g.as_of}）`}">${show(g.value)}</span>`;
}

/** The golden household: `head:<id number>` (masked like any id number) or `no:<户编号>`. */
export function householdOf(value: string, r: Reveal): string {
  if (value.startsWith('head:')) return `户主身份证号 ${r.id(value.slice(5))}`;
  if (value.startsWith('no:')) return `户编号 ${value.slice(3)}`;
  return r.unmasked ? value : scrubText(value);
}

export const golden = (g: Record<string, GoldenField> | null | undefined, key: string): GoldenField | undefined => g?.[key];

export function notFound(reply: FastifyReply, v: Viewer, title: string, back: SafeHtml, active?: string): FastifyReply {
  return sendPage(reply, page({ title, viewer: v, active, body: back }), 404);
}

// ---------------------------------------------------------------------------
// Search
// ---------------------------------------------------------------------------

/** What a link may carry: a person number, never an id number or a name. */
const linkQuery = z.object({ id: z.string().max(20).optional() });
/** The one search box (`q`); `name` and `idno`, the fields of the earlier form, are read as the box. */
const searchQuery = z.object({ q: z.string().max(100).optional(), name: z.string().max(100).optional(), idno: z.string().max(100).optional(), _csrf: z.string().optional() });
const idParam = z.object({ id: z.coerce.number().int().positive().max(MAX_PERSON_ID) });

const MATCH_LABEL: Record<MatchKind, string> = { person_no: '人员编号', name: '姓名', phone: '电话', id_number: '身份证号' };

/** The search box, with a name written back (never a number: it may be a whole id number or phone). */
function searchForm(v: Viewer, typed = ''): SafeHtml {
  // posted, so that a name or a number never stands in a URL
  return html`<form method="post" action="/persons/search" class="search">
    ${csrfField(v)}
    <div class="form-row">
      <label for="q">姓名、电话、身份证号或人员编号</label>
      <input id="q" name="q" value="${/\d/.test(typed) ? '' : typed}" size="24" maxlength="100" autocomplete="off" placeholder="如：张三、尾号 5678、人员编号" />
      <button type="submit">查询</button>
    </div>
    <p class="muted">姓名可只输入其中 ${MIN_NAME_CHARS} 个字（姓名的开头或结尾；3 个字以上可在任意位置），繁体或异体字同样可查；电话、身份证号可只输入最后 ${MIN_TAIL_DIGITS} 位以上；也可输入人员编号。各来源记录中的写法均可查到。</p>
  </form>`;
}

// ---------------------------------------------------------------------------
// The person page's sections
// ---------------------------------------------------------------------------

const MAX_ROWS_SHOWN = 500;

const MED_TYPE_LABEL: Record<string, string> = {
  '11': '普通门诊',
  '14': '门诊慢特病',
  '21': '普通住院',
  '22': '外伤住院',
  '23': '转外诊治住院',
  '24': '急诊转住院',
  '92': '其他住院',
};

const medType = (m: string | null): string => (m ? `${m} ${MED_TYPE_LABEL[m] ?? ''}`.trim() : '—');
/** 测算过程 of one settlement on the person's page: the same steps as a case page's (assess/steps.ts). */
function calcList(e: PersonEntitlement): SafeHtml {
  const parsed = storedCalculation.safeParse(e.calc);
  const steps = calculationSteps({
    total: e.total, inScope: e.in_scope, basicPaid: e.basic_paid, criticalPaid: e.critical_paid, otherPaid: e.other_paid,
    base: Number(e.base), entitled: Number(e.entitled), paid: Number(e.paid), category: e.category, assessed: e.assessed,
    calc: parsed.success ? parsed.data : undefined,
  });
  return html`<details><summary>测算过程</summary><ul class="calc">
    ${steps.map((x) => html`<li>${x.label}：${x.value}<span class="muted">（${x.how}）</span></li>`)}
  </ul></details>`;
}

/** An entitlement with the amounts its settlement row states (fen; null where the file left them empty). */
type PersonEntitlement = Selectable<EntitlementTable> & {
  total: number | null; in_scope: number | null; basic_paid: number | null; critical_paid: number | null; other_paid: number | null;
};

type Spell = Selectable<SpellTable>;
type Flag = Selectable<FlagTable>;

const DAY_MS = 86_400_000;
const dayOf = (d: string): number => Date.parse(`${d}T00:00:00Z`) / DAY_MS;
const dateOf = (day: number): string => new Date(day * DAY_MS).toISOString().slice(0, 10);
/** One colour per category, the same on every person's page. */
const PALETTE = ['#b3261e', '#7b3fa0', '#c2185b', '#1c5d99', '#2f7d32', '#00838f', '#b26a00', '#5d4037', '#546e7a'];
const colourOf = (c: string): string => PALETTE[Math.max(0, (CATEGORIES as readonly string[]).indexOf(c)) % PALETTE.length]!;

/**
 * The spells on a time axis from the earliest start to the data's as-of date: one row
 * per category, one bar per spell, a dark tick where the data itself ended a spell.
 * Presentation attributes only: the page's CSP blocks inline style attributes.
 */
function timeline(spells: readonly Spell[], asOf: string | null): SafeHtml {
  if (spells.length === 0) return html``;
  const start = Math.min(...spells.map((s) => dayOf(s.valid_from)));
  const end = Math.max(asOf ? dayOf(asOf) : start, ...spells.map((s) => (s.valid_to ? dayOf(s.valid_to) : dayOf(s.valid_from) + 1)), start + 30);
  const categories = [...new Set(spells.map((s) => s.category))].sort((a, b) => (CATEGORIES as readonly string[]).indexOf(a) - (CATEGORIES as readonly string[]).indexOf(b));
  const W = 960, LEFT = 170, RIGHT = 24, TOP = 8, ROW = 28, BAR = 18;
  const axisY = TOP + categories.length * ROW + 4;
  const height = axisY + 24;
  const x = (day: number) => Math.round((LEFT + ((day - start) / (end - start)) * (W - LEFT - RIGHT)) * 10) / 10;

  const firstYear = new Date(start * DAY_MS).getUTCFullYear() + 1;
  const lastYear = new Date(end * DAY_MS).getUTCFullYear();
  const years: number[] = [];
  for (let y = firstYear; y <= lastYear; y++) years.push(y);
  // year labels that would collide with the start or end label are left out
  const yearTicks = years.map((y) => ({ y, at: x(dayOf(`${y}-01-01`)) })).filter((t) => t.at > LEFT + 80 && t.at < W - RIGHT - 130);

  const rows = categories.map((c, i) => {
    const y = TOP + i * ROW;
    const bars = spells
      .filter((s) => s.category === c)
      .map((s) => {
        const x0 = x(dayOf(s.valid_from));
        const x1 = x(s.valid_to ? dayOf(s.valid_to) : end);
        const tip = `${categoryLabel(c)}：${s.valid_from} 至 ${s.valid_to ?? '今'}${s.explicit_end ? '（数据中明确终止）' : ''}`;
        return html`<rect x="${x0}" y="${y + (ROW - BAR) / 2}" width="${Math.max(2, x1 - x0)}" height="${BAR}" fill="${colourOf(c)}" fill-opacity="${s.valid_to ? 0.85 : 0.6}"><title>${tip}</title></rect>
          ${s.explicit_end ? html`<line x1="${x1}" x2="${x1}" y1="${y + 2}" y2="${y + ROW - 2}" stroke="#1f2933" stroke-width="3" />` : ''}`;
      });
    return html`<text x="${LEFT - 8}" y="${y + ROW / 2 + 4}" text-anchor="end" font-size="13" fill="#1f2933">${categoryLabel(c)}</text>${bars}`;
  });

  return html`<svg class="chart timeline" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${height}" width="100%" role="img" aria-label="救助类别时间轴">
    <title>救助类别时间轴：${dateOf(start)} 至 ${dateOf(end)}</title>
    ${yearTicks.map((t) => html`<line x1="${t.at}" x2="${t.at}" y1="${TOP}" y2="${axisY}" stroke="#d9e2ec" />`)}
    ${rows}
    <line x1="${LEFT}" x2="${W - RIGHT}" y1="${axisY}" y2="${axisY}" stroke="#616e7c" />
    ${yearTicks.map((t) => html`<text x="${t.at}" y="${axisY + 16}" text-anchor="middle" font-size="11" fill="#616e7c">${t.y} 年</text>`)}
    <text x="${LEFT}" y="${axisY + 16}" text-anchor="start" font-size="11" fill="#616e7c">${dateOf(start)}</text>
    <text x="${W - RIGHT}" y="${axisY + 16}" text-anchor="end" font-size="11" fill="#616e7c">${asOf && dayOf(asOf) === end ? `数据截至 ${asOf}` : dateOf(end)}</text>
  </svg>
  <p class="muted">每条色块为一段时段；深色竖线表示数据中明确记载的终止（退出、风险消除、注销等），其余结束为未再列入名册；未结束的时段延续至数据截至日期。</p>`;
}

function flagBadge(f: Flag): SafeHtml {
  return f.withdrawn_at ? badge(`${FLAG_LABEL[f.flag] ?? f.flag}（已撤销）`, 'muted') : badge(FLAG_LABEL[f.flag] ?? f.flag, 'warn');
}

// ---------------------------------------------------------------------------
// Routes
// ---------------------------------------------------------------------------

export function registerPersons(server: FastifyInstance, deps: ConsoleDeps): void {
  const store = deps.app.store;
  registerUnmaskRefusal(server, store);

  /** The search and its results: what was typed in the box (POST), or a person number from a link. */
  async function search(req: FastifyRequest, reply: FastifyReply, asked: { typed: string } | { personId: number } | { error: string }): Promise<FastifyReply> {
    const v = viewerOf(req);
    const show = (body: unknown, error?: string, status = 200) => sendPage(reply, page({ title: '人员查询', viewer: v, active: '/persons', error, body }), status);
    if ('error' in asked) return show(searchForm(v), asked.error, 400);
    const typed = 'typed' in asked ? asked.typed : undefined;
    const read: ReadSearch = 'personId' in asked ? { query: { personId: asked.personId, shown: `人员编号 ${asked.personId}` } } : readSearch(asked.typed, deps.app.names);
    if ('empty' in read) return show(searchForm(v));
    if ('error' in read) return show(searchForm(v, typed), read.error, 400);

    const { total, rows } = await findPersons(store.k, read.query);
    // id numbers masked in a list whoever looks (the full number is on the person's page, for a supervisor, audited); phones by role
    const r = shownAs(disclosureFor(v.role, false));
    return show([
      searchForm(v, typed),
      read.note ? html`<p class="notice">${read.note}</p>` : '',
      html`<h2>查询结果</h2><p class="muted">按 ${read.query.shown} 查询，共找到 ${total} 人${total > MAX_RESULTS ? `，显示前 ${MAX_RESULTS} 人` : ''}。</p>`,
      table(
        [
          { label: '人员编号', cell: (p) => html`<a href="/persons/${p.id}">${p.id}</a>`, num: true },
          { label: '姓名', cell: (p) => html`<a href="/persons/${p.id}">${p.name ?? '（无姓名）'}</a>${p.matched ? html` <span class="muted">（记录中写作 ${p.matched}）</span>` : ''}` },
          { label: '身份证号', cell: (p) => r.id(p.id_number) || '—' },
          { label: '电话', cell: (p) => r.phone(p.phone) || '—' },
          { label: '性别', cell: (p) => GENDER_LABEL[p.gender ?? ''] ?? '—' },
          { label: '出生日期', cell: (p) => p.birth_date ?? '—' },
          { label: '乡镇', cell: (p) => p.township ?? '—' },
          { label: '村', cell: (p) => p.village ?? '—' },
          { label: '符合', cell: (p) => `${p.kinds.map((k) => MATCH_LABEL[k]).join('、')}${p.rank === 0 ? '' : '（部分）'}` },
          { label: '状态', cell: (p) => (p.retired_at ? badge('已停用（无关联记录）', 'muted') : badge('有效', 'ok')) },
        ],
        rows,
        '没有找到符合条件的人员',
      ),
      total > MAX_RESULTS ? html`<p class="muted">只显示最符合的前 ${MAX_RESULTS} 人，请输入更多的字或位数。</p>` : '',
    ]);
  }

  // a link may name a person number; an id number or a name never travels in a URL (it would sit in logs and history)
  server.get('/persons', async (req, reply) => {
    const id = linkQuery.safeParse(req.query).data?.id?.trim() ?? '';
    if (id === '') return search(req, reply, { typed: '' });
    // a link names a person by number, and by nothing else (not a phone or id number that ends so)
    if (!/^\d{1,10}$/.test(id) || Number(id) < 1 || Number(id) > MAX_PERSON_ID) return search(req, reply, { error: '人员编号应为正整数' });
    return search(req, reply, { personId: Number(id) });
  });

  // a search changes nothing, so a viewer may post it (the session's CSRF token is still required)
  server.post('/persons/search', { config: { permission: 'view' } }, async (req, reply) => {
    const q = searchQuery.safeParse(req.body ?? {});
    if (!q.success) return search(req, reply, { error: '查询条件不正确' });
    return search(req, reply, { typed: q.data.q ?? q.data.name ?? q.data.idno ?? '' });
  });

  server.get('/persons/:id', async (req, reply) => {
    const v = viewerOf(req);
    const back = html`<p>没有这个人员。<a href="/persons">返回人员查询</a></p>`;
    const params = idParam.safeParse(req.params);
    if (!params.success) return notFound(reply, v, '没有这个人员', back, '/persons');
    const id = params.data.id;
    const p = await store.k.selectFrom('person').selectAll().where('id', '=', id).executeTakeFirst();
    if (!p) return notFound(reply, v, '没有这个人员', back, '/persons');
    const r = await revealFor(req, store, `person:${id}`);

    const [rows, spells, asOf, entitlements, flags, cases] = await Promise.all([
      store.k
        .selectFrom('row_link as l')
        .innerJoin('source_row as s', (j) => j.onRef('s.delivery_id', '=', 'l.delivery_id').onRef('s.row_no', '=', 'l.row_no'))
        .innerJoin('delivery as d', 'd.id', 'l.delivery_id')
        .select(['l.delivery_id', 'l.row_no', 'l.method', 'l.score', 'd.file', 'd.as_of', 's.source', 's.name', 's.id_number', 's.id_status'])
        .where('l.person_id', '=', id)
        .orderBy('d.as_of')
        .orderBy('l.delivery_id')
        .orderBy('l.row_no')
        .limit(MAX_ROWS_SHOWN + 1)
        .execute(),
      store.k.selectFrom('spell').selectAll().where('person_id', '=', id).where('superseded_at', 'is', null).orderBy('valid_from').orderBy('category').execute(),
      sql<{ as_of: string | null }>`select max(as_of)::text as as_of from delivery where status = 'accepted'`.execute(store.k).then((x) => x.rows[0]?.as_of ?? null),
      store.k
        .selectFrom('entitlement as e')
        .leftJoin('settlement_row as sr', (j) => j.onRef('sr.delivery_id', '=', 'e.delivery_id').onRef('sr.row_no', '=', 'e.row_no'))
        .selectAll('e')
        .select(['sr.total', 'sr.in_scope', 'sr.basic_paid', 'sr.critical_paid', 'sr.other_paid'])
        .where('e.person_id', '=', id)
        .orderBy('e.service_date')
        .orderBy('e.settlement_id')
        .execute(),
      store.k.selectFrom('flag').selectAll().where('person_id', '=', id).orderBy('raised_at').orderBy('id').execute(),
      store.k.selectFrom('outreach_case').selectAll().where('person_id', '=', id).orderBy('opened_at').orderBy('id').execute(),
    ]);
    // open flags on the person's settlements (by settlement: a flag follows its settlement)
    const settlementIds = entitlements.map((e) => e.settlement_id);
    const openOnSettlement = settlementIds.length
      ? await store.k.selectFrom('flag').selectAll().where('settlement_id', 'in', settlementIds).where('withdrawn_at', 'is', null).orderBy('id').execute()
      : [];
    const flagsBySettlement = new Map<string, Flag[]>();
    for (const f of openOnSettlement) if (f.settlement_id) (flagsBySettlement.get(f.settlement_id) ?? flagsBySettlement.set(f.settlement_id, []).get(f.settlement_id)!).push(f);
    const flagById = new Map(flags.map((f) => [f.id, f]));
    const g = p.golden;

    return sendPage(
      reply,
      page({
        title: `${p.name ?? '（无姓名）'}（人员 ${p.id}）`,
        viewer: v,
        active: '/persons',
        body: [
          unmaskLink(r, `/persons/${id}`),
          html`<h2>基本信息</h2>`,
          p.retired_at ? html`<p class="notice error">该人员已停用：${when(p.retired_at)} 起没有关联的记录（记录已归入其他人员）。</p>` : '',
          details([
            ['人员编号', p.id],
            ['姓名', goldenCell(golden(g, 'name')) || p.name],
            ['身份证号', goldenCell(golden(g, 'id_number'), r.id) || r.id(p.id_number)],
            ['性别', goldenCell(golden(g, 'gender'), (x) => GENDER_LABEL[x] ?? x) || (GENDER_LABEL[p.gender ?? ''] ?? '')],
            ['出生日期', goldenCell(golden(g, 'birth_date')) || p.birth_date],
            ['乡镇', goldenCell(golden(g, 'township')) || p.township],
            ['村', goldenCell(golden(g, 'village')) || p.village],
            ['电话', goldenCell(golden(g, 'phone'), r.phone)],
            ['户', goldenCell(golden(g, 'household'), (x) => householdOf(x, r))],
            ['关联记录数', p.row_count],
            ['建立时间', when(p.created_at)],
            ['更新时间', when(p.updated_at)],
          ]),
          html`<p class="muted">各项取自最可靠的一条记录；鼠标停在值上可看到出处。</p>`,

          html`<h2>来源记录</h2>`,
          table(
            [
              { label: '文件', cell: (x) => html`<a href="/deliveries/${x.delivery_id}">${fileShown(x.file)}</a>` },
              { label: '数据截至', cell: (x) => x.as_of ?? '—' },
              { label: '行号', cell: (x) => x.row_no, num: true },
              { label: '来源', cell: (x) => SOURCE_LABEL[x.source] ?? x.source },
              { label: '姓名', cell: (x) => x.name ?? '—' },
              { label: '身份证号', cell: (x) => html`${r.id(x.id_number) || '—'}${x.id_status && ID_STATUS_NOTE[x.id_status] ? html` <span class="muted">（${ID_STATUS_NOTE[x.id_status]}）</span>` : ''}` },
              { label: '关联方式', cell: (x) => html`${METHOD_LABEL[x.method] ?? x.method}${x.score !== null ? html` <span class="muted">评分 ${x.score.toFixed(1)}</span>` : ''}` },
              { label: '比对', cell: (x) => html`<a href="/review/${x.delivery_id}/${x.row_no}">查看比对</a>` },
            ],
            rows.slice(0, MAX_ROWS_SHOWN),
            '没有关联的记录',
          ),
          rows.length > MAX_ROWS_SHOWN ? html`<p class="muted">只显示前 ${MAX_ROWS_SHOWN} 条。</p>` : '',

          html`<h2>救助类别时段</h2>`,
          timeline(spells, asOf),
          table(
            [
              { label: '救助类别', cell: (s) => categoryLabel(s.category) },
              { label: '来源', cell: (s) => SOURCE_LABEL[s.source] ?? s.source },
              { label: '开始日期', cell: (s) => s.valid_from },
              { label: '结束日期', cell: (s) => s.valid_to ?? '至今' },
              { label: '结束方式', cell: (s) => (s.explicit_end ? '数据中明确终止' : s.valid_to ? '未再列入名册' : '—') },
              { label: '首次列入名册', cell: (s) => s.first_listed ?? '—' },
            ],
            spells,
            '没有救助类别时段',
          ),
          spells.length ? html`<p class="muted">结束日期当天起不再享受该类别。数据截至 ${asOf ?? '—'}。</p>` : '',

          html`<h2>结算与测算</h2>`,
          table(
            [
              { label: '结算ID', cell: (e) => e.settlement_id },
              { label: '就诊日期', cell: (e) => e.service_date },
              { label: '医疗类别', cell: (e) => medType(e.med_type) },
              { label: '救助类别', cell: (e) => (e.category ? categoryLabel(e.category) : e.assessed ? html`<span class="muted">当日无救助类别</span>` : html`<span class="muted">不属救助范围</span>`) },
              { label: '进入救助金额（元）', cell: (e) => yuan(e.base), num: true },
              { label: '应救助（元）', cell: (e) => yuan(e.entitled), num: true },
              { label: '已支付（元）', cell: (e) => yuan(e.paid), num: true },
              { label: '测算', cell: (e) => calcList(e) },
              {
                label: '当前标记',
                cell: (e) => [
                  ...(flagsBySettlement.get(e.settlement_id) ?? []).map((f) => html`${flagBadge(f)} ${yuan(f.amount)} 元 `),
                  // unknown is not "not eligible": an overpayment waits while a roster of the person's is unknown
                  e.held ? html`${badge('暂缓判断', 'warn')} <span class="muted">${e.held}</span>` : '',
                ],
              },
            ],
            entitlements,
            '没有结算记录',
          ),

          html`<h2>标记</h2>`,
          table(
            [
              { label: '标记', cell: (f) => flagBadge(f) },
              { label: '范围', cell: (f) => (f.scope === 'settlement' ? `结算 ${f.settlement_id ?? ''}` : `${f.year ?? ''} 年度`) },
              { label: '原因', cell: (f) => (f.reason ? (REASON_LABEL[f.reason] ?? f.reason) : '—') },
              { label: '应救助（元）', cell: (f) => yuan(f.entitled), num: true },
              { label: '已支付（元）', cell: (f) => yuan(f.paid), num: true },
              { label: '金额（元）', cell: (f) => yuan(f.amount), num: true },
              { label: '提出时间', cell: (f) => when(f.raised_at) },
              { label: '撤销时间', cell: (f) => (f.withdrawn_at ? when(f.withdrawn_at) : '—') },
              { label: '撤销原因', cell: (f) => (f.withdrawn_reason ? (WITHDRAWN_LABEL[f.withdrawn_reason] ?? f.withdrawn_reason) : '—') },
            ],
            flags,
            '没有标记',
          ),

          html`<h2>外展个案</h2>`,
          table(
            [
              { label: '个案', cell: (c) => html`<a href="/cases/${c.id}">第 ${c.id} 号</a>` },
              { label: '标记', cell: (c) => { const f = flagById.get(c.flag_id); return f ? (FLAG_LABEL[f.flag] ?? f.flag) : '—'; } },
              { label: '状态', cell: (c) => CASE_STATUS_LABEL[c.status as CaseStatus] ?? c.status },
              { label: '金额（元）', cell: (c) => yuan(c.amount), num: true },
              { label: '开案时间', cell: (c) => when(c.opened_at) },
              { label: '结案时间', cell: (c) => (c.closed_at ? when(c.closed_at) : '—') },
            ],
            cases,
            '没有外展个案',
          ),
        ],
      }),
    );
  });
}
