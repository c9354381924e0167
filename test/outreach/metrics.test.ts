/** The worklist's metrics arithmetic (src/outreach/metrics.ts), without a database. */
import { describe, expect, it } from 'vitest';
import type { CaseStatus } from '../../src/db/schema.js';
import { noCases, openCount, rates, totalOf, type CaseMetrics } from '../../src/outreach/metrics.js';

const counts = (c: Partial<Record<CaseStatus, number>>) => ({ ...noCases(), ...c });
const row = (township: string, month: string, c: Partial<Record<CaseStatus, number>>, recovered: number): CaseMetrics => {
  const byStatus = counts(c);
  return { township, month, cases: Object.values(byStatus).reduce((a, b) => a + b, 0), byStatus, ...rates(byStatus), recovered };
};

describe('case metrics', () => {
  it('contact rate: reached ÷ sent down; conversion: paid ÷ reached', () => {
    // sent: 2 dispatched + 1 unreachable + 1 contacted + 1 applied + 2 paid + 1 declined = 8; reached: 5
    const r = rates(counts({ pending: 4, dispatched: 2, unreachable: 1, contacted: 1, applied: 1, paid: 2, declined: 1, withdrawn: 3 }));
    expect(r.contactRate).toBe(5 / 8);
    expect(r.conversion).toBe(2 / 5);
  });

  it('no rate where nothing was sent down or reached', () => {
    expect(rates(counts({ pending: 3, withdrawn: 1 }))).toEqual({ contactRate: null, conversion: null });
    expect(rates(counts({ dispatched: 2 }))).toEqual({ contactRate: 0, conversion: null });
  });

  it('open cases leave out paid, declined and withdrawn', () => {
    expect(openCount(counts({ pending: 1, dispatched: 2, contacted: 3, applied: 4, unreachable: 5, paid: 6, declined: 7, withdrawn: 8 }))).toBe(15);
  });

  it('a total adds counts and amounts, and computes the rates again (not an average of rates)', () => {
    const a = row('甲镇', '2026-01', { dispatched: 3, contacted: 1 }, 0);
    const b = row('甲镇', '2026-02', { contacted: 1, paid: 1 }, 12_345);
    const t = totalOf([a, b], '甲镇');
    expect(t).toMatchObject({ township: '甲镇', month: '合计', cases: 6, recovered: 12_345 });
    expect(t.byStatus).toMatchObject({ dispatched: 3, contacted: 2, paid: 1, pending: 0 });
    expect(t.contactRate).toBe(3 / 6);
    expect(t.conversion).toBe(1 / 3);
    expect(totalOf([], '全县')).toMatchObject({ cases: 0, recovered: 0, contactRate: null, conversion: null });
  });
});
