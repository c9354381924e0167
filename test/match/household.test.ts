import { describe, expect, it } from 'vitest';
import { householdOnRoster, housemateClaims, MAX_HOUSEHOLD_ROWS } from '../../src/match/household.js';
import type { Probe } from '../../src/match/compare.js';

const LINK = 0.99;

function probe(p: Partial<Probe>): Probe {
  return {
    name: null, fold: null, idStatus: 'missing', idValue: null, birth: null, gender: null,
    headId: null, isSelf: false, relation: null, roster: 7, household: 'H1', township: null, village: null, phone: null, ...p,
  };
}
/** A candidate list, best first; a total of 20 is sure (probability ≈ 1), 0 is a coin toss against nobody. */
const cands = (...c: [string, number][]) => c.map(([key, total]) => ({ key, total }));

describe('the household a roster row is listed in', () => {
  it('is its roster and its head\'s id, else its 户编号; a settlement is in none', () => {
    expect(householdOnRoster(probe({ headId: '5202', household: 'H1' }))).toBe('7|head:5202');
    expect(householdOnRoster(probe({}))).toBe('7|hh:H1');
    expect(householdOnRoster(probe({ household: null }))).toBeNull();
    expect(householdOnRoster(probe({ roster: null }))).toBeNull();
  });
});

describe('one row per person in a household on a roster', () => {
  it('the surest row takes its person; its housemate may not take the same one, and takes the one left', () => {
    const rows = [probe({ name: '杨丽', birth: '2001-02-02' }), probe({ name: '杨丽' })];
    // alone, the second row would take li (12 against 10); without li, li2 is sure
    const claims = housemateClaims(rows, [cands(['li', 20], ['li2', 2]), cands(['li', 12], ['li2', 10])], LINK);
    expect([...claims[1]!]).toEqual(['li']);
    expect([...claims[0]!]).toEqual(['li2']);
  });

  it('a row left unsure keeps every person no housemate took', () => {
    const rows = [probe({ name: '杨丽', birth: '2001-02-02' }), probe({ name: '杨丽' })];
    const claims = housemateClaims(rows, [cands(['li', 20]), cands(['li', 12], ['li2', 2], ['li3', 2])], LINK);
    expect([...claims[1]!]).toEqual(['li']);
    expect(claims[0]).toBeUndefined();
  });

  it('takes nothing when no row is sure', () => {
    const rows = [probe({ name: '杨丽', birth: '2001-02-02' }), probe({ name: '杨丽' })];
    expect(housemateClaims(rows, [cands(['li', 3]), cands(['li', 3])], LINK)).toEqual([undefined, undefined]);
  });

  it('lets a duplicated row share its person with the row it copies', () => {
    const rows = [probe({ name: '杨丽' }), probe({ name: '杨丽' })];
    expect(housemateClaims(rows, [cands(['li', 20]), cands(['li', 20])], LINK)).toEqual([undefined, undefined]);
  });

  it('leaves rows of other rosters, other households, and settlements alone', () => {
    const rows = [probe({ name: '杨丽', birth: '2001-02-02' }), probe({ name: '杨丽', roster: 8 }), probe({ name: '杨丽', household: 'H2' }), probe({ name: '杨丽', roster: null, household: null })];
    const sure = cands(['li', 20]);
    expect(housemateClaims(rows, [sure, sure, sure, sure], LINK)).toEqual([undefined, undefined, undefined, undefined]);
  });

  it('does not treat a key shared by more rows than a household has as a household', () => {
    const rows = Array.from({ length: MAX_HOUSEHOLD_ROWS + 1 }, (_, i) => probe({ name: `王${i}` }));
    expect(housemateClaims(rows, rows.map(() => cands(['w', 20])), LINK).every((c) => c === undefined)).toBe(true);
  });
});
