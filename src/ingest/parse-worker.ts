/**
 * A parse worker: receives rows of one file at a time, parses and encodes them
 * for COPY, and hands the bytes back without copying them (transfer). It never
 * touches the database and holds nothing between messages but the file's parser.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { loadMapping } from './mapping.js';
import { RowEncoder } from './load.js';
import { createRowParser, type RowParser } from './row-parser.js';
import type { FromWorker, ToWorker } from './parse-pool.js';

const mapping = loadMapping((workerData as { mappingFiles: string[] }).mappingFiles);
let parse: RowParser | undefined;
let encoder: RowEncoder | undefined;

parentPort!.on('message', (m: ToWorker) => {
  if (m.type === 'begin') {
    parse = createRowParser({ ...m.job, mapping });
    encoder = new RowEncoder(m.job.deliveryId);
    return;
  }
  try {
    if (!parse || !encoder) throw new Error('parse worker: rows before begin');
    for (const r of m.rows) encoder.add(parse(r));
    const encoded = encoder.take();
    const transfer = [...encoded.rows, ...encoded.details, ...encoded.problems].map((b) => b.buffer as ArrayBuffer);
    parentPort!.postMessage({ type: 'encoded', seq: m.seq, encoded } satisfies FromWorker, [...new Set(transfer)]);
  } catch (err) {
    parentPort!.postMessage({ type: 'failed', seq: m.seq, message: err instanceof Error ? err.message : String(err) } satisfies FromWorker);
  }
});
