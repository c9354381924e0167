/**
 * A delivery's as-of date (spec §2), found in this order: a title line above the
 * header, the file name, the date given by whoever delivers it. Where the title
 * and another source disagree, the title wins and a warning says so.
 */
import type { AsOfOrigin } from '../db/schema.js';
import { iso, monthEnd } from './normalise/date.js';
import { isValidDate } from './normalise/id-number.js';
import { toHalfWidth } from './normalise/text.js';
import { file as fileProblem, type Problem } from './problems.js';

const YEAR_MIN = 1990;
const YEAR_MAX = 2100;

function fullDate(y: string, m: string, d: string): string | null {
  const [yy, mm, dd] = [Number(y), Number(m), Number(d)];
  return yy >= YEAR_MIN && yy <= YEAR_MAX && isValidDate(yy, mm, dd) ? iso(yy, mm, dd) : null;
}

function endOfMonth(y: string, m: string): string | null {
  const [yy, mm] = [Number(y), Number(m)];
  return yy >= YEAR_MIN && yy <= YEAR_MAX && mm >= 1 && mm <= 12 ? monthEnd(yy, mm) : null;
}

const QUARTER: Record<string, number> = { '1': 1, '2': 2, '3': 3, '4': 4, 一: 1, 二: 2, 三: 3, 四: 4 };

/**
 * Date patterns, most specific first; each returns the as-of date a match means.
 * `2026年10月` and `202610` mean the month's last day, `2026年第3季度` the quarter's.
 */
const PATTERNS: { re: RegExp; date: (m: RegExpExecArray) => string | null }[] = [
  { re: /(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日/, date: (m) => fullDate(m[1]!, m[2]!, m[3]!) },
  { re: /(?<!\d)(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?!\d)/, date: (m) => fullDate(m[1]!, m[2]!, m[3]!) },
  { re: /(?<!\d)(\d{4})(\d{2})(\d{2})(?!\d)/, date: (m) => fullDate(m[1]!, m[2]!, m[3]!) },
  {
    re: /(\d{4})\s*年\s*第?\s*([1-4一二三四])\s*季度?/,
    date: (m) => endOfMonth(m[1]!, String(QUARTER[m[2]!]! * 3)),
  },
  { re: /(?<!\d)(\d{4})\s*[-_]?\s*Q([1-4])(?!\d)/i, date: (m) => endOfMonth(m[1]!, String(Number(m[2]) * 3)) },
  { re: /(\d{4})\s*年\s*(\d{1,2})\s*月(?!\s*\d)/, date: (m) => endOfMonth(m[1]!, m[2]!) },
  { re: /(?<!\d)(\d{4})[-/.](\d{1,2})(?![-/.\d])/, date: (m) => endOfMonth(m[1]!, m[2]!) },
  { re: /(?<!\d)(\d{4})(\d{2})(?!\d)/, date: (m) => endOfMonth(m[1]!, m[2]!) },
];

function firstDate(text: string): string | null {
  for (const { re, date } of PATTERNS) {
    const m = re.exec(text);
    const d = m && date(m);
    if (d) return d;
  }
  return null;
}

/** A date that opens `text`, as in 导出日期:2026-10-31 right after its keyword. */
function dateAtStart(text: string): string | null {
  for (const { re, date } of PATTERNS) {
    const m = re.exec(text);
    const d = m?.index === 0 ? date(m) : null;
    if (d) return d;
  }
  return null;
}

/** The date that follows one of the keywords in the title lines (导出日期:2026-10-31, 截至2026年10月31日). */
export function dateFromTitle(titleLines: readonly string[], keywords: readonly string[]): string | null {
  for (const raw of titleLines) {
    const line = toHalfWidth(raw);
    for (const kw of keywords) {
      for (let at = line.indexOf(kw); at !== -1; at = line.indexOf(kw, at + kw.length)) {
        const d = dateAtStart(line.slice(at + kw.length).replace(/^[\s:]*/, ''));
        if (d) return d;
      }
    }
  }
  return null;
}

/** The date in a file name: 20261031, 2026-10-31, 2026年10月31日, 2026年10月, 202610, 2026年第3季度. */
export function dateFromFileName(fileName: string): string | null {
  const base = fileName.replace(/^.*[\\/]/, '').replace(/\.[^.]+$/, '');
  return firstDate(toHalfWidth(base));
}

export type AsOfResult =
  | { ok: true; asOf: string; origin: AsOfOrigin; problems: Problem[] }
  | { ok: false; problem: Problem };

export function resolveAsOf(found: { title: string | null; fileName: string | null; argument?: string | undefined }): AsOfResult {
  const { title, fileName, argument } = found;
  const problems: Problem[] = [];
  if (title) {
    if (fileName && fileName !== title) problems.push(fileProblem.asOfMismatch(title, fileName, 'filename'));
    else if (!fileName && argument && argument !== title) problems.push(fileProblem.asOfMismatch(title, argument, 'argument'));
    return { ok: true, asOf: title, origin: 'title', problems };
  }
  if (fileName) {
    if (argument && argument !== fileName) problems.push(fileProblem.asOfArgumentIgnored(fileName, argument));
    return { ok: true, asOf: fileName, origin: 'filename', problems };
  }
  if (argument) return { ok: true, asOf: argument, origin: 'argument', problems };
  return { ok: false, problem: fileProblem.asOfNotFound() };
}
