/**
 * The `aidlink` command line. Output meant for people goes to stdout as tables;
 * `--format csv` gives machine-readable output; logs go to stderr.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { ConfigError } from '../config.js';
import { SchemaOutOfDateError, type AppContext } from '../context.js';
import { MappingError } from '../ingest/mapping.js';
import { DeliveryError, decideQuarantine, findDelivery, listDeliveries, type QuarantineDecision } from '../ingest/deliveries.js';
import { IngestError, type IngestOutcome } from '../ingest/ingest.js';
import { ingestPath } from '../ingest/inbox.js';
import { defaultParseWorkers } from '../ingest/parse-pool.js';
import { migrateToLatest, MigrationError } from '../db/migrate.js';
import type { Delivery, DeliveryStatus, SourceKey } from '../db/schema.js';
import { log } from '../log.js';
import { csvLine } from '../util/csv.js';
import { createProgress } from './progress.js';
import { runMatch, type MatchScope } from '../match/run.js';
import { modelPolicy } from '../match/model.js';
import { explainLink, ExplainError } from '../match/explain.js';
import { exportLinks, exportPersons } from '../match/export.js';
import { confirmLink, DecisionError, mergePersons, rejectLink, splitPerson, type RowRef } from '../match/decisions.js';
import { RedisUnavailableError } from '../jobs/runner.js';
import { PermanentJobError } from '../jobs/definitions.js';
import { applyAndReassess, printAssessment, registerJobCommands } from './jobs.js';
import { registerServerCommands } from './server.js';
import { registerOutreachCommands } from './outreach.js';
import { registerProfileCommands } from './profile.js';
import { audit } from '../server/audit.js';
import { CaseError } from '../outreach/cases.js';
import { UserError } from '../server/users.js';
import { actorDefault, deliveryOptions, parsePositiveInt, withContext } from './common.js';
import { runSpells } from '../spells/run.js';
import { runAssessment } from '../assess/run.js';
import { EXPORTS } from '../assess/export.js';
import { PolicyError } from '../policy/policy.js';
import { NameVariantsError } from '../match/chinese.js';
import { table } from './format.js';

const STATUSES: DeliveryStatus[] = ['staged', 'accepted', 'quarantined', 'rejected', 'discarded', 'superseded'];

const FILE_COLUMNS = ['file', 'source', 'as_of', 'status', 'rows', 'rejected_rows', 'warnings'] as const;

function fileRow(d: Delivery): (string | number)[] {
  return [d.file, d.source ?? '', d.as_of ?? '', d.status, d.row_count, d.rejected_rows, d.warning_count];
}

function describeOutcome(o: IngestOutcome): string {
  switch (o.outcome) {
    case 'ingested':
    case 'rejected': {
      const d = o.delivery;
      const detail =
        d.status === 'rejected'
          ? d.error ?? ''
          : `${d.as_of}  ${d.row_count} rows, ${d.rejected_rows} rejected, ${d.warning_count} warnings` +
            (d.status === 'quarantined' && d.status_reason ? `\n    ${d.status_reason}` : '') +
            (o.outcome === 'ingested' && o.resumed ? '  (resumed)' : '');
      return `${d.status.padEnd(11)} ${o.file}  ${detail}`;
    }
    case 'duplicate':
      return `${'unchanged'.padEnd(11)} ${o.file}  already delivered${o.delivery.file !== o.file ? ` as ${o.delivery.file}` : ''} (${o.delivery.status})`;
    case 'busy':
      return `${'busy'.padEnd(11)} ${o.file}  another process is ingesting this file now`;
  }
}

async function runIngest(ctx: AppContext, path: string, opts: { source?: SourceKey; asOf?: string; inbox?: string }): Promise<IngestOutcome[]> {
  const progress = createProgress();
  let current = '';
  let position = '';
  const outcomes = await ingestPath(ctx.store, ctx.mapping, path, {
    source: opts.source,
    asOf: opts.asOf,
    inboxRoot: opts.inbox,
    actor: actorDefault(),
    batchRows: ctx.config.AIDLINK_BATCH_ROWS,
    parseWorkers: ctx.config.AIDLINK_PARSE_WORKERS ?? defaultParseWorkers(),
    onFile: (f, i, total) => {
      current = f;
      position = `${i + 1}/${total}`;
      progress.update(`${position} ${current}`, i / total);
    },
    onProgress: (p) => progress.update(`${position} ${p.file}: ${p.rows.toLocaleString('en')} rows`),
    onOutcome: (o) => {
      progress.done();
      process.stdout.write(describeOutcome(o) + '\n');
    },
  });
  progress.done();
  const count = (pred: (o: IngestOutcome) => boolean) => outcomes.filter(pred).length;
  const status = (s: DeliveryStatus) => count((o) => (o.outcome === 'ingested' || o.outcome === 'rejected') && o.delivery.status === s);
  process.stdout.write(
    `\n${outcomes.length} file(s): ${status('accepted')} accepted, ${status('quarantined')} quarantined, ` +
      `${status('rejected')} rejected, ${count((o) => o.outcome === 'duplicate')} already delivered` +
      (count((o) => o.outcome === 'busy') ? `, ${count((o) => o.outcome === 'busy')} busy elsewhere` : '') +
      '\n',
  );
  if (status('rejected') > 0) {
    process.stdout.write('See why with: aidlink problems <file>\n');
    // a file given and not taken is a failure of the command (quarantined ones wait for staff)
    process.stderr.write(`aidlink: ${status('rejected')} of ${outcomes.length} file(s) rejected\n`);
    process.exitCode = 1;
  }
  return outcomes;
}

const program = new Command()
  .name('aidlink')
  .description('Medical-assistance data integration: ingest agency exports, match identities, find unclaimed assistance.')
  .showHelpAfterError()
  .configureOutput({ outputError: (s, write) => write(s) });

program
  .command('migrate')
  .description('bring the database schema up to date')
  .action(async () => {
    await withContext(async (ctx) => {
      const applied = await migrateToLatest(ctx.store);
      process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'schema is up to date\n');
    }, 'none');
  });

deliveryOptions(
  program
    .command('ingest')
    .description('ingest a delivered file, or every file under a folder (inbox/<source>/<file>)')
    .argument('<path>', 'a file or a folder'),
).action(async (path: string, opts: { source?: SourceKey; asOf?: string; inbox?: string }) => {
    await withContext((ctx) => runIngest(ctx, path, opts));
  });

program
  .command('files')
  .description('list deliveries: file,source,as_of,status,rows,rejected_rows,warnings')
  .addOption(new Option('--format <format>', 'output format').choices(['table', 'csv']).default('table'))
  .addOption(new Option('--status <status>', 'only deliveries with this status').choices(STATUSES))
  .action(async (opts: { format: 'table' | 'csv'; status?: DeliveryStatus }) => {
    await withContext(async (ctx) => {
      const rows = (await listDeliveries(ctx.store.k, opts.status)).map(fileRow);
      if (opts.format === 'csv') process.stdout.write(csvLine(FILE_COLUMNS) + rows.map((r) => csvLine(r)).join(''));
      else process.stdout.write(table(FILE_COLUMNS, rows, [4, 5, 6]));
    });
  });

program
  .command('problems')
  .description('the problems found in one delivery, by row and column')
  .argument('<delivery>', 'delivery id or file name as listed by `files`')
  .addOption(new Option('--format <format>', 'output format').choices(['table', 'csv']).default('table'))
  .addOption(new Option('--limit <n>', 'show at most n problems (table format)').argParser(parsePositiveInt).default(200))
  .action(async (ref: string, opts: { format: 'table' | 'csv'; limit: number }) => {
    await withContext(async (ctx) => {
      const d = await findDelivery(ctx.store.k, ref);
      if (!d) throw new DeliveryError(`no delivery ${ref}; see \`aidlink files\``);
      const problems = await ctx.store.k
        .selectFrom('row_problem')
        .select(['row_no', 'severity', 'code', 'column_name', 'message'])
        .where('delivery_id', '=', d.id)
        .orderBy('row_no', (ob) => ob.nullsFirst())
        .orderBy('id')
        .execute();
      const rows = problems.map((p) => [d.file, d.sheet ?? '', p.row_no ?? '', p.severity, p.code, p.column_name ?? '', p.message]);
      const headers = ['file', 'sheet', 'row', 'severity', 'code', 'column', 'message'];
      if (opts.format === 'csv') {
        process.stdout.write(csvLine(headers) + rows.map((r) => csvLine(r)).join(''));
        return;
      }
      process.stdout.write(`${d.file}: ${d.status}, ${d.row_count} rows, ${d.rejected_rows} rejected, ${d.warning_count} warnings\n`);
      if (d.error) process.stdout.write(`${d.error}\n`);
      process.stdout.write(table(headers.slice(2), rows.slice(0, opts.limit).map((r) => r.slice(2)), [0]));
      if (rows.length > opts.limit) process.stdout.write(`… ${rows.length - opts.limit} more (use --format csv for all)\n`);
    });
  });

const quarantine = program.command('quarantine').description('snapshots held because they are much smaller than the previous one');
quarantine
  .command('list')
  .description('quarantined deliveries and why')
  .action(async () => {
    await withContext(async (ctx) => {
      const held = await listDeliveries(ctx.store.k, 'quarantined');
      if (held.length === 0) {
        process.stdout.write('no quarantined deliveries\n');
        return;
      }
      process.stdout.write(table(['id', 'file', 'as_of', 'rows', 'reason'], held.map((d) => [d.id, d.file, d.as_of, d.row_count, d.status_reason]), [0, 3]));
    });
  });
for (const [name, decision, help] of [
  ['release', 'release', 'accept a quarantined snapshot: its rows take effect'],
  ['discard', 'discard', 'discard a quarantined snapshot: it never takes effect'],
] as const) {
  quarantine
    .command(name)
    .description(help)
    .argument('<delivery>', 'delivery id or file name')
    .option('--by <name>', 'who decided (recorded with the decision)', actorDefault())
    .action(async (ref: string, opts: { by: string }) => {
      await withContext(async (ctx) => {
        const d = await findDelivery(ctx.store.k, ref);
        if (!d) throw new DeliveryError(`no delivery ${ref}; see \`aidlink quarantine list\``);
        const after = await decideQuarantine(ctx.store, d.id, decision as QuarantineDecision, opts.by);
        process.stdout.write(`${after.file}: ${after.status}\n`);
      });
    });
}

// ── the synthetic county ───────────────────────────────────────────────────

/**
 * `demo` and `demo-data` live with the generator in tools/demo, beside the sources in a
 * checkout and absent from the production image. The path is a value, not a literal, so
 * the compiler does not pull the generator into the production build.
 */
const DEMO_COMMANDS = '../../tools/demo/commands.js';

async function registerDemo(): Promise<void> {
  try {
    const demo = (await import(DEMO_COMMANDS)) as { registerDemoCommands: (program: Command) => void };
    demo.registerDemoCommands(program);
  } catch (err) {
    // the generator itself missing, not a module it imports
    if ((err as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND' || !/[\\/]tools[\\/]demo[\\/]commands\.js'/.test((err as Error).message)) throw err;
    for (const name of ['demo', 'demo-data']) {
      program
        .command(name)
        .description('(not in this installation) the synthetic county generator')
        .allowUnknownOption()
        .allowExcessArguments()
        .action(() => {
          throw new DemoUnavailableError('the demo generator is not part of the production image; run it from a source checkout (npm ci && npm run demo)');
        });
    }
  }
}

class DemoUnavailableError extends Error {
  override name = 'DemoUnavailableError';
}

await registerDemo();

// ── identity resolution ────────────────────────────────────────────────────

async function runAndReport(ctx: AppContext, scope: MatchScope): Promise<void> {
  const progress = createProgress();
  const r = await runMatch(ctx.store, { scope, modelPolicy: modelPolicy(ctx.config), nameTools: ctx.names, onProgress: (step) => progress.update(step) });
  progress.done();
  const s = r.stats;
  const n = (x: number) => x.toLocaleString('en');
  process.stdout.write(
    `${n(s.rows)} rows (${n(s.newRows)} new): ${n(s.anchored)} linked by id number or 人员编号, ${n(s.scored)} scored${s.kept ? ` (${n(s.kept)} more kept as the latest run decided them)` : ''} — ` +
      `${n(s.linked)} linked, ${n(s.review)} waiting for review, ${n(s.unclaimed)} without a known person\n` +
      `${n(s.persons)} persons; ${n(s.changed)} links changed; ${s.seconds.total.toFixed(1)} s\n`,
  );
  if (s.review > 0) process.stdout.write('See the rows waiting for review with: aidlink review list\n');
}

function parseRowRef(v: string): { file: string; row: number } {
  const m = /^(.+)#(\d+)$/.exec(v);
  if (!m) throw new InvalidArgumentError('expected <file>#<row>, e.g. civil/civil_20250131.csv#12');
  return { file: m[1]!, row: Number(m[2]) };
}

async function rowRef(ctx: AppContext, file: string, row: number): Promise<RowRef> {
  const d = await findDelivery(ctx.store.k, file);
  if (!d) throw new DeliveryError(`no delivery ${file}; see \`aidlink files\``);
  return { deliveryId: d.id, rowNo: row };
}

program
  .command('match')
  .description('link the rows not yet linked to persons (identity resolution)')
  .action(async () => {
    await withContext((ctx) => runAndReport(ctx, { kind: 'new' }));
  });

program
  .command('explain-link')
  .description('why a row belongs to its person (Chinese and English)')
  .argument('<file>', 'delivery file name as listed by `files`')
  .argument('<row>', 'row number', parsePositiveInt)
  .action(async (file: string, row: number) => {
    await withContext(async (ctx) => {
      process.stdout.write(await explainLink(ctx.store.k, file, row));
    });
  });

const exporter = program.command('export').description('write the person index as CSV');
exporter
  .command('links')
  .description('file,sheet,row,person_id,method,score — one line per source row')
  .requiredOption('--out <file>', 'the CSV file to write')
  .action(async (opts: { out: string }) => {
    await withContext(async (ctx) => {
      const n = await exportLinks(ctx.store.k, opts.out);
      await audit(ctx.store, { actor: actorDefault(), action: 'export', subject: 'links', detail: { rows: n } });
      process.stdout.write(`${n.toLocaleString('en')} links written to ${opts.out}\n`);
    });
  });
exporter
  .command('persons')
  .description('one line per person, with the golden record (id numbers and phones masked)')
  .requiredOption('--out <file>', 'the CSV file to write')
  .option('--unmasked', 'write id numbers and phones in full')
  .action(async (opts: { out: string; unmasked?: boolean }) => {
    await withContext(async (ctx) => {
      const n = await exportPersons(ctx.store.k, opts.out, { unmasked: opts.unmasked === true });
      await audit(ctx.store, { actor: actorDefault(), action: opts.unmasked ? 'unmask' : 'export', subject: 'persons', detail: { rows: n, unmasked: opts.unmasked === true } });
      process.stdout.write(`${n.toLocaleString('en')} persons written to ${opts.out}\n`);
    });
  });

program
  .command('review')
  .description('rows waiting for a staff decision about who they are')
  .command('list')
  .addOption(new Option('--format <format>', 'output format').choices(['table', 'csv']).default('table'))
  .action(async (opts: { format: 'table' | 'csv' }) => {
    await withContext(async (ctx) => {
      const rows = await ctx.store.k
        .selectFrom('row_link')
        .innerJoin('delivery', 'delivery.id', 'row_link.delivery_id')
        .select(['delivery.file', 'row_link.row_no', 'row_link.candidates'])
        .where('row_link.state', '=', 'review')
        .orderBy('delivery.file')
        .orderBy('row_link.row_no')
        .execute();
      const lines = rows.map((r) => {
        const c = (r.candidates as { person_id: number; probability: number }[] | null) ?? [];
        return [r.file, r.row_no, c.map((x) => `${x.person_id} (${(x.probability * 100).toFixed(0)}%)`).join(' ')];
      });
      if (opts.format === 'csv') process.stdout.write(csvLine(['file', 'row', 'candidates']) + lines.map((l) => csvLine(l)).join(''));
      else if (lines.length === 0) process.stdout.write('no rows waiting for review\n');
      else process.stdout.write(table(['file', 'row', 'candidates (person, probability)'], lines, [1]));
    });
  });

const link = program.command('link').description("staff decisions about one row's person (in effect at once, and kept by every later match)");
for (const [name, help] of [
  ['confirm', 'this row belongs to this person'],
  ['reject', 'this row is not this person'],
] as const) {
  link
    .command(name)
    .description(help)
    .argument('<row>', '<file>#<row>', parseRowRef)
    .argument('<person>', 'person id', parsePositiveInt)
    .option('--by <name>', 'who decided', actorDefault())
    .option('--note <text>', 'why')
    .action(async (ref: { file: string; row: number }, person: number, opts: { by: string; note?: string }) => {
      await withContext(async (ctx) => {
        const row = await rowRef(ctx, ref.file, ref.row);
        const id = name === 'confirm' ? await confirmLink(ctx.store, row, person, opts.by, opts.note) : await rejectLink(ctx.store, row, person, opts.by, opts.note);
        await applyAndReassess(ctx, id);
      });
    });
}

const personCmd = program.command('person').description('staff decisions about persons');
personCmd
  .command('split')
  .description('these rows of a person are somebody else')
  .argument('<person>', 'person id', parsePositiveInt)
  .argument('<rows...>', '<file>#<row> of each row that leaves')
  .option('--by <name>', 'who decided', actorDefault())
  .option('--note <text>', 'why')
  .action(async (person: number, refs: string[], opts: { by: string; note?: string }) => {
    await withContext(async (ctx) => {
      const rows = await Promise.all(refs.map((r) => parseRowRef(r)).map((r) => rowRef(ctx, r.file, r.row)));
      const id = await splitPerson(ctx.store, person, rows, opts.by, opts.note);
      await applyAndReassess(ctx, id);
    });
  });
personCmd
  .command('merge')
  .description('these two persons are one')
  .argument('<into>', 'the person that stays', parsePositiveInt)
  .argument('<other>', 'the person merged into it', parsePositiveInt)
  .option('--by <name>', 'who decided', actorDefault())
  .option('--note <text>', 'why')
  .action(async (into: number, other: number, opts: { by: string; note?: string }) => {
    await withContext(async (ctx) => {
      const id = await mergePersons(ctx.store, into, other, opts.by, opts.note);
      await applyAndReassess(ctx, id);
    });
  });

// ── spells, entitlements, flags ───────────────────────────────────────────

program
  .command('assess')
  .description('derive category spells and assess every settlement again (after a policy or data change)')
  .option('--all', 'everyone (the default)')
  .option('--changed', 'only the persons whose rows, links or deliveries changed since the last run (what a sync does)')
  .action(async (opts: { all?: boolean; changed?: boolean }) => {
    if (opts.all && opts.changed) throw new InvalidArgumentError('choose --all or --changed, not both');
    await withContext(async (ctx) => {
      const scope = { changed: opts.changed === true };
      const spells = await runSpells(ctx.store, scope);
      printAssessment(spells, await runAssessment(ctx.store, ctx.policy, scope));
    });
  });

for (const [kind, help] of [
  ['spells', 'person_id,category,valid_from,valid_to'],
  ['entitlements', 'settlement_id,person_id,service_date,category,base,entitled,paid,flag (yuan)'],
  ['flags', 'settlement_id,person_id,flag,reason,entitled,paid (yuan)'],
  ['person-flags', 'person_id,year,flag,amount (yuan)'],
] as const) {
  exporter
    .command(kind)
    .description(help)
    .requiredOption('--out <file>', 'the CSV file to write')
    .action(async (opts: { out: string }) => {
      await withContext(async (ctx) => {
        const n = await EXPORTS[kind](ctx.store.k, opts.out);
        await audit(ctx.store, { actor: actorDefault(), action: 'export', subject: kind, detail: { rows: n } });
        process.stdout.write(`${n.toLocaleString('en')} ${kind} written to ${opts.out}\n`);
      });
    });
}

registerJobCommands(program);
registerServerCommands(program);
registerOutreachCommands(program);
registerProfileCommands(program);

/** Known failures print one clear line; anything else is a bug and is logged with its stack. */
async function main(): Promise<void> {
  try {
    await program.parseAsync(process.argv);
  } catch (err) {
    const known = [ConfigError, MappingError, PolicyError, NameVariantsError, SchemaOutOfDateError, MigrationError, IngestError, DeliveryError, RangeError, ExplainError, DecisionError, InvalidArgumentError, PermanentJobError, RedisUnavailableError, UserError, CaseError, DemoUnavailableError];
    if (known.some((k) => err instanceof k)) {
      process.stderr.write(`aidlink: ${(err as Error).message}\n`);
      process.exitCode = err instanceof ConfigError || err instanceof MappingError || err instanceof PolicyError || err instanceof NameVariantsError ? 2 : 1;
      return;
    }
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ECONNREFUSED') {
      process.stderr.write(`aidlink: ${(err as Error).message}\n`);
      process.exitCode = 1;
      return;
    }
    log.error({ err }, 'command failed');
    process.exitCode = 1;
  }
}

await main();
