import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_POLICY_FILE, loadPolicy, PolicyError } from '../../src/policy/policy.js';

const dir = mkdtempSync(join(tmpdir(), 'aidlink-policy-'));
const base = readFileSync(DEFAULT_POLICY_FILE, 'utf8');
function policyWith(edit: (text: string) => string): string {
  const p = join(dir, `p-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(p, edit(base));
  return p;
}

describe('the policy file', () => {
  it('loads the example policy of policy.md, in fen and basis points', () => {
    const p = loadPolicy();
    expect(p.periods.map((x) => [x.from, x.to, x.annualCap])).toEqual([['2025-01-01', '2025-12-31', 6_000_000], ['2026-01-01', '2026-12-31', 8_000_000]]);
    expect(p.periods[0]!.categories.get('dibao')).toEqual({ deductible: 0, ratio: 7000 });
    expect(p.periods[1]!.categories.get('monitored')).toEqual({ deductible: 100_000, ratio: 6500 });
    expect(p.periods[1]!.categories.has('lifted')).toBe(false);
    expect(p.thresholds).toEqual({ unclaimed: 1000, underpaid: 1000, overpaid: 1000, highBurden: 1_500_000, potentialCatastrophic: 2_000_000 });
    expect([...p.periods[0]!.medicalTypes].sort()).toEqual(['14', '21', '22', '23', '24', '92']);
    expect(p.ageOut.get('orphan')).toBe(18);
  });

  it.each([
    ['a gap between periods', (t: string) => t.replace('from: 2026-01-01', 'from: 2026-02-01'), /gap between periods: nothing covers 2026-01-01 to the day before 2026-02-01/],
    ['overlapping periods', (t: string) => t.replace('from: 2026-01-01', 'from: 2025-12-01'), /periods 2025-01-01–2025-12-31 and 2025-12-01–2026-12-31 overlap/],
    ['an unknown category', (t: string) => t.replace('lifted:            { deductible: 1000, ratio: 50% }', 'lifted:            { deductible: 1000, ratio: 50% }\n      veteran:           { deductible: 0, ratio: 90% }'), /unknown category "veteran"/],
    ['a ratio over 100%', (t: string) => t.replace('ratio: 75%', 'ratio: 175%'), /not a ratio between 0% and 100%/],
    ['an amount that is not one', (t: string) => t.replace('annual_cap: 80000', 'annual_cap: lots'), /periods\.1\.annual_cap: not an amount of yuan/],
    ['a category left out of the priority', (t: string) => t.replace(', lifted]', ']'), /priority: every category must be ranked; missing lifted/],
    ['a period ending before it begins', (t: string) => t.replace('to: 2026-12-31', 'to: 2025-06-30'), /ends before it begins/],
  ])('fails to load with %s, naming the file and the entry', (_what, edit, message) => {
    const p = policyWith(edit);
    expect(() => loadPolicy(p)).toThrow(PolicyError);
    expect(() => loadPolicy(p)).toThrow(message);
    expect(() => loadPolicy(p)).toThrow(p);
  });
});
