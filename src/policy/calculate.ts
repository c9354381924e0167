/**
 * The entitlement calculation of policy.md §3 and the flags of §4, as pure functions:
 * one person's settlements and the categories they held in, assessments and flags out.
 *
 * Per person and calendar year, the assessable settlements (not reversed, of a
 * medical type the policy assists) are taken in order of service date, then 结算ID,
 * with two running sums: the deductible used and the assistance granted. For each:
 *   1. the categories held on the service date that the period assists (none: 0);
 *   2. for each, remaining deductible r = max(0, deductible − used) and
 *      amount a = round_half_up(max(0, base − r) × ratio);
 *   3. the category with the largest amount (ties: priority) is used, and min(base, r)
 *      of its deductible is added to the deductible used;
 *   4. entitlement = min(a, annual cap − granted), added to the granted.
 */
import type { Category, Policy, Period } from './policy.js';
import { periodOn } from './policy.js';

export interface Claim {
  settlementId: string;
  /** 结束日期/出院日期: decides eligibility and the year */
  serviceDate: string;
  /** 结算日期 */
  settledOn: string | null;
  medType: string | null;
  /** 进入医疗救助金额, fen */
  base: number;
  /** 医疗救助基金支出 actually paid, fen */
  paid: number;
  place: string | null;
  method: string | null;
}

/** A category held over [validFrom, validTo), with the date the bureau first learnt of it. */
export interface Holding {
  category: Category;
  validFrom: string;
  validTo: string | null;
  /** as-of date of the first accepted delivery listing it on or after validFrom */
  firstListed: string | null;
}

export interface Calculation {
  period: string | null;
  eligibleType: boolean;
  held: Category[];
  /** per category considered: remaining deductible and amount */
  options: { category: Category; deductible: number; ratio: number; remainingDeductible: number; amount: number }[];
  deductibleUsedBefore: number;
  deductibleApplied: number;
  ratio: number | null;
  amount: number;
  annualCap: number | null;
  capLeftBefore: number | null;
}

export interface Assessment {
  settlementId: string;
  year: number;
  serviceDate: string;
  category: Category | null;
  base: number;
  entitled: number;
  paid: number;
  /** assessable: an eligible medical type */
  assessed: boolean;
  calc: Calculation;
  /** the holding of the category used, for the unclaimed reason */
  holding: Holding | null;
}

export type SettlementFlag = 'unclaimed' | 'underpaid' | 'overpaid';
export type UnclaimedReason = 'manual_claim' | 'out_of_area' | 'recognised_late' | 'missed_one_stop';

export interface FlagResult {
  flag: SettlementFlag;
  reason: UnclaimedReason | null;
}

/** round_half_up(x × bp / 10000) for x ≥ 0, in integers. */
export function applyRatio(x: number, bp: number): number {
  return Math.floor((x * bp + 5000) / 10000);
}

/** A birthday n years on (29 February becomes 1 March in a common year). */
export function birthday(birthDate: string, years: number): string {
  const [y, m, d] = birthDate.split('-').map(Number) as [number, number, number];
  const t = new Date(Date.UTC(y + years, m - 1, d));
  return t.toISOString().slice(0, 10);
}

/** Holdings with the policy's age-out applied: an orphan category ends on the given birthday. */
export function applyAgeOut(policy: Policy, holdings: readonly Holding[], birthDate: string | null): Holding[] {
  if (!birthDate) return [...holdings];
  return holdings.flatMap((h) => {
    const age = policy.ageOut.get(h.category);
    if (age === undefined) return [h];
    const end = birthday(birthDate, age);
    if (h.validFrom >= end) return [];
    return [{ ...h, validTo: h.validTo === null || h.validTo > end ? end : h.validTo }];
  });
}

function heldOn(holdings: readonly Holding[], day: string, period: Period): Holding[] {
  return holdings.filter((h) => h.validFrom <= day && (h.validTo === null || day < h.validTo) && period.categories.has(h.category));
}

const rank = (policy: Policy, c: Category) => policy.priority.indexOf(c);

/** Every settlement of one person, in any year; `holdings` with age-out already applied. */
export function assessPerson(policy: Policy, claims: readonly Claim[], holdings: readonly Holding[]): Assessment[] {
  const ordered = [...claims].sort((a, b) => (a.serviceDate < b.serviceDate ? -1 : a.serviceDate > b.serviceDate ? 1 : a.settlementId < b.settlementId ? -1 : 1));
  const sums = new Map<number, { deductible: number; granted: number }>();
  return ordered.map((c) => {
    const year = Number(c.serviceDate.slice(0, 4));
    const period = periodOn(policy, c.serviceDate);
    const eligibleType = period !== undefined && c.medType !== null && period.medicalTypes.has(c.medType);
    const run = sums.get(year) ?? sums.set(year, { deductible: 0, granted: 0 }).get(year)!;
    const calc: Calculation = {
      period: period ? `${period.from}/${period.to}` : null,
      eligibleType,
      held: [],
      options: [],
      deductibleUsedBefore: run.deductible,
      deductibleApplied: 0,
      ratio: null,
      amount: 0,
      annualCap: period?.annualCap ?? null,
      capLeftBefore: period ? period.annualCap - run.granted : null,
    };
    const none = { settlementId: c.settlementId, year, serviceDate: c.serviceDate, base: c.base, paid: c.paid, calc };
    if (!period || !eligibleType) return { ...none, category: null, entitled: 0, assessed: false, holding: null };

    const held = heldOn(holdings, c.serviceDate, period);
    calc.held = [...new Set(held.map((h) => h.category))].sort((a, b) => rank(policy, a) - rank(policy, b));
    if (held.length === 0) return { ...none, category: null, entitled: 0, assessed: true, holding: null };

    for (const category of calc.held) {
      const rule = period.categories.get(category)!;
      const remaining = Math.max(0, rule.deductible - run.deductible);
      calc.options.push({ category, deductible: rule.deductible, ratio: rule.ratio, remainingDeductible: remaining, amount: applyRatio(Math.max(0, c.base - remaining), rule.ratio) });
    }
    // the largest amount; options are in priority order, so the first of equals wins
    const best = calc.options.reduce((a, b) => (b.amount > a.amount ? b : a));
    const applied = Math.min(c.base, best.remainingDeductible);
    run.deductible += applied;
    const entitled = Math.min(best.amount, period.annualCap - run.granted);
    run.granted += entitled;
    calc.deductibleApplied = applied;
    calc.ratio = best.ratio;
    calc.amount = best.amount;
    const holding = held.filter((h) => h.category === best.category).sort((a, b) => (a.validFrom < b.validFrom ? -1 : 1))[0]!;
    return { ...none, category: best.category, entitled, assessed: true, holding };
  });
}

/** policy.md §4: the flag a settlement's assessment raises, if any, and why an unclaimed one was missed. */
export function settlementFlag(policy: Policy, a: Assessment, claim: Claim): FlagResult | null {
  const gap = a.entitled - a.paid;
  const t = policy.thresholds;
  if (a.paid === 0 && a.entitled >= t.unclaimed) return { flag: 'unclaimed', reason: unclaimedReason(a, claim) };
  if (a.paid > 0 && gap >= t.underpaid) return { flag: 'underpaid', reason: null };
  if (a.paid - a.entitled >= t.overpaid) return { flag: 'overpaid', reason: null };
  return null;
}

function unclaimedReason(a: Assessment, c: Claim): UnclaimedReason {
  if (c.method === 'manual_claim') return 'manual_claim';
  if (c.place !== null && c.place !== 'local') return 'out_of_area';
  const known = a.holding?.firstListed;
  if (known && c.settledOn && known > c.settledOn) return 'recognised_late';
  return 'missed_one_stop';
}

export type PersonFlag = 'high_burden' | 'potential_catastrophic';

export interface PersonYearFlag {
  year: number;
  flag: PersonFlag;
  /** fen: the burden left (high_burden) or the base (potential_catastrophic) */
  amount: number;
}

/**
 * policy.md §4, per person and calendar year; the current year counts only up to
 * `cutoff` (the latest as-of date among the accepted deliveries).
 */
export function personYearFlags(policy: Policy, assessments: readonly Assessment[], holdings: readonly Holding[], cutoff: string): PersonYearFlag[] {
  const years = [...new Set(assessments.map((a) => a.year))].sort();
  const out: PersonYearFlag[] = [];
  for (const year of years) {
    const first = `${year}-01-01`;
    const last = `${year}-12-31` < cutoff ? `${year}-12-31` : cutoff;
    if (first > last) continue;
    const ofYear = assessments.filter((a) => a.year === year && a.serviceDate <= last && a.assessed);
    const heldAny = policy.periods.some(
      (p) =>
        p.from <= last &&
        p.to >= first &&
        holdings.some((h) => {
          if (!p.categories.has(h.category)) return false;
          const from = [h.validFrom, p.from, first].reduce((x, y) => (x > y ? x : y));
          const toExcl = h.validTo ?? '9999-12-31';
          const until = [p.to, last].reduce((x, y) => (x < y ? x : y));
          return from <= until && from < toExcl;
        }),
    );
    if (heldAny) {
      const burden = ofYear.filter((a) => a.category !== null).reduce((s, a) => s + (a.base - a.entitled), 0);
      if (burden >= policy.thresholds.highBurden) out.push({ year, flag: 'high_burden', amount: burden });
    } else {
      const base = ofYear.reduce((s, a) => s + a.base, 0);
      if (base >= policy.thresholds.potentialCatastrophic) out.push({ year, flag: 'potential_catastrophic', amount: base });
    }
  }
  return out;
}
