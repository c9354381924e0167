/**
 * A small closed-loop HTTP load generator for the bench (bench/pipeline.ts), in place of
 * autocannon: node:http only, no dependency.
 *
 * `connections` loops each send one request at a time over a keep-alive agent limited to
 * `connections` sockets, so at most that many requests are in flight. A warm-up phase runs the
 * same loops first and its figures are discarded. The measured phase stops by itself: at
 * `durationMs` or after `maxRequests` responses, whichever comes first; each request has its own
 * timeout. It reports requests per second, latency (mean, p50, p99, max) and every response
 * that was not 2xx, by status, plus failed requests (socket errors, timeouts) — none is dropped.
 *
 * It only ever talks to the loopback address: it is for measuring a server started by the
 * bench on this machine, not for loading anything else.
 */
import { Agent, request } from 'node:http';

export interface LoadOptions {
  /** http://127.0.0.1:<port> */
  origin: string;
  path: string;
  headers?: Record<string, string>;
  connections: number;
  durationMs: number;
  warmupMs: number;
  /** the measured phase stops after this many responses even if the duration has not passed */
  maxRequests: number;
  /** a request that takes longer counts as failed */
  requestTimeoutMs?: number;
  /** called just before and just after the measured phase (e.g. to read the server's CPU time) */
  onMeasure?: (edge: 'start' | 'end') => void;
}

export interface LoadResult {
  path: string;
  connections: number;
  /** the measured phase's length (shorter than asked when maxRequests was reached) */
  elapsedMs: number;
  requests: number;
  requestsPerSec: number;
  meanMs: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** responses with a status outside 200–299 */
  non2xx: number;
  /** those responses by status, e.g. { "302": 12 } */
  statuses: Record<string, number>;
  /** requests without a response (socket error, timeout) */
  errors: number;
  /** the first few distinct error messages */
  errorSamples: string[];
  bytes: number;
}

const LOOPBACK = new Set(['127.0.0.1']);

interface Phase {
  latencies: number[];
  statuses: Map<number, number>;
  errors: number;
  errorSamples: Set<string>;
  bytes: number;
}

function once(agent: Agent, url: URL, headers: Record<string, string>, timeoutMs: number): Promise<{ status: number; bytes: number }> {
  return new Promise((resolvePromise, reject) => {
    const req = request(url, { agent, method: 'GET', headers }, (res) => {
      let bytes = 0;
      res.on('data', (b: Buffer) => (bytes += b.length));
      res.on('end', () => resolvePromise({ status: res.statusCode ?? 0, bytes }));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no response in ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

async function phase(agent: Agent, url: URL, opts: LoadOptions, ms: number, maxRequests: number): Promise<{ phase: Phase; elapsedMs: number }> {
  const p: Phase = { latencies: [], statuses: new Map(), errors: 0, errorSamples: new Set(), bytes: 0 };
  const headers = { ...opts.headers, connection: 'keep-alive' };
  const timeoutMs = opts.requestTimeoutMs ?? 30_000;
  const t0 = performance.now();
  const deadline = t0 + ms;
  let started = 0;
  const loop = async () => {
    while (performance.now() < deadline && started < maxRequests) {
      started++;
      const s = performance.now();
      try {
        const r = await once(agent, url, headers, timeoutMs);
        p.latencies.push(performance.now() - s);
        p.statuses.set(r.status, (p.statuses.get(r.status) ?? 0) + 1);
        p.bytes += r.bytes;
      } catch (e) {
        p.errors++;
        if (p.errorSamples.size < 5) p.errorSamples.add(e instanceof Error ? e.message : String(e));
        // a refused or reset connection fails at once: do not spin on it
        await new Promise((r) => setTimeout(r, 10));
      }
    }
  };
  await Promise.all(Array.from({ length: opts.connections }, loop));
  return { phase: p, elapsedMs: performance.now() - t0 };
}

function percentile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  const url = new URL(opts.path, opts.origin);
  if (url.protocol !== 'http:' || !LOOPBACK.has(url.hostname)) throw new Error(`http-load only targets http://127.0.0.1, not ${url.origin}`);
  if (!(opts.connections >= 1 && opts.durationMs > 0 && opts.maxRequests >= 1)) throw new Error('http-load: connections, duration and max requests must be positive');
  const agent = new Agent({ keepAlive: true, maxSockets: opts.connections, maxFreeSockets: opts.connections });
  try {
    if (opts.warmupMs > 0) await phase(agent, url, opts, opts.warmupMs, opts.maxRequests);
    opts.onMeasure?.('start');
    const { phase: p, elapsedMs } = await phase(agent, url, opts, opts.durationMs, opts.maxRequests);
    opts.onMeasure?.('end');
    const sorted = Float64Array.from(p.latencies).sort();
    const lat = Array.from(sorted);
    const responses = lat.length;
    let non2xx = 0;
    const statuses: Record<string, number> = {};
    for (const [status, n] of [...p.statuses].sort((a, b) => a[0] - b[0])) {
      statuses[String(status)] = n;
      if (status < 200 || status > 299) non2xx += n;
    }
    return {
      path: opts.path,
      connections: opts.connections,
      elapsedMs,
      requests: responses,
      requestsPerSec: responses / (elapsedMs / 1000),
      meanMs: responses ? lat.reduce((s, x) => s + x, 0) / responses : NaN,
      p50Ms: percentile(lat, 0.5),
      p99Ms: percentile(lat, 0.99),
      maxMs: lat.at(-1) ?? NaN,
      non2xx,
      statuses,
      errors: p.errors,
      errorSamples: [...p.errorSamples],
      bytes: p.bytes,
    };
  } finally {
    agent.destroy();
  }
}
