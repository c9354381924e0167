import { describe, expect, it } from 'vitest';
import { copyLine, copyTextArray } from '../../src/db/copy.js';
import { CopyBytes } from '../../src/ingest/copy-bytes.js';
import { rowHash } from '../../src/ingest/row-hash.js';

const TEXTS = ['', 'plain', '王伟', 'a\tb', 'line\nbreak\r', 'back\\slash', 'say "hi"', 'nul\0byte', '😀 emoji', 'lone \ud800 high', 'lone \udc00 low', 'é', '{"x"}', '\\N'];

describe('CopyBytes', () => {
  it('writes the same bytes as copyLine, escapes and all', () => {
    const values: (string | number | boolean | null | undefined)[] = [...TEXTS, null, undefined, 0, -12345, 2.5, Number.NaN, true, false];
    const w = new CopyBytes(16); // small chunks: values span them
    values.forEach((v, i) => {
      if (i > 0) w.tab();
      if (typeof v === 'number') w.number(v);
      else if (typeof v === 'boolean') w.bool(v);
      else w.text(v);
    });
    w.newline();
    // compared as bytes: the old path encoded its string with Buffer.write, a lone surrogate as U+FFFD
    expect(Buffer.concat(w.take())).toEqual(Buffer.from(copyLine(values), 'utf8'));
  });

  it('writes text arrays as copyTextArray does, and hashes them as rowHash does', () => {
    for (const items of [[], ['only'], TEXTS, ['a', 'bc'], ['ab', 'c']]) {
      const w = new CopyBytes();
      const hash = w.textArray(items);
      expect(Buffer.concat(w.take())).toEqual(Buffer.from(copyTextArray(items), 'utf8'));
      expect(hash).toBe(rowHash(items));
    }
  });
});
