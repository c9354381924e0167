import { describe, expect, it } from 'vitest';
import { excelSerialToDate, monthEnd, parseDate } from '../../../src/ingest/normalise/date.js';

describe('parseDate', () => {
  it.each([
    '2025-01-05',
    '2025/1/5',
    '2025/01/05',
    '20250105',
    '2025.01.05',
    '2025.1.5',
    '2025年1月5日',
    '2025年01月05日',
    '2025-01-05 00:00:00',
    '2025/1/5 0:00',
    '2025/1/5 10:30:00',
    '2025年1月5日 10:30',
    '2025 年 1 月 5 日',
    '2025-01-05T00:00:00',
    '2025-01-05T00:00:00.000Z',
    '２０２５－０１－０５',
    ' 2025-01-05 ',
    '45662',
    '45662.0',
  ])('reads %j as 2025-01-05', (text) => {
    expect(parseDate(text)).toBe('2025-01-05');
  });

  it.each(['', '2025-02-30', '2025-13-01', '2025年1月', 'abc', '1800-01-01', '2025-01', '12345678'])('refuses %j', (text) => {
    expect(parseDate(text)).toBeNull();
  });

  it('converts Excel serial day numbers across the 1900 leap-year quirk', () => {
    expect(excelSerialToDate(45662)).toBe('2025-01-05'); // the spec's example
    expect(excelSerialToDate(61)).toBe('1900-03-01');
    expect(excelSerialToDate(43011)).toBe('2017-10-03');
    expect(excelSerialToDate(45662.75)).toBe('2025-01-05');
    expect(excelSerialToDate(60)).toBeNull(); // 1900-02-29 never existed
  });

  it('knows month ends, leap years included', () => {
    expect(monthEnd(2024, 2)).toBe('2024-02-29');
    expect(monthEnd(2026, 2)).toBe('2026-02-28');
    expect(monthEnd(2026, 12)).toBe('2026-12-31');
  });
});
