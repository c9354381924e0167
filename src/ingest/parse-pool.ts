/**
 * Parsing and encoding rows is the CPU-heavy part of ingest. A parse pool does it
 * either inline (0 workers: tests, small machines) or in worker threads while the
 * main thread reads the file and writes batches. Either way, `submit` resolves
 * with the rows encoded for COPY, and results are consumed in submission order,
 * so batches and checkpoints stay in row order.
 */
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import type { SourceKey } from '../db/schema.js';
import { RowEncoder, type EncodedRows } from './load.js';
import type { Mapping } from './mapping.js';
import type { SheetRow } from './read/rows.js';
import { createRowParser } from './row-parser.js';
import type { AnyField } from './sources.js';
import type { ColumnMapping } from './layout.js';

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
}

export interface ParsePool {
  readonly workers: number;
  /** Starts a file: every row submitted after this belongs to it. */
  begin(job: ParseJob): void;
  submit(rows: SheetRow[]): Promise<EncodedRows>;
  close(): Promise<void>;
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
  private parse: ((r: SheetRow) => ReturnType<ReturnType<typeof createRowParser>>) | undefined;
  private encoder: RowEncoder | undefined;

  constructor(private readonly mapping: Mapping) {}

  begin(job: ParseJob): void {
    this.parse = createRowParser({ ...job, mapping: this.mapping });
    this.encoder = new RowEncoder(job.deliveryId);
  }

  async submit(rows: SheetRow[]): Promise<EncodedRows> {
    if (!this.parse || !this.encoder) throw new Error('parse pool: submit before begin');
    for (const r of rows) this.encoder.add(this.parse(r));
    return this.encoder.take();
  }

  async close(): Promise<void> {}
}

/** Messages between the pool and its workers (see parse-worker.ts). */
export type ToWorker = { type: 'begin'; job: ParseJob } | { type: 'rows'; seq: number; rows: SheetRow[] };
export type FromWorker =
  | { type: 'encoded'; seq: number; encoded: EncodedRows }
  | { type: 'failed'; seq: number; message: string };

class WorkerPool implements ParsePool {
  private readonly pool: Worker[];
  private readonly pending = new Map<number, { resolve: (e: EncodedRows) => void; reject: (e: Error) => void }>();
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
      p.resolve({ ...e, rows: buffers(e.rows), details: buffers(e.details), problems: buffers(e.problems) });
    } else p.reject(new Error(m.message));
  }

  private fail(err: Error): void {
    this.broken ??= err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  begin(job: ParseJob): void {
    for (const w of this.pool) w.postMessage({ type: 'begin', job } satisfies ToWorker);
  }

  submit(rows: SheetRow[]): Promise<EncodedRows> {
    if (this.broken) return Promise.reject(this.broken);
    const seq = this.seq++;
    const worker = this.pool[seq % this.pool.length]!;
    return new Promise((resolve, reject) => {
      this.pending.set(seq, { resolve, reject });
      worker.postMessage({ type: 'rows', seq, rows } satisfies ToWorker);
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.pool.map((w) => w.terminate()));
  }
}
