/**
 * Citizen id numbers (公民身份号码, GB 11643-1999) as they really arrive (spec §5):
 * spaces and tabs inside, full-width digits, lower-case x, legacy 15-digit numbers,
 * masks, spreadsheet damage, typing errors, or nothing at all for children.
 *
 * The result keeps what can be trusted: a valid number, or what survives of a
 * damaged one, with a status saying which. The original text stays in the raw row.
 */
import type { IdStatus } from '../../db/schema.js';
import { removeSpaces, toHalfWidth } from './text.js';

export interface IdParse {
  status: IdStatus;
  /**
   * valid / legacy15: the 18-character number. checksum_failed / malformed: the cleaned text.
   * masked: the text with its `*`. spreadsheet_damaged: the leading digits that survived.
   * missing: null.
   */
  value: string | null;
  /** From the number itself, when it can be trusted (valid or legacy15). */
  birthDate: string | null;
  gender: 'M' | 'F' | null;
}

const WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK_CHARS = '10X98765432';

/** ISO 7064 MOD 11-2 check character for the first 17 digits. */
export function checkChar(first17: string): string {
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += (first17.charCodeAt(i) - 48) * WEIGHTS[i]!;
  return CHECK_CHARS[sum % 11]!;
}

/** A legacy 15-digit number (YYMMDD, no check character) as 18 characters. */
export function convertLegacy15(id15: string): string {
  const first17 = id15.slice(0, 6) + '19' + id15.slice(6);
  return first17 + checkChar(first17);
}

export function isValidDate(y: number, m: number, d: number): boolean {
  if (m < 1 || m > 12 || d < 1) return false;
  const days = [31, (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
  return d <= days[m - 1]!;
}

function birthDateOf(id18: string): string | null {
  const y = Number(id18.slice(6, 10));
  const m = Number(id18.slice(10, 12));
  const d = Number(id18.slice(12, 14));
  if (y < 1880 || y > 2100 || !isValidDate(y, m, d)) return null;
  return `${id18.slice(6, 10)}-${id18.slice(10, 12)}-${id18.slice(12, 14)}`;
}

/** Words agencies put in the id column of a person who has no number (children). */
const MISSING = new Set(['', '无', '/', '-', '--', '—', '空', '暂无', '没有', 'null', 'NULL', 'N/A', 'NA', '0']);

const SCIENTIFIC = /^([0-9])(?:\.([0-9]+))?E\+?([0-9]{1,2})$/;

function result(status: IdStatus, value: string | null, trusted = false): IdParse {
  if (!trusted || value === null) return { status, value, birthDate: null, gender: null };
  return {
    status,
    value,
    birthDate: birthDateOf(value),
    gender: (value.charCodeAt(16) - 48) % 2 === 1 ? 'M' : 'F',
  };
}

/**
 * @param numericCell true when the value came from a spreadsheet cell stored as a
 *   number: more than 15 significant digits cannot survive that, whatever it shows.
 */
export function parseIdNumber(text: string | null | undefined, numericCell = false): IdParse {
  const s = removeSpaces(toHalfWidth(text ?? ''))
    .replace(/^'/, '') // a leading apostrophe is how Excel users force text
    .toUpperCase();
  if (MISSING.has(s)) return result('missing', null);

  if (s.includes('*')) return result('masked', s);

  const sci = SCIENTIFIC.exec(s);
  if (sci) {
    // 5.20203E+17: only the mantissa's digits survive
    const digits = (sci[1]! + (sci[2] ?? '')).replace(/0+$/, '');
    const length = Number(sci[3]) + 1;
    if (length === 18 || length === 15) return result('spreadsheet_damaged', digits.slice(0, 15) || null);
    return result('malformed', s);
  }

  // a number written by a spreadsheet may carry a decimal part: its 18 digits, then ".0"
  const plain = /^([0-9]{15,18})\.0*$/.exec(s)?.[1] ?? s;

  if (/^[0-9]{17}[0-9X]$/.test(plain)) {
    if (numericCell) return result('spreadsheet_damaged', plain.slice(0, 15));
    const checks = checkChar(plain.slice(0, 17)) === plain[17];
    if (checks && birthDateOf(plain)) return result('valid', plain, true);
    // the last three digits turned into 000 when a spreadsheet stored the number
    if (!checks && plain.endsWith('000')) return result('spreadsheet_damaged', plain.slice(0, 15));
    if (!checks) return result('checksum_failed', plain);
    return result('malformed', plain);
  }

  if (/^[0-9]{15}$/.test(plain)) {
    const converted = convertLegacy15(plain);
    if (birthDateOf(converted)) return result('legacy15', converted, true);
    return result('malformed', plain);
  }

  return result('malformed', /^[0-9A-Z]+$/.test(plain) ? plain : null);
}
