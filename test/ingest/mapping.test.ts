import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadMapping, lookupLabel, MappingError, sourceProfile } from '../../src/ingest/mapping.js';
import { mapColumns } from '../../src/ingest/layout.js';
import { FIELDS, SOURCES } from '../../src/ingest/sources.js';
import { labelKey } from '../../src/ingest/normalise/text.js';

const dir = mkdtempSync(join(tmpdir(), 'aidlink-mapping-'));
function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

describe('the default mapping', () => {
  const m = loadMapping();

  it('gives every field of every source at least one column name', () => {
    for (const s of SOURCES) for (const f of FIELDS[s]) expect(sourceProfile(m, s).aliases[f]?.length, `${s}.${f}`).toBeGreaterThan(0);
  });

  it('knows every alias of spec §4, with full- and half-width brackets alike', () => {
    expect(sourceProfile(m, 'civil').columns.get(labelKey('乡镇（街道）'))).toBe('township');
    expect(sourceProfile(m, 'civil').columns.get(labelKey('乡镇(街道)'))).toBe('township');
    expect(sourceProfile(m, 'rural').columns.get(labelKey('乡(镇)'))).toBe('township');
    expect(sourceProfile(m, 'settlement').columns.get(labelKey('居民大病保险资金支出'))).toBe('critical_paid');
    expect(sourceProfile(m, 'disability').columns.get(labelKey('残疾人证号码'))).toBe('cert_no');
  });
});

describe('a deployment extending the mapping', () => {
  it('adds column names and labels without code changes', () => {
    const extra = file('county.yaml', 'sources:\n  civil:\n    fields:\n      township: [镇（街）]\n      village: [村（居）]\nvocabularies:\n  category:\n    dibao: [低保户]\n');
    const m = loadMapping(extra);
    const { columnMap, missing } = mapColumns(['姓名', '身份证号', '镇(街)', '村(居)', '救助类别', '认定日期'], sourceProfile(m, 'civil'));
    expect(missing).toEqual([]);
    expect(columnMap).toMatchObject({ township: 2, village: 3 });
    expect(lookupLabel(m, 'category', '低保户')).toBe('dibao');
    expect(lookupLabel(m, 'category', '低保对象')).toBe('dibao'); // the defaults stay
  });

  it.each([
    ['an unknown source', 'sources:\n  housing:\n    fields:\n      name: [姓名]\n', /不认识的来源「housing」/],
    ['an unknown field', 'sources:\n  civil:\n    fields:\n      nickname: [昵称]\n', /sources\.civil\.fields：不认识的字段「nickname」/],
    ['a column name meaning two fields', 'sources:\n  civil:\n    fields:\n      village: [乡镇]\n', /列名「乡镇」已经表示字段「township」/],
    ['an unknown vocabulary', 'vocabularies:\n  colour:\n    red: [红]\n', /不认识的词表「colour」/],
    ['an unknown code', 'vocabularies:\n  category:\n    veteran: [优抚对象]\n', /vocabularies\.category：不认识的代码「veteran」/],
    ['a label meaning two codes', 'vocabularies:\n  category:\n    dibao: [特困人员]\n', /取值「特困人员」已经表示「destitute」/],
    ['a YAML syntax error', 'sources:\n  civil: [\n', /YAML 格式错误（第 \d+ 行/],
    ['the wrong shape', 'sources:\n  civil:\n    fields: 姓名\n', /内容不符合要求：\n  sources\.civil\.fields：应为键值表/],
  ])('fails at start-up on %s, naming the file and the entry', (_what, text, message) => {
    const p = file(`bad-${Math.random().toString(36).slice(2)}.yaml`, text);
    expect(() => loadMapping(p)).toThrow(MappingError);
    expect(() => loadMapping(p)).toThrow(message);
    expect(() => loadMapping(p)).toThrow(p);
  });

  it('fails clearly on a missing file', () => {
    expect(() => loadMapping(join(dir, 'nope.yaml'))).toThrow(/nope\.yaml 无法读取（ENOENT）/);
  });
});
