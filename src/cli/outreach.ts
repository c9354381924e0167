/** `aidlink report …` and `aidlink cases …`: the outreach report and the worklist from the command line. */
import { Command, InvalidArgumentError, Option } from 'commander';
import { resolve } from 'node:path';
import { actorDefault, parsePositiveInt, withContext } from './common.js';
import { table } from './format.js';
import { audit } from '../server/audit.js';
import { reportsDir } from '../jobs/handlers.js';
import { writeNewlyEligibleReport } from '../report/newly-eligible.js';
import { CASE_STATUS_LABEL, CASE_STATUSES, moveCase, updateCases } from '../outreach/cases.js';
import { caseMetrics } from '../outreach/metrics.js';
import { formatYuan, parseMoney } from '../ingest/normalise/money.js';
import { parseDate } from '../ingest/normalise/date.js';
import type { CaseStatus } from '../db/schema.js';

const n = (x: number) => x.toLocaleString('en');

function parseStatus(v: string): CaseStatus {
  const byLabel = Object.entries(CASE_STATUS_LABEL).find(([, label]) => label === v)?.[0];
  const s = (byLabel ?? v) as CaseStatus;
  if (!CASE_STATUSES.includes(s)) throw new InvalidArgumentError(`one of ${CASE_STATUSES.map((x) => `${x} (${CASE_STATUS_LABEL[x]})`).join(', ')}`);
  return s;
}

function parseAmount(v: string): number {
  const m = parseMoney(v);
  if (!m || m.rounded || m.fen <= 0) throw new InvalidArgumentError('an amount of yuan above 0, at most two decimals');
  return m.fen;
}

function parsePaidOn(v: string): string {
  const d = parseDate(v);
  if (!d) throw new InvalidArgumentError('a date, YYYY-MM-DD');
  return d;
}

export function registerOutreachCommands(program: Command): void {
  const report = program.command('report').description('reports for outreach');
  report
    .command('newly-eligible')
    .description('the flags first raised since the previous report, by township and village, as XLSX and CSV (id numbers masked)')
    .option('--out <dir>', 'the folder to write to (default: AIDLINK_REPORTS_DIR)')
    .option('--unmasked', 'id numbers in full (recorded in the audit log)')
    .action(async (opts: { out?: string; unmasked?: boolean }) => {
      await withContext(async (ctx) => {
        const actor = actorDefault();
        const r = await writeNewlyEligibleReport(ctx.store, { dir: resolve(opts.out ?? reportsDir(ctx)), requestedBy: actor, unmasked: opts.unmasked === true, county: ctx.policy.county });
        await audit(ctx.store, { actor, action: opts.unmasked ? 'unmask' : 'export', subject: `report:${r.runId}`, detail: { what: 'newly-eligible', flags: r.flags, unmasked: opts.unmasked === true } });
        process.stdout.write(
          `report ${r.runId}: ${n(r.persons)} persons (${n(r.newPersons)} new), ${n(r.flags)} items, ${formatYuan(r.total)} yuan\n  ${r.files.xlsx}\n  ${r.files.csv}\n`,
        );
      });
    });

  const cases = program.command('cases').description('the outreach worklist: one case per outreach flag');
  cases
    .command('update')
    .description('open cases for new outreach flags and close those the data has settled (a sync does this)')
    .action(async () => {
      await withContext(async (ctx) => {
        const s = await updateCases(ctx.store);
        process.stdout.write(`${n(s.opened)} opened, ${n(s.paid)} closed as paid by the data, ${n(s.withdrawn)} withdrawn\n`);
      });
    });
  cases
    .command('move')
    .description('move a case along: dispatched 已下放, received 已接收, contacted 已联系, applied 已申请, paid 已支付 (with --amount and --paid-on), unreachable 无法联系, declined 已放弃; an outcome (paid, declined) on a case sent down records the steps before it')
    .argument('<case>', 'case id', parsePositiveInt)
    .argument('<status>', 'the new status (code or Chinese label)', parseStatus)
    .option('--note <text>', 'a note for the case history')
    .option('--amount <yuan>', 'with paid: the amount paid, in yuan (required)', parseAmount)
    .option('--paid-on <date>', 'with paid: the day it was paid (required, not in the future)', parsePaidOn)
    .action(async (id: number, status: CaseStatus, opts: { note?: string; amount?: number; paidOn?: string }) => {
      await withContext(async (ctx) => {
        const actor = actorDefault();
        const payment = opts.amount !== undefined && opts.paidOn !== undefined ? { amount: opts.amount, paidOn: opts.paidOn } : undefined;
        await moveCase(ctx.store, id, status, actor, opts.note ?? null, payment);
        await audit(ctx.store, { actor, action: 'case_update', subject: `case:${id}`, detail: { to: status, ...(payment ?? {}) } });
        process.stdout.write(`case ${id}: ${CASE_STATUS_LABEL[status]}\n`);
      });
    });
  cases
    .command('metrics')
    .description('per township and month: cases by status, contact rate, conversion, amount recovered')
    .addOption(new Option('--township <name>', 'one township'))
    .action(async (opts: { township?: string }) => {
      await withContext(async (ctx) => {
        const rows = await caseMetrics(ctx.store, opts.township ? { township: opts.township } : {});
        const pct = (x: number | null) => (x === null ? '—' : `${(x * 100).toFixed(1)}%`);
        process.stdout.write(
          table(
            ['township', 'month', 'cases', ...CASE_STATUSES.map((s) => CASE_STATUS_LABEL[s]), 'contact rate', 'conversion', 'recovered (yuan)'],
            rows.map((m) => [m.township, m.month, m.cases, ...CASE_STATUSES.map((s) => m.byStatus[s]), pct(m.contactRate), pct(m.conversion), formatYuan(m.recovered)]),
            [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13],
          ),
        );
      });
    });
}
