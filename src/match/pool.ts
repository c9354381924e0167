/**
 * Rows that are clearly one person across months are decided together (issue 12).
 *
 * A child listed without an id number on every monthly and quarterly roster leaves
 * twenty rows that each say a little: one month's file carries the birth date, another's
 * the relation to the head, the rural roster the 户编号. Alone, each row may wait for
 * review against a namesake known from settlements; together they may rule the namesake
 * out (another birth date) or in. So the rows no known person claimed and the rows in
 * review are clustered as the unclaimed rows alone were (cluster.ts), and a cluster that
 * holds rows in review is scored as one probe that pools what its rows say.
 *
 * The pooled evidence decides only when it is clear: a known person at the link
 * probability, or nobody known (every row of the cluster then founds one person). Rows
 * that disagree on who they are (id, birth date, gender, relation, household) are not
 * pooled; otherwise, and when the pooled score is not clear, every row keeps what it
 * decided alone.
 */
import type { ProbeRow } from './data.js';

/** The one value the rows that carry one agree on; null when none carries one; CONFLICT when they differ. */
const CONFLICT = Symbol('conflict');
function agreed<T>(values: readonly (T | null)[]): T | null | typeof CONFLICT {
  let out: T | null = null;
  for (const v of values) {
    if (v === null) continue;
    if (out === null) out = v;
    else if (v !== out) return CONFLICT;
  }
  return out;
}

/** The most frequent value, ties to the earliest: for fields in which one variant stands for all. */
function commonest<T>(values: readonly (T | null)[]): T | null {
  const counts = new Map<T, number>();
  for (const v of values) if (v !== null) counts.set(v, (counts.get(v) ?? 0) + 1);
  let best: T | null = null;
  let n = 0;
  for (const [v, c] of counts) if (c > n) (best = v), (n = c);
  return best;
}

/**
 * One probe for a cluster's rows (sorted by file and row): each field as the rows agree on
 * it. Null when they disagree on who they are; a place or phone they disagree on is left
 * out (people move, phones change). Its roster is the first row's; `rosters` lists them all.
 */
export function pooledProbe(rows: readonly ProbeRow[]): (ProbeRow & { rosters: number[] }) | null {
  const first = rows[0];
  if (!first) return null;
  const idKnown = rows.filter((r) => r.idStatus !== null && r.idStatus !== 'missing');
  const id = agreed(idKnown.map((r) => `${r.idStatus}\u0000${r.idValue ?? ''}`));
  const identity = [
    id,
    agreed(rows.map((r) => r.birth)),
    agreed(rows.map((r) => r.gender)),
    agreed(rows.map((r) => r.relation)),
    agreed(rows.map((r) => r.headId)),
    agreed(rows.map((r) => r.household)),
  ];
  if (identity.includes(CONFLICT)) return null;
  const loose = <T>(v: T | null | typeof CONFLICT): T | null => (v === CONFLICT ? null : v);
  const place = loose(agreed(rows.map((r) => (r.township ? `${r.township}\u0000${r.village ?? ''}` : null))));
  const name = commonest(rows.map((r) => r.name));
  const withId = idKnown[0];
  return {
    ...first,
    name,
    fold: rows.find((r) => r.name === name)?.fold ?? first.fold,
    idStatus: withId ? withId.idStatus : first.idStatus,
    idValue: withId ? withId.idValue : first.idValue,
    birth: identity[1] as string | null,
    gender: identity[2] as 'M' | 'F' | null,
    relation: identity[3] as string | null,
    headId: identity[4] as string | null,
    isSelf: rows.some((r) => r.isSelf),
    household: identity[5] as string | null,
    township: place ? place.split('\u0000')[0]! : null,
    village: place ? place.split('\u0000')[1] || null : null,
    phone: loose(agreed(rows.map((r) => r.phone))),
    rosters: [...new Set(rows.flatMap((r) => (r.roster !== null ? [r.roster] : [])))],
  };
}

/**
 * The pooled probe as it is compared with one candidate: the roster it is checked against
 * is one of the cluster's that lists the candidate, if any (a roster lists a person once,
 * so a candidate listed beside any of the cluster's rows is not the cluster's person).
 */
export function againstCandidate(pooled: ProbeRow & { rosters: number[] }, candidateRosters: readonly number[]): ProbeRow {
  const listed = pooled.rosters.find((r) => candidateRosters.includes(r));
  return { ...pooled, roster: listed ?? pooled.rosters[0] ?? null };
}
