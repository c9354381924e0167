/**
 * One sync: ingest the inbox's new files, match, derive spells, assess. What the
 * nightly job runs, and `aidlink sync` by hand. With `until`, only files with an
 * as-of date on or before it are taken (the others wait for a later sync).
 */
import type { AppContext } from './context.js';
import { listFiles, inboxRootFor } from './ingest/inbox.js';
import { ingestFile, peekDelivery, type IngestOutcome } from './ingest/ingest.js';
import { createParsePool } from './ingest/parse-pool.js';
import { runMatch, type MatchStats } from './match/run.js';
import { runSpells, type SpellStats } from './spells/run.js';
import { runAssessment, type AssessStats } from './assess/run.js';
import { stat } from 'node:fs/promises';

export interface SyncOptions {
  inbox: string;
  until?: string | undefined;
  actor: string;
  parseWorkers?: number;
  onStep?: (step: string) => void;
  onOutcome?: (o: IngestOutcome) => void;
}

export interface SyncResult {
  files: { outcomes: IngestOutcome[]; later: string[] };
  match: MatchStats;
  spells: SpellStats;
  assessment: AssessStats;
}

export async function sync(ctx: AppContext, opts: SyncOptions): Promise<SyncResult> {
  const step = opts.onStep ?? (() => undefined);
  const isDir = (await stat(opts.inbox)).isDirectory();
  const inboxRoot = inboxRootFor(opts.inbox, isDir);
  const files = isDir ? await listFiles(opts.inbox) : [opts.inbox];
  const pool = createParsePool(ctx.mapping, opts.parseWorkers ?? 0);
  const outcomes: IngestOutcome[] = [];
  const later: string[] = [];
  try {
    for (const [i, f] of files.entries()) {
      step(`ingesting ${i + 1}/${files.length}`);
      if (opts.until) {
        const peek = await peekDelivery(ctx.mapping, f, { inboxRoot });
        if (peek && peek.asOf > opts.until) {
          later.push(f);
          continue;
        }
      }
      const o = await ingestFile(ctx.store, ctx.mapping, f, { inboxRoot, actor: opts.actor, pool, batchRows: ctx.config.AIDLINK_BATCH_ROWS });
      opts.onOutcome?.(o);
      outcomes.push(o);
    }
  } finally {
    await pool.close();
  }
  step('matching');
  const match = (await runMatch(ctx.store, { nameTools: ctx.names })).stats;
  step('deriving category spells');
  const spells = await runSpells(ctx.store);
  step('assessing settlements');
  const assessment = await runAssessment(ctx.store, ctx.policy);
  return { files: { outcomes, later }, match, spells, assessment };
}
