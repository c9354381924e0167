/**
 * Where the table is in a sheet (spec §3): title lines above, the header row (the
 * first row with at least three recognised column names), the data, and footer
 * lines after it (合计:1234人, 制表人:, blank lines), which are not data.
 */
import type { SourceKey } from '../db/schema.js';
import type { Mapping, Profile } from './mapping.js';
import { file as fileProblem, type Problem } from './problems.js';
import type { SheetRow } from './read/rows.js';
import { ABSENT_COLUMN_NOTE, FIELDS, type AnyField } from './sources.js';
import { cleanText, labelKey, toHalfWidth, removeSpaces } from './normalise/text.js';

export const MIN_RECOGNISED = 3;
/** The header is looked for in this many rows at the top of the sheet. */
export const HEADER_SEARCH_ROWS = 50;

/** How many of a row's cells are column names the profile knows (a sum's columns included). */
export function recognisedCount(cells: readonly string[], profile: Profile): number {
  let n = 0;
  for (const c of cells) {
    if (!c) continue;
    const key = labelKey(c);
    if (profile.columns.has(key) || Object.values(profile.sums).some((keys) => keys.includes(key)) || profile.ranges.some((r) => r.keys.includes(key))) n++;
  }
  return n;
}

/** Whether every required field of the profile has its column (or one of its sum's columns) in the row. */
function hasRequired(cells: readonly string[], profile: Profile): boolean {
  const keys = new Set(cells.map(labelKey));
  return profile.required.every((f) => {
    const sum = profile.sums[f];
    if (sum) return sum.some((k) => keys.has(k));
    const range = profile.ranges.find((r) => r.from === f || r.to === f);
    if (range) return range.keys.some((k) => keys.has(k));
    return (profile.aliases[f] ?? []).some((a) => keys.has(labelKey(a)));
  });
}

export interface HeaderHit {
  profile: Profile;
  /** index into the rows searched */
  index: number;
  recognised: number;
}

/** Why no header was found: the profiles that came closest, or several that fit equally. */
export type HeaderMiss =
  | { kind: 'ambiguous'; profiles: Profile[] }
  | { kind: 'not_found'; closest: { profile: Profile; rowNo: number; cells: string[]; recognised: number } | undefined };

/** The profiles that may read a file: of its source when that is known, and whose file names fit. */
export function profilesFor(mapping: Mapping, source: SourceKey | undefined, fileName: string): Profile[] {
  return mapping.profiles.filter((p) => (!source || p.source === source) && (!p.fileNames || p.fileNames.some((r) => r.test(fileName))));
}

/**
 * The header row among the top rows and the profile that reads it: the first row that
 * some profile recognises at least three columns of. There the best ranked profile
 * reads it (rank); a tie is ambiguous.
 */
export function findHeader(rows: readonly SheetRow[], profiles: readonly Profile[]): HeaderHit | HeaderMiss {
  let closest: Extract<HeaderMiss, { kind: 'not_found' }>['closest'];
  for (let i = 0; i < rows.length && i < HEADER_SEARCH_ROWS; i++) {
    const cells = rows[i]!.cells;
    const scored = profiles
      .map((profile) => ({ profile, index: i, recognised: recognisedCount(cells, profile), complete: hasRequired(cells, profile) }))
      .sort((a, b) => rank(b) - rank(a));
    const top = scored[0];
    if (!top) break;
    if (top.recognised > 0 && (!closest || top.recognised > closest.recognised)) {
      closest = { profile: top.profile, rowNo: rows[i]!.rowNo, cells: cells.filter((c) => c.trim() !== ''), recognised: top.recognised };
    }
    if (top.recognised < MIN_RECOGNISED) continue;
    const tied = scored.filter((h) => rank(h) === rank(top));
    if (tied.length > 1) return { kind: 'ambiguous', profiles: tied.map((h) => h.profile) };
    return top;
  }
  return { kind: 'not_found', closest };
}

/**
 * Orders the profiles reading one row: complete first; then one the deployment chose for
 * this file by its name (file_names); then by columns recognised; then a deployment's.
 */
function rank(h: { profile: Profile; recognised: number; complete: boolean }): number {
  return (h.complete ? 1_000_000 : 0) + (h.profile.fileNames ? 100_000 : 0) + h.recognised * 10 + (h.profile.isDefault ? 0 : 1);
}

export interface ColumnMapping {
  columnMap: Partial<Record<AnyField, number>>;
  /** per amount field read as a sum: the indexes of its columns present */
  sums: Partial<Record<AnyField, number[]>>;
  /** per date field read from a column of two dates: that column's index, and which of its dates */
  ranges: Partial<Record<AnyField, { index: number; part: 'from' | 'to' }>>;
  missing: { field: AnyField; aliases: readonly string[] }[];
  /** notes for the delivery: columns the source's format has and this file lacks, and how they read */
  problems: Problem[];
}

export function mapColumns(headers: readonly string[], profile: Profile): ColumnMapping {
  const columnMap: Partial<Record<AnyField, number>> = {};
  const sums: Partial<Record<AnyField, number[]>> = {};
  const ranges: ColumnMapping['ranges'] = {};
  const problems: Problem[] = [];
  headers.forEach((h, i) => {
    const key = labelKey(h);
    const field = profile.columns.get(key);
    if (field) {
      const used = columnMap[field];
      if (used === undefined) columnMap[field] = i;
      else problems.push(fileProblem.duplicateColumn(field, h, headers[used]!));
      return;
    }
    for (const [f, keys] of Object.entries(profile.sums) as [AnyField, string[]][]) {
      if (keys.includes(key)) (sums[f] ??= []).push(i);
    }
    for (const r of profile.ranges) {
      if (!r.keys.includes(key) || ranges[r.from]) continue;
      ranges[r.from] = { index: i, part: 'from' };
      ranges[r.to] = { index: i, part: 'to' };
    }
    // unknown columns stay in the raw row and are otherwise ignored
  });
  const present = (f: AnyField) => columnMap[f] !== undefined || sums[f] !== undefined || ranges[f] !== undefined;
  const missing = profile.required
    .filter((f) => !present(f))
    .map((f) => ({
      field: f,
      aliases: profile.aliases[f] ?? (profile.sums[f] ? [profile.sums[f]!.join('+')] : profile.ranges.find((r) => r.from === f || r.to === f)?.keys ?? []),
    }));
  // how the rows read without a column the format may lack; a required one's absence rejects the file instead
  for (const [f, note] of Object.entries(ABSENT_COLUMN_NOTE) as [AnyField, string][]) {
    if ((FIELDS[profile.source] as readonly string[]).includes(f) && !present(f) && !profile.required.includes(f)) problems.push(fileProblem.absentColumn(f, note));
  }
  return { columnMap, sums, ranges, missing, problems };
}

export type RowKind = 'data' | 'blank' | 'footer' | 'header';

/** What a row after the header is: data, or something that is not (and is not counted). */
export function classifyRow(cells: readonly string[], header: HeaderShape, footerPrefixes: readonly string[]): RowKind {
  // a footer's non-empty cells all start with a footer word, so its first one does
  let first = -1;
  for (let i = 0; i < cells.length; i++) {
    if (cleanText(cells[i]) !== null) {
      first = i;
      break;
    }
  }
  if (first === -1) return 'blank';
  const firstText = removeSpaces(toHalfWidth(cells[first]!));
  if (footerPrefixes.some((p) => firstText.startsWith(p))) {
    const allFooter = cells.every((c, i) => {
      if (i <= first) return true;
      const t = removeSpaces(toHalfWidth(c));
      return t === '' || footerPrefixes.some((p) => t.startsWith(p));
    });
    if (allFooter) return 'footer';
  }
  // the header repeated further down (paged exports); compared in full only when its first cell matches
  if (first === header.firstIndex && labelKey(cells[first]!) === header.firstKey && rowKey(cells) === header.key) return 'header';
  return 'data';
}

/** What a repeated header row is recognised by. */
export interface HeaderShape {
  key: string;
  firstIndex: number;
  firstKey: string;
}

export function headerShape(headers: readonly string[]): HeaderShape {
  const firstIndex = headers.findIndex((h) => cleanText(h) !== null);
  return { key: rowKey(headers), firstIndex, firstKey: firstIndex === -1 ? '' : labelKey(headers[firstIndex]!) };
}

/** A row's comparison key, to recognise the header repeated further down. */
export function rowKey(cells: readonly string[]): string {
  return cells.map(labelKey).join('\u001f').replace(/\u001f+$/, '');
}
