/** Character-level clean-up shared by every normaliser. */

/** Full-width ASCII (Ｕ+FF01–FF5E) to half-width, and the ideographic space to a space. */
export function toHalfWidth(s: string): string {
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

export function removeSpaces(s: string): string {
  return s.replace(ANY_SPACE, '');
}

/** Trims every kind of whitespace at both ends; returns null for an empty result. */
export function cleanText(s: string | null | undefined): string | null {
  if (s == null) return null;
  const t = s.replace(/^[\s\u3000\u00a0\ufeff\u200b]+|[\s\u3000\u00a0\ufeff\u200b]+$/g, '');
  return t === '' ? null : t;
}

/**
 * The form in which headers, aliases and labels are compared: spaces removed,
 * full-width and half-width characters (brackets, colons, digits) alike.
 */
export function labelKey(s: string): string {
  return removeSpaces(toHalfWidth(s)).toLowerCase();
}
