/**
 * What commands and the HTTP API use to run work: submit a sync or a rematch, see how
 * a job is doing. With REDIS_URL, jobs go to BullMQ queues for the workers (bull.ts);
 * without, the same handlers run here and now, in order (local.ts). The job types and
 * the job-tree helpers are in state.ts, re-exported here for the runners' users.
 */
import type { AppContext } from '../context.js';
import type { JobProgress } from './definitions.js';
import { isFinished, type JobRunner, type JobState } from './state.js';

export { currentProgress, failureOf, isFinished, progressText, RedisUnavailableError, resultOf } from './state.js';
export type { JobRunner, JobState, JobStateName } from './state.js';

export async function createRunner(app: AppContext, onProgress?: (p: JobProgress) => void): Promise<JobRunner> {
  if (app.config.REDIS_URL) {
    const { BullRunner } = await import('./bull.js');
    return BullRunner.connect(app.config);
  }
  const { LocalRunner } = await import('./local.js');
  return new LocalRunner(app, onProgress);
}

/** Waits for a job tree to finish, calling `onUpdate` with each look at it. */
export async function follow(runner: JobRunner, id: string, onUpdate: (s: JobState) => void, everyMs = 500): Promise<JobState> {
  for (;;) {
    const s = await runner.get(id);
    if (!s) throw new Error(`job ${id} is gone (removed from its queue?)`);
    onUpdate(s);
    // a stage that fails for good fails the ones after it too (failParentOnFailure)
    if (isFinished(s)) return s;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
