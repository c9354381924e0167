/**
 * npm run bench:parse [-- --rows N]
 *
 * The CPU side of ingest alone: reads a synthetic settlement CSV, parses,
 * normalises and encodes every row for COPY, and throws the bytes away. Reports
 * rows per second for tokenizing alone and for the whole path, so a change to a
 * normaliser or to the encoder can be measured without the database's noise.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeSettlementCsv } from '../tools/demo/generate.js';
import { csvReader } from '../src/ingest/read/csv.js';
import { loadMapping, sourceProfile } from '../src/ingest/mapping.js';
import { classifyRow, headerShape, mapColumns } from '../src/ingest/layout.js';
import { createRowParser } from '../src/ingest/row-parser.js';
import { RowEncoder } from '../src/ingest/load.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const i = process.argv.indexOf('--rows');
const rows = i > 0 ? Number(process.argv[i + 1]) : 300_000;
const dir = join(root, 'bench', 'out');
mkdirSync(dir, { recursive: true });
const file = join(dir, 'parse-bench.csv');
await writeSettlementCsv(file, rows, 11);
const mapping = loadMapping();

async function pass(full: boolean): Promise<number> {
  const t0 = performance.now();
  let parse: ReturnType<typeof createRowParser> | undefined;
  let header: ReturnType<typeof headerShape> | undefined;
  let encoder = new RowEncoder(1);
  let n = 0;
  for await (const chunk of csvReader(file, { encoding: 'utf-8', delimiter: ',' }).chunks()) {
    for (const r of chunk) {
      if (!parse) {
        const { columnMap, sums, ranges } = mapColumns(r.cells, sourceProfile(mapping, 'settlement'));
        parse = createRowParser({ source: 'settlement', profile: 'settlement', mapping, headers: r.cells, columnMap, sums, ranges });
        header = headerShape(r.cells);
        continue;
      }
      n++;
      if (!full || classifyRow(r.cells, header!, mapping.footerPrefixes) !== 'data') continue;
      encoder.add(parse(r));
      if (n % 1000 === 0) encoder.take();
    }
  }
  encoder.take();
  return n / ((performance.now() - t0) / 1000);
}

const tokenize = Math.max(await pass(false), await pass(false));
const whole = Math.max(await pass(true), await pass(true));
console.log(`${rows.toLocaleString('en')} rows: tokenize ${Math.round(tokenize).toLocaleString('en')} rows/s; tokenize+parse+encode ${Math.round(whole).toLocaleString('en')} rows/s (${(1e6 / whole).toFixed(1)} µs/row)`);
rmSync(file);
