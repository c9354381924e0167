/**
 * The in-process runner: no Redis, the same handlers, one after another, here and
 * now. `npm run demo` and a laptop use it; a submitted job is finished when submit
 * returns.
 */
import type { AppContext } from '../context.js';
import { resolve } from 'node:path';
import { runHandler, type IngestRequest, type JobContext, type JobResult } from './handlers.js';
import { describePayload, PermanentJobError, reassessStages, rematchStages, syncStages, type JobName, type JobProgress, type Payload, type Stage, type SyncOptions } from './definitions.js';
import { resultOf, type JobRunner, type JobState } from './state.js';
import { log } from '../log.js';
import { recordLocalRun } from './record.js';

export class LocalRunner implements JobRunner {
  readonly kind = 'in-process' as const;
  private readonly done: JobState[] = [];
  private seq = 0;

  constructor(
    private readonly app: AppContext,
    private readonly onProgress: (p: JobProgress) => void = () => undefined,
  ) {}

  private async run(name: JobName, data: unknown): Promise<JobState> {
    const state: JobState = { id: `local/${++this.seq}`, name, about: describePayload(name, data), state: 'active', progress: null, attempts: 1, createdAt: new Date(), children: [] };
    const job: JobContext = {
      app: this.app,
      jobId: state.id,
      progress: async (p) => {
        state.progress = p;
        this.onProgress(p);
      },
      ingestAll: (requests, requestedBy) => this.ingestAll(requests, requestedBy, state, job),
      startSync: async (payload, opts) => ({ id: (await this.submitSync(payload, opts)).id }),
    };
    try {
      state.result = await runHandler(name, data, job);
      state.state = 'completed';
    } catch (err) {
      state.state = 'failed';
      state.error = err instanceof Error ? err.message : String(err);
      throw err;
    } finally {
      state.finishedAt = new Date();
      this.done.push(state);
    }
    return state;
  }

  /** One file after another; a file that fails does not stop the others (its delivery says why). */
  private async ingestAll(requests: IngestRequest[], requestedBy: string, parent: JobState, job: JobContext): Promise<void> {
    for (const [i, r] of requests.entries()) {
      await job.progress({ stage: 'ingesting files', done: i, total: requests.length, unit: 'files', detail: r.file });
      try {
        parent.children.push(await this.run('ingest.file', { ...r, requestedBy }));
      } catch (err) {
        if (!(err instanceof PermanentJobError)) log.error({ err, file: r.file }, 'ingest failed');
        parent.children.push(this.done[this.done.length - 1]!);
      }
    }
    await job.progress({ stage: 'ingesting files', done: requests.length, total: requests.length, unit: 'files' });
  }

  /**
   * Runs the stages in order; shown as a tree like BullMQ's flows (the last stage waits for the ones before).
   * The run is recorded when it ends, failed or not, so that the console lists it (record.ts).
   */
  private async chain(stages: Stage[], requestedBy: string): Promise<JobState> {
    const states: JobState[] = [];
    const tree = () => {
      const top = states[states.length - 1]!;
      top.children = [...states.slice(0, -1).reverse(), ...top.children.filter((c) => c.name === 'ingest.file')];
      // the run began with its first stage, as a BullMQ flow's parent is made when the run is asked for:
      // its time is the whole run's, not the last stage's
      top.createdAt = states[0]!.createdAt;
      return top;
    };
    try {
      for (const [name, data] of stages) states.push(await this.run(name, data));
    } catch (err) {
      // the stage that failed is the last one run() finished
      const failed = this.done[this.done.length - 1];
      if (failed && failed.state === 'failed' && !states.includes(failed)) states.push(failed);
      if (states.length) await recordLocalRun(this.app.store, tree(), requestedBy);
      throw err;
    }
    const top = tree();
    await recordLocalRun(this.app.store, top, requestedBy);
    return top;
  }

  submitSync(p: Payload<'sync.scan'>, opts: SyncOptions = {}): Promise<JobState> {
    return this.chain(syncStages(p, opts), p.requestedBy);
  }

  submitRematch(p: Payload<'match.run'>, requestedBy = ''): Promise<JobState> {
    return this.chain(rematchStages(p), requestedBy);
  }

  submitReassess(requestedBy: string, persons?: readonly number[]): Promise<JobState> {
    return this.chain(reassessStages(persons), requestedBy);
  }

  async get(id: string): Promise<JobState | undefined> {
    return this.done.find((s) => s.id === id);
  }

  async list(opts: { failed?: boolean; limit?: number } = {}): Promise<JobState[]> {
    return this.done.filter((s) => !opts.failed || s.state === 'failed').slice(-(opts.limit ?? 50)).reverse();
  }

  async close(): Promise<void> {}
}

/** What one sync did, stage by stage (the results its jobs return). */
export interface SyncResult {
  id: string;
  scan: JobResult<'sync.scan'>;
  match: JobResult<'match.run'>;
  spells: JobResult<'spells.derive'>;
  assessment: JobResult<'assess.run'>;
  cases: JobResult<'outreach.update'>;
  /** when the sync was asked to end with the report */
  report: JobResult<'report.newly-eligible'> | undefined;
}

export function syncResult(tree: JobState): SyncResult | undefined {
  const scan = resultOf(tree, 'sync.scan');
  const match = resultOf(tree, 'match.run');
  const spells = resultOf(tree, 'spells.derive');
  const assessment = resultOf(tree, 'assess.run');
  const cases = resultOf(tree, 'outreach.update');
  const report = resultOf(tree, 'report.newly-eligible');
  return scan && match && spells && assessment && cases ? { id: tree.id, scan, match, spells, assessment, cases, report } : undefined;
}

/** A whole sync here and now, without Redis (the demo, tests, a laptop). */
export async function syncInProcess(
  app: AppContext,
  p: { inbox: string; until?: string | undefined; requestedBy: string; report?: boolean; onProgress?: (p: JobProgress) => void },
): Promise<SyncResult> {
  const tree = await new LocalRunner(app, p.onProgress).submitSync({ inbox: resolve(p.inbox), ...(p.until ? { until: p.until } : {}), requestedBy: p.requestedBy }, { report: p.report === true });
  return syncResult(tree)!;
}
