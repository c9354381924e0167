/**
 * The match model as a version: the weights (weights.ts) and the name frequencies
 * they are scored with, estimated from the county at one moment and reused by later
 * runs. A run under a given version scores every row the same way, so a night's
 * increment and a full rematch under that version end in the same links.
 *
 * A run estimates a new version when there is none, when asked (`rematch --all
 * --reestimate`), when the rows have grown by `growth` since the version was
 * estimated, or when it is older than `maxAgeDays` (the nightly sync then re-estimates
 * about once a week). Re-estimating also re-scores: the run records every link that
 * changed (match_change) for staff to see.
 */
import { sql } from 'kysely';
import type { MatchModelTable } from '../db/schema.js';
import type { Tx } from '../db/store.js';
import type { NameFrequency, Weights } from './weights.js';

export interface ModelPolicy {
  /** re-estimate once the rows have grown by this share since the model was estimated */
  growth: number;
  /** re-estimate once the model is this many days old */
  maxAgeDays: number;
}

export const DEFAULT_MODEL_POLICY: ModelPolicy = { growth: 0.25, maxAgeDays: 7 };

/** The policy the configuration sets (AIDLINK_MODEL_GROWTH, AIDLINK_MODEL_MAX_DAYS). */
export function modelPolicy(config: { AIDLINK_MODEL_GROWTH: number; AIDLINK_MODEL_MAX_DAYS: number }): ModelPolicy {
  return { growth: config.AIDLINK_MODEL_GROWTH, maxAgeDays: config.AIDLINK_MODEL_MAX_DAYS };
}

export type ModelReason = MatchModelTable['reason'];

/** Why a version was estimated, for the command line. */
export const MODEL_REASON: Record<ModelReason, string> = { first: 'the first', asked: 'asked for', growth: 'the rows had grown', age: 'the last one was too old' };

export interface MatchModel {
  id: number;
  weights: Weights;
  frequency: NameFrequency;
}

interface ModelHead {
  id: number;
  created_at: Date;
  source_rows: number;
}

/** The version in use: the newest. */
export async function latestModel(tx: Tx): Promise<ModelHead | undefined> {
  return tx.k.selectFrom('match_model').select(['id', 'created_at', 'source_rows']).orderBy('id', 'desc').limit(1).executeTakeFirst();
}

/** Why this run must estimate a new version, or undefined to reuse `latest`. */
export function reestimateReason(latest: ModelHead | undefined, rows: number, opts: { asked: boolean; policy: ModelPolicy; now?: Date }): ModelReason | undefined {
  if (!latest) return 'first';
  if (opts.asked) return 'asked';
  if (rows > latest.source_rows * (1 + opts.policy.growth)) return 'growth';
  if ((opts.now ?? new Date()).getTime() - latest.created_at.getTime() > opts.policy.maxAgeDays * 86_400_000) return 'age';
  return undefined;
}

/**
 * Starts a new version: records the county's name frequencies as the anchored links
 * (link_key) show them now. `finishModel` adds the weights estimated with them.
 */
export async function startModel(tx: Tx, runId: number, reason: ModelReason, sourceRows: number): Promise<number> {
  const persons = await sql<{ n: number }>`select count(distinct person_key)::int as n from link_key`.execute(tx.k);
  const m = await tx.k
    .insertInto('match_model')
    .values({ run_id: runId, reason, source_rows: sourceRows, persons: persons.rows[0]!.n, weights: '{}' })
    .returning('id')
    .executeTakeFirstOrThrow();
  await sql`
    insert into match_model_name (model_id, fold, persons)
    select ${m.id}, l.name_fold, count(distinct k.person_key)::int
    from link_key k join row_link l on l.delivery_id = k.delivery_id and l.row_no = k.row_no
    where l.name_fold is not null group by l.name_fold`.execute(tx.k);
  return m.id;
}

export async function finishModel(tx: Tx, id: number, weights: Weights): Promise<void> {
  await tx.k.updateTable('match_model').set({ weights: JSON.stringify(weights) }).where('id', '=', id).execute();
}

/** How many persons carry each folded name, as version `id` saw the county (1 for a name it never saw). */
export async function modelFrequency(tx: Tx, id: number): Promise<NameFrequency> {
  const rows = await tx.k.selectFrom('match_model_name').select(['fold', 'persons']).where('model_id', '=', id).execute();
  const map = new Map(rows.map((r) => [r.fold, r.persons]));
  return (fold) => map.get(fold) ?? 1;
}

export async function loadModel(tx: Tx, id: number): Promise<MatchModel> {
  const m = await tx.k.selectFrom('match_model').select(['id', 'weights']).where('id', '=', id).executeTakeFirst();
  if (!m) throw new Error(`no match model ${id}`);
  return { id: m.id, weights: m.weights as Weights, frequency: await modelFrequency(tx, id) };
}
