import { describe, expect, it } from 'vitest';
import { createNameTools } from '../../src/match/chinese.js';
import { estimateWeights, posteriors, score, type Labelled } from '../../src/match/weights.js';
import type { Probe, Profile } from '../../src/match/compare.js';

const tools = createNameTools();
const probe = (name: string, birth: string): Probe => ({
  name, fold: name, idStatus: 'missing', idValue: null, birth, gender: null, headId: null, isSelf: false, relation: null, roster: null, household: 'h1',
  township: null, village: null, phone: null,
});
const profile = (name: string, birth: string, household: string): Profile => ({
  key: name, id18: null, partials: [], names: [name], folds: [name], births: [birth], genders: [], headIds: [], households: [household],
  places: [], phones: [], relations: [], rosters: [],
});

describe('estimating weights from labelled pairs', () => {
  // 100 matches agree on name and birth; 100 household non-matches (siblings) share the birth date
  // one time in ten and never the name; 100 strangers agree on nothing
  const pairs: Labelled[] = [];
  for (let i = 0; i < 100; i++) {
    pairs.push({ probe: probe(`甲${i}`, '2000-01-01'), profile: profile(`甲${i}`, '2000-01-01', 'h1'), match: true });
    pairs.push({ probe: probe(`甲${i}`, '2000-01-01'), profile: profile(`乙${i}`, i % 10 === 0 ? '2000-01-01' : '1990-01-01', 'h1'), match: false });
    pairs.push({ probe: probe(`甲${i}`, '2000-01-01'), profile: profile(`丙丁${i}`, '1970-01-01', 'h9'), match: false });
  }
  const w = estimateWeights(pairs, { household: 0.001, village: 0.01, township: 0.1, elsewhere: 0.889 }, 1000, tools, () => 1);

  it('counts m and u with add-one smoothing, u per context level', () => {
    expect(w.m.name!.exact).toBeCloseTo(101 / 106, 6);
    expect(w.u.household!.birth!.exact).toBeCloseTo(11 / 102, 6);
    expect(w.u.elsewhere!.birth!.exact).toBeCloseTo(1 / 102, 6);
    expect(w.pairs).toEqual({ matches: 100, nonMatches: { household: 100, village: 0, township: 0, elsewhere: 100 }, persons: 1000, staff: { confirmed: 0, rejected: 0 } });
  });

  it('makes a shared birthday weak evidence inside a household and strong evidence outside', () => {
    expect(w.w.household!.birth!.exact).toBeLessThan(w.w.elsewhere!.birth!.exact!);
    expect(w.w.household!.birth!.exact).toBeGreaterThan(0);
  });

  it('reads a name one character off inside a household as a sibling, not a typing error', () => {
    // the siblings here are 乙0 … 乙99 beside 甲0 … 甲99: one character apart
    expect(w.w.household!.name!.one_char).toBeLessThan(-5);
    expect(w.w.elsewhere!.name!.one_char).toBeGreaterThan(w.w.household!.name!.one_char!);
  });

  it('weighs the context by how few persons share it', () => {
    expect(w.context.w.household).toBeGreaterThan(9);
    expect(w.prior).toBeCloseTo(Math.log2(1 / 999), 5);
  });

  it('adjusts name agreement for how common the name is, outside the household only', () => {
    const levels = { name: 'exact' } as const;
    const rare = score(w, 'village', levels, '甲1', () => 1).total;
    const common = score(w, 'village', levels, '甲1', () => 8).total;
    expect(rare - common).toBeCloseTo(3, 5);
    expect(score(w, 'household', levels, '甲1', () => 8).total).toBe(score(w, 'household', levels, '甲1', () => 1).total);
  });
});

describe('posteriors', () => {
  it('share the probability between equally good candidates', () => {
    const [a, b] = posteriors([12, 12]);
    expect(a).toBeCloseTo(b!, 10);
    expect(a!).toBeLessThan(0.5);
    expect(posteriors([12, -5])[0]).toBeGreaterThan(0.999);
    expect(posteriors([-5])[0]).toBeLessThan(0.05);
  });
});
