/**
 * A staff decision takes effect at once, for the rows and persons it names, without
 * matching the county again:
 *
 *   confirm  the row joins the person (method 'staff')
 *   reject   a row linked to that person leaves it and becomes a person of its own; a row in
 *            review loses that candidate, and becomes a person of its own when none is left
 *   split    the rows become the person `split:<decision>`
 *   merge    every row of the other person joins the person that stays
 *
 * Those are the links the next full match gives the named rows as well (decisions.ts
 * applies the same facts on every run, with the same person keys, so person ids stay).
 * What a decision may change beyond them (a floating row whose best candidate gained
 * a row) waits for the next match run. The touched persons' golden records are
 * refreshed here; their spells, entitlements and flags follow in the jobs the caller
 * queues (jobs/definitions.ts, reassessStages).
 */
import { sql, type RawBuilder } from 'kysely';
import type { Store, Tx } from '../db/store.js';
import { anchoredMethod } from './anchors.js';
import { mergeAliases } from './decisions.js';
import { refreshPersons } from './persons.js';
import { madeSinceLatestRun } from './review.js';

export interface DecisionEffect {
  /** false when a match run held the lock: the decisions take effect in that run or the next */
  applied: boolean;
  /** the match_run that recorded the effect (kind 'decision') */
  runId: number | null;
  decisions: number;
  /** rows whose person or state changed */
  rows: number;
  /** persons whose rows changed (their spells and entitlements must follow) */
  persons: number[];
  ms: number;
}

interface Pending {
  id: number;
  kind: 'confirm' | 'reject' | 'split' | 'merge';
  delivery_id: number | null;
  row_no: number | null;
  person_key: string | null;
  other_person_key: string | null;
  rows: [number, number][] | null;
}

/** The rows a move concerns: a filter on row_link `l`. */
type RowFilter = RawBuilder<unknown>;

/**
 * Applies every decision made since the latest match run started, in the order made.
 * A match running now holds the lock: then nothing is done here, and that run or the
 * next one applies them.
 */
export async function applyPendingDecisions(store: Store): Promise<DecisionEffect> {
  const t0 = performance.now();
  return store.transaction(async (tx) => {
    const locked = await sql<{ ok: boolean }>`select pg_try_advisory_xact_lock(hashtextextended('aidlink:match', 0)) as ok`.execute(tx.k);
    if (!locked.rows[0]!.ok) return { applied: false, runId: null, decisions: 0, rows: 0, persons: [], ms: Math.round(performance.now() - t0) };
    const pending = await sql<Pending>`
      select id, kind, delivery_id, row_no, person_key, other_person_key, rows
      from match_decision
      where revoked_at is null and ${madeSinceLatestRun('made_at')}
      order by made_at, id`.execute(tx.k);
    const run = await tx.k.insertInto('match_run').values({ kind: 'decision', params: null, stats: null }).returning('id').executeTakeFirstOrThrow();
    const touched = new Set<number>();
    let rows = 0;
    // merges made in this batch redirect the decisions after them
    const { alias, resolve } = mergeAliases();
    const move = async (filter: RowFilter, key: string, method: RawBuilder<unknown>) => {
      const moved = await moveRows(tx, run.id, filter, key, method);
      rows += moved.rows;
      for (const id of moved.persons) touched.add(id);
    };
    for (const d of pending.rows) {
      switch (d.kind) {
        case 'confirm': {
          const row = sql`l.delivery_id = ${d.delivery_id} and l.row_no = ${d.row_no}`;
          await move(row, resolve(d.person_key!), sql`'staff'`);
          break;
        }
        case 'reject':
          await reject(tx, d.delivery_id!, d.row_no!, resolve(d.person_key!), move);
          break;
        case 'split': {
          const from = await personId(tx, resolve(d.person_key!));
          if (from === null) break;
          const listed = sql`(l.delivery_id, l.row_no) in (select (r->>0)::int, (r->>1)::int from jsonb_array_elements(${JSON.stringify(d.rows ?? [])}::jsonb) r)`;
          await move(sql`l.person_id = ${from} and ${listed}`, `split:${d.id}`, anchoredMethod('l'));
          break;
        }
        case 'merge': {
          const into = resolve(d.person_key!);
          const other = resolve(d.other_person_key!);
          if (into === other) break;
          alias.set(other, into);
          const ids = [await personId(tx, into), await personId(tx, other)].filter((x): x is number => x !== null);
          await move(sql`l.person_id = any(${ids})`, into, anchoredMethod('l'));
          break;
        }
      }
    }
    const persons = [...touched].sort((a, b) => a - b);
    await refreshPersons(tx, run.id, persons);
    const ms = Math.round(performance.now() - t0);
    const stats = { decisions: pending.rows.length, rows, persons: persons.length, ms };
    await tx.k.updateTable('match_run').set({ finished_at: new Date(), stats: JSON.stringify(stats) }).where('id', '=', run.id).execute();
    return { applied: true, runId: run.id, decisions: pending.rows.length, rows, persons, ms };
  });
}

async function personId(tx: Tx, key: string): Promise<number | null> {
  const p = await tx.k.selectFrom('person').select('id').where('person_key', '=', key).executeTakeFirst();
  return p?.id ?? null;
}

/** A row rejected from a person: it leaves that person, or loses that candidate in review. */
async function reject(tx: Tx, deliveryId: number, rowNo: number, key: string, move: (f: RowFilter, key: string, method: RawBuilder<unknown>) => Promise<void>): Promise<void> {
  const rejected = await personId(tx, key);
  if (rejected === null) return;
  const row = sql`l.delivery_id = ${deliveryId} and l.row_no = ${rowNo}`;
  const own = `row:${deliveryId}:${rowNo}`;
  const link = await sql<{ person_id: number | null; state: string; left: number }>`
    select l.person_id, l.state,
           (select count(*)::int from jsonb_array_elements(coalesce(l.candidates, '[]'::jsonb)) c where (c->>'person_id')::int <> ${rejected}) as left
    from row_link l where ${row}`.execute(tx.k);
  const r = link.rows[0];
  if (!r) return;
  if (r.person_id === rejected) return move(row, own, sql`'new'`);
  if (r.state !== 'review') return;
  if (r.left === 0) return move(row, own, sql`'new'`);
  await sql`
    update row_link l
    set candidates = (select jsonb_agg(c order by n) from jsonb_array_elements(l.candidates) with ordinality as x(c, n) where (c->>'person_id')::int <> ${rejected})
    where ${row}`.execute(tx.k);
}

/**
 * Links the rows `filter` selects to the person `key` (made if new), as a full match
 * would write them: linked, no score, no model. Records the changes in match_change.
 */
async function moveRows(tx: Tx, runId: number, filter: RowFilter, key: string, method: RawBuilder<unknown>): Promise<{ rows: number; persons: number[] }> {
  await sql`insert into person (person_key) values (${key}) on conflict (person_key) do nothing`.execute(tx.k);
  const to = (await personId(tx, key))!;
  const changed = await sql<{ from_person_id: number | null }>`
    insert into match_change (run_id, delivery_id, row_no, from_person_id, to_person_id, from_state, to_state)
    select ${runId}, l.delivery_id, l.row_no, l.person_id, ${to}, l.state, 'linked'
    from row_link l
    where ${filter} and (l.person_id is distinct from ${to} or l.state <> 'linked')
    -- a row two decisions of one batch move: one change, from where it was to where it ends
    on conflict (run_id, delivery_id, row_no) do update set to_person_id = excluded.to_person_id, to_state = excluded.to_state
    returning from_person_id`.execute(tx.k);
  await sql`
    update row_link l
    set person_id = ${to}, state = 'linked', method = ${method}, score = null, evidence = null, candidates = null, model_id = null,
        scored_pass = null, unclaimed = false, pooled = false, run_id = ${runId}
    from source_row s
    where s.delivery_id = l.delivery_id and s.row_no = l.row_no and ${filter}
      and (l.person_id is distinct from ${to} or l.state <> 'linked' or l.method is distinct from ${method} or l.score is not null
           or l.candidates is not null or l.evidence is not null or l.model_id is not null)`.execute(tx.k);
  const persons = new Set<number>([to]);
  for (const c of changed.rows) if (c.from_person_id !== null) persons.add(c.from_person_id);
  return { rows: changed.rows.length, persons: [...persons] };
}
