/**
 * What every console page needs from the console: its dependencies, who is signed in, and
 * sending a page. Apart from routes.ts, which registers the pages, so that pages and routes
 * do not import each other.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../context.js';
import type { BullRunner } from '../jobs/bull.js';
import { authOf } from '../server/auth.js';
import type { Viewer } from './layout.js';

export interface ConsoleDeps {
  app: AppContext;
  runner: BullRunner;
}

/** The signed-in user as pages need them (name, role, the CSRF token for forms). */
export function viewerOf(req: FastifyRequest): Viewer {
  const a = authOf(req);
  return { username: a.user.username, role: a.user.role, csrfToken: a.session?.csrfToken ?? '', township: a.user.township ?? undefined };
}

export function sendPage(reply: FastifyReply, body: string, status = 200): FastifyReply {
  return reply.code(status).type('text/html; charset=utf-8').send(body);
}
