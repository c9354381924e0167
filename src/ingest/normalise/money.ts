/**
 * Money into integer fen (spec §5): yuan with two decimals, possibly with
 * thousands separators (12,345.67), a currency sign, or negative in reversal rows.
 * Parsed as a string, never through floating point.
 */
import { removeSpaces, toHalfWidth } from './text.js';

export interface MoneyParse {
  fen: number;
  /** more than two decimals arrived and were rounded half-up to the fen */
  rounded: boolean;
}

const GROUPED = /^\d{1,3}(?:,\d{3})+(?:\.\d*)?$/;
const PLAIN = /^(?:\d+(?:\.\d*)?|\.\d+)$/;

/** Yuan with exactly two decimals, as nearly every amount arrives: /^(-?)(\d{1,13})\.(\d\d)$/ */

/** SIMPLE read without a regex (nine amounts a settlement row): the fen, or -1 when the text is not of that form. */
function simpleFen(text: string): number {
  const n = text.length;
  const neg = n > 0 && text.charCodeAt(0) === 45; // -
  const start = neg ? 1 : 0;
  const digits = n - 3 - start;
  if (digits < 1 || digits > 13 || text.charCodeAt(n - 3) !== 46) return -1; // .
  let v = 0;
  for (let i = start; i < n; i++) {
    if (i === n - 3) continue;
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}

export function parseMoney(text: string | null | undefined): MoneyParse | null {
  if (text == null) return null;
  const simple = simpleFen(text);
  if (simple >= 0) return { fen: text.charCodeAt(0) === 45 && simple !== 0 ? -simple : simple, rounded: false };
  let s = removeSpaces(toHalfWidth(text)).replace(/[¥￥]|元$/g, '');
  if (s === '') return null;
  let negative = false;
  const paren = /^\((.*)\)$/.exec(s); // accounting style (123.45)
  if (paren) {
    negative = true;
    s = paren[1]!;
  }
  if (s.startsWith('-') || s.startsWith('+')) {
    negative = negative !== (s[0] === '-');
    s = s.slice(1);
  }
  if (GROUPED.test(s)) s = s.replace(/,/g, '');
  else if (!PLAIN.test(s)) return null;

  const [whole = '', frac = ''] = s.split('.');
  const cents = (frac + '00').slice(0, 2);
  const rest = frac.slice(2);
  let fen = Number(whole || '0') * 100 + Number(cents);
  // half-up on the magnitude: -1.005 → -1.01, as on a receipt
  if (rest !== '' && rest.charCodeAt(0) >= 53 /* '5' */) fen += 1;
  if (!Number.isSafeInteger(fen)) return null;
  return { fen: negative && fen !== 0 ? -fen : fen, rounded: /[1-9]/.test(rest) };
}

/** 1234567 → "12345.67" (for exports, which speak yuan). */
export function formatYuan(fen: number): string {
  const sign = fen < 0 ? '-' : '';
  const abs = Math.abs(fen);
  return `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
}
