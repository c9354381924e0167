/**
 * Staff decisions about identity are facts, stored and applied on every run, so
 * re-matching never undoes them:
 *
 *   confirm  this row belongs to this person
 *   reject   this row is not this person ("these two are not the same person")
 *   split    these rows of a person are somebody else: they become a person of their own
 *   merge    these two persons are one
 *
 * A decision can be revoked (it stays on record, marked revoked, with who and when).
 */
import { sql } from 'kysely';
import type { Kysely, Selectable } from 'kysely';
import type { DB, MatchDecisionTable } from '../db/schema.js';
import type { Store, Tx } from '../db/store.js';

export class DecisionError extends Error {
  override name = 'DecisionError';
}

export interface RowRef {
  deliveryId: number;
  rowNo: number;
}

async function personKey(k: Kysely<DB>, personId: number): Promise<string> {
  const p = await k.selectFrom('person').select('person_key').where('id', '=', personId).executeTakeFirst();
  if (!p) throw new DecisionError(`no person ${personId}`);
  return p.person_key;
}

async function assertRow(k: Kysely<DB>, row: RowRef): Promise<void> {
  const r = await k.selectFrom('source_row').select('row_no').where('delivery_id', '=', row.deliveryId).where('row_no', '=', row.rowNo).executeTakeFirst();
  if (!r) throw new DecisionError(`no row ${row.rowNo} in delivery ${row.deliveryId}`);
}

/** A decision about one row and one person: it belongs to them (confirm), or not (reject). */
async function decideRow(store: Store, kind: 'confirm' | 'reject', row: RowRef, personId: number, actor: string, note?: string): Promise<number> {
  await assertRow(store.k, row);
  const key = await personKey(store.k, personId);
  const d = await store.k
    .insertInto('match_decision')
    .values({ kind, delivery_id: row.deliveryId, row_no: row.rowNo, person_key: key, other_person_key: null, rows: null, actor, note: note ?? null })
    .returning('id')
    .executeTakeFirstOrThrow();
  return d.id;
}

export const confirmLink = (store: Store, row: RowRef, personId: number, actor: string, note?: string) => decideRow(store, 'confirm', row, personId, actor, note);
export const rejectLink = (store: Store, row: RowRef, personId: number, actor: string, note?: string) => decideRow(store, 'reject', row, personId, actor, note);

export async function splitPerson(store: Store, personId: number, rows: RowRef[], actor: string, note?: string): Promise<number> {
  if (rows.length === 0) throw new DecisionError('a split needs the rows that leave the person');
  const key = await personKey(store.k, personId);
  const linked = await store.k.selectFrom('row_link').select(['delivery_id', 'row_no']).where('person_id', '=', personId).execute();
  const mine = new Set(linked.map((r) => `${r.delivery_id}:${r.row_no}`));
  const foreign = rows.filter((r) => !mine.has(`${r.deliveryId}:${r.rowNo}`));
  if (foreign.length > 0) throw new DecisionError(`row ${foreign[0]!.rowNo} of delivery ${foreign[0]!.deliveryId} is not a row of person ${personId}`);
  if (rows.length === mine.size) throw new DecisionError('a split must leave the person at least one row');
  const d = await store.k
    .insertInto('match_decision')
    .values({ kind: 'split', delivery_id: null, row_no: null, person_key: key, other_person_key: null, rows: JSON.stringify(rows.map((r) => [r.deliveryId, r.rowNo])), actor, note: note ?? null })
    .returning('id')
    .executeTakeFirstOrThrow();
  return d.id;
}

export async function mergePersons(store: Store, intoId: number, otherId: number, actor: string, note?: string): Promise<number> {
  if (intoId === otherId) throw new DecisionError('a person cannot be merged with itself');
  const into = await personKey(store.k, intoId);
  const other = await personKey(store.k, otherId);
  // the rows of both, as they are now: persons known only from scored rows have no key that lasts
  const rows = await store.k.selectFrom('row_link').select(['delivery_id', 'row_no']).where('person_id', 'in', [intoId, otherId]).execute();
  const d = await store.k
    .insertInto('match_decision')
    .values({ kind: 'merge', delivery_id: null, row_no: null, person_key: into, other_person_key: other, rows: JSON.stringify(rows.map((r) => [r.delivery_id, r.row_no])), actor, note: note ?? null })
    .returning('id')
    .executeTakeFirstOrThrow();
  return d.id;
}

export async function revokeDecision(store: Store, id: number, actor: string): Promise<void> {
  const r = await store.k.updateTable('match_decision').set({ revoked_at: new Date(), revoked_by: actor }).where('id', '=', id).where('revoked_at', 'is', null).executeTakeFirst();
  if (Number(r.numUpdatedRows) === 0) throw new DecisionError(`no active decision ${id}`);
}

export interface ActiveDecisions {
  /** row → person key it must belong to */
  confirms: Map<string, string>;
  /** row → person keys it must not belong to */
  rejects: Map<string, Set<string>>;
}

export const rowId = (deliveryId: number, rowNo: number) => `${deliveryId}:${rowNo}`;

/** Rows (`only`: of those in that table) not anchored by a key of their own are given `key` in `target` (anchored rows keep theirs). */
async function pinRows(tx: Tx, target: string, only: string | undefined, rows: [number, number][], key: string): Promise<void> {
  if (rows.length === 0) return;
  await sql`
    insert into ${sql.table(target)} (delivery_id, row_no, person_key, scored)
    select r.delivery_id, r.row_no, ${key}, false
    from (select (r->>0)::int as delivery_id, (r->>1)::int as row_no from jsonb_array_elements(${JSON.stringify(rows)}::jsonb) r) r
    where ${onlyRows(only, 'r')}
    on conflict (delivery_id, row_no) do nothing`.execute(tx.k);
}

/** `alias`'s row is one of the rows in table `only` (every row when there is none). */
const onlyRows = (only: string | undefined, alias: string) =>
  only
    ? sql`exists (select 1 from ${sql.table(only)} o where o.delivery_id = ${sql.ref(`${alias}.delivery_id`)} and o.row_no = ${sql.ref(`${alias}.row_no`)})`
    : sql`true`;

/** Person keys merged away (from → into), and the key a chain of merges ends at. */
export function mergeAliases(): { alias: Map<string, string>; resolve: (key: string) => string } {
  const alias = new Map<string, string>();
  const resolve = (key: string): string => {
    let k = key;
    for (let i = 0; i < 100 && alias.has(k); i++) k = alias.get(k)!;
    return k;
  };
  return { alias, resolve };
}

export type ActiveDecision = Selectable<MatchDecisionTable>;

/** The decisions in effect, in the order they were made (the order they apply in). */
export async function loadActiveDecisions(k: Kysely<DB>): Promise<ActiveDecision[]> {
  return k.selectFrom('match_decision').selectAll().where('revoked_at', 'is', null).orderBy('made_at').orderBy('id').execute();
}

/**
 * Applies the decisions, in the order they were made, to `target` (row → person key,
 * filled with the rows' anchor keys): merges redirect keys, splits move rows, and rows
 * named by a merge, split or confirm are pinned. `only`, a table of rows, limits the
 * rows added to those in it (anchor-state.ts updates only the rows that could have
 * changed: a row's key depends on its anchor and the decisions alone). Returns the
 * row-level decisions the scored phase must respect.
 */
export async function applyDecisions(tx: Tx, decisions: readonly ActiveDecision[], target: string, only?: string): Promise<ActiveDecisions> {
  const t = sql.table(target);
  const confirms = new Map<string, string>();
  const rejects = new Map<string, Set<string>>();
  const { alias, resolve } = mergeAliases();
  for (const d of decisions) {
    switch (d.kind) {
      case 'merge': {
        const into = resolve(d.person_key!);
        const from = resolve(d.other_person_key!);
        if (into !== from) {
          alias.set(from, into);
          await sql`update ${t} set person_key = ${into} where person_key = ${from}`.execute(tx.k);
        }
        // rows that were linked by score belong to the merged person from now on
        await pinRows(tx, target, only, d.rows ?? [], into);
        break;
      }
      case 'split': {
        const key = resolve(d.person_key!);
        const rows = d.rows ?? [];
        await sql`
          update ${t} set person_key = ${'split:' + d.id}
          where person_key = ${key}
            and (delivery_id, row_no) in (select (r->>0)::int, (r->>1)::int from jsonb_array_elements(${JSON.stringify(rows)}::jsonb) r)`.execute(tx.k);
        // rows that were linked by score leave with them
        await pinRows(tx, target, only, rows, 'split:' + d.id);
        break;
      }
      case 'confirm': {
        const id = rowId(d.delivery_id!, d.row_no!);
        confirms.set(id, resolve(d.person_key!));
        rejects.get(id)?.delete(resolve(d.person_key!));
        break;
      }
      case 'reject': {
        const id = rowId(d.delivery_id!, d.row_no!);
        const key = resolve(d.person_key!);
        if (confirms.get(id) === key) confirms.delete(id);
        (rejects.get(id) ?? rejects.set(id, new Set()).get(id)!).add(key);
        break;
      }
    }
  }
  // later merges also redirect earlier row decisions
  for (const [row, key] of confirms) confirms.set(row, resolve(key));
  for (const [row, keys] of rejects) rejects.set(row, new Set([...keys].map(resolve)));

  // a confirmed row is as good as anchored: it joins its person (and that person's profile);
  // a row rejected from the person its id anchors it to leaves the anchor group and is scored
  const rowKey = (row: string, key: string) => [...row.split(':').map(Number), key];
  if (confirms.size > 0) {
    await sql`
      insert into ${t} (delivery_id, row_no, person_key, scored)
      select r.delivery_id, r.row_no, r.person_key, false
      from (select (r->>0)::int as delivery_id, (r->>1)::int as row_no, r->>2 as person_key
            from jsonb_array_elements(${JSON.stringify([...confirms].map(([row, key]) => rowKey(row, key)))}::jsonb) r) r
      where ${onlyRows(only, 'r')}
      on conflict (delivery_id, row_no) do update set person_key = excluded.person_key`.execute(tx.k);
  }
  const rejected = [...rejects].flatMap(([row, keys]) => [...keys].map((key) => rowKey(row, key)));
  if (rejected.length > 0) {
    await sql`
      delete from ${t} k
      using (select (r->>0)::int as delivery_id, (r->>1)::int as row_no, r->>2 as person_key
             from jsonb_array_elements(${JSON.stringify(rejected)}::jsonb) r) r
      where k.delivery_id = r.delivery_id and k.row_no = r.row_no and k.person_key = r.person_key`.execute(tx.k);
  }
  return { confirms, rejects };
}
