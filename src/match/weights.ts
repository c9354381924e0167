/**
 * Fellegi–Sunter weights, estimated from the data with the deterministic links as
 * labels; nothing is typed in by hand.
 *
 * Anchored roster rows become pseudo-probes by hiding their id the ways real rows
 * lose it (gone, cut to 15 digits, masked, mistyped). Staff decisions add the hard
 * cases as they are: a confirmed row and its person are a match, a rejected one not. Compared with their own
 * person (leave-one-out), they give m: how often a person's rows agree. Compared
 * with other persons, they give u: how often different persons agree — and u is
 * counted separately for each context level (same household, same village, same
 * township, elsewhere), because whether two different people share a surname or a
 * birthday depends on it: siblings do, strangers rarely. The context itself gets
 * its own weight, from how many persons stand at each level in the county.
 *
 * Name agreement is adjusted for how common the name is (term frequency): sharing
 * 王伟 says less than sharing a rare name, so two 王伟 in one village stay apart
 * unless something else tells them together.
 */
import { COMPARISONS, CONTEXT_LEVELS, compareAll, compareContext, type Comparison, type Context, type Levels, type Probe, type Profile } from './compare.js';
import type { NameTools } from './chinese.js';

type Table = Record<string, Record<string, number>>;

export interface Weights {
  /** log2 odds that a given person is the probe's, before comparing: one person among all */
  prior: number;
  context: { m: Record<string, number>; u: Record<string, number>; w: Record<string, number> };
  m: Table;
  /** per context level */
  u: Record<string, Table>;
  w: Record<string, Table>;
  /** per context level: the mean number of persons per name among non-matching pairs agreeing on the name */
  meanNameFrequency: Record<string, number>;
  /** staff: the staff decisions among them, as labels (absent in versions estimated before they were used) */
  pairs: { matches: number; nonMatches: Record<string, number>; persons: number; staff?: { confirmed: number; rejected: number } };
}

export interface Labelled {
  probe: Probe;
  profile: Profile;
  match: boolean;
  /** a staff decision (confirm or reject), not a pseudo-probe */
  staff?: boolean;
}

/** How many persons carry each folded name, for term-frequency adjustment. */
export type NameFrequency = (fold: string) => number;

const round = (x: number) => Math.round(x * 1e6) / 1e6;

/** Add-one smoothing: a level never seen is unlikely, not impossible. */
function smoothed(counts: Record<string, number> | undefined, levels: readonly string[]): Record<string, number> {
  const total = levels.reduce((n, l) => n + (counts?.[l] ?? 0), 0);
  return Object.fromEntries(levels.map((l) => [l, ((counts?.[l] ?? 0) + 1) / (total + levels.length)]));
}

/**
 * @param contextShare for non-matching pairs, the share of persons at each context
 *   level relative to a probe (from counts of the whole county, not from the samples,
 *   which are drawn per level on purpose)
 * @param persons how many persons the county has
 */
export function estimateWeights(
  pairs: Iterable<Labelled>,
  contextShare: Record<Context, number>,
  persons: number,
  tools: NameTools,
  frequency: NameFrequency,
): Weights {
  const mCount: Table = {};
  const mContext: Record<string, number> = {};
  const uCount: Record<string, Table> = Object.fromEntries(CONTEXT_LEVELS.map((c) => [c, {}]));
  const freq: Record<string, { sum: number; n: number }> = Object.fromEntries(CONTEXT_LEVELS.map((c) => [c, { sum: 0, n: 0 }]));
  let matches = 0;
  const nonMatches: Record<string, number> = Object.fromEntries(CONTEXT_LEVELS.map((c) => [c, 0]));

  const staff = { confirmed: 0, rejected: 0 };
  for (const { probe, profile, match, staff: byStaff } of pairs) {
    if (byStaff) staff[match ? 'confirmed' : 'rejected']++;
    const levels = compareAll(probe, profile, tools);
    const context = compareContext(probe, profile);
    if (match) {
      matches++;
      if (context) mContext[context] = (mContext[context] ?? 0) + 1;
      for (const [c, l] of Object.entries(levels)) (mCount[c] ??= {})[l] = (mCount[c]?.[l] ?? 0) + 1;
      continue;
    }
    const ctx = context ?? 'elsewhere';
    nonMatches[ctx]!++;
    for (const [c, l] of Object.entries(levels)) (uCount[ctx]![c] ??= {})[l] = (uCount[ctx]![c]?.[l] ?? 0) + 1;
    if ((levels.name === 'exact' || levels.name === 'fold') && probe.fold && ctx !== 'household') {
      freq[ctx]!.sum += frequency(probe.fold);
      freq[ctx]!.n++;
    }
  }

  const m: Table = {};
  const u: Record<string, Table> = {};
  const w: Record<string, Table> = {};
  for (const c of Object.keys(COMPARISONS) as Comparison[]) m[c] = smoothed(mCount[c], COMPARISONS[c]);
  for (const ctx of CONTEXT_LEVELS) {
    u[ctx] = {};
    w[ctx] = {};
    for (const c of Object.keys(COMPARISONS) as Comparison[]) {
      u[ctx]![c] = smoothed(uCount[ctx]![c], COMPARISONS[c]);
      w[ctx]![c] = Object.fromEntries(COMPARISONS[c].map((l) => [l, round(Math.log2(m[c]![l]! / u[ctx]![c]![l]!))]));
    }
  }
  const mCtx = smoothed(mContext, CONTEXT_LEVELS);
  const floor = 1 / Math.max(persons, 2);
  const uCtx = Object.fromEntries(CONTEXT_LEVELS.map((c) => [c, Math.max(floor, contextShare[c])]));
  const roundTable = (t: Table) => Object.fromEntries(Object.entries(t).map(([c, ls]) => [c, Object.fromEntries(Object.entries(ls).map(([l, v]) => [l, round(v)]))]));
  return {
    prior: round(Math.log2(1 / Math.max(persons - 1, 1))),
    context: {
      m: Object.fromEntries(Object.entries(mCtx).map(([k, v]) => [k, round(v)])),
      u: Object.fromEntries(Object.entries(uCtx).map(([k, v]) => [k, round(v)])),
      w: Object.fromEntries(CONTEXT_LEVELS.map((c) => [c, round(Math.log2(mCtx[c]! / uCtx[c]!))])),
    },
    m: roundTable(m),
    u: Object.fromEntries(Object.entries(u).map(([ctx, t]) => [ctx, roundTable(t)])),
    w,
    meanNameFrequency: Object.fromEntries(CONTEXT_LEVELS.map((c) => [c, freq[c]!.n > 0 ? round(freq[c]!.sum / freq[c]!.n) : 1])),
    pairs: { matches, nonMatches, persons, staff },
  };
}

export interface Evidence {
  /** comparison (or `context`), level, weight */
  c: Comparison | 'context';
  l: string;
  w: number;
}

export interface Score {
  /** log2 odds that the probe and the profile are one person */
  total: number;
  evidence: Evidence[];
}

/**
 * Checks that can only count against a candidate: that a person fits the row's place in
 * the household says little (a namesake brother fits a son's row as well as he does),
 * that they cannot fill it says a great deal.
 */
const ONLY_AGAINST: ReadonlySet<Comparison> = new Set(['household_role']);

/** Term-frequency adjustment stays within these factors of the average. */
const TF_MIN = 1 / 20;
const TF_MAX = 20;

export function score(weights: Weights, context: Context | null, levels: Levels, probeFold: string | null, frequency: NameFrequency): Score {
  let total = weights.prior;
  const evidence: Evidence[] = [];
  if (context) {
    const w = weights.context.w[context] ?? 0;
    total += w;
    evidence.push({ c: 'context', l: context, w });
  }
  const ctx = context ?? 'elsewhere';
  for (const [c, l] of Object.entries(levels) as [Comparison, string][]) {
    let w = weights.w[ctx]?.[c]?.[l] ?? 0;
    if (ONLY_AGAINST.has(c)) w = Math.min(0, w);
    // within a household, u was counted among its members: how common a name is in the county does not
    // make a sibling's namesake likelier there
    if (c === 'name' && (l === 'exact' || l === 'fold') && probeFold && ctx !== 'household') {
      const ratio = Math.min(TF_MAX, Math.max(TF_MIN, frequency(probeFold) / (weights.meanNameFrequency[ctx] ?? 1)));
      w -= Math.log2(ratio);
    }
    w = round(w);
    total += w;
    evidence.push({ c, l, w });
  }
  return { total: round(total), evidence };
}

/**
 * The chance that each candidate is the probe's person, assuming at most one is:
 * 2^W_i / (1 + Σ 2^W_j). Two equally good candidates share the probability, so an
 * ambiguous probe never reaches the linking threshold.
 */
export function posteriors(totals: readonly number[]): number[] {
  const top = Math.max(0, ...totals);
  const odds = totals.map((t) => 2 ** (t - top));
  const none = 2 ** -top;
  const sum = odds.reduce((a, b) => a + b, none);
  return odds.map((o) => o / sum);
}
