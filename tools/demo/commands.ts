/**
 * The commands of the synthetic county, `aidlink demo-data` and `aidlink demo`: registered
 * by src/cli/main.ts when this folder is there (a source checkout), never in the image.
 */
import type { Command } from 'commander';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { rm } from 'node:fs/promises';
import { loadConfig } from '../../src/config.js';
import { syncInProcess } from '../../src/jobs/local.js';
import { progressText } from '../../src/jobs/state.js';
import { actorDefault, collectRate, parseNonNegative, parsePositiveInt, withContext } from '../../src/cli/common.js';
import { printSync } from '../../src/cli/jobs.js';
import { createProgress } from '../../src/cli/progress.js';
import { table } from '../../src/cli/format.js';
import { generateCounty } from './generate.js';
import { openContext } from '../../src/context.js';
import { serve } from '../../src/server/serve.js';
import { addUser, listUsers, updateUser } from '../../src/server/users.js';

export function registerDemoCommands(program: Command): void {
  program
    .command('demo-data')
    .description('write a synthetic county (never real data) in the forms of the spec, damage included')
    .requiredOption('--persons <n>', 'people in the county', parsePositiveInt)
    .requiredOption('--seed <s>', 'random seed; the same seed gives the same files', parsePositiveInt)
    .requiredOption('--out <dir>', 'output folder: <dir>/inbox/<source>/ and <dir>/truth/')
    .option('--damage-scale <x>', 'multiplies every damage rate (0 = clean data)', parseNonNegative, 1)
    .option('--damage-rate <form=rate>', 'the base rate of one damage form (repeatable; forms: tools/demo/damage.ts)', collectRate, {})
    .option('--settlements-per-person-year <r>', 'settlement volume', parseNonNegative)
    .action(async (opts: { persons: number; seed: number; out: string; damageScale: number; damageRate: Record<string, number>; settlementsPerPersonYear?: number }) => {
      const progress = createProgress();
      const { damageRate, ...rest } = opts;
      const summary = await generateCounty({ ...rest, damageRates: damageRate, out: resolve(opts.out), onProgress: (m) => progress.update(m) });
      progress.done();
      process.stdout.write(
        `wrote ${summary.files} files, ${summary.rows.toLocaleString('en')} data rows for ${summary.persons.toLocaleString('en')} persons to ${opts.out}\n` +
          table(['source', 'files', 'rows'], Object.entries(summary.bySource).map(([s, v]) => [s, v.files, v.rows]), [1, 2]),
      );
    });

  program
    .command('demo')
    .description('generate a synthetic county and sync it: ingest, match, spells, assessment (embedded database unless DATABASE_URL is set)')
    .option('--persons <n>', 'people in the county', parsePositiveInt, 5000)
    .option('--seed <s>', 'random seed', parsePositiveInt, 42)
    .option('--serve', 'then open the console on the demo county (a user `demo` is made with a password printed here, on the embedded database only)')
    .action(async (opts: { persons: number; seed: number; serve?: boolean }) => {
      const config = loadConfig();
      const dir = resolve(join(config.AIDLINK_DATA_DIR, 'demo-county'));
      // the demo's own folder: regenerated every time (the same seed gives the same files,
      // so a second run finds every delivery already ingested)
      await rm(dir, { recursive: true, force: true });
      const progress = createProgress();
      process.stdout.write(`generating a synthetic county of ${opts.persons.toLocaleString('en')} persons in ${dir} …\n`);
      const summary = await generateCounty({ persons: opts.persons, seed: opts.seed, out: dir, onProgress: (m) => progress.update(m) });
      progress.done();
      process.stdout.write(`${summary.files} files, ${summary.rows.toLocaleString('en')} rows\n\n`);
      await withContext(async (ctx) => {
        process.stdout.write(`syncing into ${ctx.store.engine === 'pglite' ? `the embedded database in ${resolve(config.AIDLINK_DATA_DIR)}` : 'PostgreSQL'} (in-process) …\n`);
        const started = Date.now();
        const progress = createProgress();
        const r = await syncInProcess(ctx, { inbox: join(dir, 'inbox'), requestedBy: actorDefault(), report: true, onProgress: (p) => progress.update(progressText(p), p.total ? (p.done ?? 0) / p.total : undefined) });
        progress.done();
        printSync(r);
        process.stdout.write(`done in ${((Date.now() - started) / 1000).toFixed(1)} s. Next: npm run aidlink -- files | review list | export flags --out flags.csv\n`);
      });
      if (opts.serve) await serveDemo();
    });
}

/** The demo's user (an administrator, to see every page), on the embedded database alone: never in a real county's. */
const DEMO_USER = 'demo';

/** The console on the demo county: the server as `aidlink serve` runs it, and how to sign in. */
async function serveDemo(): Promise<void> {
  const ctx = await openContext();
  let signIn = 'sign in with a user of that database (aidlink user add)';
  if (ctx.store.engine === 'pglite') {
    const password = randomBytes(12).toString('base64url');
    if ((await listUsers(ctx.store)).some((u) => u.username === DEMO_USER)) await updateUser(ctx.store, DEMO_USER, { password, role: 'admin' });
    else await addUser(ctx.store, DEMO_USER, password, 'admin');
    signIn = `sign in as ${DEMO_USER}, password ${password} (made for this demo; synthetic data only)`;
  }
  const { address } = await serve(ctx);
  process.stdout.write(`\nthe console on the demo county: ${address}/ — ${signIn}. Ctrl-C stops it.\n`);
}
