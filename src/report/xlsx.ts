/**
 * XLSX cells and sheets, the one place that decides what type a cell gets and how a list
 * prints: the township reports (formats.ts) and the worklist export (outreach/worklist-export.ts).
 * Every text value is a plain string cell in text format, never a formula or rich text, so
 * `=HYPERLINK(…)` in a name is just a name; money is yuan as numbers staff can sum.
 */
import ExcelJS from 'exceljs';

const MONEY_FORMAT = '#,##0.00';
/** Excel's "text" format: what staff type into the cell later stays text too */
const TEXT_FORMAT = '@';
/** the most characters an Excel cell holds */
const MAX_CELL_CHARS = 32_767;

export type Out =
  | { kind: 'text'; value: string | null }
  | { kind: 'number'; value: number | null }
  | { kind: 'money'; fen: number | null };

export const text = (value: string | null): Out => ({ kind: 'text', value });
export const num = (value: number | null): Out => ({ kind: 'number', value });
export const money = (fen: number | null): Out => ({ kind: 'money', fen });

/** A JS string is written as a plain string cell: never a formula, whatever it starts with. */
export function putCell(cell: ExcelJS.Cell, out: Out): void {
  switch (out.kind) {
    case 'text':
      cell.value = out.value === null || out.value === '' ? null : out.value.slice(0, MAX_CELL_CHARS);
      cell.numFmt = TEXT_FORMAT;
      break;
    case 'number':
      cell.value = out.value;
      break;
    case 'money':
      // fen to yuan only here, at the edge; sums are taken in fen before this
      cell.value = out.fen === null ? null : out.fen / 100;
      cell.numFmt = MONEY_FORMAT;
      break;
  }
}

export function putRow(ws: ExcelJS.Worksheet, rowNo: number, cells: readonly Out[]): ExcelJS.Row {
  const row = ws.getRow(rowNo);
  cells.forEach((out, i) => putCell(row.getCell(i + 1), out));
  return row;
}

export function headerRow(ws: ExcelJS.Worksheet, rowNo: number, labels: readonly string[]): void {
  const row = putRow(ws, rowNo, labels.map(text));
  row.font = { bold: true };
  row.eachCell((cell) => {
    cell.fill = { type: 'pattern', pattern: 'solid', fgColor: { argb: 'FFE7EEF7' } };
    cell.border = { bottom: { style: 'thin' } };
  });
}

/** Frozen header with a filter on it, repeated on every printed page. */
export function tableHeader(ws: ExcelJS.Worksheet, rowNo: number, columns: readonly { label: string; width: number }[]): void {
  headerRow(ws, rowNo, columns.map((c) => c.label));
  columns.forEach((c, i) => (ws.getColumn(i + 1).width = c.width));
  ws.views = [{ state: 'frozen', xSplit: 0, ySplit: rowNo }];
  ws.autoFilter = { from: { row: rowNo, column: 1 }, to: { row: rowNo, column: columns.length } };
  ws.pageSetup.printTitlesRow = `${rowNo}:${rowNo}`;
}

/** A header/footer text is a code string: a literal & is written &&. */
const headerText = (s: string) => s.replace(/&/g, '&&');

/**
 * Landscape A4, as wide as one page, as many pages long as it takes, page numbers in the
 * footer; with a title, the title heads every printed page.
 */
export function printSetup(ws: ExcelJS.Worksheet, title?: string): void {
  const p = ws.pageSetup;
  p.paperSize = 9; // A4
  p.orientation = 'landscape';
  p.fitToPage = true;
  p.fitToWidth = 1;
  p.fitToHeight = 0;
  p.horizontalCentered = true;
  p.margins = { left: 0.4, right: 0.4, top: 0.6, bottom: 0.6, header: 0.25, footer: 0.25 };
  // Excel keeps at most 255 characters of a header
  if (title !== undefined) ws.headerFooter.oddHeader = `&C${headerText(title.slice(0, 200))}`;
  ws.headerFooter.oddFooter = '&C第 &P 页 共 &N 页';
}

// ---------------------------------------------------------------------------
// The printed list a township office works from (issue 19): at most ten columns at a
// readable size on A4 landscape, a title, the header on every page, page numbers. The
// full detail stays on a sheet of its own; this is the sheet to print.

/** Columns a printed list may have: more and A4 landscape shrinks the text below 10 pt. */
export const PRINT_MAX_COLUMNS = 10;
/** Text size of the printed list, in points. */
export const PRINT_FONT_SIZE = 11;
/**
 * Width units that fit A4 landscape between the margins unshrunk, so the text prints at
 * PRINT_FONT_SIZE. A unit is the width of a digit of the workbook's font: about 1.9 mm in
 * Excel with Calibri, 2.5 mm in LibreOffice without it; this is the narrower page of the two.
 * A list wider than this (long villages and names) is shrunk to fit, a wider one of up to
 * PRINT_PAGE_WIDTH × PRINT_FONT_SIZE / 10 still at 10 pt or more.
 */
export const PRINT_PAGE_WIDTH = 105;
/** points a wrapped line of PRINT_FONT_SIZE text takes (CJK glyphs need more than Latin ones) */
const PRINT_LINE = 14.5;

export interface PrintColumn {
  label: string;
  /** the narrowest and widest the column may be (width units); it fits its text between them, wrapping beyond max */
  min: number;
  max: number;
  /** takes what the page has left (备注, written on by hand) */
  fill?: boolean;
  align?: 'left' | 'center' | 'right';
}

export interface PrintList {
  /** the first line, and the header of every printed page */
  title: string;
  /** lines under the title: the period, the date made, the count */
  lines: readonly string[];
  columns: readonly PrintColumn[];
  rows: readonly (readonly Out[])[];
  total?: readonly Out[];
}

// a CJK or full-width character is about two width units at the same size
const WIDE = /[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]/u;

/** How wide a text prints, in width units: 2.1 for a CJK character, 1 for anything else. */
export function textWidth(s: string): number {
  let w = 0;
  for (const ch of s) w += WIDE.test(ch) || ch.codePointAt(0)! > 0xffff ? 2.1 : 1;
  return w;
}

function shownText(out: Out): string {
  switch (out.kind) {
    case 'text':
      return out.value ?? '';
    case 'number':
      return out.value === null ? '' : String(out.value);
    case 'money':
      return out.fen === null ? '' : (out.fen / 100).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  }
}

const longestLine = (s: string) => Math.max(...s.split('\n').map(textWidth));

/** Each column as wide as its widest text (header included) within its bounds; a fill column gets the rest of the page. */
export function printWidths(columns: readonly PrintColumn[], rows: readonly (readonly Out[])[]): number[] {
  const widths = columns.map((c, i) => {
    const widest = Math.max(textWidth(c.label), ...rows.map((r) => (r[i] ? longestLine(shownText(r[i])) : 0)));
    return Math.min(c.max, Math.max(c.min, Math.ceil(widest + 2)));
  });
  const rest = PRINT_PAGE_WIDTH - widths.reduce((s, w, i) => s + (columns[i]!.fill ? 0 : w), 0);
  return widths.map((w, i) => (columns[i]!.fill ? Math.max(columns[i]!.min, Math.min(columns[i]!.max, rest)) : w));
}

/**
 * Lines a text takes in a column of this width. Row heights are set from this, not left to
 * the program: LibreOffice keeps a written sheet's default height and wrapped lines overlap.
 */
export function linesIn(s: string, width: number): number {
  return s.split('\n').reduce((n, part) => n + Math.max(1, Math.ceil(textWidth(part) / Math.max(1, width - 1.5))), 0);
}

function fitHeight(row: ExcelJS.Row, cells: readonly Out[], widths: readonly number[]): void {
  const lines = Math.max(1, ...cells.map((c, i) => linesIn(shownText(c), widths[i] ?? 10)));
  row.height = lines * PRINT_LINE + 4;
}

const THIN: Partial<ExcelJS.Borders> = {
  top: { style: 'thin' }, left: { style: 'thin' }, bottom: { style: 'thin' }, right: { style: 'thin' },
};

/** A sheet that prints as a list: title and lines, a bordered table whose header repeats on every page. */
export function printListSheet(wb: ExcelJS.Workbook, name: string, list: PrintList): ExcelJS.Worksheet {
  const n = list.columns.length;
  if (n > PRINT_MAX_COLUMNS) throw new Error(`a printed list has at most ${PRINT_MAX_COLUMNS} columns, not ${n}`);
  const ws = wb.addWorksheet(name);
  const widths = printWidths(list.columns, list.total ? [...list.rows, list.total] : list.rows);
  widths.forEach((w, i) => {
    const col = ws.getColumn(i + 1);
    col.width = w;
    // a column with a style of its own keeps its width: exceljs drops a plain width of 9 as its default
    col.font = { size: PRINT_FONT_SIZE };
  });

  // the title centred across the table's width (not merged: a merged cell is no plain cell);
  // the lines under it run on into the empty cells to their right
  const block = [list.title, ...list.lines];
  block.forEach((line, i) => {
    const row = putRow(ws, i + 1, [text(line)]);
    for (let c = 1; c <= (i === 0 ? n : 1); c++) {
      const cell = row.getCell(c);
      cell.font = i === 0 ? { bold: true, size: 16 } : { size: PRINT_FONT_SIZE };
      cell.alignment = { horizontal: i === 0 ? 'centerContinuous' : 'left', vertical: 'middle' };
    }
    if (i === 0) row.height = 30;
  });

  const header = block.length + 1;
  const labels = list.columns.map((c) => text(c.label));
  const head = putRow(ws, header, labels);
  fitHeight(head, labels, widths);
  head.font = { bold: true, size: PRINT_FONT_SIZE };
  head.eachCell((cell) => {
    cell.border = THIN;
    cell.fill = { type: 'pattern', pattern: 'solid', fgColor: { argb: 'FFE7EEF7' } };
    cell.alignment = { horizontal: 'center', vertical: 'middle', wrapText: true };
  });

  const body = list.total ? [...list.rows, list.total] : list.rows;
  body.forEach((cells, r) => {
    const row = putRow(ws, header + 1 + r, cells);
    fitHeight(row, cells, widths);
    const isTotal = list.total !== undefined && r === list.rows.length;
    // every cell of the table, empty ones too, gets its border: a blank 备注 is a box to write in
    for (let c = 1; c <= n; c++) {
      const cell = row.getCell(c);
      cell.border = THIN;
      cell.font = { size: PRINT_FONT_SIZE, bold: isTotal };
      cell.alignment = { horizontal: list.columns[c - 1]!.align ?? 'left', vertical: 'middle', wrapText: true };
    }
  });

  printSetup(ws, list.title);
  ws.pageSetup.printTitlesRow = `${header}:${header}`;
  ws.views = [{ state: 'frozen', xSplit: 0, ySplit: header }];
  return ws;
}

/** 男 or 女 from an id number's sequence digit (the 17th of 18, the last of 15), which masking keeps; '' when unknown. */
export function genderOfId(id: string | null): string {
  const s = id?.trim() ?? '';
  const d = s.length === 18 ? s[16] : s.length === 15 ? s[14] : undefined;
  if (d === undefined || !/[0-9]/.test(d)) return '';
  return Number(d) % 2 === 1 ? '男' : '女';
}

/** 2026-11-22 → 2026年11月22日 */
export const chineseDate = (iso: string): string => `${iso.slice(0, 4)}年${Number(iso.slice(5, 7))}月${Number(iso.slice(8, 10))}日`;

export function newWorkbook(createdAt: Date): ExcelJS.Workbook {
  const wb = new ExcelJS.Workbook();
  wb.creator = 'aidlink';
  wb.lastModifiedBy = 'aidlink';
  wb.created = createdAt;
  wb.modified = createdAt;
  return wb;
}
