/**
 * Who is asking, and may they? Every request but the public ones (health, sign-in,
 * assets) carries a user: a console session (cookie) or, for API clients, HTTP
 * Basic credentials. A route says what it needs in its config (`permission`); the
 * operations view's prefixes are checked here too. Township staff stand outside the
 * permissions: they may use the routes of TOWNSHIP_ROUTES and no other.
 *
 * Cross-site requests: the session cookie is SameSite=Strict, and every change made
 * with a session must also send the session's CSRF token (a form field or the
 * x-csrf-token header). bull-board's own buttons cannot send it; for them the
 * browser's Sec-Fetch-Site / Origin must say the request came from this site. A
 * change made with Basic credentials must be JSON, which a cross-site form cannot send.
 */
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Store } from '../db/store.js';
import { authenticate, isTownship, may, PERMISSION, ROLE_LABEL, type Permission, type User } from './users.js';
import { attemptSignIn } from './throttle.js';
import { csrfMatches, findSession, SESSION_COOKIE, type Session } from './sessions.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** what the route needs; default `view` */
    permission?: Permission;
    /** no user needed */
    public?: boolean;
    /** a multipart route whose handler checks the CSRF token in the stream, before it reads a file */
    csrfInStream?: boolean;
  }
}

export const OPS_BOARD = '/ops/queues';
export const ADMIN_BOARD = '/admin/queues';

/**
 * The routes township staff (乡镇经办) may use, as `METHOD pattern` (HEAD counts as GET): their
 * worklist and its export, their cases (已接收, 已联系, 无法联系, notes), the township's
 * 已接收 of a list, and signing out; GET / sends them to the worklist. Signing in and the
 * assets are public. Every other route answers 403, whatever permission it asks for; the
 * handlers of these keep them to their township's cases sent down (console/pages/worklist.ts).
 */
export const TOWNSHIP_ROUTES: ReadonlySet<string> = new Set([
  'GET /worklist',
  'GET /worklist.xlsx',
  'GET /cases/:id',
  'POST /cases/:id',
  'POST /cases/:id/note',
  'POST /worklist/receive',
  'POST /logout',
]);

export interface Auth {
  user: User;
  /** set when signed in through the console */
  session?: Session;
}

const auths = new WeakMap<FastifyRequest, Auth>();

/** The user of a request that passed the check (every non-public route). */
export function authOf(req: FastifyRequest): Auth {
  const a = auths.get(req);
  if (!a) throw new Error('no user on this request: is the route marked public?');
  return a;
}

/** API clients and the operations view answer in JSON; console pages in HTML. */
export function wantsHtml(req: FastifyRequest): boolean {
  const route = req.routeOptions.url ?? req.url;
  return !route.startsWith('/api/') && !route.startsWith(OPS_BOARD) && !route.startsWith(ADMIN_BOARD) && !route.startsWith('/health');
}

/**
 * HTTP Basic credentials verified recently: scrypt is slow on purpose, and API clients
 * and the board poll. The cache only spares the scrypt: every request still reads the
 * user afresh, so a disabled or demoted user, or a changed password, takes effect at
 * the next request, in every process.
 */
class CredentialCache {
  private readonly seen = new Map<string, { userId: number; passwordHash: string; until: number }>();
  constructor(private readonly ttlMs = 5 * 60_000) {}
  private key(header: string): string {
    return createHash('sha256').update(header).digest('base64');
  }
  /** The user these credentials were verified for, as the database has them now; undefined when that no longer holds. */
  async get(store: Store, header: string): Promise<User | undefined> {
    const key = this.key(header);
    const hit = this.seen.get(key);
    if (!hit || hit.until <= Date.now()) {
      this.seen.delete(key);
      return undefined;
    }
    const u = await store.k.selectFrom('app_user').select(['id', 'username', 'role', 'password_hash', 'disabled_at']).where('id', '=', hit.userId).executeTakeFirst();
    if (!u || u.disabled_at || u.password_hash !== hit.passwordHash) {
      this.seen.delete(key);
      return undefined;
    }
    return { id: u.id, username: u.username, role: u.role };
  }
  async set(store: Store, header: string, user: User): Promise<void> {
    const u = await store.k.selectFrom('app_user').select('password_hash').where('id', '=', user.id).executeTakeFirst();
    if (!u) return;
    if (this.seen.size > 1000) this.seen.clear();
    this.seen.set(this.key(header), { userId: user.id, passwordHash: u.password_hash, until: Date.now() + this.ttlMs });
  }
}

function basicCredentials(header: string | undefined): { username: string; password: string } | undefined {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header ?? '');
  if (!m) return undefined;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon > 0 ? { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) } : undefined;
}

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** The browser says this request came from a page of this site. */
function sameSite(req: FastifyRequest): boolean {
  const fetchSite = req.headers['sec-fetch-site'];
  if (fetchSite) return fetchSite === 'same-origin';
  const origin = req.headers.origin;
  if (!origin) return false;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}

function neededFor(req: FastifyRequest): Permission {
  const route = req.routeOptions.url ?? '';
  if (route.startsWith(ADMIN_BOARD)) return 'admin';
  // the board shows job payloads, server paths and errors: supervisors and up; it takes no
  // action from anyone but an admin (and bull-board refuses those too)
  if (route.startsWith(OPS_BOARD)) return UNSAFE.has(req.method) ? 'admin' : 'operations';
  return req.routeOptions.config.permission ?? 'view';
}

async function refuse(req: FastifyRequest, reply: FastifyReply, status: 401 | 403 | 429, message: string): Promise<FastifyReply> {
  // a browser is sent to the sign-in page; an API client (Basic credentials) gets JSON
  if (wantsHtml(req) && !req.headers.authorization) {
    if (status === 401) return reply.redirect(`/login?next=${encodeURIComponent(req.url)}`);
    const { page } = await import('../console/layout.js');
    const { html } = await import('../console/html.js');
    return reply.code(403).type('text/html; charset=utf-8').send(page({ title: '权限不足', body: html`<p>${message}</p><p><a href="/">返回首页</a></p>` }));
  }
  if (status === 401) reply.header('WWW-Authenticate', 'Basic realm="aidlink", charset="UTF-8"');
  const error = status === 401 ? 'unauthorized' : status === 429 ? 'too_many_attempts' : 'forbidden';
  return reply.code(status).send({ error, message });
}

export function registerAuth(server: FastifyInstance, store: Store, opts: { sessionHours: number }): void {
  const cache = new CredentialCache();

  // who, and may they: before the body is read (an upload is not taken from someone who may not upload)
  server.addHook('onRequest', async (req, reply) => {
    if (req.routeOptions.config.public) return;
    let auth: Auth | undefined;
    const session = await findSession(store, req.cookies[SESSION_COOKIE], { hours: opts.sessionHours });
    if (session) auth = { user: session.user, session };
    else if (req.headers.authorization) {
      const header = req.headers.authorization;
      const creds = basicCredentials(header);
      if (!creds) return refuse(req, reply, 401, '请先登录（用户名和密码）');
      // the same throttle, failure count and audit as the sign-in form; a lock holds even for cached credentials
      const attempt = await attemptSignIn(store, { username: creds.username, password: creds.password, ip: req.ip, via: 'basic' }, async (username, password) => {
        const cached = await cache.get(store, header);
        if (cached) return cached.username === username ? cached : undefined;
        const user = await authenticate(store, username, password);
        if (user) await cache.set(store, header, user);
        return user;
      });
      if (!attempt.ok && attempt.reason === 'throttled') {
        reply.header('Retry-After', String(attempt.waitMinutes * 60));
        return refuse(req, reply, 429, `登录失败次数过多，请 ${attempt.waitMinutes} 分钟后再试`);
      }
      if (attempt.ok) auth = { user: attempt.user };
    }
    if (!auth) return refuse(req, reply, 401, '请先登录（用户名和密码）');
    if (isTownship(auth.user.role)) {
      // township staff: an allowlist instead of the ranks; their township read afresh, as the user is
      const route = `${req.method === 'HEAD' ? 'GET' : req.method} ${req.routeOptions.url ?? ''}`;
      const u = await store.k.selectFrom('app_user').select('township').where('id', '=', auth.user.id).executeTakeFirst();
      if (!u?.township) return refuse(req, reply, 403, '权限不足：当前用户没有设定所属乡镇，请联系管理员');
      if (route === 'GET /') return reply.redirect('/worklist');
      // an address with no route is the 404 page, which shows nothing
      if (req.routeOptions.url !== undefined && !TOWNSHIP_ROUTES.has(route)) {
        return refuse(req, reply, 403, `权限不足：“${ROLE_LABEL[auth.user.role]}”只能使用外展工作台，处理本乡镇已下放的个案`);
      }
      auths.set(req, { ...auth, user: { ...auth.user, township: u.township } });
      return;
    }
    const needed = neededFor(req);
    if (!may(auth.user.role, needed)) {
      return refuse(req, reply, 403, `权限不足：此操作需要“${ROLE_LABEL[PERMISSION[needed]]}”权限，当前用户为“${ROLE_LABEL[auth.user.role]}”`);
    }
    auths.set(req, auth);
  });

  // a change must come from this site: checked once the body (which carries the form's token) is read
  server.addHook('preHandler', async (req, reply) => {
    const auth = auths.get(req);
    if (!auth || !UNSAFE.has(req.method)) return;
    // an upload's token is a field of its multipart body, which only the handler reads (before the file)
    if (req.routeOptions.config.csrfInStream && req.isMultipart()) return;
    const route = req.routeOptions.url ?? '';
    const field = (req.body as Record<string, unknown> | undefined)?._csrf;
    const sent = (req.headers['x-csrf-token'] as string | undefined) ?? (typeof field === 'string' ? field : undefined);
    const tokenOk = auth.session !== undefined && csrfMatches(auth.session, sent);
    if (route.startsWith(ADMIN_BOARD)) {
      // the board's own buttons send no token: the browser must say they came from this site
      if (!tokenOk && !sameSite(req)) return refuse(req, reply, 403, '请求来源无法确认（请在本系统页面内操作）');
    } else if (auth.session) {
      if (!tokenOk) return refuse(req, reply, 403, '请求来源无法确认（页面已过期？请刷新页面后重试）');
    } else if (!(req.headers['content-type'] ?? '').startsWith('application/json')) {
      return refuse(req, reply, 403, '接口请求须为 JSON（Content-Type: application/json）');
    }
  });
}
