/**
 * What the file writers share: cells and a row-by-row writer that knows the row
 * number a person will see (the editor line for CSV, the Excel row for XLSX).
 */

/** A number in a spreadsheet cell; `date` formats it as a date (XLSX only). */
export interface NumberCell {
  readonly n: number;
  readonly date?: boolean;
}

/** Text, or (XLSX) a number; CSV writes a number as its text. */
export type Cell = string | NumberCell;

export interface RowOptions {
  /** XLSX: merge the first cell across this many columns (a title over the table) */
  readonly mergeAcross?: number;
}

export interface SheetWriter {
  /** 1-based number of the next row to be written */
  readonly nextRow: number;
  writeRow(cells: readonly Cell[], options?: RowOptions): Promise<void>;
  /** leaves one row empty */
  blankRow(): Promise<void>;
  close(): Promise<void>;
}

export function cellText(cell: Cell): string {
  return typeof cell === 'string' ? cell : String(cell.n);
}
