/**
 * Calendar dates in every form the agencies send (spec §5): 2025-01-05, 2025/1/5,
 * 20250105, 2025.01.05, 2025年1月5日, `2025-01-05 00:00:00`, ISO timestamps from
 * spreadsheet date cells, and Excel serial day numbers (45662 = 2025-01-05).
 * The result is an ISO date string; a calendar date carries no time zone.
 */
import { isValidDate } from './id-number.js';
import { toHalfWidth } from './text.js';

// the time, when present, is separated by T or a space: without one, 2025/1/910:30 is ambiguous
const SEPARATED = /^(\d{4}) ?[-/.年] ?(\d{1,2}) ?[-/.月] ?(\d{1,2}) ?日?(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;
const COMPACT = /^(\d{4})(\d{2})(\d{2})$/;
const SERIAL = /^\d{1,5}(?:\.\d+)?$/;

/** Excel's day 0 is 1899-12-30 once its fictitious 1900-02-29 (serial 60) is behind us. */
const EXCEL_EPOCH_MS = Date.UTC(1899, 11, 30);
const DAY_MS = 86_400_000;

/** Dates outside these years are typing errors, not dates. */
export const MIN_YEAR = 1880;
export const MAX_YEAR = 2100;

export function iso(y: number, m: number, d: number): string {
  return `${String(y).padStart(4, '0')}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
}

export function excelSerialToDate(serial: number): string | null {
  const whole = Math.floor(serial);
  if (whole < 61) return null; // before 1900-03-01: never a real date in these files
  const dt = new Date(EXCEL_EPOCH_MS + whole * DAY_MS);
  return iso(dt.getUTCFullYear(), dt.getUTCMonth() + 1, dt.getUTCDate());
}

/** Parses one cell; null when it is not a date this system can read. */
export function parseDate(text: string | null | undefined): string | null {
  if (text == null) return null;
  const s = toHalfWidth(text).replace(/[\s\u00a0\ufeff]+/g, ' ').trim();
  if (s === '') return null;
  let m = SEPARATED.exec(s) ?? COMPACT.exec(s);
  if (m) {
    const y = Number(m[1]);
    const mo = Number(m[2]);
    const d = Number(m[3]);
    if (y < MIN_YEAR || y > MAX_YEAR || !isValidDate(y, mo, d)) return null;
    return iso(y, mo, d);
  }
  m = SERIAL.exec(s);
  if (m) {
    const date = excelSerialToDate(Number(s));
    if (date && Number(date.slice(0, 4)) <= MAX_YEAR) return date;
  }
  return null;
}

// a month alone: 2026年3月, 2026-03, 2026/3, 2026.03, 202603
const MONTH = /^(\d{4}) ?(?:[-/.年] ?(\d{1,2}) ?月?|(\d{2}))$/;

/**
 * A date, or a month alone read as its first day (`start`: 纳入资助时间 2026年3月 is
 * 2026-03-01) or its last (`end`). Only where a format profile says the field may give
 * just the month (profile `months`): elsewhere a month is no date.
 */
export function parseDateOrMonth(text: string | null | undefined, end: 'start' | 'end'): string | null {
  const date = parseDate(text);
  if (date !== null || text == null) return date;
  const m = MONTH.exec(toHalfWidth(text).replace(/[\s\u00a0\ufeff]+/g, ' ').trim());
  if (!m) return null;
  const y = Number(m[1]);
  const mo = Number(m[2] ?? m[3]);
  if (y < MIN_YEAR || y > MAX_YEAR || mo < 1 || mo > 12) return null;
  return end === 'start' ? iso(y, mo, 1) : monthEnd(y, mo);
}

// between the two dates of a range: 至, 到, a tilde, a dash (a hyphen only where both sides are dates)
const RANGE_WORD = /^(.+?)\s*(?:至|到|~|—|–|－|\s-\s|--)\s*(.+)$/;

/**
 * The two dates of a range written in one cell (2026-04-01至2026-04-10, 20260401-20260410,
 * 2026.4.1~2026.4.10), as their texts; one date alone is both. Null when it is neither.
 */
export function splitDateRange(text: string): [string, string] | null {
  const s = toHalfWidth(text).trim();
  if (parseDate(s) !== null || parseDateOrMonth(s, 'start') !== null) return [s, s];
  const m = RANGE_WORD.exec(s);
  if (m) return [m[1]!, m[2]!];
  for (let i = s.indexOf('-'); i !== -1; i = s.indexOf('-', i + 1)) {
    const [a, b] = [s.slice(0, i).trim(), s.slice(i + 1).trim()];
    if (parseDate(a) !== null && parseDate(b) !== null) return [a, b];
  }
  return null;
}

/** The calendar day after an ISO date. */
export function nextDay(date: string): string {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString().slice(0, 10);
}

/** Days from `a` to `b` (ISO dates). */
export function daysBetween(a: string, b: string): number {
  return Math.round((Date.parse(b) - Date.parse(a)) / DAY_MS);
}

/** The last day of a month (month 1–12). */
export function monthEnd(year: number, month: number): string {
  const d = new Date(Date.UTC(year, month, 0));
  return iso(year, month, d.getUTCDate());
}
