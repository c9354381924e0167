/**
 * The worklist's metrics, in one place for the console (外展工作台, 统计) and the CLI
 * (`aidlink cases metrics`): cases by status, open cases, contact rate, conversion and
 * amount recovered, per township and the month the case opened.
 */
import { sql } from 'kysely';
import type { Store } from '../db/store.js';
import type { CaseStatus } from '../db/schema.js';
import { CASE_STATUSES, CLOSED_STATUSES } from './cases.js';

/** What a case without a township or village is filed under. */
export const UNKNOWN_TOWNSHIP = '未知乡镇';
export const UNKNOWN_VILLAGE = '未知村';

/** Contacted or further: the person was reached. */
export const REACHED: readonly CaseStatus[] = ['contacted', 'applied', 'paid', 'declined'];
/** Sent down to the township or further. */
export const SENT: readonly CaseStatus[] = [...REACHED, 'dispatched', 'received', 'unreachable'];

export interface CaseMetrics {
  township: string;
  month: string;
  cases: number;
  byStatus: Record<CaseStatus, number>;
  /** cases contacted or further, of those sent down to the township (dispatched or further) */
  contactRate: number | null;
  /** cases paid, of those contacted or further */
  conversion: number | null;
  /**
   * fen recovered by paid cases (挽回金额): outreach_case.recovered, which both ways a case is paid
   * write — the data's increase in assistance paid, or the amount staff recorded with 已支付
   */
  recovered: number;
}

export type StatusCounts = Record<CaseStatus, number>;

export const noCases = (): StatusCounts => Object.fromEntries(CASE_STATUSES.map((s) => [s, 0])) as StatusCounts;

const countOf = (byStatus: StatusCounts, ss: readonly CaseStatus[]): number => ss.reduce((n, s) => n + byStatus[s], 0);

/** Cases not yet closed (closed: paid, declined, withdrawn). */
export const openCount = (byStatus: StatusCounts): number => countOf(byStatus, CASE_STATUSES.filter((s) => !CLOSED_STATUSES.includes(s)));

/** Contact rate and conversion of a set of cases; null where nothing was sent or reached (no 0 ÷ 0). */
export function rates(byStatus: StatusCounts): { contactRate: number | null; conversion: number | null } {
  const sent = countOf(byStatus, SENT);
  const reached = countOf(byStatus, REACHED);
  return { contactRate: sent ? reached / sent : null, conversion: reached ? byStatus.paid / reached : null };
}

/** Several rows of metrics as one (a township's months, or the county): counts add up, rates are computed again. */
export function totalOf(ms: readonly CaseMetrics[], township: string, month = '合计'): CaseMetrics {
  const byStatus = noCases();
  for (const m of ms) for (const s of CASE_STATUSES) byStatus[s] += m.byStatus[s];
  return {
    township,
    month,
    cases: ms.reduce((n, m) => n + m.cases, 0),
    byStatus,
    ...rates(byStatus),
    recovered: ms.reduce((n, m) => n + m.recovered, 0),
  };
}

/** Per township and month the case opened: cases by status, contact rate, conversion, amount recovered. */
export async function caseMetrics(store: Store, opts: { township?: string } = {}): Promise<CaseMetrics[]> {
  // one literal, not a parameter each time: select and group by must be the same expression
  const township = sql<string>`coalesce(township, ${sql.lit(UNKNOWN_TOWNSHIP)})`;
  let q = store.k
    .selectFrom('outreach_case')
    .select((eb) => [township.as('township'), 'opened_month as month', 'status', eb.fn.countAll<number>().as('n'), eb.fn.sum<number>('recovered').as('recovered')])
    .groupBy([township, 'opened_month', 'status']);
  if (opts.township) q = q.where(township, '=', opts.township);
  const rows = await q.execute();
  const by = new Map<string, CaseMetrics>();
  for (const r of rows) {
    const key = `${r.township}\u0000${r.month}`;
    let m = by.get(key);
    if (!m) {
      m = { township: r.township, month: r.month, cases: 0, byStatus: noCases(), contactRate: null, conversion: null, recovered: 0 };
      by.set(key, m);
    }
    m.cases += Number(r.n);
    m.byStatus[r.status] += Number(r.n);
    m.recovered += Number(r.recovered ?? 0);
  }
  for (const m of by.values()) Object.assign(m, rates(m.byStatus));
  return [...by.values()].sort((a, b) => a.township.localeCompare(b.township, 'zh') || a.month.localeCompare(b.month));
}

/** Cases by status, of a township (and a village of it) or of the county. */
export async function statusCounts(store: Store, where: { township?: string | undefined; village?: string | undefined } = {}): Promise<StatusCounts> {
  let q = store.k.selectFrom('outreach_case').select((eb) => ['status', eb.fn.countAll<number>().as('n')]).groupBy('status');
  if (where.township) q = q.where(sql`coalesce(township, ${UNKNOWN_TOWNSHIP})`, '=', where.township);
  if (where.village) q = q.where(sql`coalesce(village, ${UNKNOWN_VILLAGE})`, '=', where.village);
  const counts = noCases();
  for (const r of await q.execute()) counts[r.status] = Number(r.n);
  return counts;
}
