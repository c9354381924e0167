/** Character-level clean-up shared by every normaliser. */

/** Full-width ASCII (Ｕ+FF01–FF5E) to half-width, and the ideographic space to a space. */
const WIDE = /[\uff01-\uff5e\u3000]/;

export function toHalfWidth(s: string): string {
  if (!WIDE.test(s)) return s; // the common case: nothing to fold
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xff01 && c <= 0xff5e) out += String.fromCharCode(c - 0xfee0);
    else if (c === 0x3000) out += ' ';
    else out += s[i];
  }
  return out;
}

/** Any kind of whitespace, including the ideographic space, no-break space and BOM. */
const ANY_SPACE = /[\s\u3000\u00a0\ufeff\u200b]+/g;
const HAS_SPACE = /[\s\u3000\u00a0\ufeff\u200b]/;

export function removeSpaces(s: string): string {
  return HAS_SPACE.test(s) ? s.replace(ANY_SPACE, '') : s;
}

function isSpace(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13) || c === 0x3000 || c === 0xa0 || c === 0xfeff || c === 0x200b || c === 0x2028 || c === 0x2029;
}

/** Trims every kind of whitespace at both ends; returns null for an empty result. */
export function cleanText(s: string | null | undefined): string | null {
  if (s == null || s === '') return null;
  let start = 0;
  let end = s.length;
  while (start < end && isSpace(s.charCodeAt(start))) start++;
  while (end > start && isSpace(s.charCodeAt(end - 1))) end--;
  if (start === end) return null;
  return start === 0 && end === s.length ? s : s.slice(start, end);
}

/**
 * The form in which headers, aliases and labels are compared: spaces removed,
 * full-width and half-width characters (brackets, colons, digits) alike.
 */
export function labelKey(s: string): string {
  return removeSpaces(toHalfWidth(s)).toLowerCase();
}

const GRADE_NUMERAL: Record<string, string> = { 一: '1', 二: '2', 三: '3', 四: '4' };

/**
 * The form in which a value's label is compared with a vocabulary's: as labelKey, and a
 * grade written any way is one (一级 = 1级; 1-2级 = 1~2级 = 1至2级 = 一、二级 = 一至二级).
 */
export function valueKey(s: string): string {
  return labelKey(s)
    .replace(/([一二三四])(?=级|[、,~\-—–至到和及][一二三四]级)/g, (c: string) => GRADE_NUMERAL[c]!)
    .replace(/([1-4])[、,~\-—–至到和及]([1-4])级/g, '$1-$2级');
}
