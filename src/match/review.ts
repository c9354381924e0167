/**
 * The rows waiting for a staff decision about who they are (身份核对), and when a decision
 * already made still waits: one place for the rule, for the console and the command line.
 *
 * A row waits for review while its link is in state 'review'. A decision (decisions.ts)
 * made since the latest match run started waits for the next run — unless
 * applyPendingDecisions (apply-now.ts) applied it first, which records a run of its own.
 */
import { sql, type Kysely } from 'kysely';
import { z } from 'zod';
import type { DB } from '../db/schema.js';
import type { RowRef } from './decisions.js';

/** One comparison's contribution as stored: comparison (or `context`), level, weight (weights.ts, Evidence). */
export const storedEvidenceItem = z.object({ c: z.string(), l: z.string(), w: z.number() });
/** row_link.evidence as the matcher writes it (match/run.ts): against the best candidate, or the linked person. */
export const storedEvidence = z.object({ total: z.number(), probability: z.number(), prior: z.number(), evidence: z.array(storedEvidenceItem) });
/**
 * row_link.candidates: the persons a row in review may be, best first. Each carries its own
 * evidence; rows reviewed before candidates did, and the rows assigned with housemates, have none.
 */
export const reviewCandidate = z.object({ person_id: z.number(), score: z.number(), probability: z.number(), evidence: z.array(storedEvidenceItem).optional() });

export type StoredEvidenceItem = z.infer<typeof storedEvidenceItem>;
export type StoredEvidence = z.infer<typeof storedEvidence>;
export type ReviewCandidate = z.infer<typeof reviewCandidate>;

/** The stored candidates, or none when the value is not in that shape (null, an older shape). */
export const candidatesOf = (v: unknown): ReviewCandidate[] => z.array(reviewCandidate).safeParse(v).data ?? [];
/** The stored evidence, or undefined when there is none (a deterministic link) or it is not in that shape. */
export const evidenceOf = (v: unknown): StoredEvidence | undefined => storedEvidence.safeParse(v).data;

/** SQL: the decision whose `made_at` is given was made since the latest match run started. */
export const madeSinceLatestRun = (madeAt: string) => sql<boolean>`${sql.ref(madeAt)} > coalesce((select max(started_at) from match_run), '-infinity')`;

/** How many rows wait for review. */
export async function countReviewRows(k: Kysely<DB>): Promise<number> {
  const r = await k.selectFrom('row_link').select((eb) => eb.fn.countAll<number>().as('n')).where('state', '=', 'review').executeTakeFirst();
  return Number(r?.n ?? 0);
}

export interface ReviewRow {
  delivery_id: number;
  row_no: number;
  file: string;
  source: string;
  /** row_link.candidates as stored: read with candidatesOf */
  candidates: unknown;
  /** decisions about the row that wait for the next match run */
  pending: number;
}

/** The rows waiting for review, oldest delivery first, with the decisions about each that wait for a match. */
export async function listReviewRows(k: Kysely<DB>, page: { limit: number; offset: number }): Promise<ReviewRow[]> {
  const r = await sql<ReviewRow>`
    select l.delivery_id, l.row_no, d.file, s.source, l.candidates,
           (select count(*)::int from match_decision m
             where m.delivery_id = l.delivery_id and m.row_no = l.row_no and m.revoked_at is null
               and ${madeSinceLatestRun('m.made_at')}) as pending
    from row_link l
    join delivery d on d.id = l.delivery_id
    join source_row s on s.delivery_id = l.delivery_id and s.row_no = l.row_no
    where l.state = 'review'
    order by d.received_at, l.delivery_id, l.row_no
    limit ${page.limit} offset ${page.offset}`.execute(k);
  return r.rows;
}

export interface RowDecision {
  kind: string;
  /** the person the decision names, as the person is now (null: no longer a person) */
  person_id: number | null;
  actor: string;
  made_at: Date;
  revoked_at: Date | null;
  /** made since the latest match run started: in effect once a run applies it (a revoked one never) */
  pending: boolean;
}

/** Every decision made about one row, in the order made. */
export async function rowDecisions(k: Kysely<DB>, row: RowRef): Promise<RowDecision[]> {
  const r = await sql<RowDecision>`
    select m.kind, p.id as person_id, m.actor, m.made_at, m.revoked_at, ${madeSinceLatestRun('m.made_at')} as pending
    from match_decision m left join person p on p.person_key = m.person_key
    where m.delivery_id = ${row.deliveryId} and m.row_no = ${row.rowNo}
    order by m.made_at, m.id`.execute(k);
  return r.rows;
}
