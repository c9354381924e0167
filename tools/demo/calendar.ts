/**
 * Calendar arithmetic for the generator. A `Day` is a whole number of days since
 * 1970-01-01 (a calendar date, no time zone); a `Month` is `year * 12 + (month - 1)`.
 * Integers keep timelines cheap to compare and sort.
 */

export type Day = number;
export type Month = number;

const DAY_MS = 86_400_000;
/** Excel's serial day number of 1970-01-01 (serial 1 = 1900-01-01, with Excel's fictitious 1900-02-29). */
const EXCEL_SERIAL_OF_EPOCH = 25_569;

export function dayOf(year: number, month: number, day: number): Day {
  return Math.round(Date.UTC(year, month - 1, day) / DAY_MS);
}

export interface Ymd {
  y: number;
  m: number;
  d: number;
}

export function ymd(day: Day): Ymd {
  const dt = new Date(day * DAY_MS);
  return { y: dt.getUTCFullYear(), m: dt.getUTCMonth() + 1, d: dt.getUTCDate() };
}

const pad2 = (n: number) => String(n).padStart(2, '0');

/** 2025-01-05 */
export function isoDay(day: Day): string {
  const { y, m, d } = ymd(day);
  return `${y}-${pad2(m)}-${pad2(d)}`;
}

/** 20250105 */
export function compactDay(day: Day): string {
  const { y, m, d } = ymd(day);
  return `${y}${pad2(m)}${pad2(d)}`;
}

/** 2025年1月5日 */
export function chineseDay(day: Day): string {
  const { y, m, d } = ymd(day);
  return `${y}年${m}月${d}日`;
}

export function excelSerial(day: Day): number {
  return day + EXCEL_SERIAL_OF_EPOCH;
}

/** 'YYYY-MM' → Month; throws on anything else. */
export function parseMonth(text: string): Month {
  const m = /^(\d{4})-(\d{2})$/.exec(text);
  const month = m ? Number(m[2]) : 0;
  if (!m || month < 1 || month > 12) throw new RangeError(`month must be YYYY-MM, got "${text}"`);
  return Number(m[1]) * 12 + month - 1;
}

export function monthYear(month: Month): number {
  return Math.floor(month / 12);
}

/** 1–12 */
export function monthNumber(month: Month): number {
  return (month % 12) + 1;
}

export function monthOf(day: Day): Month {
  const { y, m } = ymd(day);
  return y * 12 + m - 1;
}

export function monthStart(month: Month): Day {
  return dayOf(monthYear(month), monthNumber(month), 1);
}

export function monthEnd(month: Month): Day {
  return monthStart(month + 1) - 1;
}

/** 202501 */
export function compactMonth(month: Month): string {
  return `${monthYear(month)}${pad2(monthNumber(month))}`;
}

export function isQuarterEnd(month: Month): boolean {
  return monthNumber(month) % 3 === 0;
}

/** 1–4 */
export function quarterOf(month: Month): number {
  return Math.floor((monthNumber(month) - 1) / 3) + 1;
}

/** Whole years of age on a day. */
export function ageOn(birth: Day, on: Day): number {
  const b = ymd(birth);
  const o = ymd(on);
  return o.y - b.y - (o.m < b.m || (o.m === b.m && o.d < b.d) ? 1 : 0);
}

/** The same calendar day `years` later (29 February becomes 28 February). */
export function addYears(day: Day, years: number): Day {
  const { y, m, d } = ymd(day);
  const target = dayOf(y + years, m, d);
  return ymd(target).d === d ? target : dayOf(y + years, m, d - 1);
}
