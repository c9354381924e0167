/**
 * COPY text format (PostgreSQL's default for COPY FROM STDIN): tab-separated,
 * backslash escapes, \N for NULL. Arrays are written as array literals, then
 * escaped like any other text.
 *
 * Lines are built with array joins, never `+=`: a million rows of concatenated
 * pieces would be held as rope nodes until flattened, hundreds of megabytes.
 */

export type CopyValue = string | number | boolean | null | undefined | readonly string[];

const NEEDS_ESCAPE = /[\\\n\r\t\0]/;
const NEEDS_QUOTE_ESCAPE = /["\\]/;

function escapeText(s: string): string {
  if (!NEEDS_ESCAPE.test(s)) return s;
  // NUL cannot be stored in a PostgreSQL text value at all
  return s.replace(/\0/g, '').replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t');
}

const ARRAY_SPECIAL = /["\\\n\r\t\0]/;

/** An array literal of text elements, COPY-escaped: one join and one scan in the common case. */
export function copyTextArray(items: readonly string[]): string {
  if (items.length === 0) return '{}';
  const joined = items.join('","');
  if (!ARRAY_SPECIAL.test(joined)) return '{"' + joined + '"}';
  const parts: string[] = new Array(items.length);
  for (let i = 0; i < items.length; i++) {
    const v = items[i]!;
    parts[i] = NEEDS_QUOTE_ESCAPE.test(v) ? v.replace(/[\\"]/g, '\\$&') : v;
  }
  return escapeText('{"' + parts.join('","') + '"}');
}

/** A text value for COPY: \N for null, escaped otherwise. */
export function copyText(v: string | null | undefined): string {
  return v === null || v === undefined ? '\\N' : escapeText(v);
}

/** A number for COPY: \N for null. */
export function copyNumber(v: number | null | undefined): string {
  return v === null || v === undefined || !Number.isFinite(v) ? '\\N' : String(v);
}

export function copyValue(v: CopyValue): string {
  if (v === null || v === undefined) return '\\N';
  if (typeof v === 'string') return escapeText(v);
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : '\\N';
  if (typeof v === 'boolean') return v ? 't' : 'f';
  return copyTextArray(v);
}

/** One COPY line for the values, in column order, newline included. */
export function copyLine(values: readonly CopyValue[]): string {
  const parts: string[] = new Array(values.length);
  for (let i = 0; i < values.length; i++) parts[i] = copyValue(values[i]);
  return parts.join('\t') + '\n';
}

/**
 * COPY data accumulated as UTF-8 bytes in 1 MB chunks. Each line is written as
 * soon as it is encoded, so the strings of a row die young and a batch waiting
 * for its turn costs its bytes, not a heap of strings. Each chunk has a memory of
 * its own (allocUnsafeSlow, never Buffer's shared pool), so that a parse worker can
 * transfer it: pooled memory cannot be transferred, and since Node 24.18 raised
 * Buffer.poolSize to 64 KiB, allocUnsafe takes chunks under 32 KiB from the pool.
 */
export class CopyBuffer {
  private readonly chunks: Buffer[] = [];
  private buf: Buffer;
  private pos = 0;
  private total = 0;

  constructor(private readonly chunkSize = 1 << 20) {
    this.buf = Buffer.allocUnsafeSlow(chunkSize);
  }

  /** Appends text that is already COPY-encoded (one or more whole lines). */
  append(line: string): void {
    const max = line.length * 3; // UTF-8 bytes per UTF-16 unit, at most
    if (this.pos + max > this.buf.length) {
      this.seal();
      this.buf = Buffer.allocUnsafeSlow(Math.max(this.chunkSize, max));
    }
    const n = this.buf.write(line, this.pos, 'utf8');
    this.pos += n;
    this.total += n;
  }

  get bytes(): number {
    return this.total;
  }

  private seal(): void {
    if (this.pos > 0) this.chunks.push(this.buf.subarray(0, this.pos));
    this.pos = 0;
  }

  /** The bytes so far, as chunks; the buffer is not to be used afterwards. */
  take(): Buffer[] {
    this.seal();
    return this.chunks;
  }
}
