import { describe, expect, it } from 'vitest';
import { dateFromFileName, dateFromTitle, resolveAsOf } from '../../src/ingest/as-of.js';
import { loadMapping } from '../../src/ingest/mapping.js';

const keywords = loadMapping().titleDateKeywords;

describe('as-of date in a title line', () => {
  it.each([
    ['导出日期:2026-10-31', '2026-10-31'],
    ['导出日期：2026-10-31', '2026-10-31'],
    ['截至2026年10月31日', '2026-10-31'],
    ['截至日期:2026年10月31日', '2026-10-31'],
    ['填报单位:六枝特区   截至日期:2025年3月31日', '2025-03-31'],
    ['六枝特区民政救助对象名册(含历史退出人员) 截至2024年12月31日', '2024-12-31'],
    ['截至 2026/9/30', '2026-09-30'],
    ['截止日期：20260930', '2026-09-30'],
    ['截至2026年10月', '2026-10-31'],
  ])('%j → %s', (line, date) => {
    expect(dateFromTitle(['some title', line], keywords)).toBe(date);
  });

  it('ignores dates that no keyword introduces', () => {
    expect(dateFromTitle(['六枝特区城乡低保特困等救助对象名册 2025年3月'], keywords)).toBeNull();
  });
});

describe('as-of date in a file name', () => {
  it.each([
    ['civil_20261031.csv', '2026-10-31'],
    ['名册_2026-10-31.xlsx', '2026-10-31'],
    ['名册_2026年10月31日.csv', '2026-10-31'],
    ['六枝特区城乡低保特困名册_2026年2月.csv', '2026-02-28'],
    ['医保结算明细_202410.csv', '2024-10-31'],
    ['医保结算明细_202402.csv', '2024-02-29'],
    ['防返贫监测和脱贫人口信息_2025年第3季度.xlsx', '2025-09-30'],
    ['防返贫监测和脱贫人口信息_2025年第4季度.xlsx', '2025-12-31'],
    ['民政救助对象历史名册_截至2024年12月31日.csv', '2024-12-31'],
    ['dir/2026Q1.csv', '2026-03-31'],
  ])('%j → %s', (name, date) => {
    expect(dateFromFileName(name)).toBe(date);
  });

  it.each(['roster.csv', 'v2_final.xlsx', '52020319701217035X.csv', 'x_202613.csv'])('finds nothing in %j', (name) => {
    expect(dateFromFileName(name)).toBeNull();
  });
});

describe('resolving the as-of date (spec §2 order)', () => {
  it('prefers the title, warning when the file name disagrees', () => {
    const r = resolveAsOf({ title: '2026-10-31', fileName: '2026-09-30' });
    expect(r).toMatchObject({ ok: true, asOf: '2026-10-31', origin: 'title' });
    expect(r.ok && r.problems.map((p) => p.code)).toEqual(['as_of_mismatch']);
  });
  it('uses the file name, then the argument', () => {
    expect(resolveAsOf({ title: null, fileName: '2026-09-30', argument: '2026-09-30' })).toMatchObject({ asOf: '2026-09-30', origin: 'filename', problems: [] });
    expect(resolveAsOf({ title: null, fileName: null, argument: '2026-08-31' })).toMatchObject({ asOf: '2026-08-31', origin: 'argument' });
  });
  it('fails with a message telling staff what to do', () => {
    const r = resolveAsOf({ title: null, fileName: null });
    expect(r.ok).toBe(false);
    expect(!r.ok && r.problem.message).toContain('--as-of');
  });
});
