/**
 * The worklist by person (issue 19): one row per person with cases to follow — township
 * and village, current categories, the number of cases, the amount owed, the oldest
 * settlement and the cases' statuses — filtered, sorted and paged in one SQL statement
 * (aggregation, a window count, LIMIT/OFFSET), and the bulk moves staff make from it:
 * 下放 (send the selected persons' cases down to their township) and 已接收 (the township
 * acknowledges them). The console page (console/pages/worklist.ts) renders it, the export
 * (worklist-export.ts) writes exactly the filtered list.
 *
 * A row aggregates the person's cases that match the filter: with the default status
 * filter (open) its count is the person's open flags and its amount what is owed on them.
 */
import { sql, type RawBuilder } from 'kysely';
import type { CaseStatus, FlagKind } from '../db/schema.js';
import type { Store } from '../db/store.js';
import { OUTREACH_FLAGS } from '../assess/labels.js';
import { CATEGORIES, type Category } from '../policy/policy.js';
import { CASE_STATUSES, CLOSED_STATUSES, moveCases, type MovedCase } from './cases.js';
import { UNKNOWN_TOWNSHIP, UNKNOWN_VILLAGE } from './metrics.js';

export const WORKLIST_SORTS = ['owed', 'flags', 'oldest', 'place'] as const;
export type WorklistSort = (typeof WORKLIST_SORTS)[number];
export const SORT_LABEL: Record<WorklistSort, string> = { owed: '应补金额', flags: '标记数', oldest: '最早结算日期', place: '乡镇、村' };
/** Each sort's natural direction: the most owed, the most flags, the oldest settlement first. */
export const SORT_DEFAULT_DIR: Record<WorklistSort, 'asc' | 'desc'> = { owed: 'desc', flags: 'desc', oldest: 'asc', place: 'asc' };

export interface WorklistFilter {
  /** a township name, or 未知乡镇 for cases without one */
  township?: string | undefined;
  /** a village name (within the township), or 未知村 */
  village?: string | undefined;
  category?: Category | undefined;
  kind?: FlagKind | undefined;
  /** open (not closed), all, or one status */
  status: 'open' | 'all' | CaseStatus;
  /** settlement dates, inclusive (YYYY-MM-DD); a filter by date leaves out person-year flags */
  from?: string | undefined;
  to?: string | undefined;
  /**
   * Township staff's own view (乡镇经办): only this township's cases, and only those sent down
   * (sentDown). Set by the console from the signed-in user, never from the query; it narrows
   * whatever else the filter says.
   */
  staffOf?: string | undefined;
}

export interface WorklistOrder {
  sort: WorklistSort;
  dir: 'asc' | 'desc';
}

export interface WorklistRow {
  personId: number;
  name: string | null;
  idNumber: string | null;
  phone: string | null;
  township: string;
  village: string;
  /** the person's current categories, as codes in policy order */
  categories: string[];
  /** cases matching the filter */
  flags: number;
  /** the sum of their amounts, fen */
  owed: number;
  /** the oldest settlement date among them (YYYY-MM-DD), null when only person-year flags */
  oldest: string | null;
  /** their statuses, in the flow's order, with counts */
  statuses: { status: CaseStatus; n: number }[];
  /** their ids, the largest amount first */
  caseIds: number[];
}

export interface WorklistPage {
  rows: WorklistRow[];
  /** persons matching the filter */
  persons: number;
  /** cases matching the filter, and what they are worth (fen) */
  cases: number;
  owed: number;
}

const place = (col: 'township' | 'village') => (col === 'township' ? sql`coalesce(c.township, ${sql.lit(UNKNOWN_TOWNSHIP)})` : sql`coalesce(c.village, ${sql.lit(UNKNOWN_VILLAGE)})`);

/**
 * The cases township staff of `township` see (`c` is outreach_case): their township's, sent down
 * by the county — a 已下放 event, whatever happened since (a case the data closed while 待下放
 * was never theirs).
 */
export function townshipConditions(township: string): RawBuilder<unknown>[] {
  return [
    sql`c.township = ${township}`,
    sql`c.status <> 'pending'`,
    sql`exists (select 1 from case_event e where e.case_id = c.id and e.to_status = 'dispatched')`,
  ];
}

/** May township staff of `township` see case `caseId`? */
export async function townshipSees(store: Store, township: string, caseId: number): Promise<boolean> {
  const r = await sql<{ id: number }>`select c.id from outreach_case c where c.id = ${caseId} and ${sql.join(townshipConditions(township), sql` and `)}`.execute(store.k);
  return r.rows.length > 0;
}

/** The cases a filter selects (`c` is outreach_case), as SQL conditions. */
export function caseConditions(f: WorklistFilter): RawBuilder<unknown>[] {
  const conds: RawBuilder<unknown>[] = [sql`c.kind = any(${[...OUTREACH_FLAGS]}::text[])`];
  if (f.staffOf !== undefined) conds.push(...townshipConditions(f.staffOf));
  if (f.township) conds.push(sql`${place('township')} = ${f.township}`);
  if (f.township && f.village) conds.push(sql`${place('village')} = ${f.village}`);
  if (f.kind) conds.push(sql`c.kind = ${f.kind}`);
  if (f.status === 'open') conds.push(sql`c.status <> all(${[...CLOSED_STATUSES]}::text[])`);
  else if (f.status !== 'all') conds.push(sql`c.status = ${f.status}`);
  if (f.from) conds.push(sql`c.settled_on >= ${f.from}::date`);
  if (f.to) conds.push(sql`c.settled_on <= ${f.to}::date`);
  if (f.category)
    conds.push(sql`exists (select 1 from spell s where s.person_id = c.person_id and s.category = ${f.category} and s.superseded_at is null and s.valid_to is null)`);
  return conds;
}

function orderBy(o: WorklistOrder): RawBuilder<unknown> {
  const dir = o.dir === 'asc' ? sql`asc` : sql`desc`;
  switch (o.sort) {
    case 'owed':
      return sql`g.owed ${dir}, g.flags desc, g.person_id`;
    case 'flags':
      return sql`g.flags ${dir}, g.owed desc, g.person_id`;
    case 'oldest':
      return sql`g.oldest ${dir} nulls last, g.owed desc, g.person_id`;
    case 'place':
      return sql`g.township = ${UNKNOWN_TOWNSHIP}, g.township ${dir}, g.village = ${UNKNOWN_VILLAGE}, g.village ${dir}, g.owed desc, g.person_id`;
  }
}

interface Raw {
  person_id: number;
  name: string | null;
  id_number: string | null;
  phone: string | null;
  township: string;
  village: string;
  categories: string[] | null;
  flags: number;
  owed: string | number;
  oldest: string | null;
  statuses: string[];
  case_ids: number[];
  persons: number;
  cases: string | number;
  total: string | number;
}

/**
 * The worklist: persons with cases matching `f`, ordered, `limit` from `offset` (no limit:
 * every person, for the export). One statement: the cases are grouped by person, the
 * persons counted by a window over the groups, and only the page's persons joined to
 * their golden record and categories.
 */
export async function listWorklist(store: Store, f: WorklistFilter, o: WorklistOrder, page: { limit?: number; offset?: number } = {}): Promise<WorklistPage> {
  const conds = caseConditions(f);
  const where = sql.join(conds, sql` and `);
  const r = await sql<Raw>`
    with g as (
      -- what the order and the counts need, for every person; the rest only for the page's persons
      select c.person_id, count(*)::int as flags, sum(c.amount)::bigint as owed, min(c.settled_on) as oldest,
             -- a person's cases are filed where they lived when each opened: almost always one place
             min(${place('township')}) as township, min(${place('village')}) as village
      from outreach_case c
      where ${where}
      group by c.person_id
    ), counted as (
      select g.*, count(*) over ()::int as persons, sum(g.flags) over () as cases, sum(g.owed) over () as total
      from g
      order by ${orderBy(o)}
      ${page.limit !== undefined ? sql`limit ${page.limit}` : sql``} offset ${page.offset ?? 0}
    )
    select g.person_id, p.name, p.id_number, p.golden->'phone'->>'value' as phone, g.township, g.village,
           (select array_agg(distinct s.category) from spell s where s.person_id = g.person_id and s.superseded_at is null and s.valid_to is null) as categories,
           g.flags, g.owed, g.oldest::text as oldest, x.statuses, x.case_ids, g.persons, g.cases, g.total
    from counted g
    join person p on p.id = g.person_id
    cross join lateral (
      select array_agg(c.status) as statuses, array_agg(c.id order by c.amount desc, c.id) as case_ids
      from outreach_case c where c.person_id = g.person_id and ${where}
    ) x
    order by ${orderBy(o)}`.execute(store.k);
  const first = r.rows[0];
  let totals = first ? { persons: first.persons, cases: Number(first.cases), owed: Number(first.total) } : undefined;
  if (!totals) {
    // an empty page: past the end, or nothing matches; the counts still hold
    const t = await sql<{ persons: number; cases: number; owed: string | null }>`
      select count(distinct c.person_id)::int as persons, count(*)::int as cases, sum(c.amount)::bigint as owed
      from outreach_case c where ${where}`.execute(store.k);
    totals = { persons: t.rows[0]?.persons ?? 0, cases: t.rows[0]?.cases ?? 0, owed: Number(t.rows[0]?.owed ?? 0) };
  }
  const order = new Map(CATEGORIES.map((c, i) => [c as string, i]));
  return {
    ...totals,
    rows: r.rows.map((x) => {
      const counts = new Map<CaseStatus, number>();
      for (const s of x.statuses as CaseStatus[]) counts.set(s, (counts.get(s) ?? 0) + 1);
      return {
        personId: x.person_id,
        name: x.name,
        idNumber: x.id_number,
        phone: x.phone,
        township: x.township,
        village: x.village,
        categories: (x.categories ?? []).sort((a, b) => (order.get(a) ?? 99) - (order.get(b) ?? 99)),
        flags: x.flags,
        owed: Number(x.owed),
        oldest: x.oldest,
        statuses: CASE_STATUSES.filter((s) => counts.has(s)).map((s) => ({ status: s, n: counts.get(s)! })),
        caseIds: x.case_ids.map(Number),
      };
    }),
  };
}

/** The ids of the cases that `f` selects, of `personIds` or (`'all'`) of every person the filter lists, in one statement. */
export async function casesOf(store: Store, f: WorklistFilter, personIds: readonly number[] | 'all'): Promise<number[]> {
  if (personIds !== 'all' && personIds.length === 0) return [];
  const conds = caseConditions(f);
  if (personIds !== 'all') conds.unshift(sql`c.person_id = any(${[...personIds]}::int[])`);
  const r = await sql<{ id: number }>`select c.id from outreach_case c where ${sql.join(conds, sql` and `)} order by c.id`.execute(store.k);
  return r.rows.map((x) => x.id);
}

/**
 * 下放 (to: dispatched) or 已接收 (to: received) for the selected persons (or every person the
 * filter lists): their cases that the worklist's filter shows and that may make the move
 * (待下放 for 下放, 已下放 for 已接收) move at once. Returns the cases moved.
 */
export async function bulkMove(store: Store, f: WorklistFilter, personIds: readonly number[] | 'all', to: 'dispatched' | 'received', actor: string, note: string | null = null): Promise<MovedCase[]> {
  const ids = await casesOf(store, f, personIds);
  return moveCases(store, ids, to, actor, note);
}
