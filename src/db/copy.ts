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
