/**
 * `aidlink profile check`: what ingest would make of one file, without ingesting it.
 * Which format profile reads it, how each column maps, the as-of date, and the first
 * problems of its first rows. It reads the file and the mapping only: no database.
 *
 * Everything here is data for a deployment engineer writing a profile; it quotes
 * headers and problem messages, which never hold personal data (problems.ts), and
 * never a cell of a data row.
 */
import { stat } from 'node:fs/promises';
import type { AsOfOrigin, SourceKey } from '../db/schema.js';
import { dateFromFileName, dateFromTitle, resolveAsOf } from './as-of.js';
import { deliveryName, findTable, IngestError, sourceFromPath } from './ingest.js';
import { classifyRow, headerShape, mapColumns, type ColumnMapping } from './layout.js';
import type { Mapping, Profile } from './mapping.js';
import { labelKey } from './normalise/text.js';
import { file as fileProblem, row as rowProblem, type Problem } from './problems.js';
import { inspectFile } from './read/inspect.js';
import { UnreadableFileError, type SheetReader } from './read/rows.js';
import { createRowParser } from './row-parser.js';
import { FIELD_LABEL, type AnyField } from './sources.js';

export const DEFAULT_SAMPLE_ROWS = 200;
export const DEFAULT_MAX_PROBLEMS = 10;

export interface CheckOptions {
  /** the source, when the folder (`inbox/<source>/`) does not say it: narrows the profiles tried */
  source?: SourceKey | undefined;
  /** the as-of date whoever delivers the file would give (`--as-of`) */
  asOf?: string | undefined;
  /** the inbox root the file's delivery name is relative to */
  inboxRoot?: string | undefined;
  /** data rows parsed (default 200) */
  sampleRows?: number | undefined;
  /** problems listed (default 10); all are counted */
  maxProblems?: number | undefined;
}

export interface CheckedProfile {
  name: string;
  title: string;
  source: SourceKey;
  stream: string;
  /** the mapping file that defines it */
  file: string;
  isDefault: boolean;
}

/**
 * One header cell: the field it is read as (`field`), one of the columns an amount is
 * the sum of (`sum`), a second column for a field already read from another
 * (`duplicate`), or ignored (`unused`: kept in the raw row only).
 */
export interface CheckedColumn {
  /** 1-based, as a spreadsheet counts */
  column: number;
  header: string;
  use: 'field' | 'sum' | 'range' | 'duplicate' | 'unused';
  field: AnyField | null;
  /** the field's Chinese name (FIELD_LABEL) */
  label: string | null;
  /** sum: the other columns added to it; duplicate: the column read instead; range: none (`field` starts it, `rangeTo` ends it) */
  others: { column: number; header: string }[];
  /** range: the field its second date is */
  rangeTo?: AnyField;
}

export interface CheckSample {
  /** at most this many data rows were parsed */
  limit: number;
  /** data rows parsed (title, header, blank and footer lines are not rows) */
  rows: number;
  usable: number;
  rejected: number;
  /** rows with at least one warning */
  withWarnings: number;
  /** whether the file ended within the sample */
  endOfFile: boolean;
  /** every problem of the sample, by code */
  counts: { code: string; severity: Problem['severity']; count: number }[];
  /** the first problems, in row order */
  problems: Problem[];
}

export interface CheckResult {
  /** the delivery name ingest would store (`civil/救助对象名单_20260331.csv`) */
  file: string;
  sizeBytes: number;
  format: 'csv' | 'xlsx' | null;
  /** text files: utf-8 or gb18030 (which reads GBK) */
  encoding: string | null;
  bom: boolean;
  delimiter: string | null;
  sheet: string | null;
  source: SourceKey | null;
  profile: CheckedProfile | null;
  headerRowNo: number | null;
  columns: CheckedColumn[];
  /** required fields without their column (the file is rejected) */
  missing: { field: AnyField; label: string; aliases: string[] }[];
  asOf: { date: string; origin: AsOfOrigin } | null;
  /** why ingest would reject the file, as it would store it; null when it would take it */
  rejection: Problem | null;
  wouldIngest: boolean;
  /** notes ingest would keep on the delivery: columns absent, a duplicated column, an as-of disagreement */
  notes: Problem[];
  /** the first data rows parsed; null when no table was found */
  sample: CheckSample | null;
}

function describeProfile(p: Profile): CheckedProfile {
  return { name: p.name, title: p.title, source: p.source, stream: p.stream, file: p.file, isDefault: p.isDefault };
}

/** How each header cell reads under the profile (mapColumns' result, per column). */
function describeColumns(headers: readonly string[], profile: Profile, m: Pick<ColumnMapping, 'columnMap' | 'sums' | 'ranges'>): CheckedColumn[] {
  const fieldAt = new Map<number, AnyField>();
  for (const [f, i] of Object.entries(m.columnMap) as [AnyField, number][]) fieldAt.set(i, f);
  const other = (j: number) => ({ column: j + 1, header: headers[j] ?? '' });
  return headers.map((header, i): CheckedColumn => {
    const base = { column: i + 1, header };
    const field = fieldAt.get(i);
    if (field) return { ...base, use: 'field', field, label: FIELD_LABEL[field], others: [] };
    for (const [f, idx] of Object.entries(m.sums) as [AnyField, number[]][]) {
      if (idx.includes(i)) return { ...base, use: 'sum', field: f, label: FIELD_LABEL[f], others: idx.filter((j) => j !== i).map(other) };
    }
    const from = (Object.entries(m.ranges) as [AnyField, { index: number; part: 'from' | 'to' }][]).find(([, r]) => r.index === i && r.part === 'from')?.[0];
    const to = (Object.entries(m.ranges) as [AnyField, { index: number; part: 'from' | 'to' }][]).find(([, r]) => r.index === i && r.part === 'to')?.[0];
    if (from && to) return { ...base, use: 'range', field: from, label: FIELD_LABEL[from], others: [], rangeTo: to };
    const named = header.trim() === '' ? undefined : profile.columns.get(labelKey(header));
    const used = named === undefined ? undefined : m.columnMap[named];
    if (named && used !== undefined) return { ...base, use: 'duplicate', field: named, label: FIELD_LABEL[named], others: [other(used)] };
    return { ...base, use: 'unused', field: null, label: null, others: [] };
  });
}

interface SampleInput {
  mapping: Mapping;
  reader: SheetReader;
  source: SourceKey;
  profile: Profile;
  headerRowNo: number;
  headers: string[];
  columnMap: ColumnMapping['columnMap'];
  sums: ColumnMapping['sums'];
  ranges: ColumnMapping['ranges'];
}

/** Parses the first data rows as ingest would (in this thread), counting what it finds. */
async function sampleRows(t: SampleInput, limit: number, maxProblems: number): Promise<{ sample: CheckSample; unreadable: Problem | null }> {
  const parse = createRowParser({ source: t.source, profile: t.profile.name, mapping: t.mapping, headers: t.headers, columnMap: t.columnMap, sums: t.sums, ranges: t.ranges });
  const header = headerShape(t.headers);
  const sample: CheckSample = { limit, rows: 0, usable: 0, rejected: 0, withWarnings: 0, endOfFile: true, counts: [], problems: [] };
  const counts = new Map<string, CheckSample['counts'][number]>();
  const seen = new Map<string, number>(); // a row's cells → the first row that had them
  const note = (p: Problem) => {
    const key = `${p.severity}:${p.code}`;
    const c = counts.get(key);
    if (c) c.count++;
    else counts.set(key, { code: p.code, severity: p.severity, count: 1 });
    if (sample.problems.length < maxProblems) sample.problems.push(p);
  };
  let unreadable: Problem | null = null;
  try {
    outer: for await (const chunk of t.reader.chunks()) {
      for (const r of chunk) {
        if (r.rowNo <= t.headerRowNo) continue;
        const kind = classifyRow(r.cells, header, t.mapping.footerPrefixes);
        if (kind === 'blank' || kind === 'footer') continue;
        if (kind === 'header') {
          note(fileProblem.repeatedHeader(r.rowNo));
          continue;
        }
        if (sample.rows >= limit) {
          sample.endOfFile = false;
          break outer;
        }
        const parsed = parse(r);
        const problems = [...parsed.problems];
        // the same row twice (finalised in the database on ingest): the later one is flagged
        const key = r.cells.join('\u001f');
        const first = seen.get(key);
        if (first === undefined) seen.set(key, r.rowNo);
        else problems.push(rowProblem.duplicate(r.rowNo, first));
        sample.rows++;
        if (parsed.rejected) sample.rejected++;
        if (problems.some((p) => p.severity === 'warning')) sample.withWarnings++;
        for (const p of problems) note(p);
      }
    }
  } catch (err) {
    if (!(err instanceof UnreadableFileError)) throw err;
    // damaged below its header: ingest rejects the whole file when it gets there
    unreadable = fileProblem.unreadable(err.code, err.message);
  }
  sample.usable = sample.rows - sample.rejected;
  sample.counts = [...counts.values()].sort((a, b) => b.count - a.count || a.code.localeCompare(b.code));
  return { sample, unreadable };
}

/**
 * What ingest would make of the file at `path`: its profile, header, columns, as-of
 * date and the problems of its first rows; and whether it would be taken or rejected,
 * with the message ingest would store. Reads the file only; writes nothing.
 */
export async function checkFile(mapping: Mapping, path: string, opts: CheckOptions = {}): Promise<CheckResult> {
  const st = await stat(path).catch(() => undefined);
  if (!st?.isFile()) throw new IngestError(`不是文件：${path}`);
  const limit = opts.sampleRows ?? DEFAULT_SAMPLE_ROWS;
  const maxProblems = opts.maxProblems ?? DEFAULT_MAX_PROBLEMS;
  // as ingest finds them (ingestFile, peekDelivery)
  const hint = opts.source ?? sourceFromPath(deliveryName(path, opts.inboxRoot, undefined));
  const inspection = await inspectFile(path);
  const kind = inspection.kind;
  const found = await findTable(path, kind, mapping, hint, undefined);

  const result: CheckResult = {
    file: deliveryName(path, opts.inboxRoot, found.ok ? found.table.source : found.source),
    sizeBytes: inspection.size,
    format: kind.format === 'unsupported' ? null : kind.format,
    encoding: kind.format === 'csv' ? kind.encoding : null,
    bom: kind.format === 'csv' && kind.bom,
    delimiter: null,
    sheet: null,
    source: found.ok ? found.table.source : (found.source ?? null),
    profile: null,
    headerRowNo: null,
    columns: [],
    missing: [],
    asOf: null,
    rejection: null,
    wouldIngest: false,
    notes: [],
    sample: null,
  };

  if (!found.ok) {
    result.rejection = found.problem;
    const reader = found.reader;
    if (reader) {
      result.delimiter = reader.delimiter;
      result.sheet = reader.sheet;
      // a required column is missing: how the header found reads under its profile
      const h = found.header;
      if (h) {
        const columns = mapColumns(h.headers, h.profile);
        result.profile = describeProfile(h.profile);
        result.headerRowNo = h.headerRowNo;
        result.columns = describeColumns(h.headers, h.profile, columns);
        result.missing = columns.missing.map((m) => ({ field: m.field, label: FIELD_LABEL[m.field], aliases: [...m.aliases] }));
        result.notes = columns.problems;
      }
    }
    return result;
  }

  const t = found.table;
  result.delimiter = t.reader.delimiter;
  result.sheet = t.reader.sheet;
  result.profile = describeProfile(t.profile);
  result.headerRowNo = t.headerRowNo;
  result.columns = describeColumns(t.headers, t.profile, t);
  result.notes = [...t.warnings];

  const asOf = resolveAsOf({ title: dateFromTitle(t.titleLines, mapping.titleDateKeywords), fileName: dateFromFileName(path), argument: opts.asOf });
  if (asOf.ok) {
    result.asOf = { date: asOf.asOf, origin: asOf.origin };
    result.notes.push(...asOf.problems);
  } else {
    result.rejection = asOf.problem;
  }

  const { sample, unreadable } = await sampleRows({ mapping, ...t }, limit, maxProblems);
  result.sample = sample;
  if (unreadable) {
    if (result.rejection) result.notes.push(unreadable);
    else result.rejection = unreadable;
  }
  result.wouldIngest = result.rejection === null;
  return result;
}
