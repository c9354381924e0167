/**
 * Streaming CSV (spec §3): comma- or tab-separated, UTF-8 with or without BOM or
 * GB18030 (a superset of GBK), LF or CRLF, RFC 4180 quoting. Each record carries
 * the editor line number it starts on, so a quoted cell spanning lines does not
 * shift the numbers of the rows after it. Memory holds one read buffer and one chunk.
 */
import { TextDecoder } from 'node:util';
import { createReadStream } from 'node:fs';
import type { TextEncoding } from './inspect.js';
import { UnreadableFileError, type SheetReader, type SheetRow, type TextBlock } from './rows.js';

export type { TextBlock };

const CHUNK_ROWS = 2000;

/**
 * The longest record read. An export's rows are a few hundred characters (a thousand
 * columns, a few ten thousand); a "line" longer than this lacks its line breaks, has a
 * quote that never closes, or is not a table at all, and holding it would cost the
 * memory of the whole file.
 */
export const MAX_RECORD_CHARS = 1_000_000;

const recordTooLong = (line: number, max: number) =>
  new UnreadableFileError(
    'csv_line_too_long',
    `第 ${line} 行超过 ${max >= 10_000 ? `${max / 10_000} 万` : `${max} `}个字符仍未结束（缺少换行符，或有引号未闭合），不是可读取的表格，已拒收。请检查导出设置后重新导出`,
  );

export interface CsvOptions {
  encoding: TextEncoding;
  delimiter: ',' | '\t';
  /** Stop after this many records (header detection needs only the top of the file). */
  maxRows?: number;
}

/** Splits decoded text into records; feed it text, then call `end()`. */
export class CsvTokenizer {
  private buf = '';
  private line: number; // editor line number of buf[0]
  private readonly out: SheetRow[] = [];
  /** records passed over without being split into cells (`blocks`) */
  private skipped = 0;

  constructor(
    private readonly delimiter: string,
    private readonly maxChars = MAX_RECORD_CHARS,
    firstLine = 1,
  ) {
    this.line = firstLine;
  }

  push(text: string): SheetRow[] {
    this.buf = this.buf.length ? this.buf + text : text;
    this.drain(false, true, Infinity);
    return this.out.splice(0);
  }

  end(): SheetRow[] {
    this.drain(true, true, Infinity);
    return this.out.splice(0);
  }

  /**
   * The complete records of the text so far, in blocks of at most `maxRecords`, without
   * splitting them into cells; `final` also takes the last record without a newline.
   * Records are found exactly as `push` finds them, limits and errors included.
   */
  blocks(text: string, maxRecords: number, final: boolean): TextBlock[] {
    this.buf = this.buf.length ? this.buf + text : text;
    const out: TextBlock[] = [];
    for (;;) {
      const firstLine = this.line;
      const before = this.buf;
      this.skipped = 0;
      const used = this.drain(final, false, maxRecords);
      if (this.skipped === 0) break;
      out.push({ text: before.slice(0, used), firstLine, records: this.skipped });
      if (this.skipped < maxRecords) break;
    }
    return out;
  }

  /** Takes records from the buffer (split into `out`, or only counted); returns the characters used. */
  private drain(final: boolean, split: boolean, maxRecords: number): number {
    const buf = this.buf;
    let pos = 0;
    let records = 0;
    let nextQuote = buf.indexOf('"'); // searched again only once passed, or lines would cost the buffer's length each
    while (records < maxRecords) {
      const nl = buf.indexOf('\n', pos);
      if (nl === -1 && !final) break;
      const lineEnd = nl === -1 ? buf.length : nl;
      if (pos >= buf.length) break;
      if (nextQuote !== -1 && nextQuote < pos) nextQuote = buf.indexOf('"', pos);
      if (nextQuote === -1 || nextQuote > lineEnd) {
        // fast path: no quotes on this line
        if (lineEnd - pos > this.maxChars) throw recordTooLong(this.line, this.maxChars);
        if (split) {
          const text = buf.charCodeAt(lineEnd - 1) === 13 ? buf.slice(pos, lineEnd - 1) : buf.slice(pos, lineEnd);
          this.out.push({ rowNo: this.line, cells: text.split(this.delimiter) });
        }
        records++;
        this.line++;
        pos = lineEnd + 1;
        continue;
      }
      const rec = this.quoted(buf, pos, final);
      if (!rec) break; // a quoted cell continues past what has arrived
      if (rec.next - pos > this.maxChars) throw recordTooLong(this.line, this.maxChars);
      if (split) this.out.push({ rowNo: this.line, cells: rec.cells });
      records++;
      this.line += rec.lines;
      pos = rec.next;
    }
    // what is left waits for the rest of its record: never more than one record's worth
    if (records < maxRecords && buf.length - pos > this.maxChars) throw recordTooLong(this.line, this.maxChars);
    if (!split) this.skipped = records;
    const used = Math.min(pos, buf.length);
    this.buf = pos >= buf.length ? '' : buf.slice(pos);
    return used;
  }

  /** Parses one record that contains quotes; undefined when it needs more text. */
  private quoted(buf: string, start: number, final: boolean): { cells: string[]; next: number; lines: number } | undefined {
    const d = this.delimiter;
    const cells: string[] = [];
    let cell = '';
    let i = start;
    let lines = 1;
    let inQuotes = false;
    let cellStart = true;
    while (i < buf.length) {
      const c = buf[i]!;
      if (inQuotes) {
        if (c === '"') {
          if (buf[i + 1] === '"') {
            cell += '"';
            i += 2;
            continue;
          }
          if (i + 1 >= buf.length && !final) return undefined; // "" may be split across chunks
          inQuotes = false;
          i++;
          continue;
        }
        if (c === '\n') lines++;
        cell += c;
        i++;
        continue;
      }
      if (c === '"' && cellStart) {
        inQuotes = true;
        cellStart = false;
        i++;
        continue;
      }
      if (c === d) {
        cells.push(cell);
        cell = '';
        cellStart = true;
        i++;
        continue;
      }
      if (c === '\n' || (c === '\r' && buf[i + 1] === '\n')) {
        cells.push(cell);
        return { cells, next: c === '\n' ? i + 1 : i + 2, lines };
      }
      if (c === '\r' && i + 1 >= buf.length && !final) return undefined;
      cell += c;
      cellStart = false;
      i++;
    }
    if (!final) return undefined;
    cells.push(cell); // last record without a final newline (an unterminated quote ends here too)
    return { cells, next: buf.length, lines };
  }
}

export function csvReader(path: string, opts: CsvOptions): SheetReader {
  return {
    format: 'csv',
    encoding: opts.encoding,
    delimiter: opts.delimiter,
    sheet: null,
    chunks: (maxRows?: number) => readCsv(path, maxRows === undefined ? opts : { ...opts, maxRows: Math.min(maxRows, opts.maxRows ?? Infinity) }),
    blocks: (maxRecords: number) => readCsvBlocks(path, opts, maxRecords),
  };
}

/** The file's records as text blocks of at most `maxRecords` (see TextBlock). */
async function* readCsvBlocks(path: string, opts: CsvOptions, maxRecords: number): AsyncGenerator<TextBlock> {
  const decoder = new TextDecoder(opts.encoding, { fatal: true, ignoreBOM: false });
  const tokenizer = new CsvTokenizer(opts.delimiter);
  const stream = createReadStream(path, { highWaterMark: 1 << 20 });
  try {
    for await (const bytes of stream as AsyncIterable<Buffer>) {
      yield* tokenizer.blocks(decoder.decode(bytes, { stream: true }), maxRecords, false);
    }
    yield* tokenizer.blocks(decoder.decode(), maxRecords, true);
  } finally {
    stream.destroy();
  }
}

async function* readCsv(path: string, opts: CsvOptions): AsyncGenerator<SheetRow[]> {
  // ignoreBOM: false strips a leading UTF-8 BOM
  const decoder = new TextDecoder(opts.encoding, { fatal: true, ignoreBOM: false });
  const tokenizer = new CsvTokenizer(opts.delimiter);
  const max = opts.maxRows ?? Infinity;
  let emitted = 0;
  let pending: SheetRow[] = [];
  // the top of a file is read in small pieces: a 1 MB read would tokenize far more than the header search needs
  const stream = createReadStream(path, { highWaterMark: max === Infinity ? 1 << 20 : 1 << 16 });
  try {
    for await (const bytes of stream as AsyncIterable<Buffer>) {
      const rows = tokenizer.push(decoder.decode(bytes, { stream: true }));
      pending = pending.length ? pending.concat(rows) : rows;
      if (pending.length >= CHUNK_ROWS || emitted + pending.length >= max) {
        const out = pending.slice(0, max - emitted);
        emitted += out.length;
        pending = [];
        yield out;
        if (emitted >= max) return;
      }
    }
    tokenizer.push(decoder.decode());
    pending = pending.concat(tokenizer.end());
    if (pending.length) yield pending.slice(0, max - emitted);
  } finally {
    stream.destroy();
  }
}
