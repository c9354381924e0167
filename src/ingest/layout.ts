/**
 * Where the table is in a sheet (spec §3): title lines above, the header row (the
 * first row with at least three recognised column names), the data, and footer
 * lines after it (合计:1234人, 制表人:, blank lines), which are not data.
 */
import type { SourceKey } from '../db/schema.js';
import type { Mapping } from './mapping.js';
import { file as fileProblem, type Problem } from './problems.js';
import type { SheetRow } from './read/rows.js';
import { REQUIRED_COLUMNS, SOURCES, type AnyField } from './sources.js';
import { cleanText, labelKey, toHalfWidth, removeSpaces } from './normalise/text.js';

export const MIN_RECOGNISED = 3;
/** The header is looked for in this many rows at the top of the sheet. */
export const HEADER_SEARCH_ROWS = 50;

export function recognisedCount(cells: readonly string[], mapping: Mapping, source: SourceKey): number {
  const columns = mapping.columns[source];
  let n = 0;
  for (const c of cells) if (c && columns.has(labelKey(c))) n++;
  return n;
}

export interface HeaderHit {
  source: SourceKey;
  /** index into the rows searched */
  index: number;
  recognised: number;
}

/**
 * The header row among the top rows. Without a known source, every source's
 * names are tried and the one recognising most columns wins; a tie is ambiguous.
 */
export function findHeader(rows: readonly SheetRow[], mapping: Mapping, source?: SourceKey): HeaderHit | 'ambiguous' | undefined {
  const candidates = source ? [source] : SOURCES;
  for (let i = 0; i < rows.length && i < HEADER_SEARCH_ROWS; i++) {
    const scored = candidates
      .map((s) => ({ source: s, index: i, recognised: recognisedCount(rows[i]!.cells, mapping, s) }))
      .filter((h) => h.recognised >= MIN_RECOGNISED)
      .sort((a, b) => b.recognised - a.recognised);
    if (scored.length === 0) continue;
    if (scored.length > 1 && scored[0]!.recognised === scored[1]!.recognised) return 'ambiguous';
    return scored[0];
  }
  return undefined;
}

export interface ColumnMapping {
  columnMap: Partial<Record<AnyField, number>>;
  missing: { field: AnyField; aliases: readonly string[] }[];
  problems: Problem[];
}

export function mapColumns(headers: readonly string[], mapping: Mapping, source: SourceKey): ColumnMapping {
  const columnMap: Partial<Record<AnyField, number>> = {};
  const problems: Problem[] = [];
  headers.forEach((h, i) => {
    const field = mapping.columns[source].get(labelKey(h));
    if (!field) return; // unknown columns stay in the raw row and are otherwise ignored
    const used = columnMap[field];
    if (used === undefined) columnMap[field] = i;
    else problems.push(fileProblem.duplicateColumn(field, h, headers[used]!));
  });
  const missing = (REQUIRED_COLUMNS[source] as readonly AnyField[])
    .filter((f) => columnMap[f] === undefined)
    .map((f) => ({ field: f, aliases: mapping.aliases[source][f] ?? [] }));
  return { columnMap, missing, problems };
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
