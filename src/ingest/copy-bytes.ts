/**
 * COPY text format written straight into bytes: the same lines as `copyLine`
 * (src/db/copy.ts) — tab-separated, backslash escapes, \N for NULL, NUL dropped,
 * text arrays as quoted array literals — but each value is escaped and encoded as
 * UTF-8 in one pass over its characters, with no intermediate strings. Building a
 * line with joins and regexes, then encoding it, was half the CPU of ingest.
 *
 * Bytes accumulate in chunks of their own memory (allocUnsafeSlow, never Buffer's
 * shared pool), so that a parse worker can transfer them. A line may span two chunks:
 * COPY reads the chunks as one stream.
 */
import { finishRowHash, ROW_HASH_SEED1, ROW_HASH_SEED2 } from './row-hash.js';

const BACKSLASH = 92;
const QUOTE = 34;
const TAB = 9;
const NEWLINE = 10;

export class CopyBytes {
  private readonly chunks: Buffer[] = [];
  private buf: Buffer;
  private pos = 0;
  private total = 0;

  constructor(private readonly chunkSize = 1 << 20) {
    this.buf = Buffer.allocUnsafeSlow(chunkSize);
  }

  /** Room for `n` more bytes in the current chunk. */
  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    this.seal();
    this.buf = Buffer.allocUnsafeSlow(Math.max(this.chunkSize, n));
  }

  private seal(): void {
    if (this.pos > 0) {
      this.chunks.push(this.buf.subarray(0, this.pos));
      this.total += this.pos;
    }
    this.pos = 0;
  }

  get bytes(): number {
    return this.total + this.pos;
  }

  tab(): void {
    this.room(1);
    this.buf[this.pos++] = TAB;
  }

  newline(): void {
    this.room(1);
    this.buf[this.pos++] = NEWLINE;
  }

  nullValue(): void {
    this.room(2);
    this.buf[this.pos++] = BACKSLASH;
    this.buf[this.pos++] = 78; // N
  }

  /** Text that needs no escaping and is ASCII: numbers, codes, a delivery id. */
  ascii(s: string): void {
    const n = s.length;
    this.room(n);
    const b = this.buf;
    let p = this.pos;
    for (let i = 0; i < n; i++) b[p++] = s.charCodeAt(i);
    this.pos = p;
  }

  /** Whole COPY lines that are already escaped (problems, which are few). */
  raw(s: string): void {
    this.room(s.length * 3);
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }

  /** A text value: \N for null, escaped otherwise. */
  text(s: string | null | undefined): void {
    if (s === null || s === undefined) this.nullValue();
    else this.escaped(s, false);
  }

  /** A number: \N for null or not finite. */
  number(v: number | null | undefined): void {
    if (v === null || v === undefined || !Number.isFinite(v)) this.nullValue();
    else this.ascii(String(v));
  }

  bool(v: boolean | null | undefined): void {
    if (v === null || v === undefined) this.nullValue();
    else this.ascii(v ? 't' : 'f');
  }

  /**
   * A text[] literal of the cells, {"a","b"}, escaped for the array and then for COPY;
   * returns the cells' rowHash (row-hash.ts), computed over the same characters.
   */
  textArray(items: readonly string[]): number {
    let h1 = ROW_HASH_SEED1;
    let h2 = ROW_HASH_SEED2;
    if (items.length === 0) {
      this.ascii('{}');
    } else {
      this.ascii('{"');
      for (let c = 0; c < items.length; c++) {
        if (c > 0) this.ascii('","');
        const s = items[c]!;
        this.escaped(s, true);
        for (let i = 0; i < s.length; i++) {
          const ch = s.charCodeAt(i);
          h1 = Math.imul(h1 ^ ch, 2654435761);
          h2 = Math.imul(h2 ^ ch, 1597334677);
        }
        h1 = Math.imul(h1 ^ 0x1f, 2654435761);
        h2 = Math.imul(h2 ^ 0x1f, 1597334677);
      }
      this.ascii('"}');
    }
    return finishRowHash(h1, h2);
  }

  /**
   * UTF-8 of `s` with COPY's escapes (\\, \n, \r, \t; NUL dropped); in an array element,
   * `"` and `\` are first escaped for the array literal. A lone surrogate becomes U+FFFD,
   * as Buffer.write makes it.
   */
  private escaped(s: string, inArray: boolean): void {
    const n = s.length;
    // at most 4 bytes per UTF-16 unit (an array's backslash: \\\\)
    this.room(n * 4);
    const b = this.buf;
    let p = this.pos;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x80) {
        if (c >= 32 && c !== BACKSLASH && c !== QUOTE) b[p++] = c;
        else if (c === BACKSLASH) {
          b[p++] = BACKSLASH;
          b[p++] = BACKSLASH;
          if (inArray) {
            b[p++] = BACKSLASH;
            b[p++] = BACKSLASH;
          }
        } else if (c === QUOTE) {
          if (inArray) {
            b[p++] = BACKSLASH;
            b[p++] = BACKSLASH;
          }
          b[p++] = QUOTE;
        } else if (c === NEWLINE) {
          b[p++] = BACKSLASH;
          b[p++] = 110; // n
        } else if (c === 13) {
          b[p++] = BACKSLASH;
          b[p++] = 114; // r
        } else if (c === TAB) {
          b[p++] = BACKSLASH;
          b[p++] = 116; // t
        } else if (c !== 0) b[p++] = c; // NUL cannot be stored in a text value at all
      } else if (c < 0x800) {
        b[p++] = 0xc0 | (c >> 6);
        b[p++] = 0x80 | (c & 0x3f);
      } else if (c >= 0xd800 && c <= 0xdfff) {
        const next = i + 1 < n ? s.charCodeAt(i + 1) : 0;
        if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
          const cp = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
          b[p++] = 0xf0 | (cp >> 18);
          b[p++] = 0x80 | ((cp >> 12) & 0x3f);
          b[p++] = 0x80 | ((cp >> 6) & 0x3f);
          b[p++] = 0x80 | (cp & 0x3f);
          i++;
        } else {
          b[p++] = 0xef;
          b[p++] = 0xbf;
          b[p++] = 0xbd;
        }
      } else {
        b[p++] = 0xe0 | (c >> 12);
        b[p++] = 0x80 | ((c >> 6) & 0x3f);
        b[p++] = 0x80 | (c & 0x3f);
      }
    }
    this.pos = p;
  }

  /** The bytes so far, as chunks; the writer is not to be used afterwards. */
  take(): Buffer[] {
    this.seal();
    return this.chunks;
  }
}
