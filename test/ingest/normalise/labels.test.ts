import { describe, expect, it } from 'vitest';
import { loadMapping, lookupLabel } from '../../../src/ingest/mapping.js';
import { parseGender } from '../../../src/ingest/normalise/gender.js';
import { labelKey, toHalfWidth } from '../../../src/ingest/normalise/text.js';

const mapping = loadMapping();

describe('gender', () => {
  it.each([
    ['男', 'M'], ['女', 'F'], ['1', 'M'], ['2', 'F'], ['M', 'M'], ['F', 'F'], ['m', 'M'], ['f', 'F'], ['男性', 'M'],
  ])('%j is %s', (text, g) => {
    expect(parseGender(mapping, text)).toEqual({ gender: g, known: true });
  });
  it('is null when empty, unknown-but-known for 未知, and unknown otherwise', () => {
    expect(parseGender(mapping, '')).toBeNull();
    expect(parseGender(mapping, '未知')).toEqual({ gender: null, known: true });
    expect(parseGender(mapping, '男女')).toEqual({ gender: null, known: false });
  });
});

describe('label vocabularies', () => {
  it.each([
    ['category', '特困供养人员', 'destitute'],
    ['category', '城市低保', 'dibao'],
    ['category', '低保边缘', 'dibao_edge'],
    ['category', '机构养育孤儿', 'orphan'],
    ['category', '事实无人抚养儿童', 'de_facto_orphan'],
    ['category', '刚性支出困难家庭', 'catastrophic'],
    ['household_type', '脱贫不稳定户', 'lifted_unstable'],
    ['household_type', '突发严重困难户', 'sudden_hardship'],
    ['grade', '二级', '2'],
    ['grade', '2级', '2'],
    ['grade', '2', '2'],
    ['disability_kind', '肢体残疾', '4'],
    ['disability_kind', '多重', '7'],
    ['med_type', '住院', '21'],
    ['med_type', '门诊慢特病', '14'],
    ['med_type', '92', '92'],
    ['place', '跨省异地', 'cross_province'],
    ['method', '零星报销', 'manual_claim'],
    ['yes_no', '是', 'yes'],
    ['member_status', '停保', 'suspended'],
    ['cert_status', '注销', 'cancelled'],
  ] as const)('%s: %j is %s', (vocab, label, code) => {
    expect(lookupLabel(mapping, vocab, label)).toBe(code);
  });

  it('ignores spaces and width in labels', () => {
    expect(lookupLabel(mapping, 'category', ' 低保 对象 ')).toBe('dibao');
    expect(lookupLabel(mapping, 'med_type', '２１')).toBe('21');
  });

  it('does not know what it was not told', () => {
    expect(lookupLabel(mapping, 'category', '低保户')).toBeUndefined();
  });
});

describe('text helpers', () => {
  it('folds full-width characters and brackets', () => {
    expect(toHalfWidth('乡镇（街道）：１２')).toBe('乡镇(街道):12');
    expect(labelKey(' 村（社区） ')).toBe(labelKey('村(社区)'));
  });
});
