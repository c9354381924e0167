/**
 * Tokenizing, parsing and encoding rows is the CPU-heavy part of ingest. A parse pool
 * does it either inline (0 workers: tests, small machines) or in worker threads while
 * the main thread reads the file and writes batches. It is handed what follows the
 * header: a CSV's records as text blocks (one string each, cheap to hand to a worker),
 * or a workbook's rows; it tells data rows from blank lines, footers and the header
 * repeated, and skips the rows a resumed load committed before. Either way, `submit`
 * resolves with the rows encoded for COPY, and results are consumed in submission
 * order, so batches and checkpoints stay in row order.
 */
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import type { SourceKey } from '../db/schema.js';
import { RowEncoder, problemLine, type ParsedInput } from './load.js';
import type { Mapping } from './mapping.js';
import { file as fileProblem } from './problems.js';
import { CsvTokenizer, type TextBlock } from './read/csv.js';
import { UnreadableFileError, type SheetRow } from './read/rows.js';
import { createRowParser } from './row-parser.js';
import type { AnyField } from './sources.js';
import { classifyRow, headerShape, type ColumnMapping } from './layout.js';

/** One file to parse: plain data, so that it can be posted to a worker. */
export interface ParseJob {
  deliveryId: number;
  source: SourceKey;
  /** the format profile that reads it, by name (workers load the same mapping) */
  profile: string;
  headers: string[];
  columnMap: Partial<Record<AnyField, number>>;
  sums: Partial<Record<AnyField, number[]>>;
  ranges: ColumnMapping['ranges'];
  /** rows up to this one are not data (title lines, the header) */
  headerRowNo: number;
  /** rows up to this one were committed by an earlier, interrupted load: counted, not parsed */
  resumeAfter: number;
  /** CSV: the delimiter the text blocks are split by */
  delimiter: string | null;
}

/** What follows the header: a CSV's records as text, or a workbook's rows. */
export type SheetInput = TextBlock | SheetRow[];

export interface ParsePool {
  readonly workers: number;
  /** Starts a file: every row submitted after this belongs to it. */
  begin(job: ParseJob): void;
  submit(input: SheetInput): Promise<ParsedInput>;
  close(): Promise<void>;
}

/**
 * Parses one file's input, in a worker or inline: rows → data rows, problems of the
 * rows between them (the header repeated), and the encoded COPY bytes.
 */
export function createInputParser(mapping: Mapping, job: ParseJob): (input: SheetInput) => ParsedInput {
  const parse = createRowParser({ ...job, mapping });
  const encoder = new RowEncoder(job.deliveryId);
  const header = headerShape(job.headers);
  return (input) => {
    let rows: SheetRow[];
    if (Array.isArray(input)) rows = input;
    else {
      const tokenizer = new CsvTokenizer(job.delimiter ?? ',', undefined, input.firstLine);
      rows = tokenizer.push(input.text);
      rows.push(...tokenizer.end());
    }
    const notes: string[] = [];
    let dataRows = 0;
    let lastNote = 0;
    for (const r of rows) {
      if (r.rowNo <= job.headerRowNo) continue;
      const kind = classifyRow(r.cells, header, mapping.footerPrefixes);
      if (kind === 'blank' || kind === 'footer') continue;
      if (kind === 'header') {
        if (r.rowNo > job.resumeAfter) {
          notes.push(problemLine(job.deliveryId, fileProblem.repeatedHeader(r.rowNo)));
          lastNote = r.rowNo;
        }
        continue;
      }
      dataRows++;
      if (r.rowNo <= job.resumeAfter) continue; // committed before the interruption
      encoder.add(parse(r));
    }
    return { ...encoder.take(), dataRows, notes: notes.length ? [Buffer.from(notes.join(''), 'utf8')] : [], lastNoteRowNo: lastNote };
  };
}

/**
 * Workers only pay off beyond a core for the main thread (reading, writing) and one
 * for PostgreSQL (COPY): on two cores, 1M settlement rows took 18.1 s inline, 17.2 s
 * with one worker and 15.7 s with two, each worker adding its own heap.
 */
export function defaultParseWorkers(cores = availableParallelism()): number {
  return cores >= 4 ? Math.min(4, cores - 2) : 0;
}

export function createParsePool(mapping: Mapping, workers: number): ParsePool {
  return workers > 0 ? new WorkerPool(mapping, workers) : new InlinePool(mapping);
}

class InlinePool implements ParsePool {
  readonly workers = 0;
  private parse: ((input: SheetInput) => ParsedInput) | undefined;

  constructor(private readonly mapping: Mapping) {}

  begin(job: ParseJob): void {
    this.parse = createInputParser(this.mapping, job);
  }

  async submit(input: SheetInput): Promise<ParsedInput> {
    if (!this.parse) throw new Error('parse pool: submit before begin');
    return this.parse(input);
  }

  async close(): Promise<void> {}
}

/** Messages between the pool and its workers (see parse-worker.ts). */
export type ToWorker = { type: 'begin'; job: ParseJob } | { type: 'rows'; seq: number; input: SheetInput };
export type FromWorker =
  | { type: 'encoded'; seq: number; encoded: ParsedInput }
  /** `code`: an UnreadableFileError's, which rejects the file */
  | { type: 'failed'; seq: number; message: string; code?: string | undefined };

class WorkerPool implements ParsePool {
  private readonly pool: Worker[];
  private readonly pending = new Map<number, { resolve: (e: ParsedInput) => void; reject: (e: Error) => void }>();
  private seq = 0;
  private broken: Error | undefined;

  constructor(
    mapping: Mapping,
    readonly workers: number,
  ) {
    const url = new URL('./parse-worker.mjs', import.meta.url);
    this.pool = Array.from({ length: workers }, () => {
      const w = new Worker(url, { workerData: { mappingFiles: mapping.extraFiles } });
      w.on('message', (m: FromWorker) => this.settle(m));
      w.on('error', (err) => this.fail(err));
      w.on('exit', (code) => {
        if (code !== 0) this.fail(new Error(`a parse worker stopped with exit code ${code}`));
      });
      w.unref();
      return w;
    });
  }

  private settle(m: FromWorker): void {
    const p = this.pending.get(m.seq);
    if (!p) return;
    this.pending.delete(m.seq);
    if (m.type === 'encoded') {
      const e = m.encoded;
      // transferred bytes arrive as plain Uint8Arrays
      const buffers = (list: Uint8Array[]) => list.map((u) => Buffer.from(u.buffer, u.byteOffset, u.byteLength));
      p.resolve({ ...e, rows: buffers(e.rows), details: buffers(e.details), problems: buffers(e.problems), notes: buffers(e.notes) });
    } else p.reject(m.code !== undefined ? new UnreadableFileError(m.code, m.message) : new Error(m.message));
  }

  private fail(err: Error): void {
    this.broken ??= err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  begin(job: ParseJob): void {
    for (const w of this.pool) w.postMessage({ type: 'begin', job } satisfies ToWorker);
  }

  submit(input: SheetInput): Promise<ParsedInput> {
    if (this.broken) return Promise.reject(this.broken);
    const seq = this.seq++;
    const worker = this.pool[seq % this.pool.length]!;
    return new Promise((resolve, reject) => {
      this.pending.set(seq, { resolve, reject });
      worker.postMessage({ type: 'rows', seq, input } satisfies ToWorker);
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.pool.map((w) => w.terminate()));
  }
}
