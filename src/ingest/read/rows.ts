/** What every reader produces: rows of text cells, numbered as a person sees them. */

export interface SheetRow {
  /** 1-based: the line number in a text editor (CSV) or the row number Excel shows (XLSX). */
  rowNo: number;
  cells: string[];
  /** XLSX only: indexes of cells stored as numbers (an id number stored so has lost digits). */
  numeric?: ReadonlySet<number>;
}

/**
 * Whole records of a file as text, not yet split into cells, and the editor line of the
 * first: what ingest hands a parse worker, which tokenizes them itself (a string is
 * copied to a worker in one piece; rows of cells would be cloned cell by cell).
 */
export interface TextBlock {
  text: string;
  firstLine: number;
  /** records in the block */
  records: number;
}

export interface SheetReader {
  readonly format: 'csv' | 'xlsx';
  readonly encoding: string | null;
  readonly delimiter: string | null;
  readonly sheet: string | null;
  /**
   * Rows in order, in chunks; the reader holds at most one chunk and one read buffer.
   * `maxRows`: stop after that many, reading no more of the file than they need (the header search).
   */
  chunks(maxRows?: number): AsyncIterable<SheetRow[]>;
  /** CSV only: the same records as text blocks, for a parse worker to tokenize (read/csv.ts). */
  blocks?(maxRecords: number): AsyncIterable<TextBlock>;
}

export class UnreadableFileError extends Error {
  override name = 'UnreadableFileError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}
