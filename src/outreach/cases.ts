/**
 * The outreach worklist. Every open outreach flag becomes a case that township staff
 * follow until the assistance is paid:
 *
 *   待下放 pending → 已下放 dispatched → 已接收 received → 已联系 contacted → 已申请 applied → 已支付 paid
 *                                                     ↘ 无法联系 unreachable      ↘ 已放弃 declined
 *
 * 已下放: the county sent the case down to its township (in bulk, from the worklist); 已接收:
 * the township acknowledged the list. Staff move a case along (with a note; who and when
 * are recorded), one case or many at once (moveCases, one statement); an outcome (已支付 with
 * the amount and day paid, 已放弃) is recorded in one action with the steps before it. The data closes
 * it too: when a later settlement delivery shows the assistance paid, the case is
 * paid with the amount recovered; when its flag is withdrawn for another reason (a
 * reversed settlement, a category no longer held), it is withdrawn (已撤销).
 */
import { sql } from 'kysely';
import type { Store, Tx } from '../db/store.js';
import type { CaseStatus } from '../db/schema.js';
import { OUTREACH_FLAGS, WITHDRAWN_LABEL } from '../assess/labels.js';
import { formatYuan } from '../ingest/normalise/money.js';
import { COUNTY_TIME_ZONE } from '../config.js';
import { parseDate } from '../ingest/normalise/date.js';
import { countyTime } from '../util/time.js';

export const CASE_STATUSES: readonly CaseStatus[] = ['pending', 'dispatched', 'received', 'contacted', 'applied', 'paid', 'unreachable', 'declined', 'withdrawn'];

export const CASE_STATUS_LABEL: Record<CaseStatus, string> = {
  pending: '待下放',
  dispatched: '已下放',
  received: '已接收',
  contacted: '已联系',
  applied: '已申请',
  paid: '已支付',
  unreachable: '无法联系',
  declined: '已放弃',
  withdrawn: '已撤销',
};

/** The moves staff may make. `withdrawn` is the data's alone; `paid` may also come from the data. */
export const TRANSITIONS: Record<CaseStatus, readonly CaseStatus[]> = {
  pending: ['dispatched'],
  // the township acknowledges the list before it calls
  dispatched: ['received'],
  received: ['contacted', 'unreachable'],
  contacted: ['applied', 'declined', 'unreachable'],
  applied: ['paid', 'declined'],
  // reached after all: contact goes on
  unreachable: ['contacted'],
  declined: [],
  paid: [],
  withdrawn: [],
};

/**
 * The moves township staff (乡镇经办) may make: acknowledge a case sent down, then record whether
 * they reached the person. Applying, paying and giving up are the county's to record.
 */
export const TOWNSHIP_MOVES: readonly CaseStatus[] = ['received', 'contacted', 'unreachable'];

/** A case in these states is finished (closed_at set). */
export const CLOSED_STATUSES: readonly CaseStatus[] = ['paid', 'declined', 'withdrawn'];

export class CaseError extends Error {
  override name = 'CaseError';
}

export interface CaseUpdateStats {
  opened: number;
  paid: number;
  withdrawn: number;
}

/**
 * Opens a case for every open outreach flag that has none, and closes the cases whose
 * flag the data has withdrawn. Runs after each assessment (the `outreach.update` job).
 */
export async function updateCases(store: Store): Promise<CaseUpdateStats> {
  return store.transaction(async (tx) => {
    await sql`select pg_advisory_xact_lock(hashtextextended('aidlink:cases', 0))`.execute(tx.k);
    const opened = await openCases(tx);
    const closed = await closeWithdrawn(tx);
    return { opened, ...closed };
  });
}

/** One insert of the new cases and one of their first events, however many flags are new. */
async function openCases(tx: Tx): Promise<number> {
  const r = await sql<{ n: number }>`
    with fresh as (
      insert into outreach_case (flag_id, person_id, township, village, status, kind, settled_on, amount, paid_at_open, opened_month)
      select f.id, f.person_id, p.township, p.village, 'pending', f.flag, coalesce(e.settled_on, e.service_date),
             coalesce(f.amount, 0), coalesce(f.paid, 0),
             -- the month the flag was raised, in county time
             to_char(f.raised_at at time zone ${sql.lit(COUNTY_TIME_ZONE)}, 'YYYY-MM')
      from flag f join person p on p.id = f.person_id
      left join entitlement e on e.settlement_id = f.settlement_id
      where f.withdrawn_at is null and f.flag = any(${[...OUTREACH_FLAGS]})
        and not exists (select 1 from outreach_case c where c.flag_id = f.id)
      order by f.id
      returning id
    ), events as (
      insert into case_event (case_id, actor, from_status, to_status, note)
      select id, 'system', null, 'pending', null from fresh
    )
    select count(*)::int as n from fresh`.execute(tx.k);
  return r.rows[0]?.n ?? 0;
}

/**
 * A withdrawn flag closes its case. Paid, when the data shows the assistance paid:
 * the same settlement delivered again with more paid, or — after a reversal — a
 * corrected re-settlement of the same person for the same stay (same end date and
 * institution) that paid assistance. Withdrawn otherwise.
 */
async function closeWithdrawn(tx: Tx): Promise<{ paid: number; withdrawn: number }> {
  const cases = await sql<{ id: number; status: CaseStatus; scope: string; settlement_id: string | null; person_id: number; withdrawn_reason: string | null; paid_at_open: number; paid_now: number | null; resettled_paid: number | null }>`
    select c.id, c.status, f.scope, f.settlement_id, c.person_id, f.withdrawn_reason, c.paid_at_open,
           (select e.paid from entitlement e where e.settlement_id = f.settlement_id) as paid_now,
           -- the reversed settlement is no longer assessed: its stay is read from its delivered row
           (select max(e2.paid) from settlement_row s1
              join entitlement e2 on e2.person_id = c.person_id and e2.service_date = s1.ended_on and e2.settlement_id <> s1.settlement_id
              join settlement_row s2 on s2.delivery_id = e2.delivery_id and s2.row_no = e2.row_no
            where s1.settlement_id = f.settlement_id and s1.reversed_id is null
              and s2.institution_code is not distinct from s1.institution_code) as resettled_paid
    from outreach_case c join flag f on f.id = c.flag_id
    where f.withdrawn_at is not null and c.status <> all(${[...CLOSED_STATUSES]})`.execute(tx.k);
  let paid = 0;
  let withdrawn = 0;
  for (const c of cases.rows) {
    const nowPaid = c.withdrawn_reason === 'no_longer_holds' && c.paid_now !== null ? Number(c.paid_now) : c.withdrawn_reason === 'reversed' && c.resettled_paid !== null ? Number(c.resettled_paid) : null;
    const recovered = nowPaid !== null ? nowPaid - Number(c.paid_at_open) : 0;
    const to: CaseStatus = c.scope === 'settlement' && recovered > 0 ? 'paid' : 'withdrawn';
    const note = to === 'paid' ? `结算数据显示已支付救助 ${formatYuan(recovered)} 元` : `标记已撤销：${WITHDRAWN_LABEL[c.withdrawn_reason ?? ''] ?? c.withdrawn_reason ?? ''}`;
    await tx.k
      .updateTable('outreach_case')
      .set({ status: to, recovered: Math.max(0, recovered), updated_at: new Date(), closed_at: new Date(), closed_by: 'data' })
      .where('id', '=', c.id)
      .execute();
    await tx.k.insertInto('case_event').values({ case_id: c.id, actor: 'system', from_status: c.status, to_status: to, note }).execute();
    if (to === 'paid') paid++;
    else withdrawn++;
  }
  return { paid, withdrawn };
}

/** The outcomes that close a case, which staff record in one action once they know them (stepsTo). */
export const OUTCOMES: readonly CaseStatus[] = ['paid', 'declined'];

/**
 * The statuses a move from `from` to `to` passes through, `to` last; undefined when staff may not
 * make it. A move of the flow (TRANSITIONS) is one step. An outcome (已支付, 已放弃) may also be
 * recorded on a case sent down but not yet that far: the steps in between, by the shortest way
 * of the flow, are recorded with it (a caseworker who hears the person was paid records it
 * once, not four times). Never from 待下放: sending a case down is the county's act.
 */
export function stepsTo(from: CaseStatus, to: CaseStatus): CaseStatus[] | undefined {
  if (TRANSITIONS[from].includes(to)) return [to];
  if (!OUTCOMES.includes(to) || from === 'pending') return undefined;
  const cameFrom = new Map<CaseStatus, CaseStatus>();
  const queue: CaseStatus[] = [from];
  while (queue.length) {
    const s = queue.shift()!;
    for (const n of TRANSITIONS[s]) {
      if (n === from || cameFrom.has(n)) continue;
      cameFrom.set(n, s);
      if (n === to) {
        const path: CaseStatus[] = [to];
        for (let p = s; p !== from; p = cameFrom.get(p)!) path.unshift(p);
        return path;
      }
      queue.push(n);
    }
  }
  return undefined;
}

/** The outcomes a case in `from` may be given at once (stepsTo), for the case page's forms. */
export const outcomesFrom = (from: CaseStatus): CaseStatus[] => OUTCOMES.filter((o) => stepsTo(from, o) !== undefined);

/** What staff record with 已支付: the amount paid (fen, > 0) and the day (county date, not in the future). */
export interface Payment {
  amount: number;
  paidOn: string;
}

/** Today in the county (Asia/Shanghai), YYYY-MM-DD. */
export const countyToday = (now = new Date()): string => countyTime(now).slice(0, 10);

function checkPayment(to: CaseStatus, payment: Payment | undefined): void {
  if (to !== 'paid') {
    if (payment) throw new CaseError('只有“已支付”需要填写支付金额和支付日期');
    return;
  }
  if (!payment) throw new CaseError('记录“已支付”须填写支付金额（元）和支付日期');
  if (!Number.isSafeInteger(payment.amount) || payment.amount <= 0) throw new CaseError('支付金额须大于 0 元');
  const today = countyToday();
  if (!/^\d{4}-\d{2}-\d{2}$/.test(payment.paidOn) || parseDate(payment.paidOn) !== payment.paidOn) throw new CaseError('支付日期不正确');
  if (payment.paidOn > today) throw new CaseError(`支付日期不能晚于今天（${today}）`);
}

/**
 * A staff member moves a case along, or records its outcome with the steps before it (stepsTo):
 * one event per step, with the same actor and note; 已支付 carries the amount and the day, which
 * become the case's 挽回金额 (`recovered`). Refuses a move the worklist does not have, in words
 * staff read. Returns the statuses the case passed through.
 */
export async function moveCase(store: Store, caseId: number, to: CaseStatus, actor: string, note: string | null, payment?: Payment): Promise<CaseStatus[]> {
  return store.transaction(async (tx) => {
    const c = await tx.k.selectFrom('outreach_case').select(['status']).where('id', '=', caseId).forUpdate().executeTakeFirst();
    if (!c) throw new CaseError(`没有编号为 ${caseId} 的个案`);
    const steps = stepsTo(c.status, to);
    if (!steps) {
      const allowed = TRANSITIONS[c.status].map((s) => CASE_STATUS_LABEL[s]);
      throw new CaseError(`个案当前为“${CASE_STATUS_LABEL[c.status]}”，不能改为“${CASE_STATUS_LABEL[to]}”` + (allowed.length ? `；可改为：${allowed.join('、')}` : '；个案已结束'));
    }
    checkPayment(to, payment);
    const closing = CLOSED_STATUSES.includes(to);
    await tx.k
      .updateTable('outreach_case')
      .set({
        status: to,
        updated_at: new Date(),
        ...(closing ? { closed_at: new Date(), closed_by: 'staff' as const } : {}),
        ...(payment ? { recovered: payment.amount, paid_on: payment.paidOn } : {}),
      })
      .where('id', '=', caseId)
      .execute();
    const text = note?.trim() || null;
    await tx.k
      .insertInto('case_event')
      .values(
        steps.map((s, i) => ({
          case_id: caseId,
          actor,
          from_status: i === 0 ? c.status : steps[i - 1]!,
          to_status: s,
          note: text,
          ...(s === 'paid' && payment ? { amount: payment.amount, paid_on: payment.paidOn } : {}),
        })),
      )
      .execute();
    return steps;
  });
}

/** A note without a change of status. */
export async function noteCase(store: Store, caseId: number, actor: string, note: string): Promise<void> {
  const c = await store.k.selectFrom('outreach_case').select(['status']).where('id', '=', caseId).executeTakeFirst();
  if (!c) throw new CaseError(`没有编号为 ${caseId} 的个案`);
  if (!note.trim()) throw new CaseError('备注不能为空');
  await store.k.insertInto('case_event').values({ case_id: caseId, actor, from_status: c.status, to_status: c.status, note: note.trim() }).execute();
}

/** A case moved by moveCases: its id and the status it had. */
export interface MovedCase {
  id: number;
  from: CaseStatus;
}

/**
 * Many cases moved at once (the worklist's bulk 下放 and 已接收): every case of `caseIds`
 * whose status may move to `to` (TRANSITIONS) moves, in one update and one insert of
 * their events, whatever their number; the others are left as they are. Returns the
 * cases moved, for the caller to audit.
 */
export async function moveCases(store: Store, caseIds: readonly number[], to: CaseStatus, actor: string, note: string | null): Promise<MovedCase[]> {
  const from = CASE_STATUSES.filter((s) => TRANSITIONS[s].includes(to));
  if (caseIds.length === 0 || from.length === 0) return [];
  const closing = CLOSED_STATUSES.includes(to);
  return store.transaction(async (tx) => {
    const moved = await sql<{ id: number; from_status: CaseStatus }>`
      with target as (
        select id, status from outreach_case
        where id = any(${[...caseIds]}::int[]) and status = any(${from}::text[])
        order by id
        for update
      ), moved as (
        update outreach_case c set status = ${to}, updated_at = now()
          ${closing ? sql`, closed_at = now(), closed_by = 'staff'` : sql``}
        from target t where c.id = t.id
        returning c.id, t.status as from_status
      ), events as (
        insert into case_event (case_id, actor, from_status, to_status, note)
        select id, ${actor}, from_status, ${to}, ${note?.trim() || null} from moved
      )
      select id, from_status from moved order by id`.execute(tx.k);
    return moved.rows.map((r) => ({ id: r.id, from: r.from_status }));
  });
}
