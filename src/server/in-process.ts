/**
 * `aidlink serve` without REDIS_URL: the server runs the jobs itself, with the in-process
 * runner's handlers (jobs/local.ts), one run after another, in the background. A submit
 * answers at once with the run waiting or running, as with BullMQ, so that a console page
 * or an API client is not held for the whole sync; the run is then followed by its id
 * (`local/<run id>`). The runs are kept in memory while the server runs (the latest 200);
 * the in-process runner also records each finished run in the audit log (jobs/record.ts),
 * which is how the runs page lists them after a restart.
 * There is no schedule (the nightly sync needs the scheduler, which needs Redis), no
 * operations board and no worker to watch: /health says so.
 */
import type { AppContext } from '../context.js';
import type { BullRunner } from '../jobs/bull.js';
import { describePayload, newRunId, reassessStages, rematchStages, syncStages, type JobProgress, type Payload, type Stage, type SyncOptions } from '../jobs/definitions.js';
import { runHandler, type IngestRequest, type JobContext } from '../jobs/handlers.js';
import { LocalRunner } from '../jobs/local.js';
import type { JobRunner, JobState } from '../jobs/state.js';
import { log } from '../log.js';

/** What the server runs its jobs with: the queues (REDIS_URL set) or itself. */
export type ServerRunner = BullRunner | InProcessServerRunner;

const KEEP_RUNS = 200;

export class InProcessServerRunner implements JobRunner {
  readonly kind = 'in-process' as const;
  private readonly runs: JobState[] = [];
  private tail: Promise<unknown> = Promise.resolve();
  private readonly finished = new Set<(run: JobState) => void>();
  private closed = false;

  constructor(private readonly app: AppContext) {}

  /** Called with each run's tree when it has finished (the metrics observe its stages' durations). */
  onFinished(listener: (run: JobState) => void): () => void {
    this.finished.add(listener);
    return () => this.finished.delete(listener);
  }

  /** Queues a run behind the ones before it; answers with its state, which is updated in place. */
  private enqueue(runId: string, top: string, about: string, work: (progress: (p: JobProgress) => void) => Promise<JobState>): JobState {
    const state: JobState = { id: `local/${runId}`, name: top, about, state: 'waiting', progress: null, attempts: 0, createdAt: new Date(), children: [] };
    this.runs.push(state);
    if (this.runs.length > KEEP_RUNS) this.runs.splice(0, this.runs.length - KEEP_RUNS);
    const go = async (): Promise<void> => {
      if (this.closed) return;
      state.state = 'active';
      state.attempts = 1;
      try {
        const tree = await work((p) => {
          state.progress = p;
        });
        Object.assign(state, { state: tree.state, progress: tree.progress, children: tree.children, ...(tree.result !== undefined ? { result: tree.result } : {}), ...(tree.error ? { error: tree.error } : {}) });
      } catch (err) {
        state.state = 'failed';
        state.error = err instanceof Error ? err.message : String(err);
        log.error({ err: { message: state.error }, job: state.id }, 'in-process run failed');
      } finally {
        state.finishedAt = new Date();
      }
      for (const l of this.finished) {
        try {
          l(state);
        } catch {
          // a listener's failure is not the run's
        }
      }
    };
    this.tail = this.tail.then(go, go);
    return state;
  }

  /** Stages through the in-process runner; a failed stage leaves the tree of what ran, the failure in it. */
  private chain(runId: string, stages: Stage[], start: (local: LocalRunner) => Promise<JobState>): JobState {
    const [firstName, firstData] = stages[0]!;
    return this.enqueue(runId, stages[stages.length - 1]![0], describePayload(firstName, firstData), async (progress) => {
      const local = new LocalRunner(this.app, progress);
      try {
        return await start(local);
      } catch (err) {
        const done = await local.list({ limit: 10_000 });
        const names = new Set(stages.map(([n]) => n));
        const failed = done.find((s) => s.state === 'failed');
        return {
          id: '',
          name: stages[stages.length - 1]![0],
          about: '',
          state: 'failed',
          progress: null,
          error: failed?.error ?? (err instanceof Error ? err.message : String(err)),
          attempts: 1,
          createdAt: new Date(),
          children: done.filter((s) => names.has(s.name as Stage[0])),
        };
      }
    });
  }

  submitSync(p: Payload<'sync.scan'>, opts: SyncOptions = {}): Promise<JobState> {
    return Promise.resolve(this.chain(opts.runId ?? newRunId('sync'), syncStages(p, opts), (local) => local.submitSync(p, opts)));
  }

  submitRematch(p: Payload<'match.run'>, requestedBy = ''): Promise<JobState> {
    return Promise.resolve(this.chain(newRunId('rematch'), rematchStages(p), (local) => local.submitRematch(p, requestedBy)));
  }

  submitReassess(requestedBy: string, persons?: readonly number[]): Promise<JobState> {
    return Promise.resolve(this.chain(newRunId('reassess'), reassessStages(persons), (local) => local.submitReassess(requestedBy, persons)));
  }

  /** One uploaded file's ingest, as the queue's ingest job would run it. */
  submitIngest(r: IngestRequest, requestedBy: string): Promise<JobState> {
    const data: Payload<'ingest.file'> = { ...r, requestedBy };
    return Promise.resolve(
      this.enqueue(`ingest-${r.hash.slice(0, 24)}-${Date.now().toString(36)}`, 'ingest.file', describePayload('ingest.file', data), async (progress) => {
        const node: JobState = { id: '', name: 'ingest.file', about: '', state: 'active', progress: null, attempts: 1, createdAt: new Date(), children: [] };
        const ctx: JobContext = {
          app: this.app,
          jobId: 'local/ingest',
          progress: async (p) => progress(p),
          ingestAll: () => Promise.reject(new Error('an ingest job ingests one file')),
          startSync: () => Promise.reject(new Error('an ingest job starts no sync')),
        };
        node.result = await runHandler('ingest.file', data, ctx);
        node.state = 'completed';
        return node;
      }),
    );
  }

  async get(ref: string): Promise<JobState | undefined> {
    const id = ref.startsWith('local/') ? ref : `local/${ref}`;
    return this.runs.find((s) => s.id === id);
  }

  async list(opts: { failed?: boolean; all?: boolean; limit?: number } = {}): Promise<JobState[]> {
    return this.runs
      .filter((s) => !opts.failed || s.state === 'failed')
      .slice(-(opts.limit ?? 50))
      .reverse();
  }

  /** No schedule without Redis: the scheduler registers the nightly sync in the queues. */
  async schedule(): Promise<undefined> {
    return undefined;
  }

  /** Nothing to reach: the runner is this process. */
  async ping(): Promise<void> {}

  /** Waits for nothing: a run still going is left (ingest resumes from its checkpoint at the next sync). */
  async close(): Promise<void> {
    this.closed = true;
  }
}
