/**
 * Runs that ran in-process (no Redis: `aidlink sync` on a laptop or a server without
 * REDIS_URL, the demo) leave no job in a queue, so the console's 作业 page could not show
 * them. When one ends, its job tree is written to the audit log (action `run_local`: who
 * ran it, its stages, their counts and failure; payloads and results carry ids, file names
 * and counts, never personal data), and the page lists those runs beside the queued ones.
 * The job tree is the one the in-process runner built (local.ts), dates as ISO strings.
 */
import { log } from '../log.js';
import type { Store } from '../db/store.js';
import { audit } from '../server/audit.js';
import type { JobState } from './state.js';

/** A recorded run's id as the console shows it: `local-run/<audit log id>`. */
export const LOCAL_RUN_PREFIX = 'local-run/';

interface StoredRun {
  requestedBy: string;
  tree: unknown;
}

/** Writes a finished in-process run; a run is never failed by its record (the database may be what failed). */
export async function recordLocalRun(store: Store, tree: JobState, requestedBy: string): Promise<void> {
  try {
    const detail: StoredRun = { requestedBy, tree: JSON.parse(JSON.stringify(tree)) as unknown };
    await audit(store, { actor: requestedBy.slice(0, 64) || 'local', action: 'run_local', subject: tree.name, detail: detail as unknown as Record<string, unknown> });
  } catch (err) {
    log.warn({ err: { message: (err as Error).message } }, 'could not record the in-process run');
  }
}

function revive(v: unknown): JobState | undefined {
  if (!v || typeof v !== 'object') return undefined;
  const n = v as Record<string, unknown>;
  if (typeof n.id !== 'string' || typeof n.name !== 'string' || typeof n.state !== 'string') return undefined;
  return {
    id: n.id,
    name: n.name,
    about: typeof n.about === 'string' ? n.about : '',
    state: n.state as JobState['state'],
    progress: null,
    ...(n.result !== undefined ? { result: n.result } : {}),
    ...(typeof n.error === 'string' ? { error: n.error } : {}),
    attempts: typeof n.attempts === 'number' ? n.attempts : 1,
    createdAt: new Date(String(n.createdAt)),
    ...(n.finishedAt ? { finishedAt: new Date(String(n.finishedAt)) } : {}),
    children: Array.isArray(n.children) ? n.children.map(revive).filter((c): c is JobState => c !== undefined) : [],
  };
}

/** A recorded run as the runners describe theirs, with who started it. */
export interface LocalRun {
  state: JobState;
  requestedBy: string;
}

/** A recorded run from its audit log row (`run_local`). */
export function localRunOf(row: { id: number; detail: unknown }): LocalRun | undefined {
  const d = (typeof row.detail === 'string' ? JSON.parse(row.detail) : row.detail) as Partial<StoredRun> | null;
  const tree = revive(d?.tree);
  if (!tree) return undefined;
  return { state: { ...tree, id: `${LOCAL_RUN_PREFIX}${row.id}` }, requestedBy: typeof d?.requestedBy === 'string' ? d.requestedBy : '' };
}

/** The latest recorded in-process runs, newest first; with `failed`, the failed ones only. */
export async function listLocalRuns(store: Store, opts: { limit?: number; failed?: boolean } = {}): Promise<LocalRun[]> {
  const limit = opts.limit ?? 30;
  const rows = await store.k.selectFrom('audit_log').select(['id', 'detail']).where('action', '=', 'run_local').orderBy('id', 'desc').limit(opts.failed ? limit * 5 : limit).execute();
  return rows
    .map(localRunOf)
    .filter((r): r is LocalRun => r !== undefined && (!opts.failed || r.state.state === 'failed'))
    .slice(0, limit);
}

/** One recorded run by its id (`local-run/<n>`). */
export async function getLocalRun(store: Store, ref: string): Promise<LocalRun | undefined> {
  if (!ref.startsWith(LOCAL_RUN_PREFIX)) return undefined;
  const id = Number(ref.slice(LOCAL_RUN_PREFIX.length));
  if (!Number.isInteger(id) || id < 1 || id > 2_147_483_647) return undefined;
  const row = await store.k.selectFrom('audit_log').select(['id', 'detail']).where('action', '=', 'run_local').where('id', '=', id).executeTakeFirst();
  return row ? localRunOf(row) : undefined;
}
