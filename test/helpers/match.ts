/** Reading match results back, independent of person ids (which depend on arrival order). */
import type { Store } from '../../src/db/store.js';
import { evaluatePairs } from '../../src/match/evaluate.js';
import { readTruth } from './sample.js';

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
