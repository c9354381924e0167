/**
 * Whom an assessment must assess so that it ends where assessing everyone would.
 *
 * A person's entitlements and flags depend on their own settlements and spells, and on
 * three things shared by all (run.ts):
 *   - the policy,
 *   - a roster file rejected and not re-sent, which holds everyone's categories unknown,
 *   - the data's as-of date, which cuts the current year's person-year flags short.
 * The first two are the run's basis, recorded with it: a run on another basis than the
 * last one assesses everyone. When only the as-of date moved, the persons it can touch
 * are those with a spell starting or a settlement ending after the earlier of the two
 * dates (policy.ts personYearFlags), unless a policy period begins or ends in between.
 */
import { sql } from 'kysely';
import type { Tx } from '../db/store.js';
import { claimForAssessment, tooManyForScope } from '../db/stale.js';
import { nextDay } from '../ingest/normalise/date.js';
import { policyFingerprint, type Policy } from '../policy/policy.js';

export interface Basis {
  /** policyFingerprint */
  policy: string;
  /** why every person's categories are unknown (a rejected roster), or null */
  heldForEveryone: string | null;
}

export function basisOf(policy: Policy, heldForEveryone: string | null): Basis {
  return { policy: policyFingerprint(policy), heldForEveryone };
}

/** Why a run assesses everyone, for its stats. */
export type EveryoneBecause = 'asked' | 'first run' | 'policy changed' | 'roster rejection changed' | 'policy period passed' | 'many persons';

export type AssessPersons = { persons: number[] } | { everyone: EveryoneBecause };

async function lastRun(tx: Tx): Promise<{ basis: Partial<Basis> | null; dataAsOf: string | null } | undefined> {
  const r = await sql<{ basis: Partial<Basis> | null; data_as_of: string | null }>`
    select basis, data_as_of::text as data_as_of from assessment_run where finished_at is not null order by id desc limit 1`.execute(tx.k);
  const row = r.rows[0];
  return row && { basis: row.basis, dataAsOf: row.data_as_of };
}

/** The persons whose person-year flags can change when the data's as-of date moves from `was` to `now`. */
async function touchedByCutoff(tx: Tx, policy: Policy, was: string | null, now: string | null): Promise<number[] | 'everyone'> {
  if (was === now) return [];
  if (was === null || now === null) return 'everyone';
  const [lo, hi] = was < now ? [was, now] : [now, was];
  const inRange = (day: string) => day > lo && day <= hi;
  if (policy.periods.some((p) => inRange(p.from) || inRange(nextDay(p.to)))) return 'everyone';
  const r = await sql<{ person_id: number }>`
    select person_id from spell where superseded_at is null and valid_from > ${lo}::date
    union
    select person_id from entitlement where person_id is not null and service_date > ${lo}::date`.execute(tx.k);
  return r.rows.map((x) => x.person_id);
}

/**
 * The persons to assess (claiming their stale marks), or everyone with the reason.
 * `scope`: these persons, the persons marked stale ('changed'), or everyone.
 */
export async function personsToAssess(
  tx: Tx,
  policy: Policy,
  scope: { persons: readonly number[] } | 'changed' | 'everyone',
  basis: Basis,
  asOf: string | null,
): Promise<AssessPersons> {
  const everyone = async (because: EveryoneBecause): Promise<AssessPersons> => {
    await claimForAssessment(tx, null);
    return { everyone: because };
  };
  if (scope === 'everyone') return everyone('asked');
  const last = await lastRun(tx);
  if (!last || !last.basis) return everyone('first run');
  if (last.basis.policy !== basis.policy) return everyone('policy changed');
  if ((last.basis.heldForEveryone ?? null) !== basis.heldForEveryone) return everyone('roster rejection changed');
  const byCutoff = await touchedByCutoff(tx, policy, last.dataAsOf, asOf);
  if (byCutoff === 'everyone') return everyone('policy period passed');
  const claimed = scope === 'changed' ? await claimForAssessment(tx, null) : await claimForAssessment(tx, scope.persons).then(() => [...scope.persons]);
  const persons = [...new Set([...claimed, ...byCutoff])];
  if (await tooManyForScope(tx, persons.length)) return everyone('many persons');
  return { persons };
}
