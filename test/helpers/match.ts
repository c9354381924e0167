/** Reading match results back, independent of person ids (which depend on arrival order). */
import type { Store } from '../../src/db/store.js';
import { evaluatePairs } from '../../src/match/evaluate.js';
import { readTruth, SAMPLE_INBOX } from './sample.js';
import { createTestDb, type TestDb } from './db.js';
import { loadMapping } from '../../src/ingest/mapping.js';
import { ingestPath } from '../../src/ingest/inbox.js';
import { runMatch } from '../../src/match/run.js';
import { PROFILE_COLUMNS } from '../../src/match/data.js';
import { sql } from 'kysely';

export interface Assignment {
  /** `file#row` → person id, or null while in review */
  byRow: Map<string, string | null>;
  /** the persons as sorted groups of `file#row`, sorted: comparable across databases */
  groups: string[][];
  review: string[];
}

export async function assignment(store: Store): Promise<Assignment> {
  const links = await store.k
    .selectFrom('row_link')
    .innerJoin('delivery', 'delivery.id', 'row_link.delivery_id')
    .select(['delivery.file', 'row_link.row_no', 'row_link.person_id', 'row_link.state'])
    .execute();
  const byRow = new Map<string, string | null>();
  const members = new Map<string, string[]>();
  const review: string[] = [];
  for (const l of links) {
    const key = `${l.file}#${l.row_no}`;
    const person = l.state === 'review' ? null : String(l.person_id);
    byRow.set(key, person);
    if (person === null) review.push(key);
    else (members.get(person) ?? members.set(person, []).get(person)!).push(key);
  }
  const groups = [...members.values()].map((g) => g.sort()).sort((a, b) => (a[0]! < b[0]! ? -1 : 1));
  return { byRow, groups, review: review.sort() };
}

export function sampleTruth(): Map<string, string> {
  return new Map(readTruth('rows.csv').map((r) => [`${r.file}#${r.row}`, r.pid!]));
}

export function evaluateSample(a: Assignment) {
  return evaluatePairs(sampleTruth(), a.byRow);
}

/** Copies match model version `id` of one database into another (as it stood, weights and name frequencies); returns its id there. */
export async function copyModel(from: Store, to: Store, id: number): Promise<number> {
  const m = await from.k.selectFrom('match_model').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  const names = await from.k.selectFrom('match_model_name').select(['fold', 'persons']).where('model_id', '=', id).execute();
  const copy = await to.k
    .insertInto('match_model')
    .values({ reason: m.reason, source_rows: m.source_rows, persons: m.persons, weights: JSON.stringify(m.weights), created_at: m.created_at })
    .returning('id')
    .executeTakeFirstOrThrow();
  for (let i = 0; i < names.length; i += 5000) {
    await to.k.insertInto('match_model_name').values(names.slice(i, i + 5000).map((n) => ({ model_id: copy.id, ...n }))).execute();
  }
  return copy.id;
}

/** A fresh database holding the sample county, ingested and matched once (no spells, no assessment). */
export async function matchedSampleDb(): Promise<TestDb> {
  const db = await createTestDb();
  await ingestPath(db.store, loadMapping(), SAMPLE_INBOX);
  await runMatch(db.store);
  return db;
}

/** The kept anchored state (anchor-state.ts), each table as sorted lines; nothing a run's scoring added is left. */
export async function anchorState(store: Store): Promise<string[][]> {
  const lines = async (q: string) => (await sql.raw<{ line: string }>(q).execute(store.k)).rows.map((r) => r.line);
  return [
    await lines(`select concat_ws('|', delivery_id, row_no, person_key, scored) as line from link_key order by 1`),
    await lines(`select concat_ws('|', person_key, kind, value, scored) as line from person_block order by 1`),
    await lines(`select concat_ws('|', kind, value, scored) as line from big_block order by 1`),
  ];
}

/** Persons whose kept profile (person_profile) differs from one read from their anchored rows now: none, if the cache is kept right. */
export async function staleProfiles(store: Store): Promise<string[]> {
  const r = await sql<{ person_key: string }>`
    with fresh as (
      select k.person_key, ${PROFILE_COLUMNS}
      from link_key k
      join source_row s on s.delivery_id = k.delivery_id and s.row_no = k.row_no
      join row_link l on l.delivery_id = k.delivery_id and l.row_no = k.row_no
      where k.person_key in (select person_key from person_profile)
      group by k.person_key
    )
    select c.person_key from person_profile c left join fresh f on f.person_key = c.person_key
    where f.person_key is null or row(c.*)::text is distinct from row(f.*)::text`.execute(store.k);
  return r.rows.map((x) => x.person_key);
}
