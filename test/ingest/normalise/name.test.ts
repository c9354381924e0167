import { describe, expect, it } from 'vitest';
import { parseName } from '../../../src/ingest/normalise/name.js';

describe('parseName', () => {
  it.each([
    ['贾 鹏平', '贾鹏平'],
    ['贾\u3000鹏平', '贾鹏平'],
    [' 王伟 ', '王伟'],
    ['张秀英(户主)', '张秀英'],
    ['张秀英（已故）', '张秀英'],
    ['张秀英*', '张秀英'],
    ['张秀英【户主】', '张秀英'],
    ['阿依古丽·买买提', '阿依古丽买买提'],
    ['阿依古丽•买买提', '阿依古丽买买提'],
    ['阿依古丽・买买提', '阿依古丽买买提'],
    ['阿依古丽.买买提', '阿依古丽买买提'],
    ['阿依古丽买买提', '阿依古丽买买提'],
  ])('%j compares as %j, and the original is kept', (text, norm) => {
    expect(parseName(text)).toEqual({ name: text.trim(), norm, hasUnknownChar: false });
  });

  it('keeps traditional characters for the matcher to fold', () => {
    expect(parseName('陳建華')?.norm).toBe('陳建華');
  });

  it('marks a character lost to the encoding', () => {
    expect(parseName('王?')).toMatchObject({ norm: '王?', hasUnknownChar: true });
    expect(parseName('王？')).toMatchObject({ norm: '王?', hasUnknownChar: true });
  });

  it('returns null for empty cells and no comparison form for annotations alone', () => {
    expect(parseName('')).toBeNull();
    expect(parseName('   ')).toBeNull();
    expect(parseName('(户主)')).toEqual({ name: '(户主)', norm: null, hasUnknownChar: false });
  });
});
