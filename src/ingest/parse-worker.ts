/**
 * A parse worker: receives the rows of one file at a time (text blocks of a CSV, rows of a
 * workbook), tokenizes, classifies, parses and encodes them
 * for COPY, and hands the bytes back without copying them (transfer). It never
 * touches the database and holds nothing between messages but the file's parser.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { loadMapping } from './mapping.js';
import type { ParsedInput } from './load.js';
import { createInputParser, type FromWorker, type SheetInput, type ToWorker } from './parse-pool.js';
import { UnreadableFileError } from './read/rows.js';

const mapping = loadMapping((workerData as { mappingFiles: string[] }).mappingFiles);
let parse: ((input: SheetInput) => ParsedInput) | undefined;

parentPort!.on('message', (m: ToWorker) => {
  if (m.type === 'begin') {
    parse = createInputParser(mapping, m.job);
    return;
  }
  try {
    if (!parse) throw new Error('parse worker: rows before begin');
    const encoded = parse(m.input);
    const transfer = [...encoded.rows, ...encoded.details, ...encoded.problems, ...encoded.notes].map((b) => b.buffer as ArrayBuffer);
    parentPort!.postMessage({ type: 'encoded', seq: m.seq, encoded } satisfies FromWorker, [...new Set(transfer)]);
  } catch (err) {
    const code = err instanceof UnreadableFileError ? err.code : undefined;
    parentPort!.postMessage({ type: 'failed', seq: m.seq, message: err instanceof Error ? err.message : String(err), code } satisfies FromWorker);
  }
});
