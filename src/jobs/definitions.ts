/**
 * Every job, once: its name, its queue, and the schema of its payload. Payloads
 * carry ids and file names only, never a name, an id number or a phone: Redis keeps
 * them in clear text. The schemas are strict, so a field nobody declared (say, a
 * name someone thought handy) fails the job instead of riding along. Handlers (handlers.ts) are plain functions, one per job; the
 * BullMQ runner (bull.ts) and the in-process runner (local.ts) call the same ones.
 */
import { z } from 'zod';
import { parseDate } from '../ingest/normalise/date.js';
import { countyStamp } from '../util/time.js';

const isoDate = z.string().refine((v) => parseDate(v) === v, 'a date such as 2026-10-31');

export const matchScope = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('new') }).strict(),
  z.object({ kind: z.literal('all') }).strict(),
  z.object({ kind: z.literal('person'), personId: z.number().int().positive() }).strict(),
  z.object({ kind: z.literal('file'), file: z.string().min(1) }).strict(),
]);

/**
 * Spells and assessment for some persons only (internal ids, after a staff decision), for
 * the persons the database marked stale (`changed`: a sync; db/stale.ts), or for everyone.
 */
const MAX_SCOPED_PERSONS = 10_000;
const scopePayload = z
  .object({ persons: z.array(z.number().int().positive()).min(1).max(MAX_SCOPED_PERSONS).optional(), changed: z.literal(true).optional() })
  .strict()
  .refine((p) => !(p.persons && p.changed), 'either persons or changed, not both');

export const JOBS = {
  /** the nightly schedule's job: starts a sync (a flow of the jobs below) */
  'sync.nightly': { queue: 'sync', payload: z.object({ inbox: z.string().min(1) }).strict() },
  /** scans the inbox, queues one ingest job per new file, finishes when all of them have */
  'sync.scan': { queue: 'sync', payload: z.object({ inbox: z.string().min(1), until: isoDate.optional(), requestedBy: z.string() }).strict() },
  /** one delivered file; its job id comes from the content hash */
  'ingest.file': { queue: 'ingest', payload: z.object({ inboxRoot: z.string().min(1), file: z.string().min(1), hash: z.string().regex(/^[0-9a-f]{64}$/), requestedBy: z.string() }).strict() },
  /** `reestimate`: a new version of the match model first (match/model.ts) */
  'match.run': { queue: 'match', payload: z.object({ scope: matchScope, reestimate: z.boolean().optional() }).strict() },
  'spells.derive': { queue: 'assess', payload: scopePayload },
  'assess.run': { queue: 'assess', payload: scopePayload },
  /** opens a case for each new outreach flag, closes the cases the data has settled */
  'outreach.update': { queue: 'assess', payload: z.object({}).strict() },
  'report.newly-eligible': { queue: 'report', payload: z.object({ requestedBy: z.string() }).strict() },
} as const;

export type JobName = keyof typeof JOBS;
export type Payload<N extends JobName> = z.infer<(typeof JOBS)[N]['payload']>;
export const QUEUES = [...new Set(Object.values(JOBS).map((j) => j.queue))];
export type QueueName = (typeof JOBS)[JobName]['queue'];

/** A few words on what a job is about, for lists: the file, the inbox, the scope. */
export function describePayload(name: JobName, data: unknown): string {
  const parsed = JOBS[name].payload.safeParse(data);
  if (!parsed.success) return '(invalid payload)';
  const p = parsed.data as Record<string, unknown>;
  if (typeof p.file === 'string') return p.file;
  if (typeof p.inbox === 'string') return p.inbox + (typeof p.until === 'string' ? ` until ${p.until}` : '');
  const scope = p.scope as Payload<'match.run'>['scope'] | undefined;
  if (scope) return scope.kind === 'person' ? `person ${scope.personId}` : scope.kind === 'file' ? `file ${scope.file}` : `${scope.kind} rows`;
  return '';
}

/** A job to run: its name and payload, typed together. */
export type Stage = { [N in JobName]: [N, Payload<N>] }[JobName];

export interface SyncOptions {
  /** end with the report of newly eligible people (the nightly sync does; one by hand need not) */
  report?: boolean;
  /** the run's id; the same id twice starts the run once */
  runId?: string;
}

/** A sync's stages, first to last; each starts when the one before has finished. Both runners run exactly these. */
export function syncStages(p: Payload<'sync.scan'>, opts: SyncOptions = {}): Stage[] {
  return [
    ['sync.scan', p],
    ['match.run', { scope: { kind: 'new' } }],
    ...reassessStages('changed'),
    ...(opts.report ? ([['report.newly-eligible', { requestedBy: p.requestedBy }]] as Stage[]) : []),
  ];
}

/** A staff-triggered re-match: the match, then what depends on it. */
export function rematchStages(p: Payload<'match.run'>): Stage[] {
  return [['match.run', p], ...reassessStages()];
}

/**
 * What depends on the links: after a staff-triggered re-match (everyone), after a sync
 * ('changed': the persons its deliveries and links touched), or alone after a staff
 * decision changed links (match/apply-now.ts): then for the persons it touched only.
 */
export function reassessStages(whom: readonly number[] | 'changed' | 'everyone' = 'everyone'): Stage[] {
  // beyond what a payload carries, the persons marked stale: the decision's links marked them
  const scope = whom === 'everyone' ? {} : whom === 'changed' || whom.length === 0 || whom.length > MAX_SCOPED_PERSONS ? { changed: true as const } : { persons: [...whom] };
  return [
    ['spells.derive', scope],
    ['assess.run', scope],
    ['outreach.update', {}],
  ];
}

/** What a running job tells about itself; shown by `aidlink jobs`, the API and bull-board. Read back from Redis through this schema. */
export const jobProgress = z.object({
  stage: z.string(),
  /** files, rows, persons … done and to do, where the stage knows */
  done: z.number().optional(),
  total: z.number().optional(),
  unit: z.enum(['files', 'rows', 'persons', 'settlements']).optional(),
  /** what is happening inside the stage (the file being ingested and its rows) */
  detail: z.string().optional(),
});
export type JobProgress = z.infer<typeof jobProgress>;

/** A run's id, readable by staff: `sync-20261122-020000-k3f9` (county time). */
export function newRunId(kind: 'sync' | 'rematch' | 'reassess', at: Date = new Date()): string {
  return `${kind}-${countyStamp(at)}-${Math.random().toString(36).slice(2, 6)}`;
}


/** A failure that retrying cannot fix (a file that is not there, a payload that is not valid). */
export class PermanentJobError extends Error {
  override name = 'PermanentJobError';
}

export function parsePayload<N extends JobName>(name: N, data: unknown): Payload<N> {
  const parsed = JOBS[name].payload.safeParse(data);
  if (!parsed.success) throw new PermanentJobError(`invalid payload for ${name}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return parsed.data as Payload<N>;
}
