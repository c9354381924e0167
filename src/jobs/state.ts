/**
 * What a runner tells about its jobs (JobState), the runner interface itself, and reading a
 * job tree. A leaf under runner.ts, bull.ts and local.ts: the runners implement these types
 * and runner.ts chooses between the runners, so the types cannot live in runner.ts without
 * the three importing each other.
 */
import type { JobName, JobProgress, Payload, SyncOptions } from './definitions.js';
import type { JobResult } from './handlers.js';

export class RedisUnavailableError extends Error {
  override name = 'RedisUnavailableError';
}

export type JobStateName = 'waiting' | 'waiting-children' | 'delayed' | 'active' | 'completed' | 'failed' | 'prioritized' | 'unknown';

export interface JobState {
  /** `<queue>/<job id>`: job ids are only unique within their queue */
  id: string;
  name: string;
  /** what the job is about, from its payload: a file, a scope (never personal data: payloads carry none) */
  about: string;
  state: JobStateName;
  progress: JobProgress | null;
  result?: unknown;
  error?: string;
  attempts: number;
  createdAt: Date;
  finishedAt?: Date;
  /** the jobs this one waits for (a sync's stages) */
  children: JobState[];
}

export interface JobRunner {
  readonly kind: 'bullmq' | 'in-process';
  /** ingest the inbox's new files, then match, spells, assessment, cases, and the report when asked */
  submitSync(payload: Payload<'sync.scan'>, opts?: SyncOptions): Promise<JobState>;
  /** match again (all rows, a person, a file), then spells and assessment */
  submitRematch(payload: Payload<'match.run'>, requestedBy: string): Promise<JobState>;
  /** spells, assessment and cases again, after a staff decision changed links: for the persons it touched, or everyone */
  submitReassess(requestedBy: string, persons?: readonly number[]): Promise<JobState>;
  get(id: string): Promise<JobState | undefined>;
  list(opts?: { failed?: boolean; all?: boolean; limit?: number }): Promise<JobState[]>;
  close(): Promise<void>;
}

/** "ingesting files 3/55 files · civil/civil_20261031.csv" */
export function progressText(p: JobProgress): string {
  const count = p.total !== undefined ? ` ${(p.done ?? 0).toLocaleString('en')}/${p.total.toLocaleString('en')}` : p.done !== undefined ? ` ${p.done.toLocaleString('en')}` : '';
  return `${p.stage}${count}${p.unit && p.done !== undefined ? ` ${p.unit}` : ''}${p.detail ? ` · ${p.detail}` : ''}`;
}

/** The stage a job tree is at: the progress of the job that is running now, or of the top job. */
export function currentProgress(s: JobState): { text: string; fraction?: number } | undefined {
  const active = (n: JobState): JobState | undefined => (n.state === 'active' ? n : n.children.map(active).find(Boolean));
  const node = active(s) ?? s;
  const p = node.progress;
  if (!p) return { text: active(s) ? `${node.name}: started` : `${s.name}: ${s.state === 'waiting-children' ? 'waiting for earlier stages' : s.state}` };
  return { text: progressText(p), ...(p.total ? { fraction: (p.done ?? 0) / p.total } : {}) };
}

/** What a job of this name returned, found anywhere in a job tree (a sync's stages). */
export function resultOf<N extends JobName>(tree: JobState, name: N): JobResult<N> | undefined {
  if (tree.name === name && tree.state === 'completed') return tree.result as JobResult<N>;
  for (const c of tree.children) {
    const r = resultOf(c, name);
    if (r !== undefined) return r;
  }
  return undefined;
}

/**
 * The first failed job in a tree, deepest first: the cause, not the stages that failed
 * because of it. Jobs `skip` names are not looked at, nor their children.
 */
export function failureOf(tree: JobState, skip?: (s: JobState) => boolean): JobState | undefined {
  if (skip?.(tree)) return undefined;
  for (const c of tree.children) {
    const f = failureOf(c, skip);
    if (f) return f;
  }
  return tree.state === 'failed' ? tree : undefined;
}

export const isFinished = (s: JobState): boolean => s.state === 'completed' || s.state === 'failed' || s.state === 'unknown';
