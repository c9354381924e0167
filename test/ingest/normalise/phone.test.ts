import { describe, expect, it } from 'vitest';
import { parsePhone } from '../../../src/ingest/normalise/phone.js';

describe('parsePhone', () => {
  it.each(['13912345678', '+86 13912345678', '+8613912345678', '008613912345678', '139-1234-5678', '139 1234 5678', '８６１３９１２３４５６７８'.slice(2)])(
    '%j is the mobile 13912345678',
    (text) => {
      expect(parsePhone(text)).toEqual({ phone: '13912345678', kind: 'mobile' });
    },
  );

  it('keeps landlines with their area code', () => {
    expect(parsePhone('0858-5321234')).toEqual({ phone: '08585321234', kind: 'landline' });
    expect(parsePhone('(0858)5321234')).toEqual({ phone: '08585321234', kind: 'landline' });
  });

  it('takes the first of several numbers', () => {
    expect(parsePhone('13912345678，13812345678')).toEqual({ phone: '13912345678', kind: 'mobile' });
  });

  it('returns null for empty cells and invalid for the rest', () => {
    expect(parsePhone('')).toBeNull();
    expect(parsePhone(' ')).toBeNull();
    expect(parsePhone('12345')).toEqual({ phone: null, kind: 'invalid' });
    expect(parsePhone('无')).toEqual({ phone: null, kind: 'invalid' });
  });
});
