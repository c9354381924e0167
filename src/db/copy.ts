/**
 * COPY text format (PostgreSQL's default for COPY FROM STDIN): tab-separated,
 * backslash escapes, \N for NULL. Arrays are written as array literals, then
 * escaped like any other text.
 */

export type CopyValue = string | number | boolean | null | undefined | readonly string[];

const NEEDS_ESCAPE = /[\\\n\r\t\0]/;

function escapeText(s: string): string {
  if (!NEEDS_ESCAPE.test(s)) return s;
  // NUL cannot be stored in a PostgreSQL text value at all
  return s.replace(/\0/g, '').replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t');
}

function arrayLiteral(items: readonly string[]): string {
  let out = '{';
  for (let i = 0; i < items.length; i++) {
    const v = items[i]!;
    if (i > 0) out += ',';
    out += '"' + (v.includes('"') || v.includes('\\') ? v.replace(/[\\"]/g, '\\$&') : v) + '"';
  }
  return out + '}';
}

export function copyValue(v: CopyValue): string {
  if (v === null || v === undefined) return '\\N';
  if (typeof v === 'string') return escapeText(v);
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : '\\N';
  if (typeof v === 'boolean') return v ? 't' : 'f';
  return escapeText(arrayLiteral(v));
}

/** One COPY line for the values, in column order, newline included. */
export function copyLine(values: readonly CopyValue[]): string {
  let out = '';
  for (let i = 0; i < values.length; i++) {
    if (i > 0) out += '\t';
    out += copyValue(values[i]);
  }
  return out + '\n';
}
