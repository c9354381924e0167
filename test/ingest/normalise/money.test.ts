import { describe, expect, it } from 'vitest';
import { formatYuan, parseMoney } from '../../../src/ingest/normalise/money.js';

describe('parseMoney', () => {
  it.each([
    ['12345.67', 1234567],
    ['12,345.67', 1234567],
    ['1,234,567.00', 123456700],
    ['0.00', 0],
    ['-434.10', -43410],
    ['-1,234.5', -123450],
    ['5', 500],
    ['.5', 50],
    ['¥12.30', 1230],
    ['12.30元', 1230],
    ['(12.30)', -1230],
    ['１２.３０', 1230],
    [' 12.30 ', 1230],
  ])('%j is %i fen', (text, fen) => {
    expect(parseMoney(text)).toEqual({ fen, rounded: false });
  });

  it('rounds more than two decimals half-up on the magnitude, and says so', () => {
    expect(parseMoney('1.005')).toEqual({ fen: 101, rounded: true });
    expect(parseMoney('-1.005')).toEqual({ fen: -101, rounded: true });
    expect(parseMoney('1.004')).toEqual({ fen: 100, rounded: true });
    expect(parseMoney('1.000')).toEqual({ fen: 100, rounded: false });
  });

  it('does not use floating point', () => {
    expect(parseMoney('0.29')?.fen).toBe(29); // 0.29 * 100 = 28.999999999999996 in floating point
    expect(parseMoney('9007199254740.99')?.fen).toBe(900719925474099);
  });

  it.each(['', 'abc', '1,5', '12,34.00', '1.2.3', '--5'])('refuses %j', (text) => {
    expect(parseMoney(text)).toBeNull();
  });

  it('formats fen as yuan with two decimals', () => {
    expect(formatYuan(1234567)).toBe('12345.67');
    expect(formatYuan(-43410)).toBe('-434.10');
    expect(formatYuan(5)).toBe('0.05');
  });
});
