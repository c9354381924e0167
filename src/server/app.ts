/**
 * The HTTP server: start syncs and rematches, follow jobs, and the operations view
 * (bull-board). Everything but /health needs a user (HTTP Basic, see users.ts);
 * what a user may do follows the role:
 *
 *   viewer  GET /api/…, the read-only board at /ops/queues
 *   staff   also POST /api/sync and /api/rematch
 *   admin   also the full board at /admin/queues (retry, remove, clean, pause)
 *
 * Responses carry job ids, states, counts and file names, never personal data;
 * error texts pass through the scrubber as logs do.
 */
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import { z } from 'zod';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import { sql } from 'kysely';
import type { AppContext } from '../context.js';
import type { UserRole } from '../db/schema.js';
import { log } from '../log.js';
import { scrubText } from '../privacy.js';
import { parseDate } from '../ingest/normalise/date.js';
import { matchScope, QUEUES } from '../jobs/definitions.js';
import type { BullRunner } from '../jobs/bull.js';
import { currentProgress, isFinished, type JobState } from '../jobs/runner.js';
import { allows, authenticate } from './users.js';

export const OPS_BOARD = '/ops/queues';
export const ADMIN_BOARD = '/admin/queues';

const ROLE_LABEL: Record<UserRole, string> = { viewer: '查看', staff: '业务操作', admin: '管理员' };

/** What a route needs, from the route that matched (not the raw URL, which could be spelled otherwise). */
function neededRole(method: string, route: string): UserRole {
  if (route.startsWith(ADMIN_BOARD)) return 'admin';
  if (route.startsWith('/api/') && method !== 'GET' && method !== 'HEAD') return 'staff';
  return 'viewer';
}

type User = { username: string; role: UserRole };

/** Credentials checked in the last minute: scrypt is slow on purpose, and the board polls every few seconds. */
class CredentialCache {
  private readonly seen = new Map<string, { user: User; until: number }>();
  constructor(private readonly ttlMs = 60_000) {}
  key(header: string): string {
    return createHash('sha256').update(header).digest('base64');
  }
  get(key: string): User | undefined {
    const hit = this.seen.get(key);
    if (hit && hit.until > Date.now()) return hit.user;
    this.seen.delete(key);
    return undefined;
  }
  set(key: string, user: User): void {
    if (this.seen.size > 1000) this.seen.clear();
    this.seen.set(key, { user, until: Date.now() + this.ttlMs });
  }
}

function basicCredentials(header: string | undefined): { username: string; password: string } | undefined {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header ?? '');
  if (!m) return undefined;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon > 0 ? { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) } : undefined;
}

/** A job state as clients see it: error texts scrubbed, the current stage spelled out. */
function forClient(s: JobState): JobState & { current?: string } {
  const scrub = (n: JobState): JobState => ({ ...n, ...(n.error ? { error: scrubText(n.error) } : {}), children: n.children.map(scrub) });
  const p = isFinished(s) ? undefined : currentProgress(s);
  return { ...scrub(s), ...(p ? { current: p.text } : {}) };
}

const isoDate = z.string().refine((v) => parseDate(v) === v, '日期格式如 2026-10-31');
const syncBody = z.object({ until: isoDate.optional() }).strict();
const rematchBody = z.object({ scope: matchScope }).strict();
const listQuery = z.object({
  failed: z.enum(['true', 'false']).optional(),
  all: z.enum(['true', 'false']).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});

export async function buildServer(app: AppContext, runner: BullRunner): Promise<FastifyInstance> {
  const server = Fastify({ loggerInstance: log.child({ component: 'http' }) as FastifyBaseLogger, bodyLimit: 64 * 1024 });
  const users = new WeakMap<FastifyRequest, User>();
  const cache = new CredentialCache();
  const who = (req: FastifyRequest) => users.get(req)!;

  server.addHook('onRequest', async (req, reply) => {
    const route = req.routeOptions.url ?? '';
    if (route === '/health') return;
    const header = req.headers.authorization;
    const key = header ? cache.key(header) : '';
    let user = key ? cache.get(key) : undefined;
    if (!user) {
      const creds = basicCredentials(header);
      user = creds ? await authenticate(app.store, creds.username, creds.password) : undefined;
      if (!user) {
        return reply.code(401).header('WWW-Authenticate', 'Basic realm="aidlink", charset="UTF-8"').send({ error: 'unauthorized', message: '请先登录（用户名和密码）' });
      }
      cache.set(key, user);
    }
    const needed = neededRole(req.method, route);
    if (!allows(user.role, needed)) {
      return reply.code(403).send({ error: 'forbidden', message: `权限不足：此操作需要“${ROLE_LABEL[needed]}”权限，当前用户为“${ROLE_LABEL[user.role]}”` });
    }
    users.set(req, user);
  });

  server.setErrorHandler((err, req, reply) => {
    if (err instanceof z.ZodError) {
      return reply.code(400).send({ error: 'invalid_request', message: '请求内容不正确', issues: err.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) });
    }
    const status = (err as { statusCode?: number }).statusCode;
    if (status && status < 500) return reply.code(status).send({ error: 'bad_request', message: scrubText((err as Error).message) });
    req.log.error({ err }, 'request failed');
    return reply.code(500).send({ error: 'internal', message: '服务器内部错误，请联系系统管理员（详情见服务器日志）' });
  });

  server.get('/health', async (_req, reply) => {
    const database = await sql`select 1`.execute(app.store.k).then(() => 'ok', () => 'unavailable');
    const redis = await runner.ping().then(() => 'ok', () => 'unavailable');
    const ok = database === 'ok' && redis === 'ok';
    return reply.code(ok ? 200 : 503).send({ status: ok ? 'ok' : 'unavailable', database, redis });
  });

  server.get('/', async (_req, reply) => reply.redirect(OPS_BOARD));

  server.post('/api/sync', async (req, reply) => {
    const body = syncBody.parse(req.body ?? {});
    // the inbox is the configured one: a client does not choose which folder the server reads
    const s = await runner.submitSync({ inbox: resolve(app.config.AIDLINK_INBOX), ...(body.until ? { until: body.until } : {}), requestedBy: `http:${who(req).username}` });
    return reply.code(202).send(forClient(s));
  });

  server.post('/api/rematch', async (req, reply) => {
    const body = rematchBody.parse(req.body ?? {});
    const s = await runner.submitRematch({ scope: body.scope }, `http:${who(req).username}`);
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

  return server;
}
