/**
 * The console and the HTTP API listening, with the runner the configuration calls for:
 * the queues when REDIS_URL is set (the workers run the jobs), else this process runs them
 * one after another. `aidlink serve` and `aidlink demo --serve` start it; SIGTERM and
 * SIGINT stop it cleanly (server, runner, then the database).
 */
import type { AppContext } from '../context.js';
import { log } from '../log.js';
import { buildServer } from './app.js';
import { listUsers } from './users.js';

export async function serve(ctx: AppContext): Promise<{ address: string; queued: boolean }> {
  const runner = ctx.config.REDIS_URL ? await (await import('../jobs/bull.js')).BullRunner.connect(ctx.config) : new (await import('./in-process.js')).InProcessServerRunner(ctx);
  const server = await buildServer(ctx, runner);
  if ((await listUsers(ctx.store)).filter((u) => u.role === 'admin' && !u.disabled_at).length === 0) {
    log.warn('no admin user yet: add one with `aidlink user add <name> --role admin`');
  }
  const address = await server.listen({ host: ctx.config.AIDLINK_HTTP_HOST, port: ctx.config.AIDLINK_HTTP_PORT });
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    void (async () => {
      await server.close();
      await runner.close();
      await ctx.close();
      process.exit(0);
    })();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  return { address, queued: runner.kind === 'bullmq' };
}
