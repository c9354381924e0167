/** What every command shares: opening the application context, who is acting, argument parsers. */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { userInfo } from 'node:os';
import { openContext, type AppContext } from '../context.js';
import { SOURCES, isSourceKey } from '../ingest/sources.js';
import { parseDate } from '../ingest/normalise/date.js';
import type { SourceKey } from '../db/schema.js';

export const actorDefault = () => `cli:${userInfo().username}`;

export function parseSource(v: string): SourceKey {
  if (!isSourceKey(v)) throw new InvalidArgumentError(`must be one of ${SOURCES.join(', ')}`);
  return v;
}
export function parseIsoDate(v: string): string {
  const d = parseDate(v);
  if (!d) throw new InvalidArgumentError('must be a date such as 2026-10-31');
  return d;
}
export function parsePositiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError('must be a positive whole number');
  return n;
}
export function parseNonNegative(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError('must be a number ≥ 0');
  return n;
}

/** What a command about one delivered file needs when the file's place does not say it: its source, as-of date and inbox root. */
export function deliveryOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--source <source>', 'the source, when the folder does not say it').argParser(parseSource))
    .addOption(new Option('--as-of <date>', 'the as-of date, when neither title nor file name has it').argParser(parseIsoDate))
    .option('--inbox <dir>', 'the inbox root that delivery names are relative to');
}

export function collectRate(v: string, acc: Record<string, number>): Record<string, number> {
  const m = /^([a-z0-9_]+)=([0-9.]+)$/.exec(v);
  if (!m) throw new InvalidArgumentError('expected form=rate, e.g. id_masked=0.05');
  return { ...acc, [m[1]!]: Number(m[2]) };
}

export async function withContext<T>(fn: (ctx: AppContext) => Promise<T>, schema?: 'auto' | 'migrate' | 'none'): Promise<T> {
  const ctx = await openContext({ schema });
  try {
    return await fn(ctx);
  } finally {
    await ctx.close();
  }
}
