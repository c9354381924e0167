/**
 * Names as they arrive (spec §5): spaces between or around characters, annotations
 * such as (户主), （已故） or a trailing *, and the separator dot of ethnic-minority
 * names written ·, •, ・, . or left out. The normal form drops all of these so that
 * 阿依古丽·买买提 and 阿依古丽买买提 compare equal; the original stays in `name`.
 * Character variants (陳/陈, 喆/哲) and `?` are the matcher's business, not this one's.
 */
import { removeSpaces, toHalfWidth, cleanText } from './text.js';

const ANNOTATION = /[(（[【〔][^)）\]】〕]*[)）\]】〕]/g;
const DOTS = /[·•・.．‧･∙⋅]/g;
const TRAILING_MARKS = /[*＊#＃]+$/;

export interface NameParse {
  /** trimmed original */
  name: string;
  /** comparison form; null when nothing is left */
  norm: string | null;
  /** the file's encoding lost a character (`?`) */
  hasUnknownChar: boolean;
}

/** Anything the normal form would change; most names have none of it. */
const UNUSUAL = /[\s\u3000\u00a0\ufeff\u200b(（[【〔·•・.．‧･∙⋅*＊#＃？?\uff01-\uff5e]/;

export function parseName(text: string | null | undefined): NameParse | null {
  const name = cleanText(text);
  if (name === null) return null;
  if (!UNUSUAL.test(name)) return { name, norm: name, hasUnknownChar: false };
  const norm = removeSpaces(toHalfWidth(name))
    .replace(ANNOTATION, '')
    .replace(TRAILING_MARKS, '')
    .replace(DOTS, '')
    .replace(/？/g, '?');
  return { name, norm: norm === '' ? null : norm, hasUnknownChar: norm.includes('?') };
}
