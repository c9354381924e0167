/**
 * A roster's rows of one household are assigned to persons as a whole, one row per
 * person: a snapshot lists each member once, so two rows of one household on one
 * roster are two persons. Scored independently, the row of a daughter whose name was
 * mistyped as her sister's would take the sister; assigned jointly, the sister is
 * taken by her own row, and the mistyped row goes to the member left.
 *
 * The assignment is greedy on certainty: the row most surely linked (at least the
 * link probability) takes its person, the others of its household are scored again
 * without that person, and so on while some row is sure. What a row ends with is
 * decided without the persons its housemates took. Rows that say exactly the same
 * (a duplicated row, which the spec allows) are one unit and share their person.
 */
import type { Probe } from './compare.js';
import { posteriors } from './weights.js';

/** More rows than this under one household key on one roster are no household (a shared key, not a family). */
export const MAX_HOUSEHOLD_ROWS = 20;

/** The household a roster row is listed in: its roster, and the head's id or the 户编号; null for a settlement. */
export function householdOnRoster(p: Probe): string | null {
  if (p.roster === null) return null;
  if (p.headId) return `${p.roster}|head:${p.headId}`;
  if (p.household) return `${p.roster}|hh:${p.household}`;
  return null;
}

/** Everything a probe says: rows equal in it are duplicates of one another. */
function content(p: Probe): string {
  return JSON.stringify([p.name, p.fold, p.idStatus, p.idValue, p.birth, p.gender, p.headId, p.relation, p.household, p.township, p.village, p.phone]);
}

/** The rows of each household on a roster that are assigned jointly: two rows at least, MAX_HOUSEHOLD_ROWS at most. */
function jointHouseholds(probes: readonly Probe[]): number[][] {
  const households = new Map<string, number[]>();
  probes.forEach((p, i) => {
    const h = householdOnRoster(p);
    if (h) households.set(h, [...(households.get(h) ?? []), i]);
  });
  return [...households.values()].filter((rows) => rows.length >= 2 && rows.length <= MAX_HOUSEHOLD_ROWS);
}

/** Whether each row is assigned jointly with housemates (only their candidates' weights are needed for housemateClaims). */
export function assignedJointly(probes: readonly Probe[]): boolean[] {
  const out = new Array<boolean>(probes.length).fill(false);
  for (const rows of jointHouseholds(probes)) for (const i of rows) out[i] = true;
  return out;
}

/**
 * For each row, the persons its housemates on the roster took (undefined: none).
 * `scored[i]` is row i's candidates with their match weights, best first; only the rows
 * assignedJointly are read.
 */
export function housemateClaims(
  probes: readonly Probe[],
  scored: readonly (readonly { key: string; total: number }[])[],
  linkProbability: number,
): (ReadonlySet<string> | undefined)[] {
  const out: (ReadonlySet<string> | undefined)[] = new Array(probes.length);
  for (const rows of jointHouseholds(probes)) {
    // units: rows that say the same thing, in row order (the first row of a unit speaks for it)
    const units = new Map<string, number[]>();
    for (const i of rows) {
      const c = content(probes[i]!);
      units.set(c, [...(units.get(c) ?? []), i]);
    }
    if (units.size < 2) continue;
    const unitRows = [...units.values()];
    const claim = new Map<number, string>(); // unit → the person it took
    const taken = new Set<string>();
    for (;;) {
      let best: { unit: number; key: string; probability: number } | null = null;
      unitRows.forEach((members, u) => {
        if (claim.has(u)) return;
        const open = scored[members[0]!]!.filter((s) => !taken.has(s.key));
        if (open.length === 0) return;
        const p = posteriors(open.map((s) => s.total))[0]!;
        if (p >= linkProbability && (!best || p > best.probability)) best = { unit: u, key: open[0]!.key, probability: p };
      });
      if (!best) break;
      const { unit, key } = best as { unit: number; key: string };
      claim.set(unit, key);
      taken.add(key);
    }
    if (claim.size === 0) continue;
    unitRows.forEach((members, u) => {
      const others = new Set([...claim].filter(([v]) => v !== u).map(([, key]) => key));
      if (others.size > 0) for (const i of members) out[i] = others;
    });
  }
  return out;
}
