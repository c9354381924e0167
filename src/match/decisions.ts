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
import type { Kysely } from 'kysely';
import type { DB } from '../db/schema.js';
import { analyze, type Store, type Tx } from '../db/store.js';

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

/** Rows not anchored by a key of their own are given `key` (anchored rows keep theirs). */
async function pinRows(tx: Tx, rows: [number, number][], key: string): Promise<void> {
  if (rows.length === 0) return;
  await sql`
    insert into link_key (delivery_id, row_no, person_key, scored)
    select (r->>0)::int, (r->>1)::int, ${key}, false from jsonb_array_elements(${JSON.stringify(rows)}::jsonb) r
    on conflict (delivery_id, row_no) do nothing`.execute(tx.k);
}

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

/**
 * Builds `link_key` (anchored row → person key) from the anchor keys and the
 * decisions, applied in the order they were made. Returns the row-level decisions
 * the scored phase must respect.
 */
export async function applyDecisions(tx: Tx): Promise<ActiveDecisions> {
  await sql`drop table if exists link_key`.execute(tx.k);
  await sql`
    create temp table link_key on commit drop as
    select delivery_id, row_no, anchor_key as person_key, false as scored from row_link where anchor_key is not null`.execute(tx.k);
  await sql`alter table link_key add primary key (delivery_id, row_no)`.execute(tx.k);
  await sql`create index link_key_person on link_key (person_key)`.execute(tx.k);

  const decisions = await tx.k.selectFrom('match_decision').selectAll().where('revoked_at', 'is', null).orderBy('made_at').orderBy('id').execute();
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
          await sql`update link_key set person_key = ${into} where person_key = ${from}`.execute(tx.k);
        }
        // rows that were linked by score belong to the merged person from now on
        await pinRows(tx, d.rows ?? [], into);
        break;
      }
      case 'split': {
        const key = resolve(d.person_key!);
        const rows = d.rows ?? [];
        await sql`
          update link_key set person_key = ${'split:' + d.id}
          where person_key = ${key}
            and (delivery_id, row_no) in (select (r->>0)::int, (r->>1)::int from jsonb_array_elements(${JSON.stringify(rows)}::jsonb) r)`.execute(tx.k);
        // rows that were linked by score leave with them
        await pinRows(tx, rows, 'split:' + d.id);
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
  // temporary tables get no statistics unless asked: without them the planner guesses badly
  await analyze(tx, 'link_key');
  // later merges also redirect earlier row decisions
  for (const [row, key] of confirms) confirms.set(row, resolve(key));
  for (const [row, keys] of rejects) rejects.set(row, new Set([...keys].map(resolve)));

  // a confirmed row is as good as anchored: it joins its person (and that person's profile);
  // a row rejected from the person its id anchors it to leaves the anchor group and is scored
  for (const [row, key] of confirms) {
    const [d, n] = row.split(':').map(Number);
    await sql`
      insert into link_key (delivery_id, row_no, person_key, scored) values (${d}, ${n}, ${key}, false)
      on conflict (delivery_id, row_no) do update set person_key = excluded.person_key`.execute(tx.k);
  }
  for (const [row, keys] of rejects) {
    const [d, n] = row.split(':').map(Number);
    await sql`delete from link_key where delivery_id = ${d} and row_no = ${n} and person_key = any(${[...keys]})`.execute(tx.k);
  }
  return { confirms, rejects };
}
