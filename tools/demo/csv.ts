/**
 * Streamed CSV files in the forms agencies send (spec §3): UTF-8 with or without
 * BOM, or GBK; LF or CRLF; comma- or tab-separated; RFC 4180 quoting where a cell
 * needs it. Memory holds one output buffer, whatever the file's size.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import iconv from 'iconv-lite';
import { cellText, type Cell, type SheetWriter } from './sheet.js';

export type CsvEncoding = 'utf-8' | 'utf-8-bom' | 'gbk';

export interface CsvFormat {
  readonly encoding: CsvEncoding;
  readonly eol: '\n' | '\r\n';
  readonly delimiter: ',' | '\t';
}

const FLUSH_CHARS = 1 << 16;
const UTF8_BOM = Buffer.from([0xef, 0xbb, 0xbf]);

const NEEDS_QUOTES = { ',': /[",\r\n]/, '\t': /["\t\r\n]/ } as const;

/** One CSV field: quoted when it holds the delimiter, a quote or a line break. */
export function csvField(text: string, delimiter: ',' | '\t' = ','): string {
  return NEEDS_QUOTES[delimiter].test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export class CsvWriter implements SheetWriter {
  private parts: string[] = [];
  private pending = 0;
  private failure: Error | undefined;
  private row = 1;

  private constructor(
    private readonly out: WriteStream,
    readonly format: CsvFormat,
  ) {
    out.on('error', (err) => (this.failure ??= err));
  }

  static async open(path: string, format: CsvFormat): Promise<CsvWriter> {
    const out = createWriteStream(path);
    await once(out, 'open');
    const writer = new CsvWriter(out, format);
    if (format.encoding === 'utf-8-bom') out.write(UTF8_BOM);
    return writer;
  }

  get nextRow(): number {
    return this.row;
  }

  async writeRow(cells: readonly Cell[]): Promise<void> {
    const d = this.format.delimiter;
    let line = '';
    for (let i = 0; i < cells.length; i++) {
      if (i > 0) line += d;
      line += csvField(cellText(cells[i]!), d);
    }
    await this.push(line + this.format.eol);
  }

  async blankRow(): Promise<void> {
    await this.push(this.format.eol);
  }

  private async push(line: string): Promise<void> {
    this.parts.push(line);
    this.pending += line.length;
    this.row++;
    if (this.pending >= FLUSH_CHARS) await this.flush();
  }

  private async flush(): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.parts.length === 0) return;
    const text = this.parts.join('');
    this.parts = [];
    this.pending = 0;
    const bytes = this.format.encoding === 'gbk' ? iconv.encode(text, 'gbk') : Buffer.from(text, 'utf8');
    if (!this.out.write(bytes)) await once(this.out, 'drain');
  }

  async close(): Promise<void> {
    await this.flush();
    this.out.end();
    if (!this.out.closed) await once(this.out, 'close');
    if (this.failure) throw this.failure;
  }
}
