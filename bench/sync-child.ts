/**
 * One in-process sync for bench/pipeline.ts (run under /usr/bin/time for its peak RSS):
 * `node bin/run.mjs bench/sync-child.ts --inbox DIR [--until DATE] [--report]`, with the
 * database from the environment (embedded without DATABASE_URL). Prints one JSON line:
 * { wallMs, stages, rows }.
 */
import { sql } from 'kysely';
import { openContext } from '../src/context.js';
import { LocalRunner } from '../src/jobs/local.js';
import { stageTimes } from './stages.js';

const arg = (name: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const inbox = arg('inbox');
if (!inbox) throw new Error('usage: sync-child.ts --inbox DIR [--until DATE] [--report]');
const until = arg('until');

const ctx = await openContext({ schema: 'auto' });
const rows = async () => Number((await sql<{ n: string }>`select coalesce(sum(row_count), 0) as n from delivery where status in ('accepted', 'quarantined')`.execute(ctx.store.k)).rows[0]!.n);
try {
  const before = await rows();
  const t0 = Date.now();
  const tree = await new LocalRunner(ctx).submitSync({ inbox, ...(until ? { until } : {}), requestedBy: 'bench' }, { report: process.argv.includes('--report') });
  const wallMs = Date.now() - t0;
  if (tree.state !== 'completed') throw new Error(`sync ended ${tree.state}: ${tree.error ?? ''}`);
  process.stdout.write(JSON.stringify({ wallMs, stages: stageTimes(tree), rows: (await rows()) - before }) + '\n');
} finally {
  await ctx.close();
}
