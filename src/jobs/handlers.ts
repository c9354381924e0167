/**
 * One handler per job (definitions.ts), as plain functions: they get the validated
 * payload and a job context, and return a result to store with the job. Tests and
 * the in-process runner call them directly; the BullMQ worker calls them too.
 */
import { existsSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { stat } from 'node:fs/promises';
import type { AppContext } from '../context.js';
import { ingestFile, peekDelivery } from '../ingest/ingest.js';
import { inboxRootFor, listFiles } from '../ingest/inbox.js';
import { inspectFile } from '../ingest/read/inspect.js';
import { countyStamp } from '../util/time.js';
import { defaultParseWorkers } from '../ingest/parse-pool.js';
import { modelPolicy } from '../match/model.js';
import { runMatch } from '../match/run.js';
import { runSpells } from '../spells/run.js';
import { runAssessment } from '../assess/run.js';
import { writeNewlyEligibleReport } from '../report/newly-eligible.js';
import { updateCases } from '../outreach/cases.js';
import { JOBS, parsePayload, PermanentJobError, type SyncOptions, type JobName, type JobProgress, type Payload } from './definitions.js';

export interface IngestRequest {
  inboxRoot: string;
  /** relative to the inbox root */
  file: string;
  hash: string;
}

/** A file a sync held back: rejected or quarantined, with the reason stored on its delivery (Chinese, no personal data). */
export interface HeldFile {
  /** relative to the inbox root, as the sync found it */
  file: string;
  reason: string;
}

/** How the files a sync queued came out, read from their deliveries (the record that counts). */
export interface IngestSummary {
  queued: number;
  accepted: number;
  quarantined: number;
  rejected: number;
  /** not finished: the ingest job failed after its retries, or was removed */
  failed: number;
  /** each rejected file and why (its delivery's error), by file name */
  rejectedFiles: HeldFile[];
  /** each quarantined file and why (its delivery's status reason), by file name */
  quarantinedFiles: HeldFile[];
  /** the files whose ingest did not finish, by name */
  failedFiles: string[];
}

async function summariseIngest(app: AppContext, requests: IngestRequest[]): Promise<IngestSummary> {
  const summary: IngestSummary = { queued: requests.length, accepted: 0, quarantined: 0, rejected: 0, failed: 0, rejectedFiles: [], quarantinedFiles: [], failedFiles: [] };
  if (requests.length === 0) return summary;
  const rows = await app.store.k
    .selectFrom('delivery')
    .select(['content_hash', 'status', 'error', 'status_reason'])
    .where('content_hash', 'in', requests.map((r) => r.hash))
    .execute();
  const byHash = new Map(rows.map((r) => [r.content_hash, r]));
  for (const r of [...requests].sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0))) {
    const d = byHash.get(r.hash);
    const s = d?.status;
    if (s === 'accepted' || s === 'superseded' || s === 'discarded') summary.accepted++;
    else if (s === 'quarantined') {
      summary.quarantined++;
      summary.quarantinedFiles.push({ file: r.file, reason: d?.status_reason ?? '' });
    } else if (s === 'rejected') {
      summary.rejected++;
      summary.rejectedFiles.push({ file: r.file, reason: d?.error ?? d?.status_reason ?? '' });
    } else {
      summary.failed++;
      summary.failedFiles.push(r.file);
    }
  }
  return summary;
}

/** What a handler can do besides its own work; provided by the runner. */
export interface JobContext {
  app: AppContext;
  /** `<queue>/<job id>` of the job being run */
  jobId: string;
  /** never rejects: a progress report that cannot be stored is logged, the work goes on */
  progress(p: JobProgress): Promise<void>;
  /** ingest these files (one job each, id from the content hash) and wait until every one has finished or failed */
  ingestAll(requests: IngestRequest[], requestedBy: string): Promise<void>;
  /** start a whole sync (the nightly schedule does) */
  startSync(payload: Payload<'sync.scan'>, opts: SyncOptions): Promise<{ id: string }>;
}

export type Handler<N extends JobName> = (payload: Payload<N>, job: JobContext) => Promise<unknown>;

export function reportsDir(app: AppContext): string {
  return resolve(app.config.AIDLINK_REPORTS_DIR ?? join(app.config.AIDLINK_DATA_DIR, 'reports'));
}

export const HANDLERS = {
  async 'sync.nightly'(p, job) {
    // the run id comes from this job's id (the scheduler's repeat:<id>:<millis>): a retried nightly job does not start a second sync
    const millis = /(\d{10,})$/.exec(job.jobId)?.[1];
    const runId = millis ? `sync-nightly-${countyStamp(new Date(Number(millis)))}` : `sync-nightly-${job.jobId.replace(/[^0-9a-z]+/gi, '-')}`;
    const started = await job.startSync({ inbox: p.inbox, requestedBy: 'schedule' }, { runId, report: true });
    return { sync: started.id };
  },

  async 'sync.scan'(p, job) {
    const isDir = await stat(p.inbox).then((s) => s.isDirectory(), () => {
      throw new PermanentJobError(`the inbox ${p.inbox} does not exist`);
    });
    const inboxRoot = inboxRootFor(p.inbox, isDir);
    const files = isDir ? await listFiles(p.inbox) : [p.inbox];
    const requests: IngestRequest[] = [];
    const queued = new Set<string>();
    let known = 0;
    let later = 0;
    for (const [i, f] of files.entries()) {
      await job.progress({ stage: 'scanning the inbox', done: i, total: files.length, unit: 'files' });
      const inspection = await inspectFile(f);
      const { hash } = inspection;
      const delivered = await job.app.store.k.selectFrom('delivery').select('status').where('content_hash', '=', hash).executeTakeFirst();
      if ((delivered && delivered.status !== 'staged' && delivered.status !== 'rejected') || queued.has(hash)) {
        known++;
        continue;
      }
      if (p.until) {
        const peek = await peekDelivery(job.app.mapping, f, { inboxRoot, inspection });
        if (peek && peek.asOf > p.until) {
          later++;
          continue;
        }
      }
      queued.add(hash);
      requests.push({ inboxRoot, file: relative(inboxRoot, f).split(sep).join('/'), hash });
    }
    await job.ingestAll(requests, p.requestedBy);
    return { files: files.length, known, later, ...(await summariseIngest(job.app, requests)) };
  },

  async 'ingest.file'(p, job) {
    const path = join(p.inboxRoot, p.file);
    if (!existsSync(path)) throw new PermanentJobError(`${p.file}: the file is no longer in the inbox`);
    const outcome = await ingestFile(job.app.store, job.app.mapping, path, {
      inboxRoot: p.inboxRoot,
      actor: p.requestedBy,
      batchRows: job.app.config.AIDLINK_BATCH_ROWS,
      parseWorkers: job.app.config.AIDLINK_PARSE_WORKERS ?? defaultParseWorkers(),
      onProgress: (pr) => void job.progress({ stage: `ingesting ${p.file}`, done: pr.rows, unit: 'rows' }),
    });
    switch (outcome.outcome) {
      case 'busy':
        // another worker holds this file's lock: come back when it is done
        throw new Error(`${p.file}: another worker is ingesting this file`);
      case 'rejected':
        throw new PermanentJobError(`${p.file}: rejected: ${outcome.delivery.error ?? outcome.delivery.status_reason ?? ''}`);
      default:
        return {
          file: outcome.file, outcome: outcome.outcome, delivery: outcome.delivery.id, status: outcome.delivery.status, rows: outcome.delivery.row_count,
          // taken up where a stopped worker left off (from its last committed batch)
          resumed: outcome.outcome === 'ingested' && outcome.resumed,
        };
    }
  },

  async 'match.run'(p, job) {
    const r = await runMatch(job.app.store, { scope: p.scope, reestimate: p.reestimate === true, modelPolicy: modelPolicy(job.app.config), nameTools: job.app.names, onProgress: (stage) => void job.progress({ stage }) });
    await job.progress({ stage: 'matched', done: r.stats.persons, unit: 'persons' });
    return r.stats;
  },

  async 'spells.derive'(p, job) {
    await job.progress({ stage: 'deriving category spells' });
    return runSpells(job.app.store, p);
  },

  async 'assess.run'(p, job) {
    await job.progress({ stage: 'assessing settlements' });
    return runAssessment(job.app.store, job.app.policy, p, (done, total) => void job.progress({ stage: 'assessing settlements', done, total, unit: 'persons' }));
  },

  async 'outreach.update'(_p, job) {
    await job.progress({ stage: 'updating the outreach worklist' });
    return updateCases(job.app.store);
  },

  async 'report.newly-eligible'(p, job) {
    await job.progress({ stage: 'writing the report of newly eligible people' });
    return writeNewlyEligibleReport(job.app.store, { dir: reportsDir(job.app), requestedBy: p.requestedBy, county: job.app.policy.county });
  },
} satisfies { [N in JobName]: Handler<N> };

/** What a job returns (stored with it in Redis, shown by `aidlink jobs`). */
export type JobResult<N extends JobName> = Awaited<ReturnType<(typeof HANDLERS)[N]>>;

/** Runs one job's handler on a payload as it came off the queue (validated here). */
export function runHandler<N extends JobName>(name: N, data: unknown, job: JobContext): Promise<JobResult<N>> {
  const handler = HANDLERS[name] as unknown as Handler<N>;
  return handler(parsePayload(name, data), job) as Promise<JobResult<N>>;
}

export function isJobName(name: string): name is JobName {
  return Object.hasOwn(JOBS, name);
}

/** Start-up check: every job has exactly one handler, and no handler is for a job nobody defined. */
export function checkHandlers(handlers: Record<string, unknown> = HANDLERS): void {
  const defined = Object.keys(JOBS).sort();
  const handled = Object.keys(handlers).sort();
  const missing = defined.filter((n) => !handled.includes(n));
  const extra = handled.filter((n) => !defined.includes(n));
  if (missing.length || extra.length) {
    throw new Error(`job handlers do not match the job definitions: missing ${missing.join(', ') || 'none'}; unknown ${extra.join(', ') || 'none'}`);
  }
}
