/**
 * The staff console: server-rendered pages in Chinese, one module per area under
 * pages/. This file wires them up: assets, security headers, sign-in and sign-out.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { AppContext } from '../context.js';
import type { BullRunner } from '../jobs/bull.js';
import { authOf } from '../server/auth.js';
import { audit } from '../server/audit.js';
import { authenticate } from '../server/users.js';
import { createSession, endSession, SESSION_COOKIE } from '../server/sessions.js';
import { clearLoginFailures, loginBlockedFor, recordLoginFailure } from '../server/throttle.js';
import { CONSOLE_CSS, CONSOLE_JS } from './assets.js';
import { html } from './html.js';
import { page, type Viewer } from './layout.js';
import { registerHome } from './pages/home.js';
import { registerDeliveries } from './pages/deliveries.js';
import { registerReview } from './pages/review.js';
import { registerPersons } from './pages/persons.js';
import { registerWorklist } from './pages/worklist.js';
import { registerReports } from './pages/reports.js';
import { registerRuns } from './pages/runs.js';
import { registerAudit } from './pages/audit.js';

export interface ConsoleDeps {
  app: AppContext;
  runner: BullRunner;
}

/** The signed-in user as pages need them (name, role, the CSRF token for forms). */
export function viewerOf(req: FastifyRequest): Viewer {
  const a = authOf(req);
  return { username: a.user.username, role: a.user.role, csrfToken: a.session?.csrfToken ?? '' };
}

export function sendPage(reply: FastifyReply, body: string, status = 200): FastifyReply {
  return reply.code(status).type('text/html; charset=utf-8').send(body);
}

/** `?next=` after sign-in: only a path on this site. */
function safeNext(next: unknown): string {
  return typeof next === 'string' && next.startsWith('/') && !next.startsWith('//') && !next.startsWith('/\\') ? next : '/';
}

const loginBody = z.object({ username: z.string().trim().min(1).max(64), password: z.string().min(1).max(256), next: z.string().optional() });

function loginPage(opts: { error?: string; next?: string; username?: string }): string {
  return page({
    title: '登录',
    error: opts.error,
    body: html`<form method="post" action="/login" class="login">
      <input type="hidden" name="next" value="${opts.next ?? '/'}" />
      <label for="username">用户名</label><input id="username" name="username" autocomplete="username" value="${opts.username ?? ''}" required autofocus />
      <label for="password">密码</label><input id="password" name="password" type="password" autocomplete="current-password" required />
      <button type="submit">登录</button>
    </form>`,
  });
}

export async function registerConsole(server: FastifyInstance, deps: ConsoleDeps): Promise<void> {
  const { app } = deps;
  const store = app.store;

  // pages of ours: no framing, no sniffing, scripts and styles from this origin only
  server.addHook('onSend', async (req, reply, payload) => {
    const type = String(reply.getHeader('content-type') ?? '');
    if (type.startsWith('text/html') && !(req.routeOptions.url ?? '').includes('/queues')) {
      reply.header('Content-Security-Policy', "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
      reply.header('X-Frame-Options', 'DENY');
      reply.header('Referrer-Policy', 'same-origin');
      reply.header('Cache-Control', 'no-store');
    }
    reply.header('X-Content-Type-Options', 'nosniff');
    return payload;
  });

  server.get('/assets/console.css', { config: { public: true } }, async (_req, reply) => reply.type('text/css; charset=utf-8').header('Cache-Control', 'max-age=300').send(CONSOLE_CSS));
  server.get('/assets/console.js', { config: { public: true } }, async (_req, reply) => reply.type('text/javascript; charset=utf-8').header('Cache-Control', 'max-age=300').send(CONSOLE_JS));

  server.get('/login', { config: { public: true } }, async (req, reply) => sendPage(reply, loginPage({ next: safeNext((req.query as { next?: string }).next) })));

  server.post('/login', { config: { public: true } }, async (req, reply) => {
    const parsed = loginBody.safeParse(req.body ?? {});
    if (!parsed.success) return sendPage(reply, loginPage({ error: '请输入用户名和密码' }), 400);
    const { username, password } = parsed.data;
    const next = safeNext(parsed.data.next);
    // a sign-in form posted from another site is refused (login CSRF)
    const site = req.headers['sec-fetch-site'];
    if (site && site !== 'same-origin' && site !== 'none') return sendPage(reply, loginPage({ error: '请从本系统的登录页登录' }), 403);
    const wait = await loginBlockedFor(store, username, req.ip);
    if (wait > 0) {
      await audit(store, { actor: username, action: 'sign_in_refused', detail: { reason: 'throttled' }, ip: req.ip });
      return sendPage(reply, loginPage({ error: `登录失败次数过多，请 ${wait} 分钟后再试`, next, username }), 429);
    }
    const user = await authenticate(store, username, password);
    if (!user) {
      await recordLoginFailure(store, username, req.ip);
      await audit(store, { actor: username, action: 'sign_in_refused', detail: { reason: 'credentials' }, ip: req.ip });
      return sendPage(reply, loginPage({ error: '用户名或密码不正确', next, username }), 401);
    }
    await clearLoginFailures(store, username);
    const { token } = await createSession(store, user, { hours: app.config.AIDLINK_SESSION_HOURS, ip: req.ip });
    await audit(store, { actor: user.username, action: 'sign_in', ip: req.ip });
    reply.setCookie(SESSION_COOKIE, token, { path: '/', httpOnly: true, secure: app.config.AIDLINK_COOKIE_SECURE, sameSite: 'strict', maxAge: Math.round(app.config.AIDLINK_SESSION_HOURS * 3600) });
    return reply.redirect(next, 303);
  });

  server.post('/logout', async (req, reply) => {
    const a = authOf(req);
    if (a.session) await endSession(store, a.session);
    await audit(store, { actor: a.user.username, action: 'sign_out', ip: req.ip });
    reply.clearCookie(SESSION_COOKIE, { path: '/' });
    return reply.redirect('/login', 303);
  });

  registerHome(server, deps);
  await registerDeliveries(server, deps);
  registerReview(server, deps);
  registerPersons(server, deps);
  registerWorklist(server, deps);
  registerReports(server, deps);
  registerRuns(server, deps);
  registerAudit(server, deps);
}
