/**
 * A small seeded PRNG for the synthetic county: xoshiro128** (Blackman & Vigna),
 * seeded through splitmix32. Never Math.random: the same seed must give the same
 * county, byte for byte.
 *
 * `derive(...labels)` gives an independent stream keyed by labels without touching
 * the parent's state, so one part of the generator can change how many numbers it
 * draws without shifting every other part (and record-level decisions, such as
 * "this person's id carries a typo in the civil database", can be recomputed from
 * the key alone).
 */

/** 32-bit FNV-1a over the labels' text, finished with a murmur3 mix. */
export function hash32(...parts: readonly (string | number)[]): number {
  let h = 0x811c9dc5;
  for (const part of parts) {
    const s = typeof part === 'number' ? String(part) : part;
    for (let i = 0; i < s.length; i++) {
      h ^= s.charCodeAt(i);
      h = Math.imul(h, 0x01000193);
    }
    h ^= 0x1f; // separator, so ('ab','c') and ('a','bc') differ
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function splitmix32(state: number): { state: number; value: number } {
  const s = (state + 0x9e3779b9) >>> 0;
  let z = s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  z ^= z >>> 16;
  return { state: s, value: z >>> 0 };
}

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  /** The 32-bit key this stream was seeded from; `derive` hashes it with new labels. */
  readonly key: number;

  constructor(seed: number, ...labels: readonly (string | number)[]) {
    this.key = hash32(seed, ...labels);
    let st = this.key;
    const words: number[] = [];
    for (let i = 0; i < 4; i++) {
      const r = splitmix32(st);
      st = r.state;
      words.push(r.value);
    }
    [this.a, this.b, this.c, this.d] = words as [number, number, number, number];
    if ((this.a | this.b | this.c | this.d) === 0) this.d = 1; // the one forbidden state
  }

  /** An independent stream for the labels; this stream's state is not touched. */
  derive(...labels: readonly (string | number)[]): Rng {
    return new Rng(this.key, ...labels);
  }

  uint32(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return result;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.uint32() / 4294967296;
  }

  /** Uniform integer in [min, max], both inclusive. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(p: number): boolean {
    return p > 0 && this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty list');
    return items[Math.floor(this.next() * items.length)]!;
  }

  /** One of the items, with probability proportional to its weight. */
  weighted<T>(entries: readonly (readonly [T, number])[]): T {
    let total = 0;
    for (const [, w] of entries) total += w;
    let u = this.next() * total;
    for (const [item, w] of entries) {
      u -= w;
      if (u < 0) return item;
    }
    const last = entries[entries.length - 1];
    if (!last) throw new RangeError('weighted pick from an empty list');
    return last[0];
  }

  /** Normal-ish: the sum of four uniforms, scaled (no tails beyond ±3.5 sd, which suits ages and amounts). */
  normal(mean: number, sd: number): number {
    const s = this.next() + this.next() + this.next() + this.next() - 2; // variance 1/3
    return mean + sd * s * Math.sqrt(3);
  }

  /** Log-normal around a median; `sigma` on the log scale. */
  logNormal(median: number, sigma: number): number {
    return median * Math.exp(this.normal(0, sigma));
  }

  /** Poisson-distributed count (Knuth; fine for the small means used here). */
  poisson(mean: number): number {
    if (mean <= 0) return 0;
    const limit = Math.exp(-mean);
    let k = 0;
    let p = this.next();
    while (p > limit) {
      k++;
      p *= this.next();
    }
    return k;
  }

  /** Days until an event with a constant hazard per day (exponential waiting time). */
  waitingDays(perDay: number): number {
    return Math.floor(-Math.log(1 - this.next()) / perDay);
  }

  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      const t = items[i]!;
      items[i] = items[j]!;
      items[j] = t;
    }
    return items;
  }

  /** `count` distinct items, in the list's order. */
  sample<T>(items: readonly T[], count: number): T[] {
    const idx = this.shuffle(items.map((_, i) => i)).slice(0, Math.min(count, items.length));
    return idx.sort((x, y) => x - y).map((i) => items[i]!);
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
