/**
 * Phone numbers (spec §5): 13912345678, +86 13912345678, 139-1234-5678,
 * 139 1234 5678, landlines, or nothing. The normal form is digits only, without
 * the country code; a landline keeps its area code.
 */
import { removeSpaces, toHalfWidth } from './text.js';

const MOBILE = /^1[3-9]\d{9}$/;
const LANDLINE = /^(?:0\d{2,3})?[2-9]\d{6,7}$/;

export type PhoneParse = { phone: string; kind: 'mobile' | 'landline' } | { phone: null; kind: 'invalid' };

export function parsePhone(text: string | null | undefined): PhoneParse | null {
  if (text == null) return null;
  const first = toHalfWidth(text).split(/[,;，；、/]/)[0] ?? '';
  let s = removeSpaces(first).replace(/[-()（）.]/g, '');
  if (s === '') return null;
  s = s.replace(/^(?:\+86|0086|86(?=1[3-9]\d{9}$))/, '');
  if (MOBILE.test(s)) return { phone: s, kind: 'mobile' };
  if (LANDLINE.test(s)) return { phone: s, kind: 'landline' };
  return { phone: null, kind: 'invalid' };
}
