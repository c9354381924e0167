/**
 * Re-reading generated files independently of the generator: a line-based CSV
 * reader (BOM, UTF-8 or GBK, comma or tab) and a minimal XLSX reader on exceljs.
 * Each row keeps the number a person sees (editor line, Excel row).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import ExcelJS from 'exceljs';
import iconv from 'iconv-lite';
import type { SourceKey } from '../../src/db/schema.js';
import { sourceProfile, type Mapping } from '../../src/ingest/mapping.js';
import { labelKey } from '../../src/ingest/normalise/text.js';
import type { AnyField } from '../../src/ingest/sources.js';

export interface ReadRow {
  row: number;
  cells: string[];
  /** XLSX: the cell held a number (not a date) */
  numeric: boolean[];
  /** XLSX: the cell held a date */
  date: boolean[];
}

export interface ReadSheet {
  format: 'csv' | 'xlsx';
  encoding: 'utf-8' | 'utf-8-bom' | 'gbk' | null;
  rows: ReadRow[];
}

export function decodeCsv(bytes: Buffer): { text: string; encoding: 'utf-8' | 'utf-8-bom' | 'gbk' } {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return { text: bytes.subarray(3).toString('utf8'), encoding: 'utf-8-bom' };
  try {
    return { text: new TextDecoder('utf-8', { fatal: true }).decode(bytes), encoding: 'utf-8' };
  } catch {
    return { text: iconv.decode(bytes, 'gbk'), encoding: 'gbk' };
  }
}

/** One CSV line into cells (RFC 4180 quotes; the generator never puts line breaks in cells). */
function splitLine(line: string, delimiter: string): string[] {
  const cells: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') (cell += '"'), i++;
      else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"' && cell === '') quoted = true;
    else if (c === delimiter) cells.push(cell), (cell = '');
    else cell += c;
  }
  cells.push(cell);
  return cells;
}

export function readCsv(path: string): ReadSheet {
  const { text, encoding } = decodeCsv(readFileSync(path));
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const clean = lines.map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  const delimiter = clean.some((l) => l.split('\t').length > 5) ? '\t' : ',';
  return {
    format: 'csv',
    encoding,
    rows: clean.map((l, i) => {
      const cells = l === '' ? [] : splitLine(l, delimiter);
      return { row: i + 1, cells, numeric: cells.map(() => false), date: cells.map(() => false) };
    }),
  };
}

export async function readXlsx(path: string): Promise<ReadSheet> {
  const wb = new ExcelJS.Workbook();
  await wb.xlsx.readFile(path);
  const ws = wb.worksheets[0];
  if (!ws) throw new Error(`${path}: no worksheet`);
  const rows: ReadRow[] = [];
  ws.eachRow({ includeEmpty: false }, (row, rowNumber) => {
    const cells: string[] = [];
    const numeric: boolean[] = [];
    const date: boolean[] = [];
    for (let c = 1; c <= row.cellCount; c++) {
      const v = row.getCell(c).value;
      // a merged title repeats its text in every merged cell: keep only the first
      const master = row.getCell(c).isMerged && row.getCell(c).master.address !== row.getCell(c).address;
      if (v instanceof Date) cells.push(v.toISOString().slice(0, 10));
      else if (v === null || v === undefined || master) cells.push('');
      else if (typeof v === 'object') cells.push(JSON.stringify(v));
      else cells.push(String(v));
      numeric.push(typeof v === 'number');
      date.push(v instanceof Date);
    }
    rows.push({ row: rowNumber, cells, numeric, date });
  });
  return { format: 'xlsx', encoding: null, rows };
}

export async function readSheet(path: string): Promise<ReadSheet> {
  return path.endsWith('.xlsx') ? readXlsx(path) : readCsv(path);
}

const FOOTER_PREFIXES = ['合计', '制表人', '制表日期'];

export interface Table {
  sheet: ReadSheet;
  header: ReadRow;
  /** field per column (undefined: not a recognised column) */
  fields: (AnyField | undefined)[];
  data: ReadRow[];
}

/** The table of a file: its header (the first row with ≥ 3 known column names) and its data rows. */
export function table(sheet: ReadSheet, mapping: Mapping, source: SourceKey): Table {
  const columns = sourceProfile(mapping, source).columns;
  const at = sheet.rows.findIndex((r) => r.cells.filter((c) => columns.has(labelKey(c))).length >= 3);
  if (at < 0) throw new Error('no header row');
  const header = sheet.rows[at]!;
  const data = sheet.rows.slice(at + 1).filter((r) => {
    const first = r.cells.find((c) => c.trim() !== '');
    return first !== undefined && !FOOTER_PREFIXES.some((p) => first.startsWith(p));
  });
  return { sheet, header, fields: header.cells.map((c) => columns.get(labelKey(c))), data };
}

/** A cell of a data row by field; undefined when the file has no such column. */
export function cellOf(t: Table, row: ReadRow, field: AnyField): string | undefined {
  const i = t.fields.indexOf(field);
  return i < 0 ? undefined : (row.cells[i] ?? '');
}

export async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else out.push(relative(dir, p).split('\\').join('/'));
    }
  };
  await walk(dir);
  return out.sort();
}

export async function hashTree(dir: string): Promise<Map<string, string>> {
  const hashes = new Map<string, string>();
  for (const f of await listFiles(dir)) hashes.set(f, createHash('sha256').update(readFileSync(join(dir, f))).digest('hex'));
  return hashes;
}

/** A truth CSV (the generator quotes nothing it writes there but names never hold commas). */
export function readTruthCsv(path: string): Record<string, string>[] {
  const [head, ...lines] = readFileSync(path, 'utf8').trim().split('\n');
  const cols = splitLine(head!, ',');
  return lines.map((l) => {
    const cells = splitLine(l, ',');
    return Object.fromEntries(cols.map((c, i) => [c, cells[i] ?? '']));
  });
}
