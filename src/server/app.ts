/**
 * The HTTP server: the staff console (src/console), the JSON API, and the
 * operations view (bull-board). Who may do what is decided in auth.ts from the
 * user's role (users.ts):
 *
 *   viewer      look: console pages (id numbers and phones masked), GET /api/…
 *   caseworker  also change: uploads, quarantine, link decisions, cases, reports, POST /api/sync and /api/rematch;
 *               phones in full
 *   supervisor  also id numbers unmasked (audited), the audit log, the read-only board at /ops/queues
 *   admin       also the full board at /admin/queues (retry, remove, clean, pause)
 *
 * Operations (/health, /metrics, the favicon) are in ops.ts, error pages in error-pages.ts.
 *
 * Responses carry job ids, states, counts and file names; personal data only on
 * console pages, masked unless a supervisor asks; error texts pass the scrubber.
 */
import { resolve } from 'node:path';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import { z } from 'zod';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { AppContext } from '../context.js';
import { log } from '../log.js';
import { scrubText } from '../privacy.js';
import { parseDate } from '../ingest/normalise/date.js';
import { matchScope, QUEUES } from '../jobs/definitions.js';
import type { BullRunner } from '../jobs/bull.js';
import type { ServerRunner } from './in-process.js';
import { registerErrorPages } from './error-pages.js';
import { opsOptions, registerOps, type OpsOptions } from './ops.js';
import { currentProgress, isFinished, type JobState } from '../jobs/runner.js';
import { ADMIN_BOARD, authOf, OPS_BOARD, registerAuth } from './auth.js';
import { audit } from './audit.js';
import { registerSecurityHeaders } from './headers.js';
import { registerRequestLog } from './request-log.js';
import type { Permission } from './users.js';
import { registerConsole } from '../console/routes.js';

export { ADMIN_BOARD, OPS_BOARD };

/** A job state as clients see it: error texts scrubbed, the current stage spelled out. */
export function forClient(s: JobState): JobState & { current?: string; fraction?: number } {
  const scrub = (n: JobState): JobState => ({ ...n, ...(n.error ? { error: scrubText(n.error) } : {}), children: n.children.map(scrub) });
  const p = isFinished(s) ? undefined : currentProgress(s);
  return { ...scrub(s), ...(p ? { current: p.text, ...(p.fraction !== undefined ? { fraction: p.fraction } : {}) } : {}) };
}

const isoDate = z.string().refine((v) => parseDate(v) === v, '日期格式如 2026-10-31');
const syncBody = z.object({ until: isoDate.optional(), report: z.boolean().optional() }).strict();
const rematchBody = z.object({ scope: matchScope, reestimate: z.boolean().optional() }).strict();
const listQuery = z.object({
  failed: z.enum(['true', 'false']).optional(),
  all: z.enum(['true', 'false']).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});

export interface RouteInfo {
  method: string;
  url: string;
  permission: Permission;
  public: boolean;
}

/** Every route of a server and what it needs: the security tests walk them all. */
export const ROUTES = new WeakMap<FastifyInstance, RouteInfo[]>();

/**
 * @param runner the queues (REDIS_URL set) or the in-process runner (server/in-process.ts)
 * @param ops operations settings over those of the environment (server/ops.ts)
 */
export async function buildServer(app: AppContext, runner: ServerRunner, ops: Partial<OpsOptions> = {}): Promise<FastifyInstance> {
  // requests are logged by request-log.ts, by route pattern: the URL as sent may hold personal data
  const server = Fastify({ loggerInstance: log.child({ component: 'http' }) as FastifyBaseLogger, logController: new LogController({ disableRequestLogging: true }), bodyLimit: 256 * 1024, trustProxy: app.config.AIDLINK_TRUST_PROXY });
  const routes: RouteInfo[] = [];
  ROUTES.set(server, routes);
  server.addHook('onRoute', (r) => {
    for (const method of [r.method].flat()) routes.push({ method, url: r.url, permission: r.config?.permission ?? 'view', public: r.config?.public === true });
  });
  await server.register(cookie);
  await server.register(formbody);
  registerRequestLog(server);
  registerSecurityHeaders(server);
  // /health, the favicon and a scraper's /metrics need no user: before sign-in is asked for
  registerOps(server, app, runner, { ...opsOptions(), ...ops });
  registerAuth(server, app.store, { sessionHours: app.config.AIDLINK_SESSION_HOURS });

  registerErrorPages(server);

  server.post('/api/sync', { config: { permission: 'change' } }, async (req, reply) => {
    const body = syncBody.parse(req.body ?? {});
    const who = authOf(req).user.username;
    // the inbox is the configured one: a client does not choose which folder the server reads
    const s = await runner.submitSync({ inbox: resolve(app.config.AIDLINK_INBOX), ...(body.until ? { until: body.until } : {}), requestedBy: `http:${who}` }, { report: body.report === true });
    await audit(app.store, { actor: who, action: 'run_start', subject: s.id, ip: req.ip });
    return reply.code(202).send(forClient(s));
  });

  server.post('/api/rematch', { config: { permission: 'change' } }, async (req, reply) => {
    const body = rematchBody.parse(req.body ?? {});
    const who = authOf(req).user.username;
    const s = await runner.submitRematch({ scope: body.scope, ...(body.reestimate ? { reestimate: true } : {}) }, `http:${who}`);
    await audit(app.store, { actor: who, action: 'run_start', subject: s.id, detail: { scope: body.scope, reestimate: body.reestimate === true }, ip: req.ip });
    return reply.code(202).send(forClient(s));
  });

  server.get('/api/jobs', async (req) => {
    const q = listQuery.parse(req.query);
    const jobs = await runner.list({ failed: q.failed === 'true', all: q.all === 'true', limit: q.limit });
    return { schedule: (await runner.schedule()) ?? null, jobs: jobs.map(forClient) };
  });

  // a job is <queue>/<id> or a bare run id
  server.get('/api/jobs/*', async (req, reply) => {
    const ref = (req.params as { '*': string })['*'];
    const s = await runner.get(ref);
    if (!s) return reply.code(404).send({ error: 'not_found', message: `没有作业 ${ref}（已完成的作业保留 30 天，失败的保留 90 天）` });
    return forClient(s);
  });

  // the operations view shows the queues: there are none with the in-process runner
  // bull-board's page asks Google for its fonts: a bureau's network is closed, and the page's CSP
  // forbids it anyway (a violation in every browser console). The system's sans-serif font stands in.
  server.addHook('onSend', async (req, _reply, payload) => {
    const route = req.routeOptions.url ?? '';
    if (typeof payload !== 'string' || !(route.startsWith(OPS_BOARD) || route.startsWith(ADMIN_BOARD)) || !payload.includes('fonts.googleapis.com')) return payload;
    return payload.replace(/<link[^>]*fonts\.googleapis\.com[^>]*>\s*/g, '');
  });
  const boards = runner.kind === 'bullmq' ? ([[OPS_BOARD, true, runner], [ADMIN_BOARD, false, runner]] as const) : [];
  for (const [base, readOnly, bull] of boards) {
    const adapter = new FastifyAdapter();
    adapter.setBasePath(base);
    createBullBoard({
      queues: QUEUES.map((q) => new BullMQAdapter(bull.queue(q), { readOnlyMode: readOnly, allowRetries: !readOnly })),
      serverAdapter: adapter,
      options: { uiConfig: { boardTitle: readOnly ? 'aidlink 作业（只读）' : 'aidlink 作业（管理）', locale: { lng: 'zh-CN' }, hideDocsLink: true } },
    });
    await server.register(adapter.registerPlugin(), { prefix: base });
  }

  // the pages call what both runners have (submit…, get, list, schedule, submitIngest); their
  // dependency type still names BullRunner (console/page-kit.ts)
  await registerConsole(server, { app, runner: runner as BullRunner });
  return server;
}
