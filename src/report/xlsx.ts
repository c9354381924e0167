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

/** Landscape, as wide as one page, as many pages long as it takes. */
export function printSetup(ws: ExcelJS.Worksheet): void {
  const p = ws.pageSetup;
  p.paperSize = 9; // A4
  p.orientation = 'landscape';
  p.fitToPage = true;
  p.fitToWidth = 1;
  p.fitToHeight = 0;
}

export function newWorkbook(createdAt: Date): ExcelJS.Workbook {
  const wb = new ExcelJS.Workbook();
  wb.creator = 'aidlink';
  wb.lastModifiedBy = 'aidlink';
  wb.created = createdAt;
  wb.modified = createdAt;
  return wb;
}
