/**
 * The staff console: server-rendered pages in Chinese, one module per area under
 * pages/. This file wires them up: assets, security headers, sign-in and sign-out. What
 * the pages share with it is in page-kit.ts.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { authOf } from '../server/auth.js';
import { localRedirect } from '../server/redirect.js';
import { audit } from '../server/audit.js';
import { createSession, endSession, SESSION_COOKIE } from '../server/sessions.js';
import { attemptSignIn } from '../server/throttle.js';
import { CONSOLE_CSS, CONSOLE_JS } from './assets.js';
import { html } from './html.js';
import { page } from './layout.js';
import { sendPage, type ConsoleDeps } from './page-kit.js';
import { registerHome } from './pages/home.js';
import { registerDeliveries } from './pages/deliveries.js';
import { registerReview } from './pages/review.js';
import { registerPersons } from './pages/persons.js';
import { registerWorklist } from './pages/worklist.js';
import { registerReports } from './pages/reports.js';
import { registerRuns } from './pages/runs.js';
import { registerAudit } from './pages/audit.js';

/** `?next=` after sign-in: only a path on this site. */
const safeNext = (next: unknown): string => localRedirect(next) ?? '/';

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
    const attempt = await attemptSignIn(store, { username, password, ip: req.ip, via: 'form' });
    if (!attempt.ok && attempt.reason === 'throttled') return sendPage(reply, loginPage({ error: `登录失败次数过多，请 ${attempt.waitMinutes} 分钟后再试`, next, username }), 429);
    if (!attempt.ok) return sendPage(reply, loginPage({ error: '用户名或密码不正确', next, username }), 401);
    const user = attempt.user;
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
