/**
 * Commands that run the pipeline as jobs: `sync` and `rematch` (queued when REDIS_URL
 * is set, in-process otherwise), `jobs` to watch them, `worker` and `scheduler` for
 * the queues' side.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { resolve } from 'node:path';
import { rmSync, utimesSync, writeFileSync } from 'node:fs';
import type { AppContext } from '../context.js';
import { loadConfig } from '../config.js';
import { createProgress, type Progress } from './progress.js';
import { table } from './format.js';
import { actorDefault, parseIsoDate, parsePositiveInt, withContext } from './common.js';
import { QUEUES, type Payload, type QueueName } from '../jobs/definitions.js';
import { createRunner, currentProgress, failureOf, follow, isFinished, progressText, resultOf, type JobRunner, type JobState } from '../jobs/runner.js';
import { syncResult, type SyncResult } from '../jobs/local.js';
import type { JobResult } from '../jobs/handlers.js';
import { countyTime } from '../util/time.js';
import { formatYuan } from '../ingest/normalise/money.js';
import { log } from '../log.js';
import { MODEL_REASON } from '../match/model.js';
import { applyPendingDecisions } from '../match/apply-now.js';

const n = (x: number) => x.toLocaleString('en');

export function printAssessment(spells: JobResult<'spells.derive'>, a: JobResult<'assess.run'>): void {
  const whom = typeof a.scope === 'number' ? `${n(a.scope)} persons whose data changed` : `everyone (${a.scope.everyone})`;
  process.stdout.write(
    `spells: ${n(spells.spells)} (${n(spells.recorded)} recorded, ${n(spells.superseded)} superseded)\n` +
      `assessed: ${whom}\n` +
      `settlements: ${n(a.settlements)} (${n(a.assessed)} of an assisted medical type), data as of ${a.dataAsOf ?? '—'}\n` +
      `flags: ${n(a.flags.open)} open (${n(a.flags.raised)} raised, ${n(a.flags.withdrawn)} withdrawn now)\n`,
  );
}

export function printSync(r: SyncResult, until?: string, tree?: JobState): void {
  const s = r.scan;
  process.stdout.write(
    `files: ${n(s.files)} in the inbox; ${n(s.queued)} new: ${n(s.accepted)} accepted, ${n(s.quarantined)} quarantined, ${n(s.rejected)} rejected` +
      (s.failed ? `, ${n(s.failed)} NOT FINISHED (see aidlink jobs --failed)` : '') +
      `; ${n(s.known)} seen before` +
      (s.later ? `; ${n(s.later)} dated after ${until ?? 'the cut-off'} left for later` : '') +
      '\n' +
      `persons: ${n(r.match.persons)}; ${n(r.match.review)} rows waiting for identity review\n`,
  );
  printAssessment(r.spells, r.assessment);
  process.stdout.write(`outreach cases: ${n(r.cases.opened)} opened, ${n(r.cases.paid)} closed as paid by the data, ${n(r.cases.withdrawn)} withdrawn\n`);
  if (r.report) {
    process.stdout.write(`outreach report: ${n(r.report.persons)} persons (${n(r.report.newPersons)} new), ${n(r.report.flags)} items, ${formatYuan(r.report.total)} yuan → ${r.report.files.xlsx} (and .csv)\n`);
  }
  printHeldFiles(s, tree);
  if (s.rejected || s.quarantined) process.stdout.write('See the files held back with: aidlink files --status rejected (or quarantined), and why with: aidlink problems <file>\n');
}

/**
 * The files a sync held back, one line each with its reason: rejected (the delivery's
 * error), quarantined (waiting for staff), not finished (with the ingest job's error
 * when the run was in-process and its jobs are at hand). Results of an older worker
 * may lack the lists: then only the counts above say it.
 */
function printHeldFiles(s: SyncResult['scan'], tree: JobState | undefined): void {
  const oneLine = (t: string) => t.replace(/\s*\n\s*/g, ' ').trim();
  const section = (title: string, lines: string[]) => {
    if (lines.length) process.stdout.write(`${title} (${n(lines.length)}):\n${lines.map((l) => `  ${l}\n`).join('')}`);
  };
  section('rejected', (s.rejectedFiles ?? []).map((f) => `${f.file}  ${oneLine(f.reason)}`));
  section('quarantined, waiting for staff (aidlink quarantine list)', (s.quarantinedFiles ?? []).map((f) => `${f.file}  ${oneLine(f.reason)}`));
  const ingestErrors = new Map<string, string>();
  const collect = (t: JobState) => {
    if (t.name === 'ingest.file' && t.state === 'failed' && t.error) ingestErrors.set(t.about, t.error);
    t.children.forEach(collect);
  };
  if (tree) collect(tree);
  section('not finished', (s.failedFiles ?? []).map((f) => (ingestErrors.has(f) ? `${f}  ${oneLine(ingestErrors.get(f)!)}` : f)));
}

/**
 * A sync's exit status: 1 when a file it found was rejected or could not be finished
 * (after its summary is printed); quarantined files wait for staff and are not failures.
 */
export function syncExitCode(r: SyncResult): 0 | 1 {
  return r.scan.rejected > 0 || r.scan.failed > 0 ? 1 : 0;
}

/** A progress bar for an in-process run, fed by the jobs' progress reports. */
function inProcessProgress(progress: Progress): (p: Parameters<typeof progressText>[0]) => void {
  return (p) => progress.update(progressText(p), p.total ? (p.done ?? 0) / p.total : undefined);
}

/**
 * Submits through the runner; with the queues, prints the job id and (unless told
 * not to wait) follows the job with a progress bar until it ends.
 */
async function submitAndFollow(runner: JobRunner, submit: () => Promise<JobState>, opts: { wait: boolean; what: string }, progress: Progress): Promise<JobState | undefined> {
  const submitted = await submit();
  if (runner.kind === 'in-process') return submitted;
  process.stdout.write(`${opts.what} queued: ${submitted.id}\n`);
  if (!opts.wait) {
    process.stdout.write(`follow it with: aidlink jobs ${submitted.id}\n`);
    return undefined;
  }
  const final = await follow(runner, submitted.id, (s) => {
    const p = currentProgress(s);
    if (p) progress.update(p.text, p.fraction);
  });
  progress.done();
  return final;
}

/**
 * Exit status and a clear line when a run failed; the stage that failed first is the cause.
 * With `ignoreIngest`, a file's failed ingest job (a rejected file) is not a failure of the
 * run: the sync's summary lists the file and sets the exit status itself.
 */
function reportFailure(tree: JobState, opts: { ignoreIngest?: boolean } = {}): boolean {
  const failed = failureOf(tree, opts.ignoreIngest ? (s) => s.name === 'ingest.file' : undefined);
  if (!failed) return false;
  process.stderr.write(`aidlink: ${tree.id} failed at ${failed.name} (${failed.id}): ${failed.error ?? 'no reason given'}\n`);
  process.exitCode = 1;
  return true;
}

async function withRunner<T>(ctx: AppContext, progress: Progress, fn: (runner: JobRunner) => Promise<T>): Promise<T> {
  const runner = await createRunner(ctx, inProcessProgress(progress));
  try {
    return await fn(runner);
  } finally {
    progress.done();
    await runner.close();
  }
}

/**
 * After a staff decision is recorded: it takes effect now for the rows and persons it
 * names (match/apply-now.ts), then spells, assessment and cases follow (queued with REDIS_URL).
 */
export async function applyAndReassess(ctx: AppContext, decisionId: number): Promise<void> {
  const effect = await applyPendingDecisions(ctx.store);
  if (!effect.applied) {
    process.stdout.write(`decision ${decisionId} recorded; a match is running now, and the decision takes effect when it has finished\n`);
    return;
  }
  process.stdout.write(
    `decision ${decisionId} recorded and in effect: ${n(effect.rows)} rows changed person` +
      (effect.persons.length ? ` (persons ${effect.persons.join(', ')})` : '') + ` in ${n(effect.ms)} ms\n`,
  );
  if (effect.persons.length === 0) return;
  const progress = createProgress();
  const tree = await withRunner(ctx, progress, (runner) => submitAndFollow(runner, () => runner.submitReassess(actorDefault(), effect.persons), { wait: true, what: 'spells and assessment' }, progress));
  if (!tree || reportFailure(tree)) return;
  const spells = resultOf(tree, 'spells.derive');
  const a = resultOf(tree, 'assess.run');
  if (spells && a) printAssessment(spells, a);
}

function stateRow(s: JobState): (string | number)[] {
  const p = isFinished(s) ? '' : currentProgress(s)?.text ?? '';
  return [s.id, s.name, s.about, s.state, p, s.attempts, countyTime(s.createdAt), s.finishedAt ? countyTime(s.finishedAt) : '', (s.error ?? '').slice(0, 100)];
}

function printTree(s: JobState, depth = 0): void {
  const pad = '  '.repeat(depth);
  const p = s.progress ? `  [${progressText(s.progress)}]` : '';
  process.stdout.write(`${pad}${s.id}  ${s.name}${s.about ? ` (${s.about})` : ''}  ${s.state}${s.attempts > 1 ? ` (attempt ${s.attempts})` : ''}${p}\n`);
  if (s.error) process.stdout.write(`${pad}  error: ${s.error}\n`);
  if (s.result !== undefined) process.stdout.write(`${pad}  result: ${JSON.stringify(s.result).slice(0, 300)}\n`);
  for (const c of s.children) printTree(c, depth + 1);
}

function parseQueues(v: string): QueueName[] {
  const names = v.split(',').map((x) => x.trim()).filter(Boolean);
  const bad = names.filter((x) => !(QUEUES as string[]).includes(x));
  if (bad.length || names.length === 0) throw new InvalidArgumentError(`queues are ${QUEUES.join(', ')}`);
  return names as QueueName[];
}

/** Stops a long-running command on SIGTERM or SIGINT, once. */
function onStopSignal(stop: (signal: string) => Promise<void>): void {
  let stopping = false;
  const handler = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    void stop(signal).then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'could not stop cleanly');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', handler);
  process.once('SIGINT', handler);
}

/** Touches the heartbeat file every 10 s while the event loop is alive (see AIDLINK_HEARTBEAT_FILE). */
function startHeartbeat(file: string | undefined): () => void {
  if (!file) return () => undefined;
  const beat = () => {
    const now = new Date();
    try {
      utimesSync(file, now, now);
    } catch {
      writeFileSync(file, '');
    }
  };
  beat();
  const timer = setInterval(beat, 10_000);
  return () => {
    clearInterval(timer);
    rmSync(file, { force: true });
  };
}

export function registerJobCommands(program: Command): void {
  program
    .command('sync')
    .description('ingest the inbox\'s new files, match, derive category spells, assess, update the outreach cases (queued with REDIS_URL, else here and now)')
    .option('--inbox <dir>', 'the inbox (default: AIDLINK_INBOX)')
    .addOption(new Option('--until <date>', 'only files with an as-of date on or before this').argParser(parseIsoDate))
    .option('--report', 'end with the report of newly eligible people (as the nightly sync does)')
    .option('--no-wait', 'with the queues: print the job id and return at once')
    .action(async (opts: { inbox?: string; until?: string; report?: boolean; wait: boolean }) => {
      await withContext(async (ctx) => {
        const progress = createProgress();
        const payload: Payload<'sync.scan'> = { inbox: resolve(opts.inbox ?? ctx.config.AIDLINK_INBOX), ...(opts.until ? { until: opts.until } : {}), requestedBy: actorDefault() };
        const tree = await withRunner(ctx, progress, (runner) => submitAndFollow(runner, () => runner.submitSync(payload, { report: opts.report === true }), { wait: opts.wait, what: 'sync' }, progress));
        // a rejected file fails its own ingest job, not the run: every stage still ran on the other files
        if (!tree || reportFailure(tree, { ignoreIngest: true })) return;
        const r = syncResult(tree);
        if (!r) {
          if (!reportFailure(tree)) {
            process.stderr.write(`aidlink: ${tree.id} ended (${tree.state}) without the results of its stages\n`);
            process.exitCode = 1;
          }
          return;
        }
        printSync(r, opts.until, tree);
        if (syncExitCode(r) !== 0) {
          const s = r.scan;
          const held = [s.rejected ? `${n(s.rejected)} file(s) rejected` : '', s.failed ? `${n(s.failed)} file(s) not finished` : ''].filter(Boolean).join(', ');
          process.stderr.write(`aidlink: the sync ran every stage, but ${held} (listed above)\n`);
          process.exitCode = syncExitCode(r);
        }
      });
    });

  program
    .command('rematch')
    .description('match again (everything, one person, or one file), then spells and assessment; queued with REDIS_URL')
    .option('--all', 'every row')
    .option('--person <id>', 'the rows of one person', parsePositiveInt)
    .option('--file <file>', 'the rows of one delivery')
    .option('--reestimate', 'with --all: estimate a new version of the match model first, and re-score every row with it')
    .option('--no-wait', 'with the queues: print the job id and return at once')
    .action(async (opts: { all?: boolean; person?: number; file?: string; reestimate?: boolean; wait: boolean }) => {
      const chosen = [opts.all, opts.person, opts.file].filter((x) => x !== undefined).length;
      if (chosen !== 1) throw new InvalidArgumentError('say exactly one of --all, --person ID, --file F');
      if (opts.reestimate && !opts.all) throw new InvalidArgumentError('--reestimate goes with --all: a new model version re-scores every row');
      const scope: Payload<'match.run'>['scope'] = opts.all ? { kind: 'all' } : opts.person ? { kind: 'person', personId: opts.person } : { kind: 'file', file: opts.file! };
      await withContext(async (ctx) => {
        const progress = createProgress();
        const tree = await withRunner(ctx, progress, (runner) => submitAndFollow(runner, () => runner.submitRematch({ scope, ...(opts.reestimate ? { reestimate: true } : {}) }, actorDefault()), { wait: opts.wait, what: 'rematch' }, progress));
        if (!tree || reportFailure(tree)) return;
        const m = resultOf(tree, 'match.run');
        const spells = resultOf(tree, 'spells.derive');
        const a = resultOf(tree, 'assess.run');
        if (m) {
          process.stdout.write(
            `${n(m.rows)} rows: ${n(m.anchored)} linked by id number or 人员编号, ${n(m.scored)} scored${m.kept ? ` (${n(m.kept)} more kept as the latest run decided them)` : ''} — ${n(m.linked)} linked, ${n(m.review)} waiting for review, ${n(m.unclaimed)} without a known person\n` +
              `${n(m.persons)} persons; ${n(m.changed)} links changed (${n(m.relinked)} to another person or state); model version ${m.model.id}${m.model.reason ? ` (new: ${MODEL_REASON[m.model.reason]})` : ''}\n`,
          );
        }
        if (spells && a) printAssessment(spells, a);
      });
    });

  program
    .command('jobs')
    .description('jobs in the queues: the latest, the failed ones with their error, or one job and its stages')
    .argument('[id]', 'a job: <queue>/<id> or a run id as printed by sync and rematch')
    .option('--failed', 'only failed jobs (any kind)')
    .option('--all', 'every job: each stage of a run and each file\'s ingest job, not only the runs')
    .option('--limit <n>', 'at most n jobs', parsePositiveInt, 30)
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'json']).default('table'))
    .action(async (id: string | undefined, opts: { failed?: boolean; all?: boolean; limit: number; format: 'table' | 'json' }) => {
      {
        const config = loadConfig();
        if (!config.REDIS_URL) {
          process.stdout.write('no queues: REDIS_URL is not set, so sync and rematch run in-process and finish before they return\n');
          return;
        }
        const { BullRunner } = await import('../jobs/bull.js');
        const runner = await BullRunner.connect(config);
        try {
          if (id) {
            const s = await runner.get(id);
            if (!s) throw new InvalidArgumentError(`no job ${id} (finished jobs are kept 30 days, failed ones 90)`);
            if (opts.format === 'json') process.stdout.write(JSON.stringify(s, null, 2) + '\n');
            else printTree(s);
            return;
          }
          const schedule = await runner.schedule();
          const jobs = await runner.list({ failed: opts.failed, all: opts.all, limit: opts.limit });
          if (opts.format === 'json') {
            process.stdout.write(JSON.stringify({ schedule: schedule ?? null, jobs }, null, 2) + '\n');
            return;
          }
          process.stdout.write(
            schedule
              ? `nightly sync: ${schedule.pattern} (${schedule.tz}), next at ${schedule.next ? countyTime(schedule.next) : '—'}\n\n`
              : 'nightly sync: not scheduled (run `aidlink scheduler`)\n\n',
          );
          if (jobs.length === 0) process.stdout.write(opts.failed ? 'no failed jobs\n' : 'no jobs\n');
          else process.stdout.write(table(['job', 'name', 'about', 'state', 'progress', 'attempts', 'created', 'finished', 'error'], jobs.map(stateRow), [5]));
        } finally {
          await runner.close();
        }
      }
    });

  program
    .command('worker')
    .description('take jobs from the queues and run them until stopped (SIGTERM: finish or release the running jobs)')
    .option('--concurrency <n>', 'jobs at once per queue (default: AIDLINK_WORKER_CONCURRENCY)', parsePositiveInt)
    .option('--queues <list>', `only these queues (of ${QUEUES.join(', ')})`, parseQueues)
    .action(async (opts: { concurrency?: number; queues?: QueueName[] }) => {
      const { startWorkers, workerPoolSize } = await import('../jobs/bull.js');
      const { openContext } = await import('../context.js');
      const config = loadConfig();
      const ctx = await openContext({ config, poolSize: workerPoolSize(opts.concurrency ?? config.AIDLINK_WORKER_CONCURRENCY) });
      const running = await startWorkers(ctx, { ...(opts.concurrency ? { concurrency: opts.concurrency } : {}), ...(opts.queues ? { queues: opts.queues } : {}) });
      const stopHeartbeat = startHeartbeat(ctx.config.AIDLINK_HEARTBEAT_FILE);
      onStopSignal(async () => {
        stopHeartbeat();
        const { released } = await running.stop(ctx.config.AIDLINK_SHUTDOWN_MS);
        if (released.length) {
          // their handlers still hold database connections: exiting closes them, and PostgreSQL
          // rolls back what they had not committed (an ingest resumes from its last batch)
          log.warn({ jobs: released }, 'released jobs still running at shutdown; another worker takes them');
          return;
        }
        await ctx.close();
      });
      await new Promise<never>(() => undefined);
    });

  program
    .command('scheduler')
    .description('register the nightly sync (AIDLINK_SYNC_CRON in AIDLINK_SYNC_TZ) and keep it registered; --once registers and returns')
    .option('--once', 'register (or update) the schedule and exit')
    .option('--inbox <dir>', 'the inbox the nightly sync reads (default: AIDLINK_INBOX)')
    .action(async (opts: { once?: boolean; inbox?: string }) => {
      const { BullRunner } = await import('../jobs/bull.js');
      const config = loadConfig();
      const runner = await BullRunner.connect(config);
      const inbox = resolve(opts.inbox ?? config.AIDLINK_INBOX);
      const register = async () => {
        const s = await runner.upsertNightlySchedule(inbox);
        log.info({ pattern: s.pattern, tz: s.tz, next: s.next ? countyTime(s.next) : null }, 'nightly sync scheduled');
        return s;
      };
      const s = await register();
      process.stdout.write(`nightly sync: ${s.pattern} (${s.tz}), next at ${s.next ? countyTime(s.next) : '—'}\n`);
      if (opts.once) {
        await runner.close();
        return;
      }
      // registering again is harmless and restores a schedule removed by hand
      const timer = setInterval(() => void register().catch((err: unknown) => log.error({ err }, 'could not register the nightly sync')), 3_600_000);
      const stopHeartbeat = startHeartbeat(config.AIDLINK_HEARTBEAT_FILE);
      onStopSignal(async () => {
        stopHeartbeat();
        clearInterval(timer);
        await runner.close();
      });
      await new Promise<never>(() => undefined);
    });
}
