/**
 * The policy of policy.md as small cases a policy officer can read: one person, the
 * categories they hold, their settlements, and what each should receive. Amounts are
 * in yuan here (the code works in fen). The policy is the default file.
 */
import { describe, expect, it } from 'vitest';
import { loadPolicy, type Category } from '../../src/policy/policy.js';
import { applyAgeOut, assessPerson, personYearFlags, settlementFlag, type Claim, type Holding } from '../../src/policy/calculate.js';

const policy = loadPolicy();
const fen = (yuan: number) => Math.round(yuan * 100);

interface Case {
  holds: [Category, string, string | null][];
  /** [service date, medical type, base in yuan, paid in yuan?] */
  settlements: [string, string, number, number?][];
  born?: string;
}

function entitled(c: Case): { category: Category | null; yuan: number }[] {
  const holdings: Holding[] = c.holds.map(([category, validFrom, validTo]) => ({ category, validFrom, validTo, firstListed: validFrom }));
  const claims: Claim[] = c.settlements.map(([serviceDate, medType, base, paid], i) => ({
    settlementId: `S${String(i).padStart(3, '0')}`, serviceDate, settledOn: serviceDate, medType, base: fen(base), paid: fen(paid ?? 0), place: 'local', method: 'one_stop',
  }));
  return assessPerson(policy, claims, applyAgeOut(policy, holdings, c.born ?? null)).map((a) => ({ category: a.category, yuan: a.entitled / 100 }));
}

describe('the deductible', () => {
  it('carries over within a year: 防返贫监测对象 pays the first 1,000 yuan of the year once', () => {
    // 2025: monitored, deductible 1,000, 60%
    expect(entitled({ holds: [['monitored', '2020-01-01', null]], settlements: [['2025-03-01', '21', 600], ['2025-06-01', '21', 2000]] })).toEqual([
      { category: 'monitored', yuan: 0 }, // 600 of the 1,000 used up
      { category: 'monitored', yuan: 960 }, // (2,000 − 400) × 60%
    ]);
  });
  it('starts again every calendar year', () => {
    expect(entitled({ holds: [['monitored', '2020-01-01', null]], settlements: [['2025-12-20', '21', 1000], ['2026-01-05', '21', 1000]] })).toEqual([
      { category: 'monitored', yuan: 0 },
      { category: 'monitored', yuan: 0 }, // a new year: the first 1,000 again
    ]);
  });
});

describe('the annual cap', () => {
  it('is shared by every settlement of the year: 特困人员 at 100%, 60,000 yuan in 2025', () => {
    expect(entitled({ holds: [['destitute', '2020-01-01', null]], settlements: [['2025-02-01', '21', 50000], ['2025-05-01', '21', 20000], ['2025-09-01', '21', 5000]] })).toEqual([
      { category: 'destitute', yuan: 50000 },
      { category: 'destitute', yuan: 10000 }, // what is left of the cap
      { category: 'destitute', yuan: 0 }, // exhausted
    ]);
  });
});

describe('the category on the service date', () => {
  it('changes mid-year with the person: 低保 until June, 低保边缘 from July, one deductible for the year', () => {
    expect(entitled({
      holds: [['dibao', '2020-01-01', '2025-07-01'], ['dibao_edge', '2025-07-01', null]],
      settlements: [['2025-05-10', '21', 1000], ['2025-08-10', '21', 2000]],
    })).toEqual([
      { category: 'dibao', yuan: 700 }, // no deductible, 70%
      { category: 'dibao_edge', yuan: 300 }, // 低保 used none of the year's deductible: (2,000 − 1,500) × 60%
    ]);
  });
  it('is none on a day no category is held, which leaves the running sums alone', () => {
    expect(entitled({ holds: [['dibao', '2025-06-01', null]], settlements: [['2025-05-31', '21', 1000], ['2025-06-01', '21', 1000]] })).toEqual([
      { category: null, yuan: 0 },
      { category: 'dibao', yuan: 700 },
    ]);
  });
  it('only counts for assisted medical types: an ordinary outpatient visit (11) gets nothing', () => {
    expect(entitled({ holds: [['destitute', '2020-01-01', null]], settlements: [['2025-05-01', '11', 300], ['2025-05-02', '14', 300]] })).toEqual([
      { category: null, yuan: 0 },
      { category: 'destitute', yuan: 300 },
    ]);
  });
});

describe('from 2025 to 2026', () => {
  it('低保 rises from 70% to 75%, the cap from 60,000 to 80,000 yuan', () => {
    expect(entitled({ holds: [['dibao', '2020-01-01', null]], settlements: [['2025-12-31', '21', 1000], ['2026-01-01', '21', 1000]] })).toEqual([
      { category: 'dibao', yuan: 700 },
      { category: 'dibao', yuan: 750 },
    ]);
  });
  it('脱贫人口 is no longer assisted after 2025-12-31', () => {
    expect(entitled({ holds: [['lifted', '2016-01-01', null]], settlements: [['2025-12-31', '21', 3000], ['2026-01-01', '21', 3000]] })).toEqual([
      { category: 'lifted', yuan: 1000 }, // (3,000 − 1,000) × 50%
      { category: null, yuan: 0 },
    ]);
  });
});

describe('age-out', () => {
  it('ends 孤儿 on the 18th birthday, whatever the roster still says', () => {
    expect(entitled({ born: '2008-05-10', holds: [['orphan', '2015-01-01', null]], settlements: [['2026-05-09', '21', 1000], ['2026-05-10', '21', 1000]] })).toEqual([
      { category: 'orphan', yuan: 1000 },
      { category: null, yuan: 0 },
    ]);
  });
});

describe('several categories on one day', () => {
  it('takes the one that pays most: 低保 (70%, no deductible) over 重度残疾 (60%, 1,000 deductible)', () => {
    expect(entitled({ holds: [['severe_disability', '2020-01-01', null], ['dibao', '2020-01-01', null]], settlements: [['2025-05-01', '21', 5000]] })).toEqual([{ category: 'dibao', yuan: 3500 }]);
  });
  it('takes the one that pays most even when it has a deductible: 因病致贫 over 防返贫监测 on a large bill', () => {
    // 2026: monitored 1,000 at 65% → 64,350; catastrophic 4,000 at 55% → 52,800: monitored wins
    expect(entitled({ holds: [['catastrophic', '2020-01-01', null], ['monitored', '2020-01-01', null]], settlements: [['2026-05-01', '21', 100000]] })).toEqual([{ category: 'monitored', yuan: 64350 }]);
  });
  it('breaks ties by priority: 特困人员 before 孤儿, both at 100%', () => {
    expect(entitled({ holds: [['orphan', '2020-01-01', null], ['destitute', '2020-01-01', null]], settlements: [['2025-05-01', '21', 500]] })).toEqual([{ category: 'destitute', yuan: 500 }]);
  });
});

describe('rounding', () => {
  it('is half-up to the fen: 3.33 yuan at 75% is 2.50 (2.4975 would be 2.50 too)', () => {
    expect(entitled({ holds: [['dibao', '2020-01-01', null]], settlements: [['2026-05-01', '14', 3.33], ['2026-05-02', '14', 0.02]] })).toEqual([
      { category: 'dibao', yuan: 2.5 },
      { category: 'dibao', yuan: 0.02 }, // 0.015 rounds up
    ]);
  });
});

describe('flags (policy.md §4)', () => {
  const assess = (paid: number, place = 'local', method = 'one_stop', firstListed = '2020-01-01') => {
    const claim: Claim = { settlementId: 'S1', serviceDate: '2025-05-01', settledOn: '2025-05-03', medType: '21', base: fen(1000), paid: fen(paid), place, method };
    const [a] = assessPerson(policy, [claim], [{ category: 'dibao', validFrom: '2020-01-01', validTo: null, firstListed }]);
    return settlementFlag(policy, a!, claim);
  };
  it('unclaimed, and why the bedside settlement missed it', () => {
    expect(assess(0)).toEqual({ flag: 'unclaimed', reason: 'missed_one_stop' });
    expect(assess(0, 'local', 'manual_claim')).toEqual({ flag: 'unclaimed', reason: 'manual_claim' });
    expect(assess(0, 'cross_province')).toEqual({ flag: 'unclaimed', reason: 'out_of_area' });
    expect(assess(0, 'local', 'one_stop', '2025-05-31')).toEqual({ flag: 'unclaimed', reason: 'recognised_late' });
  });
  it('underpaid and overpaid from 10 yuan on; nothing below', () => {
    expect(assess(690)).toEqual({ flag: 'underpaid', reason: null }); // entitled 700
    expect(assess(695)).toBeNull();
    expect(assess(710)).toEqual({ flag: 'overpaid', reason: null });
  });
  it('a person-year burden: high_burden with a category, potential_catastrophic without', () => {
    const big: Claim = { settlementId: 'B1', serviceDate: '2025-03-01', settledOn: '2025-03-02', medType: '21', base: fen(40000), paid: 0, place: 'local', method: 'one_stop' };
    const held: Holding[] = [{ category: 'monitored', validFrom: '2020-01-01', validTo: null, firstListed: null }];
    expect(personYearFlags(policy, assessPerson(policy, [big], held), held, '2025-12-31')).toEqual([{ year: 2025, flag: 'high_burden', amount: fen(40000 - 23400) }]);
    expect(personYearFlags(policy, assessPerson(policy, [big], []), [], '2025-12-31')).toEqual([{ year: 2025, flag: 'potential_catastrophic', amount: fen(40000) }]);
  });
});
