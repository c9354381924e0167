/**
 * One log line per request, written after the answer: method, the route's pattern
 * (`/persons/:id`, never the URL as sent), the query's keys with the values of known
 * harmless keys only, status and time. A URL can hold what a user typed (a name, an id
 * number), so the URL itself is never logged; Fastify's own request logging is off.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { scrubText } from '../privacy.js';

/** Query keys whose values say nothing about a person: filters, paging, flags of the pages. */
const HARMLESS_KEYS = new Set(['status', 'page', 'limit', 'failed', 'all', 'done', 'unmask', 'unmasked', 'action', 'month', 'from', 'to', 'format', 'scope']);
const MAX_KEYS = 20;

/** The query as a log may hold it: every key, the values of harmless keys (scrubbed, short), the rest redacted. */
export function loggableQuery(query: unknown): Record<string, string> | undefined {
  if (!query || typeof query !== 'object') return undefined;
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(query as Record<string, unknown>).slice(0, MAX_KEYS)) {
    const k = scrubText(key.slice(0, 40));
    out[k] = HARMLESS_KEYS.has(key) && typeof value === 'string' ? scrubText(value.slice(0, 40)) : '[redacted]';
  }
  return Object.keys(out).length ? out : undefined;
}

function routeOf(req: FastifyRequest): string {
  return req.routeOptions.url ?? '(no route)';
}

export function registerRequestLog(server: FastifyInstance): void {
  server.addHook('onResponse', async (req, reply) => {
    const query = loggableQuery(req.query);
    req.log.info({ method: req.method, route: routeOf(req), ...(query ? { query } : {}), status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request');
  });
}
