import { describe, expect, it } from 'vitest';
import { rowHash } from '../../src/ingest/row-hash.js';

describe('rowHash', () => {
  it('is stable, fits in a bigint column exactly, and tells cell boundaries apart', () => {
    const h = rowHash(['王伟', '520203197012170351', '12.30']);
    expect(h).toBe(rowHash(['王伟', '520203197012170351', '12.30']));
    expect(Number.isSafeInteger(h)).toBe(true);
    expect(rowHash(['ab', 'c'])).not.toBe(rowHash(['a', 'bc']));
    expect(rowHash(['a', ''])).not.toBe(rowHash(['a']));
  });
  it('spreads 100,000 similar rows without collisions', () => {
    const seen = new Set<number>();
    for (let i = 0; i < 100_000; i++) seen.add(rowHash(['20250100' + String(i).padStart(6, '0'), '王伟', '100.00']));
    expect(seen.size).toBe(100_000);
  });
});
