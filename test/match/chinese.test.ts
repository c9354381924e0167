import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNameTools, NameVariantsError } from '../../src/match/chinese.js';

const tools = createNameTools();

describe('name comparison forms', () => {
  it('folds traditional characters to simplified', () => {
    expect(tools.fold('陳世偉')).toBe('陈世伟');
    expect(tools.fold('劉倩群')).toBe('刘倩群');
    expect(tools.fold('楊艷婷')).toBe('杨艳婷');
  });

  it('folds rare characters typed as look-alikes (spec: 哲 for 喆, 坤 for 堃)', () => {
    expect(tools.fold('王喆')).toBe(tools.fold('王哲'));
    expect(tools.fold('李堃')).toBe(tools.fold('李坤'));
    expect(tools.fold('何燊芳')).toBe('何森芳');
  });

  it('keeps ? and characters it does not know', () => {
    expect(tools.fold('王?')).toBe('王?');
    expect(tools.fold('阿依古丽吐尔逊')).toBe('阿依古丽吐尔逊');
  });

  it('hears same-sound characters alike, with the dialect confusions folded', () => {
    expect(tools.soundAlike('淼', '妙')).toBe(true); // miao
    expect(tools.soundAlike('龑', '岩')).toBe(true); // yan
    expect(tools.soundAlike('燊', '森')).toBe(true); // shen ~ sen
    expect(tools.soundAlike('曾', '增')).toBe(true); // zeng, a surname with two readings
    expect(tools.soundAlike('王', '李')).toBe(false);
  });

  it('gives one sound key per name, the surname read as a surname', () => {
    expect(tools.soundKey('单雄信')).toBe('san xiong xin');
    expect(tools.soundKey('王?')).toBe('wan ?');
  });

  it('takes a deployment\'s extra look-alikes, and refuses a malformed file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'aidlink-names-'));
    const good = join(dir, 'extra.yaml');
    writeFileSync(good, 'lookalike:\n  玥: 悦\n');
    expect(createNameTools([good]).fold('张玥')).toBe('张悦');
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'lookalike:\n  玥玥: 悦\n');
    expect(() => createNameTools([bad])).toThrow(NameVariantsError);
  });
});
