/**
 * Security headers on every response, in one place: the console's pages may run
 * scripts and styles of this origin only; the operations view (bull-board, a React
 * page with inline styles) gets a policy of its own; nothing may be framed or sniffed;
 * and nothing is cached unless the route says so (the console's assets): downloads,
 * pages and API answers hold personal data.
 */
import type { FastifyInstance } from 'fastify';
import { ADMIN_BOARD, OPS_BOARD } from './auth.js';

export const CONSOLE_CSP = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
// bull-board sets <base href> and styles its elements inline; its scripts are files of this origin
export const BOARD_CSP = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; font-src 'self' data:; script-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'self'";

export function registerSecurityHeaders(server: FastifyInstance): void {
  server.addHook('onSend', async (req, reply, payload) => {
    const route = req.routeOptions.url ?? '';
    const board = route.startsWith(OPS_BOARD) || route.startsWith(ADMIN_BOARD);
    if (String(reply.getHeader('content-type') ?? '').startsWith('text/html')) reply.header('Content-Security-Policy', board ? BOARD_CSP : CONSOLE_CSP);
    reply.header('X-Frame-Options', 'DENY');
    reply.header('X-Content-Type-Options', 'nosniff');
    reply.header('Referrer-Policy', 'same-origin');
    if (!reply.hasHeader('Cache-Control')) reply.header('Cache-Control', 'no-store');
    return payload;
  });
}
