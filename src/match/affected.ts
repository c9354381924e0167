/**
 * Which floating rows a run must score again, and which it may keep as the latest run
 * decided them. A row's decision in a scoring pass depends only on the persons that
 * share a block key with it (its candidates, and how many keys they share) and on their
 * profiles. So a row keeps its earlier decision for a pass unless some person sharing a
 * key with it changed before that pass:
 *
 *   before pass 1  persons whose anchored rows changed (new rows, a changed anchor, a
 *                  staff decision) in a way that changes their profile or block keys
 *                  (a fingerprint of both, before and after)
 *   before pass k  also persons that gained or lost a row linked by score in an earlier
 *                  pass, compared with the latest run
 *
 * The block keys of the changed persons, before and after (their rows, and the rows
 * that moved), are "dirty": a row with a dirty key is scored again, from that pass on.
 * New rows, rows named by a staff decision since the latest match and rows without a
 * decision of the same model version are always scored. A run under another model
 * version, a rematch of more than the new rows, or different matching parameters
 * scores every row (`all`), and so does a run in which more than `maxChangedShare` of the
 * persons gained or lost anchored rows (the search would cost more than it saves). The
 * run then ends in exactly the links a full rematch under the same model version gives
 * (test/match/sample.test.ts).
 */
import { sql } from 'kysely';
import { analyze, type Tx } from '../db/store.js';
import { USABLE_ID } from './anchors.js';
import { BLOCKS_OF, PROFILE_COLUMNS } from './data.js';
import { rowId } from './decisions.js';
import { livePersons } from './persons.js';

/** The link methods of rows that were part of a person before scoring (link_key, not scored). */
const ANCHORED = ['id', 'cert_id', 'insurance_no', 'staff'];

/** Above this share of persons with changed anchored rows, a run scores every row. */
export const MAX_CHANGED_SHARE = 0.02;

export interface AffectedRows {
  /** every floating row is scored */
  all: boolean;
  /** why not incremental, when `all` */
  reason: string | null;
  /** block keys (`blockId`) of persons changed so far */
  dirty: Set<string>;
  /** rows (`rowId`) named by staff decisions since the latest match */
  named: Set<string>;
}

/** Parameters as text, keys sorted (jsonb keeps its own key order). */
export const canonical = (o: Record<string, unknown>) => JSON.stringify(Object.keys(o).sort().map((k) => [k, o[k]]));

export const blockId = (kind: string, value: string) => `${kind}\u0000${value}`;

/**
 * Where this run starts from. `params` are the matching parameters the run uses: a
 * latest run with others (or another model version) means every row is scored.
 */
export async function affectedRows(
  tx: Tx,
  opts: {
    full: boolean;
    modelId: number;
    params: Record<string, unknown>;
    maxChangedShare: number;
    /** the table of anchored rows that joined or left a person, when the anchored state knows them (anchor-state.ts) */
    anchorsMoved: string | null;
  },
): Promise<AffectedRows> {
  const all = (reason: string): AffectedRows => ({ all: true, reason, dirty: new Set(), named: new Set() });
  if (opts.full) return all('a rematch of more than the new rows');
  const latest = await sql<{ id: number; started_at: Date; model_id: number | null; params: Record<string, unknown> | null }>`
    select id, started_at, model_id, params from match_run
    where kind <> 'decision' and finished_at is not null
    order by id desc limit 1`.execute(tx.k);
  const prev = latest.rows[0];
  if (!prev) return all('no earlier match');
  if (prev.model_id !== opts.modelId) return all('another model version');
  if (canonical(prev.params ?? {}) !== canonical(opts.params)) return all('other matching parameters');

  // staff decisions since then (made or revoked), and what the decisions put in effect at once moved
  const decided = await sql<{ delivery_id: number | null; row_no: number | null; person_key: string | null }>`
    with d as (
      select * from match_decision where made_at >= ${prev.started_at} or revoked_at >= ${prev.started_at}
    )
    select delivery_id, row_no, person_key from d
    union all select null, null, other_person_key from d
    union all select (r->>0)::int, (r->>1)::int, null from d cross join lateral jsonb_array_elements(coalesce(d.rows, '[]'::jsonb)) r
    union all
    select c.delivery_id, c.row_no, p.person_key
    from match_change c
    cross join lateral (values (c.from_person_id), (c.to_person_id)) v(id)
    left join person p on p.id = v.id
    where c.run_id in (select id from match_run where kind = 'decision' and id > ${prev.id})`.execute(tx.k);
  const named = new Set<string>();
  const decidedKeys = new Set<string>();
  for (const r of decided.rows) {
    if (r.delivery_id !== null && r.row_no !== null) named.add(rowId(r.delivery_id, r.row_no));
    if (r.person_key) decidedKeys.add(r.person_key);
  }

  // anchored rows that joined or left a person since the latest run: known to the kept
  // anchored state, or found by comparing every anchored row with its link
  if (opts.anchorsMoved) {
    await sql`create temp table l0_moved on commit drop as select person_key, delivery_id, row_no from ${sql.table(opts.anchorsMoved)}`.execute(tx.k);
  } else await sql`
    create temp table l0_moved on commit drop as
    select k.person_key, k.delivery_id, k.row_no
    from link_key k
    left join row_link l on l.delivery_id = k.delivery_id and l.row_no = k.row_no
    left join person p on p.id = l.person_id
    where not k.scored and not (l.state = 'linked' and l.method = any(${ANCHORED}) and p.person_key is not distinct from k.person_key)
    union all
    select p.person_key, l.delivery_id, l.row_no
    from row_link l join person p on p.id = l.person_id
    where l.state = 'linked' and l.method = any(${ANCHORED})
      and not exists (select 1 from link_key k where k.delivery_id = l.delivery_id and k.row_no = l.row_no and k.person_key = p.person_key)`.execute(tx.k);
  await analyze(tx, 'l0_moved');
  // when many persons changed, their block keys reach nearly every floating row, and finding
  // out which costs more than scoring them all (a monthly roster: measured in BENCHMARKS.md)
  const movedPersons = (await sql<{ n: number }>`select count(distinct person_key)::int as n from l0_moved`.execute(tx.k)).rows[0]!.n;
  const live = await livePersons(tx);
  if (movedPersons > opts.maxChangedShare * live) return all(`${movedPersons} of ${live} persons changed`);

  // of their persons, those whose profile or block keys changed: a fingerprint of both, then and now
  await sql`
    create temp table l0_member on commit drop as
    with x as (select distinct person_key from l0_moved)
    select 'now'::text as side, k.person_key, k.delivery_id, k.row_no
    from link_key k join x on x.person_key = k.person_key where not k.scored
    union all
    select 'then', p.person_key, l.delivery_id, l.row_no
    from x join person p on p.person_key = x.person_key
    join row_link l on l.person_id = p.id
    where l.state = 'linked' and l.method = any(${ANCHORED})`.execute(tx.k);
  await analyze(tx, 'l0_member');
  const changed = await sql<{ person_key: string }>`
    with fp as (
      select side, person_key, md5(x::text) as fp from (
        select k.side, k.person_key, ${PROFILE_COLUMNS},
               array_agg(distinct l.name_sound) as sounds,
               array_agg(distinct case when ${USABLE_ID} then s.id_number end) as ids
        from l0_member k
        join source_row s on s.delivery_id = k.delivery_id and s.row_no = k.row_no
        join row_link l on l.delivery_id = k.delivery_id and l.row_no = k.row_no
        group by k.side, k.person_key
      ) x
    )
    select coalesce(a.person_key, b.person_key) as person_key
    from (select * from fp where side = 'now') a
    full join (select * from fp where side = 'then') b on b.person_key = a.person_key
    where a.fp is distinct from b.fp`.execute(tx.k);
  const persons = new Set([...changed.rows.map((r) => r.person_key), ...decidedKeys]);

  const out: AffectedRows = { all: false, reason: null, dirty: new Set(), named };
  const moved = await sql<{ delivery_id: number; row_no: number }>`
    select delivery_id, row_no from l0_moved where person_key = any(${[...persons]})`.execute(tx.k);
  const rows = [...moved.rows.map((r) => [r.delivery_id, r.row_no] as [number, number]), ...[...named].map((id) => id.split(':').map(Number) as [number, number])];
  await widen(tx, out, rows, [...persons]);
  return out;
}

/**
 * Marks dirty the block keys of `persons` (their rows in link_key as it stands) and of
 * the rows that moved (whatever person they left or joined).
 */
export async function widen(tx: Tx, affected: AffectedRows, moved: readonly [number, number][], persons: readonly string[]): Promise<void> {
  if (moved.length === 0 && persons.length === 0) return;
  await sql`create temp table if not exists dirty_row (delivery_id int, row_no int, person_key text) on commit drop`.execute(tx.k);
  await sql`truncate dirty_row`.execute(tx.k);
  await sql`
    insert into dirty_row (delivery_id, row_no, person_key)
    select (r->>0)::int, (r->>1)::int, '' from jsonb_array_elements(${JSON.stringify(moved)}::jsonb) r
    union all
    select k.delivery_id, k.row_no, k.person_key from link_key k where k.person_key = any(${[...persons]})`.execute(tx.k);
  await analyze(tx, 'dirty_row');
  const keys = await sql<{ kind: string; value: string }>`select distinct kind, value from (${BLOCKS_OF(sql`true`, 'dirty_row')}) b`.execute(tx.k);
  for (const k of keys.rows) affected.dirty.add(blockId(k.kind, k.value));
}
