/**
 * Ingesting one delivered file (design: stage, validate, apply):
 *
 *   inspect ─▶ lock ─▶ find the table ─▶ stage ─▶ load rows in checkpointed batches ─▶ finalise
 *
 * The content hash is the delivery's identity: the same file twice is one delivery.
 * Until finalised a delivery is `staged` and nothing downstream reads it; a run
 * that dies halfway is resumed after its checkpoint by the next one. A file that
 * cannot be read, or lacks a required column, is recorded as `rejected` with the
 * reason and keeps no rows.
 */
import { stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import type { Delivery, DeliveryStatus, SourceKey } from '../db/schema.js';
import type { Store } from '../db/store.js';
import { log } from '../log.js';
import { dateFromFileName, dateFromTitle, resolveAsOf } from './as-of.js';
import { deleteRows, finalizeDelivery, recordEvent } from './deliveries.js';
import { findHeader, mapColumns, profilesFor, HEADER_SEARCH_ROWS, type ColumnMapping, type HeaderHit, type HeaderMiss } from './layout.js';
import { copyProblems, RowBatch, type ParsedInput } from './load.js';
import { createParsePool, type ParsePool, type SheetInput } from './parse-pool.js';
import type { Mapping, Profile } from './mapping.js';
import { file as fileProblem, UNSUPPORTED_MESSAGE, type Problem } from './problems.js';
import { csvReader } from './read/csv.js';
import { inspectFile, type Inspection, type TextEncoding } from './read/inspect.js';
import { UnreadableFileError, type SheetReader, type SheetRow } from './read/rows.js';
import { xlsxReader, type XlsxLimits } from './read/xlsx.js';
import { isSourceKey, SOURCE_KIND, type AnyField } from './sources.js';

export interface IngestOptions {
  /** Root of the inbox; a delivery's `file` is its path relative to this. */
  inboxRoot?: string | undefined;
  /** The source, when not told by the folder (`inbox/<source>/`) or the header. */
  source?: SourceKey | undefined;
  /** The as-of date given by whoever delivers the file (spec §2, last resort). */
  asOf?: string | undefined;
  actor?: string | undefined;
  batchRows?: number | undefined;
  xlsxLimits?: XlsxLimits | undefined;
  /** Parse workers for this file when no `pool` is given (0: parse in this thread). */
  parseWorkers?: number | undefined;
  /** A parse pool shared by several files (see ingestPath). */
  pool?: ParsePool | undefined;
  onProgress?: ((p: { file: string; rows: number }) => void) | undefined;
}

export type IngestOutcome =
  | { outcome: 'ingested'; file: string; delivery: Delivery; resumed: boolean }
  | { outcome: 'rejected'; file: string; delivery: Delivery }
  /** the same content was delivered before (perhaps under another name) */
  | { outcome: 'duplicate'; file: string; delivery: Delivery }
  /** another process is ingesting the same content right now */
  | { outcome: 'busy'; file: string };

export class IngestError extends Error {
  override name = 'IngestError';
}

const DEFAULT_BATCH_ROWS = 20_000;

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * `file` as stored: the path relative to the inbox root, with forward slashes
 * (`civil/civil_20250131.csv`). Outside the root, `<source>/<name>`.
 */
export function deliveryName(path: string, inboxRoot: string | undefined, source: SourceKey | undefined): string {
  const abs = resolve(path);
  if (inboxRoot) {
    const rel = relative(resolve(inboxRoot), abs);
    if (rel && !rel.startsWith('..') && !isAbsolute(rel)) return rel.split(sep).join('/');
  }
  const folder = basename(dirname(abs));
  if (isSourceKey(folder)) return `${folder}/${basename(abs)}`;
  return `${source ?? 'unknown'}/${basename(abs)}`;
}

/** The source a delivery name starts with (`inbox/<source>/…`), if any. */
export function sourceFromPath(file: string): SourceKey | undefined {
  const first = file.split('/')[0];
  return first !== undefined && file.includes('/') && isSourceKey(first) ? first : undefined;
}

interface Table {
  reader: SheetReader;
  profile: Profile;
  source: SourceKey;
  headerRowNo: number;
  headers: string[];
  columnMap: Partial<Record<AnyField, number>>;
  sums: Partial<Record<AnyField, number[]>>;
  ranges: ColumnMapping['ranges'];
  titleLines: string[];
  warnings: Problem[];
}

type Found =
  | { ok: true; table: Table }
  /** `header`: the header found, when a required column is what it lacks */
  | { ok: false; problem: Problem; source: SourceKey | undefined; reader?: SheetReader; header?: Pick<Table, 'profile' | 'headerRowNo' | 'headers'> };

/** The top rows of a sheet, where the header is looked for. */
async function topRows(reader: SheetReader): Promise<SheetRow[]> {
  const rows: SheetRow[] = [];
  for await (const chunk of reader.chunks(HEADER_SEARCH_ROWS)) {
    rows.push(...chunk);
    if (rows.length >= HEADER_SEARCH_ROWS) break;
  }
  return rows.slice(0, HEADER_SEARCH_ROWS);
}

/**
 * Opens the file and finds its table: delimiter, header row, profile (and so source), columns.
 * Reads only the top of the file and writes nothing (`aidlink profile check` uses it too).
 */
export async function findTable(path: string, kind: Inspection['kind'], mapping: Mapping, hint: SourceKey | undefined, limits: XlsxLimits | undefined): Promise<Found> {
  if (kind.format === 'unsupported') {
    return { ok: false, problem: fileProblem.unreadable(`unsupported_${kind.reason}`, UNSUPPORTED_MESSAGE[kind.reason]!), source: hint };
  }
  let candidates: SheetReader[];
  try {
    candidates =
      kind.format === 'xlsx'
        ? [await xlsxReader(path, limits)]
        : (['\t', ','] as const).map((d) => csvReader(path, { encoding: kind.encoding as TextEncoding, delimiter: d }));
  } catch (err) {
    if (err instanceof UnreadableFileError) return { ok: false, problem: fileProblem.unreadable(err.code, err.message), source: hint };
    throw err;
  }
  const profiles = profilesFor(mapping, hint, basename(path));
  let best: (HeaderHit & { reader: SheetReader; rows: SheetRow[] }) | undefined;
  let ambiguous: Profile[] | undefined;
  let closest: Extract<HeaderMiss, { kind: 'not_found' }>['closest'];
  for (const reader of candidates) {
    let rows: SheetRow[];
    try {
      rows = await topRows(reader);
    } catch (err) {
      if (err instanceof UnreadableFileError) return { ok: false, problem: fileProblem.unreadable(err.code, err.message), source: hint };
      throw err;
    }
    const hit = findHeader(rows, profiles);
    if ('profile' in hit) {
      if (!best || hit.recognised > best.recognised || (hit.recognised === best.recognised && hit.index < best.index)) best = { reader, rows, ...hit };
    } else if (hit.kind === 'ambiguous') ambiguous = hit.profiles;
    else if (hit.closest && (!closest || hit.closest.recognised > closest.recognised)) closest = hit.closest;
  }
  if (!best) {
    let problem: Problem;
    if (!ambiguous) problem = fileProblem.headerNotFound(HEADER_SEARCH_ROWS, closest);
    else if (!hint && new Set(ambiguous.map((p) => p.source)).size > 1) problem = fileProblem.sourceUnknown();
    else problem = fileProblem.ambiguousProfiles(ambiguous);
    return { ok: false, problem, source: hint };
  }
  const headerRow = best.rows[best.index]!;
  const headers = headerRow.cells.map((h) => h.trim());
  const { columnMap, sums, ranges, missing, problems } = mapColumns(headers, best.profile);
  const source = best.profile.source;
  if (missing.length > 0) {
    const header = { profile: best.profile, headerRowNo: headerRow.rowNo, headers };
    return { ok: false, problem: fileProblem.missingColumns(missing, headers, best.profile), source, reader: best.reader, header };
  }
  return {
    ok: true,
    table: {
      reader: best.reader,
      profile: best.profile,
      source,
      headerRowNo: headerRow.rowNo,
      headers,
      columnMap,
      sums,
      ranges,
      titleLines: best.rows.slice(0, best.index).map((r) => r.cells.filter(Boolean).join(' ')),
      warnings: problems,
    },
  };
}

/**
 * The as-of date and source a file would be ingested with, without ingesting it
 * (`sync --until` leaves later files for later). Null when it would be rejected.
 */
export async function peekDelivery(
  mapping: Mapping,
  path: string,
  opts: Pick<IngestOptions, 'inboxRoot' | 'source' | 'asOf' | 'xlsxLimits'> & {
    /** the file's inspection, when the caller has it already (the sync's scan): not read a second time */
    inspection?: Inspection | undefined;
  } = {},
): Promise<{ source: SourceKey; asOf: string; hash: string } | null> {
  const hint = opts.source ?? sourceFromPath(deliveryName(path, opts.inboxRoot, undefined));
  const inspection = opts.inspection ?? (await inspectFile(path));
  const found = await findTable(path, inspection.kind, mapping, hint, opts.xlsxLimits);
  if (!found.ok) return null;
  const asOf = resolveAsOf({ title: dateFromTitle(found.table.titleLines, mapping.titleDateKeywords), fileName: dateFromFileName(path), argument: opts.asOf });
  return asOf.ok ? { source: found.table.source, asOf: asOf.asOf, hash: inspection.hash } : null;
}

/**
 * Deliveries in these states do not make their content received: one still loading (staged)
 * is resumed, one refused (rejected) may be sent again corrected. The same content in any
 * other state is a duplicate (ingestFile here, and the console's upload: upload.ts).
 */
export const NOT_RECEIVED: readonly DeliveryStatus[] = ['staged', 'rejected'];

export async function ingestFile(store: Store, mapping: Mapping, path: string, opts: IngestOptions = {}): Promise<IngestOutcome> {
  const st = await stat(path).catch(() => undefined);
  if (!st?.isFile()) throw new IngestError(`not a file: ${path}`);
  const actor = opts.actor ?? 'system';
  const hint = opts.source ?? sourceFromPath(deliveryName(path, opts.inboxRoot, undefined));
  let file = deliveryName(path, opts.inboxRoot, hint);

  const inspection = await inspectFile(path);
  const byHash = () => store.k.selectFrom('delivery').selectAll().where('content_hash', '=', inspection.hash).executeTakeFirst();
  const seen = await byHash();
  if (seen && !NOT_RECEIVED.includes(seen.status)) return { outcome: 'duplicate', file, delivery: seen };

  const locked = await store.tryWithLock(`aidlink:file:${inspection.hash}`, async (): Promise<IngestOutcome> => {
    const existing = await byHash(); // another process may have finished it meanwhile
    if (existing && !NOT_RECEIVED.includes(existing.status)) return { outcome: 'duplicate', file, delivery: existing };

    const found = await findTable(path, inspection.kind, mapping, hint, opts.xlsxLimits);
    file = deliveryName(path, opts.inboxRoot, found.ok ? found.table.source : found.source);
    const format = inspection.kind.format === 'unsupported' ? null : inspection.kind.format;
    if (!found.ok) {
      const delivery = await recordRejection(store, existing, {
        file, source: found.source ?? null, hash: inspection.hash, size: inspection.size, format,
        encoding: inspection.kind.format === 'csv' ? inspection.kind.encoding : null,
      }, [found.problem], actor);
      return { outcome: 'rejected', file, delivery };
    }
    const t = found.table;
    const asOf = resolveAsOf({
      title: dateFromTitle(t.titleLines, mapping.titleDateKeywords),
      fileName: dateFromFileName(path),
      argument: opts.asOf,
    });
    if (!asOf.ok) {
      const delivery = await recordRejection(store, existing, {
        file, source: t.source, hash: inspection.hash, size: inspection.size, format, encoding: t.reader.encoding,
      }, [asOf.problem], actor);
      return { outcome: 'rejected', file, delivery };
    }

    let deliveryId: number;
    let resumeAfter = 0;
    if (existing?.status === 'staged') {
      deliveryId = existing.id;
      resumeAfter = existing.loaded_through_row;
      await store.transaction((tx) => deleteRows(tx, deliveryId, resumeAfter));
      log.info({ delivery: deliveryId, file, resumeAfter }, 'resuming a staged delivery');
    } else {
      deliveryId = await store.transaction(async (tx) => {
        const values = {
          file,
          source: t.source,
          kind: SOURCE_KIND[t.source],
          content_hash: inspection.hash,
          size_bytes: inspection.size,
          format: t.reader.format,
          encoding: t.reader.encoding,
          delimiter: t.reader.delimiter,
          sheet: t.reader.sheet,
          header_row: t.headerRowNo,
          headers: t.headers,
          column_map: JSON.stringify(t.columnMap),
          profile: t.profile.name,
          stream: t.profile.stream,
          as_of: asOf.asOf,
          as_of_origin: asOf.origin,
          status: 'staged' as const,
          status_reason: null,
          error: null,
          loaded_through_row: 0,
        };
        let id: number;
        if (existing) {
          // a file rejected before (say, for a column the mapping now knows) is retried in place
          await deleteRows(tx, existing.id);
          await tx.k.updateTable('delivery').set(values).where('id', '=', existing.id).execute();
          id = existing.id;
        } else {
          id = (await tx.k.insertInto('delivery').values(values).returning('id').executeTakeFirstOrThrow()).id;
        }
        await recordEvent(tx.k, id, existing?.status ?? null, 'staged', actor, null);
        await copyProblems(tx, id, [...t.warnings, ...asOf.problems]);
        return id;
      });
    }

    try {
      await loadRows(store, mapping, t, deliveryId, resumeAfter, file, opts);
    } catch (err) {
      if (!(err instanceof UnreadableFileError)) throw err;
      // damaged below its header (a workbook cut off or corrupt halfway, a line that never ends):
      // found only while loading, and the whole file is rejected, keeping none of its rows
      const staged = await store.k.selectFrom('delivery').selectAll().where('id', '=', deliveryId).executeTakeFirstOrThrow();
      const delivery = await recordRejection(store, staged, {
        file, source: t.source, hash: inspection.hash, size: inspection.size, format, encoding: t.reader.encoding,
      }, [fileProblem.unreadable(err.code, err.message)], actor);
      return { outcome: 'rejected', file, delivery };
    }
    const delivery = await finalizeDelivery(store, deliveryId, actor);
    return { outcome: 'ingested', file, delivery, resumed: resumeAfter > 0 };
  });
  return locked?.value ?? { outcome: 'busy', file };
}

/** Records (rows) per piece handed to the parse pool. */
const CHUNK_ROWS = 1000;

async function loadRows(store: Store, mapping: Mapping, t: Table, deliveryId: number, resumeAfter: number, file: string, opts: IngestOptions): Promise<void> {
  const ownPool = opts.pool ? undefined : createParsePool(mapping, opts.parseWorkers ?? 0);
  const pool = opts.pool ?? ownPool!;
  pool.begin({
    deliveryId, source: t.source, profile: t.profile.name, headers: t.headers, columnMap: t.columnMap, sums: t.sums, ranges: t.ranges,
    headerRowNo: t.headerRowNo, resumeAfter, delimiter: t.reader.delimiter,
  });
  const batchRows = opts.batchRows ?? DEFAULT_BATCH_ROWS;
  const chunkRows = Math.min(CHUNK_ROWS, batchRows);
  // parsed pieces come back in the order they were submitted; a few are kept in flight
  const maxQueued = Math.max(2, pool.workers * 3);
  const queue: Promise<ParsedInput>[] = [];
  let batch = new RowBatch(deliveryId, t.source);
  let rows = 0;
  // one batch is written while the next is parsed
  let inflight: Promise<void> | undefined;

  const flush = async () => {
    const b = batch;
    batch = new RowBatch(deliveryId, t.source);
    if (inflight) await inflight;
    inflight = store.transaction((tx) => b.write(tx, b.lastRowNo));
    inflight.catch(() => undefined); // awaited below; this only keeps it from counting as unhandled
    opts.onProgress?.({ file, rows });
  };
  const takeParsed = async () => {
    const parsed = await queue.shift()!;
    rows += parsed.dataRows;
    batch.add(parsed);
    if (batch.size >= batchRows) await flush();
  };
  const submit = async (input: SheetInput) => {
    const next = pool.submit(input);
    next.catch(() => undefined); // awaited in turn by takeParsed
    queue.push(next);
    while (queue.length >= maxQueued) await takeParsed();
    // rows arrive through microtasks, which never let the event loop read the database's
    // replies (or the workers'): yield now and then, so the batch being written makes progress
    await yieldToEventLoop();
  };

  try {
    // a CSV goes to the pool as text, tokenized where it is parsed; a workbook as rows
    if (t.reader.blocks) {
      for await (const block of t.reader.blocks(chunkRows)) await submit(block);
    } else {
      for await (const sheetChunk of t.reader.chunks()) {
        for (let i = 0; i < sheetChunk.length; i += chunkRows) await submit(sheetChunk.slice(i, i + chunkRows));
      }
    }
    while (queue.length > 0) await takeParsed();
    if (!batch.empty) await flush();
    if (inflight) await inflight;
  } catch (err) {
    await Promise.allSettled([...queue, inflight]);
    throw err;
  } finally {
    await ownPool?.close();
  }
  opts.onProgress?.({ file, rows });
}

async function recordRejection(
  store: Store,
  existing: Delivery | undefined,
  d: { file: string; source: SourceKey | null; hash: string; size: number; format: 'csv' | 'xlsx' | null; encoding: string | null },
  problems: Problem[],
  actor: string,
): Promise<Delivery> {
  const message = problems.map((p) => p.message).join('；');
  return store.transaction(async (tx) => {
    const values = {
      file: d.file,
      source: d.source,
      kind: d.source ? SOURCE_KIND[d.source] : null,
      content_hash: d.hash,
      size_bytes: d.size,
      format: d.format,
      encoding: d.encoding,
      status: 'rejected' as const,
      status_reason: problems[0]?.code ?? null,
      error: message,
      loaded_through_row: 0,
      finished_at: new Date(),
    };
    let delivery: Delivery;
    if (existing) {
      await deleteRows(tx, existing.id);
      delivery = await tx.k.updateTable('delivery').set(values).where('id', '=', existing.id).returningAll().executeTakeFirstOrThrow();
      if (existing.status !== 'rejected' || existing.error !== message) {
        await recordEvent(tx.k, delivery.id, existing.status, 'rejected', actor, message);
      }
    } else {
      delivery = await tx.k.insertInto('delivery').values(values).returningAll().executeTakeFirstOrThrow();
      await recordEvent(tx.k, delivery.id, null, 'rejected', actor, message);
    }
    await copyProblems(tx, delivery.id, problems);
    return delivery;
  });
}
