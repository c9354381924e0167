/**
 * Chinese names compared the way people misspell them (spec §5): traditional for
 * simplified characters (陳/陈), a rare character typed as a look-alike or same-sound
 * one (燊→森, 喆→哲), `?` where an encoding lost a character. Three comparison forms:
 *
 *   fold   simplified, with look-alikes replaced by the common character (config/name-variants.yaml)
 *   sound  fuzzy toneless pinyin per character (zh/z, ch/c, sh/s, n/l, -ing/-in, -eng/-en, -ang/-an
 *          folded: the confusions of south-western Mandarin, where the sample county lies)
 *   ?      a wildcard for exactly one character
 *
 * Everything is memoised per character or name: a county has a few thousand names.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import * as OpenCC from 'opencc-js';
import { pinyin } from 'pinyin-pro';

export const DEFAULT_NAME_VARIANTS_FILE = fileURLToPath(new URL('../../config/name-variants.yaml', import.meta.url));

const variantsSchema = z.object({ lookalike: z.record(z.string().length(1), z.string().length(1)) }).strict();

export class NameVariantsError extends Error {
  override name = 'NameVariantsError';
}

function readVariants(path: string): Map<string, string> {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new NameVariantsError(`name-variants file ${path}: ${(err as Error).message.split('\n')[0]}`);
  }
  const parsed = variantsSchema.safeParse(doc);
  if (!parsed.success) {
    throw new NameVariantsError(`name-variants file ${path} is invalid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  return new Map(Object.entries(parsed.data.lookalike));
}

export interface NameTools {
  /** simplified, look-alikes folded; `?` kept */
  fold(name: string): string;
  /** one fuzzy pinyin syllable per character (the first reading; `?` stays `?`) */
  soundKey(name: string): string;
  /** do two characters share a fuzzy reading (any of their readings)? */
  soundAlike(a: string, b: string): boolean;
}

const toSimplified = OpenCC.Converter({ from: 'tw', to: 'cn' });

/** The confusions folded away: retroflex and dental initials, n/l, front and back nasals. */
function fuzzy(syllable: string): string {
  return syllable
    .replace(/^zh/, 'z')
    .replace(/^ch/, 'c')
    .replace(/^sh/, 's')
    .replace(/^n(?=[^g]|$)/, 'l')
    .replace(/ing$/, 'in')
    .replace(/eng$/, 'en')
    .replace(/ang$/, 'an')
    .replace(/ü/g, 'v');
}

export function createNameTools(extraVariantFiles: readonly string[] = []): NameTools {
  const lookalike = new Map<string, string>();
  for (const f of [DEFAULT_NAME_VARIANTS_FILE, ...extraVariantFiles]) for (const [k, v] of readVariants(f)) lookalike.set(k, v);

  const folded = new Map<string, string>();
  const readings = new Map<string, Set<string>>();
  const keys = new Map<string, string>();

  const readingsOf = (ch: string): Set<string> => {
    let r = readings.get(ch);
    if (!r) {
      const all = /\p{Script=Han}/u.test(ch) ? (pinyin(ch, { toneType: 'none', type: 'array', multiple: true }) as string[]) : [ch.toLowerCase()];
      r = new Set(all.map(fuzzy));
      readings.set(ch, r);
    }
    return r;
  };

  const fold = (name: string): string => {
    let f = folded.get(name);
    if (f === undefined) {
      f = [...toSimplified(name)].map((c) => lookalike.get(c) ?? c).join('');
      folded.set(name, f);
    }
    return f;
  };

  return {
    fold,
    soundKey(name) {
      let k = keys.get(name);
      if (k === undefined) {
        const chars = [...fold(name)];
        // surname readings first (单 shan as a surname), then each character's most common reading
        const first = chars[0] && /\p{Script=Han}/u.test(chars[0]) ? pinyin(chars[0], { toneType: 'none', surname: 'head' }) : chars[0] ?? '';
        k = [fuzzy(first), ...chars.slice(1).map((c) => (c === '?' ? '?' : [...readingsOf(c)][0] ?? c))].join(' ');
        keys.set(name, k);
      }
      return k;
    },
    soundAlike(a, b) {
      if (a === b) return true;
      const ra = readingsOf(a);
      for (const r of readingsOf(b)) if (ra.has(r)) return true;
      return false;
    },
  };
}
