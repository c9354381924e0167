/**
 * The persons whose spells or assessment are stale, as the database marked them
 * (migration 20261209T0900: triggers on row_link and delivery). A delivery's new rows
 * mark their persons through the delivery, once matched: a month's roster rows mark their
 * persons for spells, and only those whose spells change for assessment. Spells claim the `spells`
 * marks and mark `assess` for the persons whose spells they changed; the assessment claims
 * the rest. A mark made while a run works (a staff decision, a later match) comes back
 * for the next run.
 *
 * Why these persons and no others: a person's spells depend only on their own linked
 * rows and on the as-of dates of their streams' snapshots; a changed snapshot can alter
 * the spells of its own persons and, by absence, of those listed in the snapshot just
 * before it (spells/derive.ts: an open spell ends at the first snapshot missing the
 * person). A person's assessment depends on their spells, their settlements and whether
 * a roster row of theirs is unreadable or held in quarantine (assess/run.ts): a changed
 * settlement delivery can take a 结算ID from its earlier owner or reverse it, so that
 * owner is stale too.
 */
import { sql } from 'kysely';
import type { Tx } from './store.js';

/** Above this share of all persons, a scoped run costs about what everyone's does: run everyone's. */
export const EVERYONE_SHARE = 0.5;

const upsert = sql`on conflict (person_id) do update set spells = stale_person.spells or excluded.spells, assess = stale_person.assess or excluded.assess`;

/**
 * Reads the deliveries whose status changed into person marks, and forgets them; a
 * delivery with rows not yet matched waits (its rows' first links mark nobody: this does).
 */
export async function readStaleDeliveries(tx: Tx): Promise<void> {
  await sql`
    with claimed as (
      delete from stale_delivery sd using delivery d
      where d.id = sd.delivery_id and d.status <> 'staged'
        and not exists (select 1 from source_row s where s.delivery_id = d.id
                        and not exists (select 1 from row_link l where l.delivery_id = s.delivery_id and l.row_no = s.row_no))
      returning sd.delivery_id),
    changed as (select d.* from delivery d join claimed c on c.delivery_id = d.id),
    before as (
      select p.id from changed c
      cross join lateral (
        select max(x.as_of) as as_of from delivery x
        where x.source = c.source and coalesce(x.stream, x.source) = coalesce(c.stream, c.source)
          and x.kind = 'snapshot' and x.status = 'accepted' and x.as_of < c.as_of) m
      join delivery p on p.source = c.source and coalesce(p.stream, p.source) = coalesce(c.stream, c.source)
        and p.kind = 'snapshot' and p.status = 'accepted' and p.as_of = m.as_of
      where c.kind = 'snapshot'
    ),
    marks as (
      -- a roster's own persons: spells; assessment too where a row is unreadable, or the roster went into or out of quarantine
      select l.person_id, true as spells,
             (c.kind is distinct from 'snapshot' or c.status = 'quarantined' or c.decision is not null or s.rejected) as assess
      from changed c
      join row_link l on l.delivery_id = c.id
      join source_row s on s.delivery_id = l.delivery_id and s.row_no = l.row_no
      where l.person_id is not null
      union all
      select l.person_id, true, false from before b join row_link l on l.delivery_id = b.id where l.person_id is not null
      union all
      select e.person_id, false, true from changed c
      join settlement_row sr on sr.delivery_id = c.id join entitlement e on e.settlement_id = sr.settlement_id
      where e.person_id is not null
      union all
      select e.person_id, false, true from changed c
      join settlement_row sr on sr.delivery_id = c.id join entitlement e on e.settlement_id = sr.reversed_id
      where e.person_id is not null
    )
    insert into stale_person (person_id, spells, assess)
    select person_id, bool_or(spells), bool_or(assess) from marks group by person_id
    ${upsert}`.execute(tx.k);
}

/** True when so many persons are stale that a run for everyone costs no more. */
export async function tooManyForScope(tx: Tx, persons: number): Promise<boolean> {
  if (persons === 0) return false;
  const { n } = (await sql<{ n: number }>`select count(*)::int as n from person`.execute(tx.k)).rows[0]!;
  return persons > EVERYONE_SHARE * n;
}

/** Spells' claim: clears the `spells` marks (of these persons, or all). Returns the persons that were marked. */
export async function claimForSpells(tx: Tx, persons: readonly number[] | null): Promise<number[]> {
  const r = persons
    ? await sql<{ person_id: number }>`update stale_person set spells = false where spells and person_id = any(${[...persons]}) returning person_id`.execute(tx.k)
    : await sql<{ person_id: number }>`update stale_person set spells = false where spells returning person_id`.execute(tx.k);
  return r.rows.map((x) => x.person_id);
}

/** The persons whose spells a run changed: their assessment is stale. */
export async function markForAssessment(tx: Tx, persons: readonly number[]): Promise<void> {
  if (persons.length === 0) return;
  await sql`
    insert into stale_person (person_id, spells, assess)
    select distinct p, false, true from unnest(${[...persons]}::int[]) as p
    ${upsert}`.execute(tx.k);
}

/**
 * The assessment's claim: removes the marks whose spells are current (of these persons,
 * or all); returns the persons whose assessment was stale.
 */
export async function claimForAssessment(tx: Tx, persons: readonly number[] | null): Promise<number[]> {
  const r = persons
    ? await sql<{ person_id: number; assess: boolean }>`delete from stale_person where not spells and person_id = any(${[...persons]}) returning person_id, assess`.execute(tx.k)
    : await sql<{ person_id: number; assess: boolean }>`delete from stale_person where not spells returning person_id, assess`.execute(tx.k);
  return r.rows.filter((x) => x.assess).map((x) => x.person_id);
}
