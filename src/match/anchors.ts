/**
 * The deterministic phase, set-based in SQL. A row's anchor key is a pure function
 * of the row and of one county-wide map, so it is the same whatever order rows
 * arrived in:
 *
 *   its own usable id number (valid, a converted legacy number, the id inside a
 *   disability certificate)                                       → id:<18 digits>
 *   else its 人员编号, when that number is seen with exactly one id → id:<that id>
 *   else its 人员编号, when it is seen with no id at all            → ins:<人员编号>
 *   else nothing: the row is scored (a 人员编号 seen with two different ids is
 *   a conflict, and such rows are scored too rather than trusted)
 */
import { sql, type RawBuilder } from 'kysely';
import type { Tx } from '../db/store.js';

export const USABLE_ID = sql`s.id_status in ('valid', 'legacy15')`;

/**
 * The county-wide map, for the 人员编号 `where` selects of `s`: each with a usable id, the
 * (smallest) id and how many distinct ones. Rows of a delivery still being staged are not
 * part of it yet: they have no row_link either (run.ts, insertNewRows).
 */
export const insuranceIds = (where: RawBuilder<unknown> = sql`true`) => sql`
  select s.insurance_no, min(s.id_number) as id18, count(distinct s.id_number) as ids
  from source_row s
  join delivery d on d.id = s.delivery_id
  where s.insurance_no is not null and ${USABLE_ID} and d.status <> 'staged' and ${where}
  group by s.insurance_no`;

/** A row's anchor key, from its source_row `s` and its 人员编号's entry `i` in INSURANCE_IDS. */
export const ANCHOR_KEY = sql`
  case
    when ${USABLE_ID} then 'id:' || s.id_number
    when s.insurance_no is not null and i.ids = 1 then 'id:' || i.id18
    when s.insurance_no is not null and i.ids is null then 'ins:' || s.insurance_no
  end`;

/** Recomputes every row's anchor key; only rows whose key changes are written. Returns how many changed. */
export async function computeAnchors(tx: Tx): Promise<number> {
  const r = await sql`
    with ins_ids as (${insuranceIds()}),
    keyed as (
      select l.delivery_id, l.row_no, ${ANCHOR_KEY} as anchor_key
      from row_link l
      join source_row s on s.delivery_id = l.delivery_id and s.row_no = l.row_no
      left join ins_ids i on i.insurance_no = s.insurance_no
    )
    update row_link l set anchor_key = k.anchor_key
    from keyed k
    where l.delivery_id = k.delivery_id and l.row_no = k.row_no and l.anchor_key is distinct from k.anchor_key`.execute(tx.k);
  return Number(r.numAffectedRows ?? 0);
}

/**
 * Recomputes the anchor keys that the rows in table `fresh` (delivery_id, row_no) can have
 * changed: a row's key depends on the row and on its 人员编号's entry in the map, and an
 * entry changes only when rows with that 人员编号 arrive. Adds the rows whose key changed to
 * `fresh`.
 */
export async function computeAnchorsOf(tx: Tx, fresh: string): Promise<number> {
  const r = await sql`
    with ins as (
      select distinct s.insurance_no from ${sql.table(fresh)} f
      join source_row s on s.delivery_id = f.delivery_id and s.row_no = f.row_no
      where s.insurance_no is not null
    ),
    ins_ids as (${insuranceIds(sql`s.insurance_no in (select insurance_no from ins)`)}),
    keyed as (
      select l.delivery_id, l.row_no, ${ANCHOR_KEY} as anchor_key
      from ins
      join source_row s on s.insurance_no = ins.insurance_no
      join row_link l on l.delivery_id = s.delivery_id and l.row_no = s.row_no
      left join ins_ids i on i.insurance_no = s.insurance_no
    ),
    changed as (
      update row_link l set anchor_key = k.anchor_key
      from keyed k
      where l.delivery_id = k.delivery_id and l.row_no = k.row_no and l.anchor_key is distinct from k.anchor_key
      returning l.delivery_id, l.row_no
    )
    insert into ${sql.table(fresh)} (delivery_id, row_no) select delivery_id, row_no from changed
    on conflict do nothing`.execute(tx.k);
  return Number(r.numAffectedRows ?? 0);
}

/** How an anchored row got its key, for the link's method. */
export const ANCHOR_METHOD = sql`
  case
    when not ${USABLE_ID} then 'insurance_no'
    when s.source = 'disability' then 'cert_id'
    else 'id'
  end`;

/**
 * The method of a row that is part of its person before scoring (an anchor, or pinned
 * by a merge or split): 'staff' where an active confirm names it, else ANCHOR_METHOD.
 * `row` is the alias of the table that gives delivery_id and row_no; `s` is its source_row.
 */
export const anchoredMethod = (row: string) => sql`
  case when exists (select 1 from match_decision c where c.kind = 'confirm' and c.revoked_at is null
                     and c.delivery_id = ${sql.ref(`${row}.delivery_id`)} and c.row_no = ${sql.ref(`${row}.row_no`)})
       then 'staff' else ${ANCHOR_METHOD} end`;
