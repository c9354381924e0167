import { describe, expect, it } from 'vitest';
import { checkChar, convertLegacy15, parseIdNumber } from '../../../src/ingest/normalise/id-number.js';

/** A synthetic id number with a correct check character. */
const id = (first17: string) => first17 + checkChar(first17);
const MALE = id('52020319701217035'); // sequence 035: odd, male
const FEMALE = id('52020319660920202');
const WITH_X = '52020319900902036X'; // from the sample, ends in X

describe('check character (ISO 7064 MOD 11-2)', () => {
  it('matches the standard example and numbers ending in X', () => {
    expect(checkChar('11010519491231002')).toBe('X'); // GB 11643 worked example
    expect(WITH_X.slice(-1)).toBe(checkChar(WITH_X.slice(0, 17)));
  });
});

describe('parseIdNumber', () => {
  it('accepts a valid number and reads birth date and gender from it', () => {
    expect(parseIdNumber(MALE)).toEqual({ status: 'valid', value: MALE, birthDate: '1970-12-17', gender: 'M' });
    expect(parseIdNumber(FEMALE).gender).toBe('F');
  });

  it.each([
    ['spaces inside', MALE.slice(0, 6) + ' ' + MALE.slice(6, 14) + ' ' + MALE.slice(14)],
    ['a tab before', '\t' + MALE],
    ['an ideographic space after', MALE + '\u3000'],
    ['full-width digits', MALE.replace(/[0-9]/g, (d) => String.fromCharCode(d.charCodeAt(0) + 0xfee0))],
    ['an Excel text apostrophe', "'" + MALE],
  ])('cleans %s', (_what, text) => {
    expect(parseIdNumber(text)).toMatchObject({ status: 'valid', value: MALE });
  });

  it('upper-cases a lowercase x', () => {
    expect(parseIdNumber(WITH_X.toLowerCase())).toMatchObject({ status: 'valid', value: WITH_X });
  });

  it('converts a legacy 15-digit number to 18 digits', () => {
    const legacy = '520203611030218'; // 1961-10-30, sequence 218
    const converted = convertLegacy15(legacy);
    expect(converted).toBe('52020319611030218' + checkChar('52020319611030218'));
    expect(parseIdNumber(legacy)).toEqual({ status: 'legacy15', value: converted, birthDate: '1961-10-30', gender: 'F' });
  });

  it.each(['', '无', '/', '  ', '—'])('treats %j as missing (children without numbers)', (text) => {
    expect(parseIdNumber(text)).toMatchObject({ status: 'missing', value: null });
  });

  it('keeps a masked number with its mask', () => {
    expect(parseIdNumber('520203********1234')).toMatchObject({ status: 'masked', value: '520203********1234', birthDate: null });
  });

  it('recognises spreadsheet damage: last three digits turned to 000', () => {
    const damaged = MALE.slice(0, 15) + '000';
    expect(parseIdNumber(damaged)).toMatchObject({ status: 'spreadsheet_damaged', value: MALE.slice(0, 15) });
  });

  it('recognises spreadsheet damage: scientific notation keeps only its mantissa', () => {
    expect(parseIdNumber('5.20203E+17')).toMatchObject({ status: 'spreadsheet_damaged', value: '520203' });
    expect(parseIdNumber('5.2020319850101e+17')).toMatchObject({ status: 'spreadsheet_damaged', value: '52020319850101' });
  });

  it('treats any 18 digits from a numeric spreadsheet cell as damaged', () => {
    // a number cell cannot hold 18 significant digits, whatever it shows
    expect(parseIdNumber(MALE, true)).toMatchObject({ status: 'spreadsheet_damaged', value: MALE.slice(0, 15) });
    expect(parseIdNumber('520203198501010000.0', true)).toMatchObject({ status: 'spreadsheet_damaged' });
  });

  it('flags a typing error that breaks the check character, keeping the text', () => {
    const oneDigit = MALE.slice(0, 10) + ((Number(MALE[10]) + 1) % 10) + MALE.slice(11);
    expect(parseIdNumber(oneDigit)).toMatchObject({ status: 'checksum_failed', value: oneDigit, birthDate: null, gender: null });
    const swapped = MALE.slice(0, 14) + MALE[15] + MALE[14] + MALE.slice(16);
    if (swapped !== MALE) expect(parseIdNumber(swapped).status).toBe('checksum_failed');
  });

  it('calls anything else malformed', () => {
    expect(parseIdNumber('12345').status).toBe('malformed');
    expect(parseIdNumber('护照E1234567').status).toBe('malformed');
    // a right check character on an impossible birth date is still not a valid number
    expect(parseIdNumber(id('52020319701317035')).status).toBe('malformed');
  });
});
