/**
 * Tests against the real Redis on this machine. Each test file gets its own key
 * prefix, so files run in parallel without seeing each other's queues, and the
 * keys are deleted afterwards.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';

export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Environment for a queue-using context or process: short locks and retries so tests take seconds. */
export function queueEnv(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    REDIS_URL: TEST_REDIS_URL,
    AIDLINK_QUEUE_PREFIX: `aidlink-test-${randomBytes(4).toString('hex')}`,
    AIDLINK_RETRY_DELAY_MS: '200',
    AIDLINK_JOB_LOCK_MS: '5000',
    AIDLINK_SHUTDOWN_MS: '2000',
    ...overrides,
  };
}

/** Deletes every key under the prefix (also used by bench/pipeline.ts, with its own Redis). */
export async function dropQueues(prefix: string, redisUrl = TEST_REDIS_URL): Promise<void> {
  const redis = new Redis(redisUrl);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

export async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 60_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
