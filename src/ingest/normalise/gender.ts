/** Gender (spec §5): 男/女, 1/2, M/F, or empty, read through the `gender` vocabulary. */
import type { Mapping } from '../mapping.js';
import { lookupLabel } from '../mapping.js';
import { cleanText } from './text.js';

export type GenderParse = { gender: 'M' | 'F' | null; known: boolean } | null;

/** null: empty cell. `known: false`: a label the vocabulary does not have. */
export function parseGender(
  mapping: Mapping,
  text: string | null | undefined,
  lookup: (vocab: 'gender', label: string) => string | undefined = (v, l) => lookupLabel(mapping, v, l),
): GenderParse {
  const t = cleanText(text);
  if (t === null) return null;
  const code = lookup('gender', t);
  if (code === 'M' || code === 'F') return { gender: code, known: true };
  return { gender: null, known: code === 'unknown' };
}
