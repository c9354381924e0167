/**
 * A fast 53-bit hash of a row's raw cells (cyrb53), computed while rows stream
 * in so that finding duplicate rows is a group-by on a number, not a sort of
 * every row. Equal hashes are only candidates: the cells themselves decide.
 */
export function rowHash(cells: readonly string[]): number {
  let h1 = ROW_HASH_SEED1;
  let h2 = ROW_HASH_SEED2;
  for (let c = 0; c < cells.length; c++) {
    const s = cells[c]!;
    for (let i = 0; i < s.length; i++) {
      const ch = s.charCodeAt(i);
      h1 = Math.imul(h1 ^ ch, 2654435761);
      h2 = Math.imul(h2 ^ ch, 1597334677);
    }
    // a separator, so that ['ab','c'] and ['a','bc'] differ
    h1 = Math.imul(h1 ^ 0x1f, 2654435761);
    h2 = Math.imul(h2 ^ 0x1f, 1597334677);
  }
  return finishRowHash(h1, h2);
}

/**
 * The hash's seeds and its final mixing, for writers that fold the same characters in
 * as they encode them (copy-bytes.ts): they must give exactly rowHash of the cells.
 */
export const ROW_HASH_SEED1 = 0xdeadbeef;
export const ROW_HASH_SEED2 = 0x41c6ce57;

export function finishRowHash(a: number, b: number): number {
  let h1 = a;
  let h2 = b;
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}
