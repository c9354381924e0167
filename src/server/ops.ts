/**
 * What the IT operator's tools read: /health (for a load balancer, a container health check
 * or a person) and /metrics in the Prometheus text format (prom-client), and the favicon.
 *
 * /health answers 200 when all is well and 503 when the database or Redis does not answer,
 * a queue has no worker listening, or the last successful nightly sync is older than
 * AIDLINK_HEALTH_SYNC_MAX_HOURS (checked only with the queues, and only once a schedule is
 * registered or a nightly sync has ever finished: a new installation is healthy until its
 * first night). The figures are read at most every AIDLINK_HEALTH_CACHE_MS (2 s), by one
 * request at a time: a health check polled hard costs the database and Redis nothing more.
 *
 * /metrics answers the Prometheus format to a scraper (Accept names text/plain or
 * application/openmetrics-text, not text/html: a browser gets the staff's 统计 page at the
 * same address). A scraper is let in when it connects from this machine directly (loopback,
 * no X-Forwarded-For / Forwarded / X-Real-IP: not relayed by a proxy), or anywhere with
 * `Authorization: Bearer <AIDLINK_METRICS_TOKEN>`. No label carries personal data: route
 * patterns (never URLs), job names, queue names, sources, flag kinds, case statuses.
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { QueueEvents, Job } from 'bullmq';
import { Redis } from 'ioredis';
import { sql } from 'kysely';
import { z } from 'zod';
import type { AppContext } from '../context.js';
import { ConfigError } from '../config.js';
import { QUEUES, type QueueName } from '../jobs/definitions.js';
import type { JobState } from '../jobs/state.js';
import { countReviewRows } from '../match/review.js';
import { log } from '../log.js';
import type { ServerRunner } from './in-process.js';

const opsEnv = z.object({
  /** /health fails when the last successful nightly sync is older than this (hours). */
  AIDLINK_HEALTH_SYNC_MAX_HOURS: z.coerce.number().min(1).max(24 * 90).default(36),
  /** How long /health and the database figures of /metrics are kept before they are read again. */
  AIDLINK_HEALTH_CACHE_MS: z.coerce.number().int().min(0).max(60_000).default(2_000),
  /** A scraper elsewhere than this machine sends it as `Authorization: Bearer …`; unset: loopback only. */
  AIDLINK_METRICS_TOKEN: z
    .string()
    .trim()
    .optional()
    .transform((v) => (v === '' ? undefined : v))
    .refine((v) => v === undefined || v.length >= 16, 'at least 16 characters'),
});

export interface OpsOptions {
  syncMaxHours: number;
  cacheMs: number;
  metricsToken?: string | undefined;
}

/** The operations settings from the environment, checked when the server starts. */
export function opsOptions(env: NodeJS.ProcessEnv = process.env): OpsOptions {
  const parsed = opsEnv.safeParse(env);
  if (!parsed.success) throw new ConfigError(`invalid environment configuration:\n${parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`).join('\n')}`);
  return { syncMaxHours: parsed.data.AIDLINK_HEALTH_SYNC_MAX_HOURS, cacheMs: parsed.data.AIDLINK_HEALTH_CACHE_MS, metricsToken: parsed.data.AIDLINK_METRICS_TOKEN };
}

const QUEUE_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children', 'failed'] as const;
type QueueFigures = Record<(typeof QUEUE_STATES)[number], number>;

export interface Health {
  status: 'ok' | 'unavailable';
  /** what is wrong, in Chinese, for the person who reads it */
  problems: string[];
  database: 'ok' | 'unavailable';
  runner: 'bullmq' | 'in-process';
  redis: 'ok' | 'unavailable' | 'not_used';
  /** jobs by state, per queue (BullMQ only) */
  queues?: Record<string, QueueFigures>;
  /** workers listening, per queue (BullMQ only) */
  workers?: Record<string, number>;
  sync: {
    /** when the last nightly sync finished its whole run (its report written) */
    lastNightly: string | null;
    hoursAgo: number | null;
    maxHours: number;
    schedule: { pattern: string | null; tz: string | null; next: string | null } | null;
    /** whether its age counts towards the status (see the module's comment) */
    checked: boolean;
    stale: boolean;
  };
  checkedAt: string;
}

const within = <T>(p: Promise<T>, ms = 2_000): Promise<T> =>
  Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms).unref())]);

/** A value read at most every `ms`, by one caller at a time; the others wait for that one. */
function cached<T>(ms: number, read: () => Promise<T>): () => Promise<T> {
  let value: { at: number; v: T } | undefined;
  let pending: Promise<T> | undefined;
  return () => {
    if (value && Date.now() - value.at < ms) return Promise.resolve(value.v);
    pending ??= read()
      .then((v) => {
        value = { at: Date.now(), v };
        return v;
      })
      .finally(() => {
        pending = undefined;
      });
    return pending;
  };
}

async function readHealth(app: AppContext, runner: ServerRunner, opts: OpsOptions): Promise<Health> {
  const problems: string[] = [];
  let lastNightly: Date | null = null;
  let database: Health['database'] = 'ok';
  try {
    // the nightly sync (requestedBy 'schedule') ends with its report: a report_run row is a whole run finished
    const r = await within(sql<{ at: Date | string | null }>`select max(created_at) as at from report_run where requested_by = 'schedule'`.execute(app.store.k));
    const at = r.rows[0]?.at;
    lastNightly = at ? new Date(at) : null;
  } catch {
    database = 'unavailable';
    problems.push('数据库无法连接');
  }

  let redis: Health['redis'] = 'not_used';
  let queues: Health['queues'];
  let workers: Health['workers'];
  let schedule: Health['sync']['schedule'] = null;
  if (runner.kind === 'bullmq') {
    redis = await within(runner.ping()).then(
      () => 'ok' as const,
      () => 'unavailable' as const,
    );
    if (redis === 'unavailable') problems.push('Redis 无法连接（作业队列不可用）');
    else {
      try {
        queues = {};
        workers = {};
        for (const q of QUEUES) {
          const queue = runner.queue(q);
          const counts = await within(queue.getJobCounts(...QUEUE_STATES));
          queues[q] = Object.fromEntries(QUEUE_STATES.map((s) => [s, counts[s] ?? 0])) as QueueFigures;
          workers[q] = (await within(queue.getWorkers())).length;
          if (workers[q] === 0) problems.push(`队列 ${q} 没有在运行的 worker（作业不会被执行）`);
        }
        const s = await within(runner.schedule());
        if (s) schedule = { pattern: s.pattern ?? null, tz: s.tz ?? null, next: s.next ? s.next.toISOString() : null };
      } catch (err) {
        redis = 'unavailable';
        problems.push('Redis 无法连接（作业队列不可用）');
        log.warn({ err: { message: (err as Error).message } }, 'health: reading the queues failed');
      }
    }
  }

  const hoursAgo = lastNightly ? Math.round(((Date.now() - lastNightly.getTime()) / 3_600_000) * 10) / 10 : null;
  const checked = runner.kind === 'bullmq' && (schedule !== null || lastNightly !== null);
  const stale = checked && hoursAgo !== null && hoursAgo > opts.syncMaxHours;
  if (stale) problems.push(`最近一次成功的夜间同步在 ${hoursAgo} 小时前，超过 ${opts.syncMaxHours} 小时`);

  return {
    status: problems.length === 0 ? 'ok' : 'unavailable',
    problems,
    database,
    runner: runner.kind,
    redis,
    ...(queues ? { queues } : {}),
    ...(workers ? { workers } : {}),
    sync: { lastNightly: lastNightly ? lastNightly.toISOString() : null, hoursAgo, maxHours: opts.syncMaxHours, schedule, checked, stale },
    checkedAt: new Date().toISOString(),
  };
}

interface Figures {
  deliveries: { source: string; rows: number; rejected: number; files: number }[];
  openFlags: { kind: string; n: number }[];
  cases: { status: string; n: number }[];
  review: number;
}

async function readFigures(app: AppContext): Promise<Figures> {
  const k = app.store.k;
  const deliveries = await sql<{ source: string | null; rows: number; rejected: number; files: number }>`
    select source, coalesce(sum(row_count), 0)::float8 as rows, coalesce(sum(rejected_rows), 0)::float8 as rejected, count(*)::int as files
    from delivery group by source`.execute(k);
  const flags = await sql<{ kind: string; n: number }>`select flag as kind, count(*)::int as n from flag where withdrawn_at is null group by flag`.execute(k);
  const cases = await sql<{ status: string; n: number }>`select status, count(*)::int as n from outreach_case group by status`.execute(k);
  return {
    deliveries: deliveries.rows.map((r) => ({ source: r.source ?? 'unknown', rows: Number(r.rows), rejected: Number(r.rejected), files: Number(r.files) })),
    openFlags: flags.rows.map((r) => ({ kind: r.kind, n: Number(r.n) })),
    cases: cases.rows.map((r) => ({ status: r.status, n: Number(r.n) })),
    review: await countReviewRows(k),
  };
}

const pathOf = (url: string): string => {
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
};

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

function tokenMatches(sent: string, token: string): boolean {
  const a = Buffer.from(sent);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** A scraper may read /metrics: from this machine directly, or with the token. */
export function metricsAllowed(req: FastifyRequest, token: string | undefined): boolean {
  const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
  if (m) return token !== undefined && tokenMatches(m[1]!, token);
  const relayed = req.headers['x-forwarded-for'] !== undefined || req.headers.forwarded !== undefined || req.headers['x-real-ip'] !== undefined;
  return !relayed && LOOPBACK.has(req.socket.remoteAddress ?? '');
}

/** A Prometheus scraper (or curl asking for text), not a browser asking for the staff's page. */
function isScrape(req: FastifyRequest): boolean {
  if ((req.method !== 'GET' && req.method !== 'HEAD') || pathOf(req.url) !== '/metrics') return false;
  const accept = String(req.headers.accept ?? '');
  return !accept.includes('text/html') && (accept.includes('text/plain') || accept.includes('openmetrics'));
}

/** The server's metrics, in a registry of its own (one per server: tests build many). */
class ServerMetrics {
  readonly registry = new Registry();
  readonly http: Histogram<'method' | 'route' | 'status'>;
  readonly jobs: Histogram<'job' | 'outcome'>;
  private queueEvents: { events: QueueEvents; connection: Redis }[] | undefined;

  constructor(
    private readonly app: AppContext,
    private readonly runner: ServerRunner,
    health: () => Promise<Health>,
    figures: () => Promise<Figures>,
  ) {
    const registers = [this.registry];
    this.http = new Histogram({ name: 'aidlink_http_request_duration_seconds', help: 'HTTP requests by route pattern, method and status', labelNames: ['method', 'route', 'status'], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers });
    this.jobs = new Histogram({ name: 'aidlink_job_duration_seconds', help: 'Jobs finished, by job name and outcome (completed, failed), from when a worker took them', labelNames: ['job', 'outcome'], buckets: [0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200], registers });
    new Counter({ name: 'aidlink_metrics_scrapes_total', help: 'Times /metrics was read', registers }).inc(0);

    /** Gauges set at each scrape from what `read` gives; left empty when it gives nothing. */
    const gaugesFrom =
      <T>(read: () => Promise<T | undefined>) =>
      <L extends string>(name: string, help: string, labelNames: L[], set: (g: Gauge<L>, value: T) => void) =>
        new Gauge<L>({
          name,
          help,
          labelNames,
          registers,
          async collect() {
            this.reset();
            const value = await read();
            if (value !== undefined) set(this, value);
          },
        });
    // the database away: these gauges are left empty, the rest of the scrape still answers (aidlink_up says why)
    const fromFigures = gaugesFrom(() => figures().catch(() => undefined));
    fromFigures('aidlink_rows_ingested', 'Rows read from delivered files, by source (all deliveries, from the database)', ['source'], (g, f) => f.deliveries.forEach((d) => g.set({ source: d.source }, d.rows)));
    fromFigures('aidlink_rows_rejected', 'Rows refused by ingest, by source (all deliveries, from the database)', ['source'], (g, f) => f.deliveries.forEach((d) => g.set({ source: d.source }, d.rejected)));
    fromFigures('aidlink_deliveries', 'Delivered files, by source', ['source'], (g, f) => f.deliveries.forEach((d) => g.set({ source: d.source }, d.files)));
    fromFigures('aidlink_review_rows', 'Rows waiting for a staff decision about who they are (身份核对)', [], (g, f) => g.set(f.review));
    fromFigures('aidlink_open_flags', 'Flags not withdrawn, by kind', ['kind'], (g, f) => f.openFlags.forEach((x) => g.set({ kind: x.kind }, x.n)));
    fromFigures('aidlink_cases', 'Outreach cases, by status', ['status'], (g, f) => f.cases.forEach((x) => g.set({ status: x.status }, x.n)));

    const fromHealth = gaugesFrom(health);
    fromHealth('aidlink_up', '1 when the component answers (database, redis; redis absent with the in-process runner)', ['component'], (g, h) => {
      g.set({ component: 'database' }, h.database === 'ok' ? 1 : 0);
      if (h.redis !== 'not_used') g.set({ component: 'redis' }, h.redis === 'ok' ? 1 : 0);
    });
    fromHealth('aidlink_healthy', '1 when /health answers 200', [], (g, h) => g.set(h.status === 'ok' ? 1 : 0));
    fromHealth('aidlink_queue_jobs', 'Jobs in the BullMQ queues, by queue and state', ['queue', 'state'], (g, h) => {
      for (const [queue, counts] of Object.entries(h.queues ?? {})) for (const [state, n] of Object.entries(counts)) g.set({ queue, state }, n);
    });
    fromHealth('aidlink_queue_workers', 'Workers listening on each BullMQ queue', ['queue'], (g, h) => {
      for (const [queue, n] of Object.entries(h.workers ?? {})) g.set({ queue }, n);
    });
    fromHealth('aidlink_last_nightly_sync_timestamp_seconds', 'When the last nightly sync finished (Unix time; absent when none has)', [], (g, h) => {
      if (h.sync.lastNightly) g.set(Date.parse(h.sync.lastNightly) / 1000);
    });

    if (runner.kind === 'in-process') runner.onFinished((run) => this.observeTree(run));
  }

  /** An in-process run's stages, each observed once. */
  private observeTree(node: JobState): void {
    for (const c of node.children) this.observeTree(c);
    if (node.finishedAt && (node.state === 'completed' || node.state === 'failed') && node.id !== '') {
      this.jobs.observe({ job: node.name, outcome: node.state }, Math.max(0, (node.finishedAt.getTime() - node.createdAt.getTime()) / 1000));
    }
  }

  /**
   * With the queues, jobs finish in the workers: the server follows the queues' events and
   * observes each job as it finishes. Started at the first scrape (a server nobody scrapes
   * keeps no extra Redis connections); durations count from then.
   */
  private followQueues(): void {
    if (this.queueEvents || this.runner.kind !== 'bullmq' || !this.app.config.REDIS_URL) return;
    const runner = this.runner;
    const url = this.app.config.REDIS_URL;
    this.queueEvents = QUEUES.map((q: QueueName) => {
      const connection = new Redis(url, { maxRetriesPerRequest: null });
      connection.on('error', (err: Error) => log.warn({ err: { message: err.message } }, 'metrics: queue events connection'));
      const events = new QueueEvents(q, { connection, prefix: this.app.config.AIDLINK_QUEUE_PREFIX });
      const observe = (outcome: 'completed' | 'failed') => async ({ jobId }: { jobId: string }) => {
        try {
          const job = await Job.fromId(runner.queue(q), jobId);
          if (job?.finishedOn && job.processedOn) this.jobs.observe({ job: job.name, outcome }, Math.max(0, (job.finishedOn - job.processedOn) / 1000));
        } catch {
          // a job removed meanwhile: not observed
        }
      };
      events.on('completed', observe('completed'));
      events.on('failed', observe('failed'));
      events.on('error', (err) => log.warn({ err: { message: err.message } }, 'metrics: queue events'));
      return { events, connection };
    });
  }

  private defaults = false;

  async render(): Promise<string> {
    // the process metrics watch the event loop and the GC: only for a server that is scraped (tests build many that are not)
    if (!this.defaults) {
      collectDefaultMetrics({ register: this.registry });
      this.defaults = true;
    }
    this.followQueues();
    (this.registry.getSingleMetric('aidlink_metrics_scrapes_total') as Counter | undefined)?.inc();
    return this.registry.metrics();
  }

  async close(): Promise<void> {
    for (const { events, connection } of this.queueEvents ?? []) {
      await events.close().catch(() => undefined);
      connection.disconnect();
    }
    this.queueEvents = undefined;
  }
}

/** A 16×16 icon (ICO, 32-bit): a white cross on teal, rounded corners; made here, no file to ship. */
function makeFavicon(): Buffer {
  const size = 16;
  const pixels = Buffer.alloc(size * size * 4);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      // rows are stored bottom-up
      const o = ((size - 1 - y) * size + x) * 4;
      const corner = (x === 0 || x === size - 1) && (y === 0 || y === size - 1);
      const cross = (x >= 6 && x <= 9 && y >= 3 && y <= 12) || (y >= 6 && y <= 9 && x >= 3 && x <= 12);
      const [r, g, b] = cross ? [255, 255, 255] : [15, 118, 110];
      pixels.writeUInt8(b, o);
      pixels.writeUInt8(g, o + 1);
      pixels.writeUInt8(r, o + 2);
      pixels.writeUInt8(corner ? 0 : 255, o + 3);
    }
  }
  const mask = Buffer.alloc(size * 4); // 1 bit per pixel, rows padded to 4 bytes: all opaque (alpha decides)
  const info = Buffer.alloc(40);
  info.writeUInt32LE(40, 0);
  info.writeInt32LE(size, 4);
  info.writeInt32LE(size * 2, 8); // colour and mask
  info.writeUInt16LE(1, 12);
  info.writeUInt16LE(32, 14);
  info.writeUInt32LE(pixels.length + mask.length, 20);
  const image = Buffer.concat([info, pixels, mask]);
  const dir = Buffer.alloc(6 + 16);
  dir.writeUInt16LE(0, 0);
  dir.writeUInt16LE(1, 2); // icon
  dir.writeUInt16LE(1, 4); // one image
  dir.writeUInt8(size, 6);
  dir.writeUInt8(size, 7);
  dir.writeUInt16LE(1, 10);
  dir.writeUInt16LE(32, 12);
  dir.writeUInt32LE(image.length, 14);
  dir.writeUInt32LE(dir.length, 18);
  return Buffer.concat([dir, image]);
}

export const FAVICON = makeFavicon();

/**
 * Registers the scrape of /metrics (before sign-in is asked for: call it before registerAuth),
 * the HTTP latency histogram, /health and /favicon.ico.
 */
export function registerOps(server: FastifyInstance, app: AppContext, runner: ServerRunner, opts: OpsOptions): void {
  const health = cached(opts.cacheMs, () => readHealth(app, runner, opts));
  const figures = cached(opts.cacheMs, () => readFigures(app));
  const metrics = new ServerMetrics(app, runner, health, figures);
  server.addHook('onClose', async () => metrics.close());

  server.addHook('onRequest', async (req, reply) => {
    if (!isScrape(req)) return;
    if (!metricsAllowed(req, opts.metricsToken)) {
      return reply
        .code(401)
        .header('WWW-Authenticate', 'Bearer realm="aidlink-metrics"')
        .send({ error: 'unauthorized', message: '指标只对本机的采集程序开放；其他地址须带令牌（Authorization: Bearer，见 AIDLINK_METRICS_TOKEN）' });
    }
    const body = await metrics.render();
    return reply.code(200).type(metrics.registry.contentType).send(body);
  });

  server.addHook('onResponse', async (req, reply) => {
    metrics.http.observe({ method: req.method, route: req.routeOptions.url ?? '(unmatched)', status: String(reply.statusCode) }, reply.elapsedTime / 1000);
  });

  // the answer itself is kept as long as its figures: a health check polled hard costs one string
  let answer: { of: Health; code: number; body: string } | undefined;
  server.get('/health', { config: { public: true } }, async (_req, reply) => {
    const h = await health();
    if (answer?.of !== h) answer = { of: h, code: h.status === 'ok' ? 200 : 503, body: JSON.stringify(h) };
    return reply.code(answer.code).type('application/json; charset=utf-8').send(answer.body);
  });

  server.get('/favicon.ico', { config: { public: true } }, async (_req, reply) => reply.type('image/x-icon').header('Cache-Control', 'max-age=86400').send(FAVICON));
}
