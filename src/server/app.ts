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
import { sql } from 'kysely';
import type { AppContext } from '../context.js';
import { log } from '../log.js';
import { scrubText } from '../privacy.js';
import { parseDate } from '../ingest/normalise/date.js';
import { matchScope, QUEUES } from '../jobs/definitions.js';
import type { BullRunner } from '../jobs/bull.js';
import { currentProgress, isFinished, type JobState } from '../jobs/runner.js';
import { ADMIN_BOARD, authOf, OPS_BOARD, registerAuth, wantsHtml } from './auth.js';
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

export async function buildServer(app: AppContext, runner: BullRunner): Promise<FastifyInstance> {
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
  registerAuth(server, app.store, { sessionHours: app.config.AIDLINK_SESSION_HOURS });

  server.setErrorHandler((err, req, reply) => {
    if (err instanceof z.ZodError) {
      return reply.code(400).send({ error: 'invalid_request', message: '请求内容不正确', issues: err.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) });
    }
    const status = (err as { statusCode?: number }).statusCode;
    if (status && status < 500) return reply.code(status).send({ error: 'bad_request', message: scrubText((err as Error).message) });
    req.log.error({ err }, 'request failed');
    if (wantsHtml(req)) return reply.code(500).type('text/plain; charset=utf-8').send('服务器内部错误，请联系系统管理员（详情见服务器日志）');
    return reply.code(500).send({ error: 'internal', message: '服务器内部错误，请联系系统管理员（详情见服务器日志）' });
  });

  server.get('/health', { config: { public: true } }, async (_req, reply) => {
    const database = await sql`select 1`.execute(app.store.k).then(() => 'ok', () => 'unavailable');
    const redis = await runner.ping().then(() => 'ok', () => 'unavailable');
    const ok = database === 'ok' && redis === 'ok';
    return reply.code(ok ? 200 : 503).send({ status: ok ? 'ok' : 'unavailable', database, redis });
  });

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

  for (const [base, readOnly] of [[OPS_BOARD, true], [ADMIN_BOARD, false]] as const) {
    const adapter = new FastifyAdapter();
    adapter.setBasePath(base);
    createBullBoard({
      queues: QUEUES.map((q) => new BullMQAdapter(runner.queue(q), { readOnlyMode: readOnly, allowRetries: !readOnly })),
      serverAdapter: adapter,
      options: { uiConfig: { boardTitle: readOnly ? 'aidlink 作业（只读）' : 'aidlink 作业（管理）', locale: { lng: 'zh-CN' }, hideDocsLink: true } },
    });
    await server.register(adapter.registerPlugin(), { prefix: base });
  }

  await registerConsole(server, { app, runner });
  return server;
}
