/**
 * The BullMQ side: queues and flows for those who submit work (BullRunner), and the
 * workers that run the handlers (startWorkers). A sync is a flow whose stages run
 * one after the other (syncStages); the scan stage queues one ingest job per file,
 * with the job id taken from the file's content hash, and waits for them.
 */
import { FlowProducer, Job, Queue, UnrecoverableError, Worker, type FlowJob, type JobsOptions } from 'bullmq';
import { Redis } from 'ioredis';
import type { AppContext } from '../context.js';
import type { Config } from '../config.js';
import { log } from '../log.js';
import { describePayload, JOBS, jobProgress, newRunId, PermanentJobError, QUEUES, reassessStages, rematchStages, syncStages, type JobProgress, type Payload, type QueueName, type Stage, type SyncOptions } from './definitions.js';
import { checkHandlers, isJobName, runHandler, type IngestRequest, type JobContext } from './handlers.js';
import { RedisUnavailableError, type JobRunner, type JobState, type JobStateName } from './state.js';

/** The nightly sync's scheduler id: upserting it again changes it, never adds a second one. */
export const NIGHTLY_SCHEDULE_ID = 'nightly-sync';

/** Where a bare run id is looked for: the queues of the flows' last stages first, so it finds the top of a flow. */
const LOOKUP_ORDER: QueueName[] = ['report', 'assess', 'match', 'sync', 'ingest'];

const DAY_S = 24 * 3600;
/** How often a scan looks at the ingest jobs it waits for. */
const INGEST_POLL_MS = 500;

/** redis://:secret@host:6379/0 → redis://***@host:6379/0 */
export function describeRedisUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}

/**
 * Opens a Redis connection and checks that it answers. Workers wait for Redis to
 * come back (their commands queue up); commands and the HTTP server fail fast.
 */
export async function connectRedis(url: string, purpose: 'worker' | 'client'): Promise<Redis> {
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 5_000,
    maxRetriesPerRequest: purpose === 'worker' ? null : 2,
  });
  // ioredis reports a lost connection as an 'error' event; without a listener Node would crash on it.
  // Before the first connection the failure is reported once, below.
  let connected = false;
  redis.on('error', (err: Error) => {
    if (connected) log.warn({ err: { message: err.message } }, 'redis connection');
  });
  try {
    await redis.connect();
    connected = true;
  } catch (err) {
    redis.disconnect();
    throw new RedisUnavailableError(`Redis at ${describeRedisUrl(url)} is not answering (${(err as Error).message}); is it running, and is REDIS_URL right?`);
  }
  return redis;
}

/** Retries with backoff for what may pass (a database or Redis that is away); kept long enough to look at. */
export function jobOptions(config: Config): JobsOptions {
  return {
    attempts: 5,
    backoff: { type: 'exponential', delay: config.AIDLINK_RETRY_DELAY_MS },
    removeOnComplete: { age: 30 * DAY_S, count: 5_000 },
    removeOnFail: { age: 90 * DAY_S },
  };
}

function splitRef(ref: string): { queue: QueueName; id: string } | { queue: undefined; id: string } {
  const slash = ref.indexOf('/');
  if (slash > 0) {
    const queue = ref.slice(0, slash);
    if ((QUEUES as string[]).includes(queue)) return { queue: queue as QueueName, id: ref.slice(slash + 1) };
  }
  return { queue: undefined, id: ref };
}

/** An ingest job's id: from the file's content (96 bits of its SHA-256), so one file is one job however often it is queued. */
export const ingestJobId = (hash: string): string => `ingest-${hash.slice(0, 24)}`;

export class BullRunner implements JobRunner {
  readonly kind = 'bullmq' as const;
  private readonly queues: Map<QueueName, Queue>;
  private readonly flows: FlowProducer;
  private readonly opts: JobsOptions;

  private constructor(
    private readonly config: Config,
    private readonly redis: Redis,
    private readonly ownsRedis: boolean,
  ) {
    const prefix = config.AIDLINK_QUEUE_PREFIX;
    this.opts = jobOptions(config);
    this.queues = new Map(QUEUES.map((q) => [q, new Queue(q, { connection: redis, prefix, defaultJobOptions: this.opts })]));
    this.flows = new FlowProducer({ connection: redis, prefix });
  }

  /** @param redis a connection to share (a worker's); without one, the runner opens and owns its own */
  static async connect(config: Config, redis?: Redis): Promise<BullRunner> {
    const url = config.REDIS_URL;
    if (!redis && !url) throw new RedisUnavailableError('REDIS_URL is not set: there are no queues to use');
    return new BullRunner(config, redis ?? (await connectRedis(url!, 'client')), !redis);
  }

  queue(name: QueueName): Queue {
    return this.queues.get(name)!;
  }

  /** The stages as a BullMQ flow: each stage is the parent of the one before it, so it starts when that one has finished. */
  private async submitFlow(stages: Stage[], runId: string): Promise<JobState> {
    let flow: FlowJob | undefined;
    stages.forEach(([name, data], i) => {
      const last = i === stages.length - 1;
      flow = {
        name,
        queueName: JOBS[name].queue,
        data,
        // the top of the flow has the run id itself; the stages below it are named after it
        opts: { ...this.opts, jobId: last ? runId : `${runId}-${name.replace('.', '-')}`, ...(last ? {} : { failParentOnFailure: true }) },
        children: flow ? [flow] : [],
      };
    });
    const top = stages[stages.length - 1]![0];
    await this.flows.add(flow!);
    return (await this.get(`${JOBS[top].queue}/${runId}`))!;
  }

  submitSync(p: Payload<'sync.scan'>, opts: SyncOptions = {}): Promise<JobState> {
    return this.submitFlow(syncStages(p, opts), opts.runId ?? newRunId('sync'));
  }

  submitRematch(p: Payload<'match.run'>, _requestedBy: string, runId: string = newRunId('rematch')): Promise<JobState> {
    return this.submitFlow(rematchStages(p), runId);
  }

  submitReassess(_requestedBy: string, persons?: readonly number[], runId: string = newRunId('reassess')): Promise<JobState> {
    return this.submitFlow(reassessStages(persons), runId);
  }

  /**
   * One ingest job per file, its id from the content hash: a file already queued or
   * running (by an overlapping sync) is not queued again, and one that failed before
   * is retried. Returns when every one has finished or failed for good.
   */
  async ingestAll(requests: IngestRequest[], requestedBy: string, progress: (p: JobProgress) => Promise<void>): Promise<void> {
    const q = this.queue('ingest');
    const ids: string[] = [];
    for (const r of requests) ids.push(await this.queueIngest(r, requestedBy));
    const pending = new Set(ids);
    for (;;) {
      let detail: string | undefined;
      for (const id of [...pending]) {
        const state = await q.getJobState(id);
        // 'unknown': removed (by an operator) — its delivery tells what became of the file
        if (state === 'completed' || state === 'failed' || state === 'unknown') pending.delete(id);
        else if (state === 'active' && detail === undefined) {
          const p = jobProgress.safeParse((await Job.fromId(q, id))?.progress);
          if (p.success) detail = p.data.detail ?? p.data.stage;
        }
      }
      await progress({ stage: 'ingesting files', done: ids.length - pending.size, total: ids.length, unit: 'files', ...(detail ? { detail } : {}) });
      if (pending.size === 0) return;
      await new Promise((r) => setTimeout(r, INGEST_POLL_MS));
    }
  }

  /** Queues one file's ingest job (or finds it queued, or retries it if it failed); returns its id. */
  private async queueIngest(r: IngestRequest, requestedBy: string): Promise<string> {
    const q = this.queue('ingest');
    const id = ingestJobId(r.hash);
    const data: Payload<'ingest.file'> = { ...r, requestedBy };
    await q.add('ingest.file', data, { ...this.opts, jobId: id });
    if ((await q.getJobState(id)) === 'failed') {
      const failed = await Job.fromId(q, id);
      await failed?.updateData(data);
      // another sync may retry it at the same moment: then this one only waits
      await failed?.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true }).catch(() => undefined);
    }
    return id;
  }

  /** One file uploaded in the console: its ingest job, the same one a sync would queue for it. */
  async submitIngest(r: IngestRequest, requestedBy: string): Promise<JobState> {
    return (await this.get(`ingest/${await this.queueIngest(r, requestedBy)}`))!;
  }

  async get(ref: string): Promise<JobState | undefined> {
    const { queue, id } = splitRef(ref);
    for (const q of queue ? [queue] : LOOKUP_ORDER) {
      const job = await Job.fromId(this.queue(q), id);
      if (job) return this.describe(job, q, 6);
    }
    return undefined;
  }

  /**
   * The latest runs (syncs, rematches, nightly triggers: jobs no other job waits
   * for, ingest jobs aside), newest first; with `all`, every job; with `failed`,
   * every failed job.
   */
  async list(opts: { failed?: boolean; all?: boolean; limit?: number } = {}): Promise<JobState[]> {
    const limit = opts.limit ?? 50;
    const types = opts.failed ? (['failed'] as const) : (['active', 'waiting', 'waiting-children', 'prioritized', 'delayed', 'completed', 'failed'] as const);
    const jobs: { job: Job; queue: QueueName }[] = [];
    for (const q of QUEUES) {
      if (!opts.failed && !opts.all && q === 'ingest') continue;
      // each queue's newest `limit` of each state is enough to find the newest `limit` overall
      for (const job of await this.queue(q).getJobs([...types], 0, limit * (opts.all || opts.failed ? 1 : 5) - 1, false)) {
        if (job && (opts.failed || opts.all || !job.parentKey)) jobs.push({ job, queue: q });
      }
    }
    jobs.sort((a, b) => b.job.timestamp - a.job.timestamp);
    return Promise.all(
      jobs.slice(0, limit).map(async ({ job, queue }) => {
        // a run still going is shown with the stage it is at
        const going = !job.finishedOn && !opts.all && !opts.failed;
        return this.describe(job, queue, going ? 6 : 0);
      }),
    );
  }

  /** The job, and down to `depth` levels of the jobs it waits for. */
  private async describe(fetched: Job, queue: QueueName, depth: number): Promise<JobState> {
    const state = (await fetched.getState()) as JobStateName;
    // the job may have finished since it was read: read it again, so that a completed job has its result
    const job = (state === 'completed' || state === 'failed') && !fetched.finishedOn ? ((await Job.fromId(this.queue(queue), fetched.id!)) ?? fetched) : fetched;
    const children: JobState[] = [];
    if (depth > 0) {
      const deps = await job.getDependencies();
      const keys = [...Object.keys(deps.processed ?? {}), ...(deps.unprocessed ?? []), ...(deps.failed ?? []), ...Object.keys(deps.ignored ?? {})];
      for (const key of keys) {
        // <prefix>:<queue>:<job id>
        const [, q, ...rest] = key.split(':');
        if (!q || !(QUEUES as string[]).includes(q)) continue;
        const child = await Job.fromId(this.queue(q as QueueName), rest.join(':'));
        if (child) children.push(await this.describe(child, q as QueueName, depth - 1));
      }
    }
    const progress = jobProgress.safeParse(job.progress);
    return {
      id: `${queue}/${job.id}`,
      name: job.name,
      about: isJobName(job.name) ? describePayload(job.name, job.data) : '',
      state,
      progress: progress.success ? progress.data : null,
      ...(job.returnvalue !== null && job.returnvalue !== undefined ? { result: job.returnvalue } : {}),
      ...(job.failedReason ? { error: job.failedReason } : {}),
      attempts: job.attemptsMade,
      createdAt: new Date(job.timestamp),
      ...(job.finishedOn ? { finishedAt: new Date(job.finishedOn) } : {}),
      children,
    };
  }

  /** Registers (or changes) the nightly sync. However many processes call this, there is one schedule. */
  async upsertNightlySchedule(inbox: string): Promise<{ pattern: string; tz: string; next: Date | undefined }> {
    const { AIDLINK_SYNC_CRON: pattern, AIDLINK_SYNC_TZ: tz } = this.config;
    const payload: Payload<'sync.nightly'> = { inbox };
    await this.queue('sync').upsertJobScheduler(NIGHTLY_SCHEDULE_ID, { pattern, tz }, { name: 'sync.nightly', data: payload, opts: { attempts: this.opts.attempts, backoff: this.opts.backoff } });
    const s = await this.schedule();
    return { pattern, tz, next: s?.next };
  }

  async schedule(): Promise<{ pattern: string | undefined; tz: string | undefined; next: Date | undefined } | undefined> {
    const s = await this.queue('sync').getJobScheduler(NIGHTLY_SCHEDULE_ID);
    return s ? { pattern: s.pattern, tz: s.tz, next: s.next ? new Date(s.next) : undefined } : undefined;
  }

  /** Rejects when Redis does not answer within two seconds. */
  async ping(): Promise<void> {
    await Promise.race([this.redis.ping(), new Promise((_, reject) => setTimeout(() => reject(new Error('Redis did not answer')), 2_000).unref())]);
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
    await this.flows.close();
    if (this.ownsRedis) await this.redis.quit().catch(() => undefined);
  }
}

/** Progress goes to Redis at most once a second per job (and at once when the stage changes or ends). */
function progressReporter(job: Job, everyMs = 1_000): (p: JobProgress) => Promise<void> {
  let last = 0;
  let lastStage = '';
  return async (p) => {
    const now = Date.now();
    const finished = p.total !== undefined && p.done === p.total;
    if (p.stage === lastStage && now - last < everyMs && !finished) return;
    last = now;
    lastStage = p.stage;
    await job.updateProgress({ ...p }).catch((err: Error) => log.warn({ err: { message: err.message }, job: job.id }, 'could not store job progress'));
  };
}

/**
 * Database connections a worker process needs: an ingest holds one for its file's
 * lock and another for its transaction, and every queue runs `concurrency` jobs.
 */
export function workerPoolSize(concurrency: number): number {
  return 4 + 2 * QUEUES.length * concurrency;
}

export interface RunningWorkers {
  readonly runner: BullRunner;
  /**
   * Stops taking jobs and waits up to `graceMs` for the running ones. Jobs still
   * running then are put back in their queues for another worker, and the caller
   * must exit the process (their handlers cannot be stopped from outside).
   */
  stop(graceMs: number): Promise<{ released: string[] }>;
}

export async function startWorkers(app: AppContext, opts: { concurrency?: number; queues?: QueueName[] } = {}): Promise<RunningWorkers> {
  const url = app.config.REDIS_URL;
  if (!url) throw new RedisUnavailableError('REDIS_URL is not set: a worker takes its jobs from Redis');
  // a job without its handler would fail only when it arrives, at night: refuse to start instead
  checkHandlers();
  const redis = await connectRedis(url, 'worker');
  const runner = await BullRunner.connect(app.config, redis);
  const concurrency = opts.concurrency ?? app.config.AIDLINK_WORKER_CONCURRENCY;
  const lock = app.config.AIDLINK_JOB_LOCK_MS;
  const active = new Map<string, { job: Job; token: string | undefined }>();

  const processor = async (queue: QueueName, job: Job, token?: string): Promise<unknown> => {
    const ref = `${queue}/${job.id}`;
    if (!isJobName(job.name)) throw new UnrecoverableError(`no handler for a job named ${job.name}`);
    active.set(ref, { job, token });
    const ctx: JobContext = {
      app,
      jobId: ref,
      progress: progressReporter(job),
      ingestAll: (requests, requestedBy) => runner.ingestAll(requests, requestedBy, ctx.progress),
      startSync: async (payload, opts) => ({ id: (await runner.submitSync(payload, opts)).id }),
    };
    const started = Date.now();
    log.info({ job: ref, jobName: job.name, attempt: job.attemptsMade + 1 }, 'job started');
    try {
      const result = await runHandler(job.name, job.data, ctx);
      log.info({ job: ref, jobName: job.name, seconds: (Date.now() - started) / 1000 }, 'job completed');
      return result;
    } catch (err) {
      // retrying cannot fix a permanent failure: BullMQ fails the job at once
      if (err instanceof PermanentJobError) throw new UnrecoverableError(err.message);
      throw err;
    } finally {
      active.delete(ref);
    }
  };

  const workers = QUEUES.filter((q) => !opts.queues || opts.queues.includes(q)).map((queue) => {
    const worker = new Worker(queue, (job, token) => processor(queue, job, token), {
      connection: redis,
      prefix: app.config.AIDLINK_QUEUE_PREFIX,
      // a scan waits for its ingest jobs: a second slot lets the nightly trigger or another scan start meanwhile
      concurrency: queue === 'sync' ? Math.max(2, concurrency) : concurrency,
      lockDuration: lock,
      stalledInterval: lock,
      // a job whose worker died is taken over; twice is a pattern worth failing on
      maxStalledCount: 2,
    });
    worker.on('failed', (job, err) => {
      if (!job) return;
      const willRetry = job.attemptsMade < (job.opts.attempts ?? 1) && !(err instanceof UnrecoverableError) && err.name !== 'UnrecoverableError';
      log[willRetry ? 'warn' : 'error']({ job: `${queue}/${job.id}`, jobName: job.name, attempt: job.attemptsMade, willRetry, err: { message: err.message } }, willRetry ? 'job failed, will retry' : 'job failed');
    });
    worker.on('stalled', (id) => log.warn({ job: `${queue}/${id}` }, 'job stalled (its worker stopped renewing the lock); taken over'));
    worker.on('error', (err) => log.error({ err: { message: err.message }, queue }, 'worker error'));
    return worker;
  });
  await Promise.all(workers.map((w) => w.waitUntilReady()));
  log.info({ queues: workers.map((w) => w.name), concurrency, lockMs: lock }, 'worker ready');

  return {
    runner,
    async stop(graceMs) {
      const closed = Promise.all(workers.map((w) => w.close()));
      const inTime = await Promise.race([closed.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), graceMs).unref())]);
      const released: string[] = [];
      if (!inTime) {
        for (const [ref, { job, token }] of active) {
          // back to waiting at once, rather than after its lock expires
          await job.moveToWait(token).then(() => released.push(ref), (err: Error) => log.warn({ job: ref, err: { message: err.message } }, 'could not release job'));
        }
        // the handlers are still running and BullMQ's close waits for them: the caller
        // exits the process now, which ends their connections
        return { released };
      }
      await runner.close();
      await redis.quit().catch(() => undefined);
      return { released };
    },
  };
}
