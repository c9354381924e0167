/**
 * 外展工作台, 个案 and 统计: the cases township staff follow from an outreach flag
 * until the assistance is paid. The worklist lists persons, one
 * row each, with bulk 下放 and 已接收 and an Excel export; a case shows the person, the flag, the
 * calculation of its settlements (测算过程) and its history, and lets a caseworker move it along,
 * record its outcome (已支付 with the amount and day, 已放弃: each asks first) or add a note
 * (audited); the metrics page counts cases, contact
 * and conversion per township and month, with charts. Id numbers are always masked, phones for viewers.
 * Township staff (乡镇经办) get the worklist, its export and the case page for their township's
 * cases sent down only (staffOf), with 已接收, 已联系, 无法联系 and notes (docs/console.md).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { sql, type RawBuilder } from 'kysely';
import { z } from 'zod';
import type { CaseStatus } from '../../db/schema.js';
import type { Store } from '../../db/store.js';
import { FLAG_LABEL, OUTREACH_FLAGS, REASON_LABEL, WITHDRAWN_LABEL } from '../../assess/labels.js';
import { CATEGORIES, CATEGORY_LABEL, type Category } from '../../policy/policy.js';
import { CASE_STATUSES, CASE_STATUS_LABEL, CaseError, CLOSED_STATUSES, countyToday, moveCase, noteCase, OUTCOMES, outcomesFrom, stepsTo, TOWNSHIP_MOVES, TRANSITIONS, type Payment } from '../../outreach/cases.js';
import { calculationSteps, categoryName, periodText, storedCalculation, type Step } from '../../assess/steps.js';
import { parseMoney } from '../../ingest/normalise/money.js';
import { parseDate } from '../../ingest/normalise/date.js';
import { caseMetrics, noCases, openCount, totalOf, UNKNOWN_TOWNSHIP, UNKNOWN_VILLAGE, type CaseMetrics } from '../../outreach/metrics.js';
import { bulkMove, caseConditions, listWorklist, SORT_DEFAULT_DIR, SORT_LABEL, townshipSees, WORKLIST_SORTS, type WorklistFilter, type WorklistOrder, type WorklistSort } from '../../outreach/worklist.js';
import { categoriesText, worklistXlsx } from '../../outreach/worklist-export.js';
import { scrubText, shownAs } from '../../privacy.js';
import { countyStamp } from '../../util/time.js';
import { audit } from '../../server/audit.js';
import { disclosureFor, isTownship, may, ROLE_LABEL, TOWNSHIP } from '../../server/users.js';
import { barChart, groupedBarChart } from '../charts.js';
import { html, query, type SafeHtml } from '../html.js';
import { badge, csrfField, details, fileShown, page, pager, percent, SOURCE_LABEL, table, when, yuan, type Column, type Viewer } from '../layout.js';
import { sendPage, viewerOf, type ConsoleDeps } from '../page-kit.js';

type Tone = 'ok' | 'warn' | 'bad' | 'info' | 'muted';
const STATUS_TONE: Record<CaseStatus, Tone> = {
  pending: 'warn',
  dispatched: 'info',
  received: 'info',
  contacted: 'info',
  applied: 'info',
  paid: 'ok',
  unreachable: 'bad',
  declined: 'muted',
  withdrawn: 'muted',
};
const statusBadge = (s: CaseStatus) => badge(CASE_STATUS_LABEL[s], STATUS_TONE[s]);

const caseStatus = z.enum(CASE_STATUSES);
/** A select's "all" option sends an empty string: the same as no filter. */
const optionalText = z
  .string()
  .trim()
  .max(100)
  .optional()
  .transform((s) => (s ? s : undefined));

const metricsQuery = z.object({ township: optionalText });
const idParam = z.object({ id: z.coerce.number().int().positive().max(2_147_483_647) });
const moveBody = z.object({
  to: caseStatus,
  note: z.string().max(2000).optional(),
  // with 已支付: yuan as typed (parsed to fen below) and the day paid
  amount: z.string().trim().max(30).optional(),
  paid_on: z.string().trim().max(30).optional(),
});
const noteBody = z.object({ note: z.string().max(2000) });

/** Who did it, as staff read it: the system, or the user's name without the channel. */
function actorText(actor: string): string {
  if (actor === 'system') return '系统（数据）';
  return actor.replace(/^(console|cli|http):/, '');
}

/**
 * The township of township staff (乡镇经办), undefined for anyone else: they see that township's
 * cases sent down and nothing else, whatever a query or form says (auth.ts keeps them to these routes).
 */
function staffOf(v: Viewer): string | undefined {
  if (!isTownship(v.role)) return undefined;
  // auth.ts refuses township staff without a township before any page
  if (!v.township) throw new Error('township staff without a township');
  return v.township;
}

/** A move township staff may not make: refused in words, before anything is read or changed. */
const TOWNSHIP_MOVES_TEXT = `${ROLE_LABEL[TOWNSHIP]}只能将个案改为：${TOWNSHIP_MOVES.map((s) => CASE_STATUS_LABEL[s]).join('、')}（可添加备注）`;

const flagText = (flag: string, reason: string | null): string => [FLAG_LABEL[flag] ?? flag, reason ? (REASON_LABEL[reason] ?? reason) : ''].filter(Boolean).join('：');

/** Townships of the cases for a select: in pinyin order (as caseMetrics sorts), the unknown one last. */
async function caseTownships(store: Store): Promise<string[]> {
  const r = await sql<{ township: string | null }>`select distinct township from outreach_case`.execute(store.k);
  const named = r.rows.flatMap((t) => (t.township === null ? [] : [t.township])).sort((a, b) => a.localeCompare(b, 'zh'));
  return r.rows.some((t) => t.township === null) ? [...named, UNKNOWN_TOWNSHIP] : named;
}

function invalidQuery(v: Viewer, active: string) {
  return page({ title: '筛选条件不正确', viewer: v, active, body: html`<p><a href="${active}">清除筛选条件</a></p>` });
}

/** The township filter of the worklist and the 统计 page. */
function townshipSelect(townships: readonly string[], township: string | undefined): SafeHtml {
  return html`<label for="township">乡镇</label>
    <select id="township" name="township">
      <option value="">全部乡镇</option>
      ${townships.map((t) => html`<option value="${t}" ${t === township ? 'selected' : ''}>${t}</option>`)}
    </select>`;
}

/** One settlement of a case as its 测算过程 shows it: the row's amounts, the stored assessment, the policy, the spell used and the files. */
interface CaseSettlement {
  settlement_id: string;
  service_date: string;
  institution: string | null;
  category: string | null;
  assessed: boolean;
  base: number;
  entitled: number;
  paid: number;
  calc: unknown;
  total: number | null;
  in_scope: number | null;
  basic_paid: number | null;
  critical_paid: number | null;
  other_paid: number | null;
  delivery_id: number;
  file: string;
  row_no: number;
  policy_name: string | null;
  spell_source: string | null;
  spell_from: string | null;
  spell_to: string | null;
  first_listed: string | null;
  spell_delivery_id: number | null;
  spell_file: string | null;
}

/**
 * The settlements a case is about: the flag's settlement, or for a person-year flag every
 * settlement of the person in that year. With each, the spell the calculation used — as
 * assessPerson picks it, the earliest-starting spell of the category applied that covers the
 * service date — and the roster delivery that first listed it (its source, first_listed).
 */
async function caseSettlements(store: Store, c: { scope: 'settlement' | 'person_year'; settlement_id: string | null; person_id: number; year: number | null }): Promise<CaseSettlement[]> {
  const which = c.scope === 'settlement' ? sql`e.settlement_id = ${c.settlement_id}` : sql`e.person_id = ${c.person_id} and e.year = ${c.year}`;
  const r = await sql<CaseSettlement>`
    select e.settlement_id, e.service_date::text as service_date, sr.institution_name as institution, e.category, e.assessed,
           e.base, e.entitled, e.paid, e.calc, sr.total, sr.in_scope, sr.basic_paid, sr.critical_paid, sr.other_paid,
           d.id as delivery_id, d.file, e.row_no, r.policy->>'name' as policy_name,
           sp.source as spell_source, sp.valid_from::text as spell_from, sp.valid_to::text as spell_to, sp.first_listed::text as first_listed,
           sd.id as spell_delivery_id, sd.file as spell_file
    from entitlement e
    join delivery d on d.id = e.delivery_id
    left join settlement_row sr on sr.delivery_id = e.delivery_id and sr.row_no = e.row_no
    left join assessment_run r on r.id = e.run_id
    left join lateral (
      select s.source, s.valid_from, s.valid_to, s.first_listed from spell s
      where s.person_id = e.person_id and s.category = e.category and s.superseded_at is null
        and s.valid_from <= e.service_date and (s.valid_to is null or s.valid_to > e.service_date)
      order by s.valid_from, s.id limit 1) sp on true
    left join lateral (
      select d2.id, d2.file from delivery d2
      where d2.source = sp.source and d2.as_of = sp.first_listed and d2.status in ('accepted', 'superseded')
        and exists (select 1 from row_link l where l.delivery_id = d2.id and l.person_id = e.person_id and l.state = 'linked')
      order by d2.file limit 1) sd on true
    where ${which}
    order by e.service_date, e.settlement_id`.execute(store.k);
  return r.rows.map((x) => ({ ...x, base: Number(x.base), entitled: Number(x.entitled), paid: Number(x.paid) }));
}

const fenOrNull = (v: number | null): number | null => (v === null ? null : Number(v));

/** 测算过程 of one settlement: where its figures and rules came from, then the steps; `links` to the files' pages (not for township staff, who may not open them). */
function calculationOf(s: CaseSettlement, links: boolean): SafeHtml {
  const fileLink = (id: number | null, file: string) => (links ? html`<a href="/deliveries/${id}">${fileShown(file)}</a>` : fileShown(file));
  const parsed = storedCalculation.safeParse(s.calc);
  const calc = parsed.success ? parsed.data : undefined;
  const steps = calculationSteps({
    total: fenOrNull(s.total), inScope: fenOrNull(s.in_scope), basicPaid: fenOrNull(s.basic_paid), criticalPaid: fenOrNull(s.critical_paid), otherPaid: fenOrNull(s.other_paid),
    base: s.base, entitled: s.entitled, paid: s.paid, category: s.category, assessed: s.assessed, calc,
  });
  const spell = s.category
    ? s.spell_from
      ? html`${categoryName(s.category)}，${SOURCE_LABEL[s.spell_source ?? ''] ?? s.spell_source}，${s.spell_from} 至 ${s.spell_to ?? '今'}${s.first_listed ? `，首次列入名册 ${s.first_listed}` : ''}${s.spell_file ? html`（${fileLink(s.spell_delivery_id, s.spell_file)}）` : ''}`
      : categoryName(s.category)
    : '无';
  return html`<h3>结算 ${s.settlement_id}</h3>
    ${details([
      ['医疗机构', s.institution],
      ['出院（结算）日期', s.service_date],
      ['结算数据来源', html`${fileLink(s.delivery_id, s.file)} 第 ${s.row_no} 行`],
      ['适用政策', `${s.policy_name ?? '—'}；政策期间 ${periodText(calc?.period ?? null)}`],
      ['适用的救助类别时段', spell],
    ])}
    ${table<Step>(
      [
        { label: '项目', cell: (x) => x.label },
        { label: '金额', cell: (x) => x.value, num: true },
        { label: '计算', cell: (x) => x.how },
      ],
      steps,
    )}`;
}

export function registerWorklist(server: FastifyInstance, deps: ConsoleDeps): void {
  const store = deps.app.store;

  registerPersonWorklist(server, store, deps.app.policy.county);

  // ——— 个案 ———

  async function casePage(v: Viewer, id: number, opts: { done?: string | undefined; error?: string | undefined } = {}): Promise<string | undefined> {
    const staff = staffOf(v);
    // another township's case, or one not sent down yet, does not exist for township staff
    if (staff !== undefined && !(await townshipSees(store, staff, id))) return undefined;
    const c = (
      await sql<{
        id: number; status: CaseStatus; amount: number; recovered: number; paid_on: string | null; paid_at_open: number; opened_at: Date; closed_at: Date | null; closed_by: 'staff' | 'data' | null;
        person_id: number; name: string | null; id_number: string | null; phone: string | null; township: string | null; village: string | null;
        flag: string; reason: string | null; scope: 'settlement' | 'person_year'; settlement_id: string | null; year: number | null;
        flag_entitled: number | null; flag_paid: number | null; flag_amount: number | null; raised_at: Date; withdrawn_at: Date | null; withdrawn_reason: string | null;
        base: number | null; entitled: number | null; paid: number | null; institution: string | null; began_on: string | null; ended_on: string | null;
      }>`
        select c.id, c.status, c.amount, c.recovered, c.paid_on::text as paid_on, c.paid_at_open, c.opened_at, c.closed_at, c.closed_by,
               p.id as person_id, p.name, p.id_number, p.golden->'phone'->>'value' as phone, p.township, p.village,
               f.flag, f.reason, f.scope, f.settlement_id, f.year, f.entitled as flag_entitled, f.paid as flag_paid, f.amount as flag_amount,
               f.raised_at, f.withdrawn_at, f.withdrawn_reason,
               e.base, e.entitled, e.paid, sr.institution_name as institution, sr.began_on::text as began_on,
               coalesce(sr.ended_on, e.service_date)::text as ended_on
        from outreach_case c
        join person p on p.id = c.person_id
        join flag f on f.id = c.flag_id
        left join entitlement e on e.settlement_id = f.settlement_id
        left join settlement_row sr on sr.delivery_id = e.delivery_id and sr.row_no = e.row_no
        where c.id = ${id}`.execute(store.k)
    ).rows[0];
    if (!c) return undefined;
    const [categories, events, settlements] = await Promise.all([
      sql<{ category: string }>`select distinct category from spell where person_id = ${c.person_id} and superseded_at is null and valid_to is null order by category`.execute(store.k),
      store.k.selectFrom('case_event').select(['at', 'actor', 'from_status', 'to_status', 'note', 'amount', 'paid_on']).where('case_id', '=', id).orderBy('at').orderBy('id').execute(),
      caseSettlements(store, c),
    ]);
    const closedEvent = [...events].reverse().find((e) => e.to_status === c.status && e.from_status !== e.to_status);
    const closedBy = c.closed_by === 'data' ? '数据自动结案' : c.closed_by === 'staff' ? `工作人员结案${closedEvent ? `（${actorText(closedEvent.actor)}）` : ''}` : null;
    const next = TRANSITIONS[c.status];
    // the form moves along the flow; an outcome that closes the case has a form of its own, which asks first
    // township staff: their moves only, no outcomes (those are the county's)
    const steps = next.filter((s) => !OUTCOMES.includes(s) && (staff === undefined || TOWNSHIP_MOVES.includes(s)));
    const outcomes = staff === undefined ? outcomesFrom(c.status) : [];
    const via = (o: CaseStatus) => (stepsTo(c.status, o) ?? []).slice(0, -1).map((s) => CASE_STATUS_LABEL[s]);
    const canChange = may(v.role, 'change') || staff !== undefined;
    const show = shownAs(disclosureFor(v.role, false));

    const flagPairs: [string, unknown][] = [
      ['标记', FLAG_LABEL[c.flag] ?? c.flag],
      ['原因', c.reason ? (REASON_LABEL[c.reason] ?? c.reason) : null],
    ];
    if (c.scope === 'settlement') {
      flagPairs.push(
        ['结算单号', c.settlement_id],
        ['医疗机构', c.institution],
        ['入院（就诊）日期', c.began_on],
        ['出院（结算）日期', c.ended_on],
        ['救助基数（元）', yuan(c.base)],
        ['应救助（元）', yuan(c.entitled ?? c.flag_entitled)],
        ['已救助（元）', yuan(c.paid ?? c.flag_paid)],
      );
    } else {
      flagPairs.push(['年度', c.year]);
      if (c.flag_entitled !== null) flagPairs.push(['应救助（元）', yuan(c.flag_entitled)]);
      if (c.flag_paid !== null) flagPairs.push(['已救助（元）', yuan(c.flag_paid)]);
    }
    flagPairs.push(['标记金额（元）', yuan(c.flag_amount)], ['标记时间', when(c.raised_at)]);
    if (c.withdrawn_at) flagPairs.push(['标记撤销', `${when(c.withdrawn_at)}（${WITHDRAWN_LABEL[c.withdrawn_reason ?? ''] ?? c.withdrawn_reason ?? ''}）`]);

    const moves = staff === undefined ? [...new Set([...next, ...outcomes])].map((s) => CASE_STATUS_LABEL[s]).join('、') : steps.map((s) => CASE_STATUS_LABEL[s]).join('、') || '由县级经办记录后续结果';
    const action = `/cases/${id}`;
    /** A final outcome in one action: asked first (data-confirm), the steps before it named, recorded with one actor and note. */
    const outcomeForm = (to: 'paid' | 'declined', fields: SafeHtml | '', noteLabel: string, cls = '') => {
      const label = CASE_STATUS_LABEL[to];
      const steps = via(to);
      return html`<form method="post" action="${action}" data-confirm="${`确定记录为“${label}”吗？${steps.length ? `将同时记录${steps.join('、')}。` : ''}个案将结案，不能再更改状态。`}">
        ${csrfField(v)}<input type="hidden" name="to" value="${to}" />
        <h3>记录${label}（结案）</h3>
        ${fields}
        <div class="form-row">
          <label for="${to}-note">${noteLabel}</label><br />
          <textarea id="${to}-note" name="note" rows="2" cols="60" maxlength="2000"></textarea>
        </div>
        ${steps.length ? html`<p class="muted">个案当前为“${CASE_STATUS_LABEL[c.status]}”：将依次记录${steps.join(' → ')} → ${label}，操作人和备注相同。</p>` : ''}
        <button type="submit" class="${cls}">记录${label}</button>
      </form>`;
    };
    return page({
      title: `个案 ${id}`,
      viewer: v,
      active: '/worklist',
      done: opts.done,
      error: opts.error,
      body: [
        html`<p><a href="/worklist">返回外展工作台</a></p>`,
        html`<h2>人员</h2>`,
        details([
          ['姓名', staff === undefined ? html`<a href="/persons/${c.person_id}">${c.name ?? '（无姓名）'}</a>` : (c.name ?? '（无姓名）')],
          ['身份证号', show.id(c.id_number)],
          ['联系电话', show.phone(c.phone)],
          ['乡镇', c.township ?? UNKNOWN_TOWNSHIP],
          ['村', c.village ?? UNKNOWN_VILLAGE],
          ['当前救助类别', categories.rows.map((r) => CATEGORY_LABEL[r.category as Category] ?? r.category).join('、') || '无'],
        ]),
        html`<h2>标记</h2>`,
        details(flagPairs),
        html`<h2>测算过程</h2>`,
        settlements.length
          ? settlements.map((x) => calculationOf(x, staff === undefined))
          : html`<p class="empty">没有可显示的结算测算（结算已不在数据中）</p>`,
        html`<h2>个案</h2>`,
        details([
          ['状态', statusBadge(c.status)],
          ['金额（元）', yuan(c.amount)],
          ['已挽回（元）', yuan(c.recovered)],
          ['支付日期', c.paid_on],
          ['立案时间', when(c.opened_at)],
          ['结案时间', c.closed_at ? when(c.closed_at) : null],
          ['结案方式', closedBy],
          ['下一步可改为', next.length ? moves : '个案已结束，不能再更改状态'],
        ]),
        canChange
          ? html`<h2>处理</h2>
              ${steps.length
                ? html`<form method="post" action="${action}">
                    ${csrfField(v)}
                    <div class="form-row">
                      <label for="to">状态改为</label>
                      <select id="to" name="to" required>
                        <option value="">请选择</option>
                        ${steps.map((s) => html`<option value="${s}">${CASE_STATUS_LABEL[s]}</option>`)}
                      </select>
                    </div>
                    <div class="form-row">
                      <label for="move-note">备注（可选）</label><br />
                      <textarea id="move-note" name="note" rows="3" cols="60" maxlength="2000"></textarea>
                    </div>
                    <button type="submit">更新状态</button>
                  </form>`
                : ''}
              ${outcomes.includes('paid')
                ? outcomeForm(
                    'paid',
                    html`<div class="form-row">
                      <label for="paid-amount">支付金额（元）</label>
                      <input id="paid-amount" name="amount" inputmode="decimal" pattern="\\d+(\\.\\d{1,2})?" required placeholder="如 1234.50" />
                      <label for="paid-on">支付日期</label>
                      <input id="paid-on" name="paid_on" type="date" max="${countyToday()}" required />
                    </div>`,
                    '备注（可选）',
                  )
                : ''}
              ${outcomes.includes('declined') ? outcomeForm('declined', '', '备注（可选，如放弃原因）', 'secondary') : ''}
              ${next.length || outcomes.length ? '' : html`<p class="muted">个案已结束，不能再更改状态；仍可添加备注。</p>`}
              <form method="post" action="${action}/note">
                ${csrfField(v)}
                <div class="form-row">
                  <label for="note">只添加备注（不改状态）</label><br />
                  <textarea id="note" name="note" rows="3" cols="60" maxlength="2000" required></textarea>
                </div>
                <button type="submit" class="secondary">保存备注</button>
              </form>`
          : '',
        html`<h2>处理记录</h2>`,
        table(
          [
            { label: '时间', cell: (e) => when(e.at) },
            { label: '操作人', cell: (e) => actorText(e.actor) },
            {
              label: '状态',
              cell: (e) =>
                e.from_status === e.to_status ? html`<span class="muted">备注</span>` : html`${e.from_status ? html`${statusBadge(e.from_status)} → ` : ''}${statusBadge(e.to_status)}`,
            },
            { label: '支付', cell: (e) => (e.amount !== null ? `${yuan(e.amount)} 元（${e.paid_on ?? '—'}）` : '') },
            // staff may type an id number into a note: shown masked like everywhere else
            { label: '备注', cell: (e) => (e.note ? scrubText(e.note) : '') },
          ],
          events,
          '没有处理记录',
        ),
      ],
    });
  }

  const notFound = (v: Viewer) => page({ title: '没有这个个案', viewer: v, active: '/worklist', body: html`<p><a href="/worklist">返回外展工作台</a></p>` });

  server.get('/cases/:id', async (req, reply) => {
    const v = viewerOf(req);
    const p = idParam.safeParse(req.params);
    const done = z.object({ done: z.string().max(20).optional() }).safeParse(req.query ?? {});
    const body = p.success ? await casePage(v, p.data.id, { done: done.success ? done.data.done : undefined }) : undefined;
    return body ? sendPage(reply, body) : sendPage(reply, notFound(v), 404);
  });

  /** The case page again with a message in place of the change (status 400), or 404 if there is no such case. */
  async function refusal(req: FastifyRequest, id: number | undefined, error: string) {
    const v = viewerOf(req);
    const body = id === undefined ? undefined : await casePage(v, id, { error });
    return body ? { body, status: 400 } : { body: notFound(v), status: 404 };
  }

  server.post('/cases/:id', { config: { permission: 'change' } }, async (req, reply) => {
    const v = viewerOf(req);
    const p = idParam.safeParse(req.params);
    if (!p.success) return sendPage(reply, notFound(v), 404);
    const id = p.data.id;
    const staff = staffOf(v);
    if (staff !== undefined && !(await townshipSees(store, staff, id))) return sendPage(reply, notFound(v), 404);
    const b = moveBody.safeParse(req.body ?? {});
    if (!b.success) {
      const r = await refusal(req, id, '请选择要改为的状态（备注不超过 2000 字）');
      return sendPage(reply, r.body, r.status);
    }
    if (staff !== undefined && !TOWNSHIP_MOVES.includes(b.data.to)) {
      const r = await refusal(req, id, TOWNSHIP_MOVES_TEXT);
      return sendPage(reply, r.body, r.status);
    }
    const before = await store.k.selectFrom('outreach_case').select('status').where('id', '=', id).executeTakeFirst();
    if (!before) return sendPage(reply, notFound(v), 404);
    // 已支付's amount in yuan becomes fen here; a missing one is refused by moveCase, after the move itself is checked
    let payment: Payment | undefined;
    if (b.data.to === 'paid' && b.data.amount && b.data.paid_on) {
      const money = parseMoney(b.data.amount);
      if (!money || money.rounded || money.fen <= 0) {
        const r = await refusal(req, id, '支付金额应为大于 0 的金额（元，最多两位小数），如 1234.50');
        return sendPage(reply, r.body, r.status);
      }
      const paidOn = parseDate(b.data.paid_on);
      if (!paidOn) {
        const r = await refusal(req, id, '支付日期不正确，请按 2026-01-31 的格式填写');
        return sendPage(reply, r.body, r.status);
      }
      payment = { amount: money.fen, paidOn };
    }
    let steps: CaseStatus[];
    try {
      steps = await moveCase(store, id, b.data.to, `console:${v.username}`, b.data.note ?? null, payment);
    } catch (err) {
      if (err instanceof CaseError) {
        const r = await refusal(req, id, err.message);
        return sendPage(reply, r.body, r.status);
      }
      throw err;
    }
    const detail = { from: before.status, to: b.data.to, ...(steps.length > 1 ? { steps } : {}), ...(payment ? { amount: payment.amount, paidOn: payment.paidOn } : {}) };
    await audit(store, { actor: v.username, action: 'case_update', subject: `case:${id}`, detail, ip: req.ip });
    return reply.redirect(`/cases/${id}?done=case`, 303);
  });

  server.post('/cases/:id/note', { config: { permission: 'change' } }, async (req, reply) => {
    const v = viewerOf(req);
    const p = idParam.safeParse(req.params);
    if (!p.success) return sendPage(reply, notFound(v), 404);
    const id = p.data.id;
    const staff = staffOf(v);
    if (staff !== undefined && !(await townshipSees(store, staff, id))) return sendPage(reply, notFound(v), 404);
    const b = noteBody.safeParse(req.body ?? {});
    if (!b.success) {
      const r = await refusal(req, id, '请填写备注（不超过 2000 字）');
      return sendPage(reply, r.body, r.status);
    }
    try {
      await noteCase(store, id, `console:${v.username}`, b.data.note);
    } catch (err) {
      if (err instanceof CaseError) {
        const r = await refusal(req, id, err.message);
        return sendPage(reply, r.body, r.status);
      }
      throw err;
    }
    // the note itself stays out of the audit log (it may name people)
    await audit(store, { actor: v.username, action: 'case_update', subject: `case:${id}`, detail: { note: true }, ip: req.ip });
    return reply.redirect(`/cases/${id}?done=noted`, 303);
  });

  // ——— 统计 ———

  // the page was at /metrics, which is now the Prometheus scrape (server/ops.ts): old links land here
  server.get('/metrics', async (req, reply) => {
    const at = req.url.indexOf('?');
    return reply.redirect(`/stats${at >= 0 ? req.url.slice(at) : ''}`, 301);
  });

  server.get('/stats', async (req, reply) => {
    const v = viewerOf(req);
    const parsed = metricsQuery.safeParse(req.query ?? {});
    if (!parsed.success) return sendPage(reply, invalidQuery(v, '/stats'), 400);
    const { township } = parsed.data;
    const [metrics, townships, openFlags] = await Promise.all([
      caseMetrics(store, township ? { township } : {}),
      caseTownships(store),
      sql<{ township: string; n: number }>`
        select coalesce(p.township, ${UNKNOWN_TOWNSHIP}) as township, count(*)::int as n
        from flag f join person p on p.id = f.person_id
        where f.withdrawn_at is null and f.flag = any(${[...OUTREACH_FLAGS]})
          ${township ? sql`and coalesce(p.township, ${UNKNOWN_TOWNSHIP}) = ${township}` : sql``}
        group by 1`.execute(store.k),
    ]);

    // the townships' totals (and the county's), then each township month by month
    type Row = CaseMetrics & { county?: true };
    const names = [...new Set(metrics.map((m) => m.township))];
    const perTownship = new Map(names.map((t) => [t, totalOf(metrics.filter((m) => m.township === t), t)]));
    const totals: Row[] = [...perTownship.values()];
    if (names.length > 1) totals.push({ ...totalOf(metrics, '全县'), county: true });
    const columns = (withMonth: boolean): Column<Row>[] => [
      { label: '乡镇', cell: (r) => strong(r, r.township) },
      ...(withMonth ? [{ label: '月份', cell: (r: Row) => r.month }] : []),
      { label: '个案数', cell: (r) => strong(r, r.cases), num: true },
      ...CASE_STATUSES.map((s) => ({ label: CASE_STATUS_LABEL[s], cell: (r: Row) => strong(r, r.byStatus[s]), num: true })),
      { label: '联系率', cell: (r) => strong(r, percent(r.contactRate)), num: true },
      { label: '转化率', cell: (r) => strong(r, percent(r.conversion)), num: true },
      { label: '挽回金额（元）', cell: (r) => strong(r, yuan(r.recovered)), num: true },
    ];
    const strong = (r: Row, value: unknown) => (r.county ? html`<strong>${value}</strong>` : value);

    const shownStatuses = CASE_STATUSES.filter((s) => metrics.some((m) => m.byStatus[s] > 0));
    const months = [...new Set(metrics.map((m) => m.month))].sort();
    const count = (n: number) => String(Math.round(n));

    return sendPage(
      reply,
      page({
        title: '统计',
        viewer: v,
        active: '/stats',
        body: [
          html`<form method="get" action="/stats">
            <div class="form-row">
              ${townshipSelect(townships, township)}
              <button type="submit">筛选</button>
            </div>
          </form>`,
          html`<p class="muted">按个案立案月份统计。联系率 = 已联系及以后（已联系、已申请、已支付、已放弃）÷ 已下放及以后（另含已下放、无法联系）；转化率 = 已支付 ÷ 已联系及以后。</p>`,
          html`<h2>各乡镇合计</h2>`,
          table(columns(false), totals, '还没有外展个案'),
          html`<h2>按乡镇、月份</h2>`,
          table(columns(true), metrics, '还没有外展个案'),
          html`<h2>图表</h2>`,
          groupedBarChart({
            title: '各乡镇个案状态（个）',
            groups: names,
            series: shownStatuses.map((s) => ({ label: CASE_STATUS_LABEL[s], values: names.map((t) => perTownship.get(t)!.byStatus[s]) })),
            format: count,
          }),
          barChart({
            title: '各月挽回金额（元，按立案月份）',
            bars: months.map((m) => ({ label: m, value: metrics.filter((x) => x.month === m).reduce((n, x) => n + x.recovered, 0) })),
            format: (fen) => yuan(fen),
          }),
          barChart({
            title: '各乡镇当前外展标记（项）',
            bars: openFlags.rows
              .map((r) => ({ label: r.township, value: Number(r.n) }))
              .sort((a, b) => Number(a.label === UNKNOWN_TOWNSHIP) - Number(b.label === UNKNOWN_TOWNSHIP) || a.label.localeCompare(b.label, 'zh')),
            format: count,
          }),
        ],
      }),
    );
  });
}

// ——— 外展工作台: one row per person ———

const WORKLIST_PAGE_SIZE = 50;
/** the most persons one bulk move takes (a page shows 50; a township's list is a few hundred) */
const MAX_SELECTED = 5000;

/** An empty value (a select's "all", an empty date) is no filter. */
const blank = (v: unknown) => (v === '' ? undefined : v);
const isoDate = z.preprocess(blank, z.string().regex(/^\d{4}-\d{2}-\d{2}$/).refine((d) => !Number.isNaN(Date.parse(d)), '日期不正确').optional());
const worklistFilter = z.object({
  township: optionalText,
  village: optionalText,
  category: z.preprocess(blank, z.enum(CATEGORIES).optional()),
  kind: z.preprocess(blank, z.enum(OUTREACH_FLAGS).optional()),
  status: z.preprocess(blank, z.union([z.literal('open'), z.literal('all'), caseStatus]).default('open')),
  from: isoDate,
  to: isoDate,
});
const worklistQuery = worklistFilter.extend({
  sort: z.preprocess(blank, z.enum(WORKLIST_SORTS).default('owed')),
  dir: z.preprocess(blank, z.enum(['asc', 'desc']).optional()),
  page: z.coerce.number().int().min(1).max(100_000).default(1),
  // after a bulk move: how many cases moved, and where to
  moved: z.coerce.number().int().min(0).max(1_000_000).optional(),
  movedTo: z.enum(['dispatched', 'received']).optional(),
});
const bulkBody = worklistFilter.extend({
  person: z.preprocess((v) => (v === undefined ? [] : Array.isArray(v) ? v : [v]), z.array(z.coerce.number().int().positive().max(2_147_483_647)).max(MAX_SELECTED)),
  // every person the filter lists, on every page, instead of those ticked
  all: z.literal('1').optional(),
  sort: z.preprocess(blank, z.enum(WORKLIST_SORTS).optional()),
  dir: z.preprocess(blank, z.enum(['asc', 'desc']).optional()),
});

type WorklistParams = z.infer<typeof worklistFilter> & { sort?: WorklistSort | undefined; dir?: 'asc' | 'desc' | undefined };

/**
 * A filter as it is applied for `v`: a village only within a township (names repeat across
 * townships); township staff's own township and only cases sent down, whatever was asked.
 */
function filterOf<Q extends z.infer<typeof worklistFilter>>(v: Viewer, asked: Q): { q: Q; filter: WorklistFilter } {
  const staff = staffOf(v);
  const q = staff === undefined ? asked : { ...asked, township: staff };
  return { q, filter: { ...q, village: q.township ? q.village : undefined, staffOf: staff } };
}

/** The list's query string, for links, the export and the way back after a bulk move. */
function listParams(f: WorklistParams): Record<string, string | undefined> {
  return { township: f.township, village: f.township ? f.village : undefined, category: f.category, kind: f.kind, status: f.status === 'open' ? undefined : f.status, from: f.from, to: f.to, sort: f.sort === 'owed' ? undefined : f.sort, dir: f.dir };
}

/** The filter in words, for the export's title block. */
function filterText(f: WorklistFilter, o: WorklistOrder): string {
  const parts = [
    f.township ? `乡镇 ${f.township}` : '全部乡镇',
    f.village ? `村 ${f.village}` : '',
    f.category ? `类别 ${CATEGORY_LABEL[f.category]}` : '',
    f.kind ? `标记 ${FLAG_LABEL[f.kind] ?? f.kind}` : '',
    `状态 ${f.status === 'open' ? '未结案' : f.status === 'all' ? '全部' : CASE_STATUS_LABEL[f.status]}`,
    f.from || f.to ? `结算日期 ${f.from ?? '不限'} 至 ${f.to ?? '不限'}` : '',
    `按${SORT_LABEL[o.sort]}${o.dir === 'desc' ? '从高到低' : '从低到高'}排序`,
  ];
  return parts.filter(Boolean).join('；');
}

/** @param county the county's name, for the printed list's title (the policy file's `county`) */
function registerPersonWorklist(server: FastifyInstance, store: Store, county: string | undefined): void {
  async function parse(req: FastifyRequest, v: Viewer) {
    const parsed = worklistQuery.safeParse(req.query ?? {});
    if (!parsed.success) return undefined;
    const { q, filter } = filterOf(v, parsed.data);
    const order: WorklistOrder = { sort: q.sort, dir: q.dir ?? SORT_DEFAULT_DIR[q.sort] };
    return { q, filter, order };
  }

  server.get('/worklist', async (req, reply) => {
    const v = viewerOf(req);
    const p = await parse(req, v);
    if (!p) return sendPage(reply, invalidQuery(v, '/worklist'), 400);
    const { q, filter, order } = p;
    const { township, village } = filter;

    const [townships, villages, byStatus, list] = await Promise.all([
      caseTownships(store),
      township
        ? sql<{ village: string }>`select distinct coalesce(village, ${UNKNOWN_VILLAGE}) as village from outreach_case c where ${sql.join(caseConditions({ township, status: 'all', staffOf: filter.staffOf }), sql` and `)} order by 1`.execute(store.k)
        : Promise.resolve({ rows: [] as { village: string }[] }),
      // cases by status under the same filter but the status: each card leads to a list of exactly that many cases
      sql<{ status: CaseStatus; n: number }>`select c.status, count(*)::int as n from outreach_case c where ${sql.join(caseConditions({ ...filter, status: 'all' }), sql` and `)} group by 1`.execute(store.k),
      listWorklist(store, filter, order, { limit: WORKLIST_PAGE_SIZE, offset: (q.page - 1) * WORKLIST_PAGE_SIZE }),
    ]);
    const counts = noCases();
    for (const r of byStatus.rows) counts[r.status] = Number(r.n);

    const params = listParams(q);
    const link = (over: Record<string, string | undefined>) => `/worklist${query({ ...params, ...over, page: undefined })}`;
    const card = (n: number, label: unknown, s: string) =>
      html`<a class="card" href="${link({ status: s === 'open' ? undefined : s })}"><div class="value">${n}</div><div class="label">${label}${s === filter.status ? '（当前）' : ''}</div></a>`;
    const pages = Math.max(1, Math.ceil(list.persons / WORKLIST_PAGE_SIZE));
    const pageLink = (n: number) => `/worklist${query({ ...params, page: n })}`;
    // lists never unmask id numbers; phones in full for those who make the calls
    const show = shownAs(disclosureFor(v.role, false));
    const canChange = may(v.role, 'change');
    const staff = filter.staffOf;
    // township staff tick persons to acknowledge (已接收) and export their list; nothing more
    const canPick = canChange || staff !== undefined;
    const sortHead = (label: string, sort: WorklistSort, num = false) => {
      const current = order.sort === sort;
      const dir = current ? (order.dir === 'asc' ? 'desc' : 'asc') : SORT_DEFAULT_DIR[sort];
      const arrow = current ? (order.dir === 'asc' ? ' ↑' : ' ↓') : '';
      return html`<th ${num ? html`class="num"` : ''} ${current ? html`aria-sort="${order.dir === 'asc' ? 'ascending' : 'descending'}"` : ''}><a href="${link({ sort, dir })}">${label}${arrow}</a></th>`;
    };
    const hidden = Object.entries({ ...params, status: filter.status }).map(([k, val]) => (val ? html`<input type="hidden" name="${k}" value="${val}" />` : ''));
    const moved =
      q.moved !== undefined && q.movedTo
        ? html`<p class="notice ok" role="status">${q.moved > 0 ? `已将 ${q.moved} 个个案改为“${CASE_STATUS_LABEL[q.movedTo]}”。` : `所选人员没有可改为“${CASE_STATUS_LABEL[q.movedTo]}”的个案。`}</p>`
        : '';

    const rows = list.rows.map(
      (r) => html`<tr>
        ${canPick ? html`<td class="pick"><input type="checkbox" name="person" value="${r.personId}" id="p${r.personId}" aria-label="选择 ${r.name ?? r.personId}" /></td>` : ''}
        <td data-label="姓名" class="name">${staff === undefined ? html`<a href="/persons/${r.personId}">${r.name ?? '（无姓名）'}</a>` : (r.name ?? '（无姓名）')}</td>
        <td data-label="乡镇">${r.township}</td>
        <td data-label="村">${r.village}</td>
        <td data-label="身份证号">${show.id(r.idNumber) || '—'}</td>
        <td data-label="联系电话">${show.phone(r.phone) || '—'}</td>
        <td data-label="救助类别">${categoriesText(r.categories) || '—'}</td>
        <td data-label="标记数" class="num">${r.flags}</td>
        <td data-label="应补金额（元）" class="num">${yuan(r.owed)}</td>
        <td data-label="最早结算日期">${r.oldest ?? '—'}</td>
        <td data-label="状态">${r.statuses.map((s) => html`${statusBadge(s.status)}${s.n > 1 ? ` ×${s.n}` : ''} `)}</td>
        <td data-label="个案">${staff === undefined
          ? html`${r.caseIds.slice(0, 3).map((id) => html`<a href="/cases/${id}">第 ${id} 号</a> `)}${r.caseIds.length > 3 ? html`<a href="/persons/${r.personId}">等 ${r.caseIds.length} 个</a>` : ''}`
          : r.caseIds.map((id) => html`<a href="/cases/${id}">第 ${id} 号</a> `)}</td>
      </tr>`,
    );
    const listTable = list.rows.length
      ? html`<table class="worklist">
          <thead><tr>
            ${canPick ? html`<th class="pick"><span class="sr-only">选择</span></th>` : ''}
            <th>姓名</th>${sortHead('乡镇', 'place')}<th>村</th><th>身份证号</th><th>联系电话</th><th>救助类别</th>
            ${sortHead('标记数', 'flags', true)}${sortHead('应补金额（元）', 'owed', true)}${sortHead('最早结算日期', 'oldest')}<th>状态</th><th>个案</th>
          </tr></thead>
          <tbody>${rows}</tbody>
        </table>`
      : html`<p class="empty">没有符合条件的人员</p>`;
    const summary = html`<p class="pager">
      ${q.page > 1 ? html`<a href="${pageLink(q.page - 1)}">上一页</a>` : ''}
      <span>共 ${list.persons} 人（${list.cases} 个个案，应补 ${yuan(list.owed)} 元），第 ${q.page}/${pages} 页</span>
      ${q.page < pages ? html`<a href="${pageLink(q.page + 1)}">下一页</a>` : ''}
    </p>`;

    return sendPage(
      reply,
      page({
        title: '外展工作台',
        viewer: v,
        active: '/worklist',
        body: [
          moved,
          html`<form method="get" action="/worklist" class="filters">
            <div class="form-row">
              ${staff === undefined ? townshipSelect(townships, township) : html`<span>乡镇：${staff}</span>`}
              ${township
                ? html`<label for="village">村</label>
                    <select id="village" name="village">
                      <option value="">全部村</option>
                      ${villages.rows.map((r) => html`<option value="${r.village}" ${r.village === village ? 'selected' : ''}>${r.village}</option>`)}
                    </select>`
                : ''}
              <label for="category">救助类别</label>
              <select id="category" name="category">
                <option value="">全部类别</option>
                ${CATEGORIES.map((c) => html`<option value="${c}" ${c === filter.category ? 'selected' : ''}>${CATEGORY_LABEL[c]}</option>`)}
              </select>
              <label for="kind">标记</label>
              <select id="kind" name="kind">
                <option value="">全部标记</option>
                ${OUTREACH_FLAGS.map((k) => html`<option value="${k}" ${k === filter.kind ? 'selected' : ''}>${FLAG_LABEL[k] ?? k}</option>`)}
              </select>
              <label for="status">状态</label>
              <select id="status" name="status">
                <option value="open" ${filter.status === 'open' ? 'selected' : ''}>未结案（全部进行中）</option>
                <option value="all" ${filter.status === 'all' ? 'selected' : ''}>全部</option>
                ${CASE_STATUSES.filter((s) => staff === undefined || s !== 'pending').map((s) => html`<option value="${s}" ${s === filter.status ? 'selected' : ''}>${CASE_STATUS_LABEL[s]}</option>`)}
              </select>
            </div>
            <div class="form-row">
              <label for="from">结算日期从</label><input id="from" name="from" type="date" value="${filter.from ?? ''}" />
              <label for="to">至</label><input id="to" name="to" type="date" value="${filter.to ?? ''}" />
              <label for="sort">排序</label>
              <select id="sort" name="sort">
                ${WORKLIST_SORTS.map((s) => html`<option value="${s}" ${s === order.sort ? 'selected' : ''}>${SORT_LABEL[s]}</option>`)}
              </select>
              <button type="submit">筛选</button>
              ${Object.entries(params).some(([k, x]) => x && !(staff !== undefined && k === 'township')) ? html`<a href="/worklist">清除</a>` : ''}
            </div>
            ${township ? '' : html`<p class="muted">选择乡镇并点“筛选”后，可再按村筛选。</p>`}
          </form>`,
          html`<div class="cards">
            ${card(openCount(counts), '未结案', 'open')}
            ${CASE_STATUSES.filter((s) => staff === undefined || s !== 'pending').map((s) => card(counts[s], statusBadge(s), s))}
          </div>`,
          canPick ? html`<p class="actions"><a class="button secondary" href="/worklist.xlsx${query({ ...params })}">导出筛选结果（Excel）</a></p>` : '',
          summary,
          canPick && list.rows.length
            ? html`<form method="post" action="${canChange ? '/worklist/dispatch' : '/worklist/receive'}" class="bulk" data-confirm="确定更改所选人员的个案状态吗？更改后不能撤回。">
                ${csrfField(v)}${hidden}
                ${listTable}
                <div class="form-row bulk-actions">
                  ${list.persons > list.rows.length
                    ? html`<label><input type="checkbox" name="all" value="1" /> 选择筛选出的全部 ${list.persons} 人（所有页）</label>`
                    : ''}
                  ${canChange
                    ? html`<button type="submit">下放所选人员（待下放 → 已下放）</button>
                        <button type="submit" class="secondary" formaction="/worklist/receive">乡镇确认接收（已下放 → 已接收）</button>`
                    : html`<button type="submit">确认接收所选人员的个案（已下放 → 已接收）</button>`}
                </div>
              </form>`
            : listTable,
          list.rows.length ? summary : '',
        ],
      }),
    );
  });

  // an export holds phones and leaves the system: caseworkers and up, as report downloads; audited
  server.get('/worklist.xlsx', { config: { permission: 'change' } }, async (req, reply) => {
    const v = viewerOf(req);
    const p = await parse(req, v);
    if (!p) return sendPage(reply, invalidQuery(v, '/worklist'), 400);
    const list = await listWorklist(store, p.filter, p.order);
    const createdAt = new Date();
    const body = await worklistXlsx({ rows: list.rows, filter: filterText(p.filter, p.order), createdAt, shown: shownAs(disclosureFor(v.role, false)), county });
    await audit(store, { actor: v.username, action: 'export', subject: 'worklist', detail: { persons: list.persons, cases: list.cases, ...listParams(p.q) }, ip: req.ip });
    const name = `外展工作台_${countyStamp(createdAt)}.xlsx`;
    return reply
      .type('application/vnd.openxmlformats-officedocument.spreadsheetml.sheet')
      .header('Content-Disposition', `attachment; filename="worklist.xlsx"; filename*=UTF-8''${encodeURIComponent(name)}`)
      .send(body);
  });

  /** 下放 or 已接收 for the selected persons' cases of the filtered list, in one statement; each case audited. */
  async function bulk(req: FastifyRequest, reply: FastifyReply, to: 'dispatched' | 'received') {
    const v = viewerOf(req);
    const b = bulkBody.safeParse(req.body ?? {});
    if (!b.success) return sendPage(reply, invalidQuery(v, '/worklist'), 400);
    const { q, filter } = filterOf(v, b.data);
    if (filter.staffOf !== undefined && !TOWNSHIP_MOVES.includes(to)) {
      return sendPage(reply, page({ title: '不能进行此操作', viewer: v, active: '/worklist', error: TOWNSHIP_MOVES_TEXT, body: html`<p><a href="/worklist">返回外展工作台</a></p>` }), 400);
    }
    // only the cases the filter shows move: for township staff, their township's sent down
    const moved = await bulkMove(store, filter, b.data.all === '1' ? 'all' : b.data.person, to, `console:${v.username}`);
    // one audit row per case, as for a single move, written in one statement per 5,000
    for (let i = 0; i < moved.length; i += 5000) {
      await store.k
        .insertInto('audit_log')
        .values(moved.slice(i, i + 5000).map((m) => ({ actor: v.username, action: 'case_update', subject: `case:${m.id}`, detail: JSON.stringify({ from: m.from, to, bulk: true }), ip: req.ip })))
        .execute();
    }
    return reply.redirect(`/worklist${query({ ...listParams(q), moved: moved.length, movedTo: to })}`, 303);
  }
  server.post('/worklist/dispatch', { config: { permission: 'change' } }, (req, reply) => bulk(req, reply, 'dispatched'));
  server.post('/worklist/receive', { config: { permission: 'change' } }, (req, reply) => bulk(req, reply, 'received'));
}
