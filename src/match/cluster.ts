/**
 * Rows that no known person claims are clustered among themselves: a child who is
 * listed without an id number month after month is one person, not twenty. Pairs
 * found by block keys are scored row against row with the same weights, and joined
 * greedily, strongest first, in an order fixed by the rows' content, so the result
 * does not depend on the order rows arrived in.
 */
import { compareAll, compareContext, type Profile } from './compare.js';
import type { NameTools } from './chinese.js';
import { blockKeys, type ProbeRow } from './data.js';
import { score, type NameFrequency, type Weights } from './weights.js';

/** A single row seen as a person, to compare another row with. */
export function rowProfile(p: ProbeRow, key: string): Profile {
  return {
    key,
    id18: null,
    partials: p.idValue && p.idStatus !== 'missing' ? [p.idValue] : [],
    names: p.name ? [p.name] : [],
    folds: p.fold ? [p.fold] : [],
    births: p.birth ? [p.birth] : [],
    genders: p.gender ? [p.gender] : [],
    headIds: p.headId ? [p.headId] : [],
    households: p.household ? [p.household] : [],
    places: p.township ? [`${p.township}|${p.village ?? ''}`] : [],
    phones: p.phone ? [p.phone] : [],
    relations: p.relation ? [p.relation] : [],
    rosters: p.roster !== null ? [p.roster] : [],
  };
}

/**
 * Groups the probes (indexes into `probes`) whose pairwise score reaches `linkScore`.
 * Returns groups in a stable order, each sorted by (file, row).
 */
export function clusterUnclaimed(
  indexes: readonly number[],
  probes: readonly ProbeRow[],
  sounds: readonly (string | null)[],
  tools: NameTools,
  weights: Weights,
  frequency: NameFrequency,
  linkScore: number,
): number[][] {
  const byKey = new Map<string, number[]>();
  for (const i of indexes) {
    for (const [kind, value] of blockKeys(probes[i]!, sounds[i] ?? null)) {
      const k = `${kind}\u0000${value}`;
      (byKey.get(k) ?? byKey.set(k, []).get(k)!).push(i);
    }
  }
  const seen = new Set<string>();
  const edges: { a: number; b: number; w: number }[] = [];
  for (const members of byKey.values()) {
    if (members.length > 200) continue;
    for (let x = 0; x < members.length; x++) {
      for (let y = x + 1; y < members.length; y++) {
        const a = Math.min(members[x]!, members[y]!);
        const b = Math.max(members[x]!, members[y]!);
        const pair = `${a}:${b}`;
        if (seen.has(pair)) continue;
        seen.add(pair);
        const q = rowProfile(probes[b]!, '');
        const s = score(weights, compareContext(probes[a]!, q), compareAll(probes[a]!, q, tools), probes[a]!.fold, frequency);
        if (s.total >= linkScore) edges.push({ a, b, w: s.total });
      }
    }
  }
  // strongest first; ties in row order (probes are sorted by file and row)
  edges.sort((x, y) => y.w - x.w || x.a - y.a || x.b - y.b);
  const parent = new Map<number, number>(indexes.map((i) => [i, i]));
  const members = new Map<number, number[]>(indexes.map((i) => [i, [i]]));
  const find = (i: number): number => {
    let r = i;
    while (parent.get(r) !== r) r = parent.get(r)!;
    parent.set(i, r);
    return r;
  };
  for (const { a, b } of edges) {
    const ra = find(a);
    const rb = find(b);
    if (ra === rb) continue;
    const [root, child] = ra < rb ? [ra, rb] : [rb, ra];
    parent.set(child, root);
    members.set(root, [...members.get(root)!, ...members.get(child)!].sort((x, y) => x - y));
    members.delete(child);
  }
  return [...members.values()].sort((x, y) => x[0]! - y[0]!);
}
