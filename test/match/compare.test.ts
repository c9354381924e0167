import { describe, expect, it } from 'vitest';
import { createNameTools } from '../../src/match/chinese.js';
import {
  compareBirth, compareContext, compareGender, compareHeadSelf, compareHouseholdRole, compareId, compareName, compareRelation, idEdits, relationKind, type Probe, type Profile,
} from '../../src/match/compare.js';
import { makeId } from '../helpers/fixtures.js';

const tools = createNameTools();
const ID = makeId('1985-01-01', 41);
const HEAD = makeId('1960-05-05', 11);

function probe(p: Partial<Probe>): Probe {
  const name = p.name ?? null;
  return {
    name, fold: name ? tools.fold(name) : null, idStatus: 'missing', idValue: null, birth: null, gender: null,
    headId: null, isSelf: false, relation: null, roster: null, household: null, township: null, village: null, phone: null, ...p,
  };
}
function profile(p: Partial<Profile>): Profile {
  const names = p.names ?? [];
  return {
    key: 'id:x', id18: ID, partials: [], names, folds: names.map((n) => tools.fold(n)), births: [], genders: [],
    headIds: [], households: [], places: [], phones: [], relations: [], rosters: [], ...p,
  };
}

describe('name', () => {
  it.each([
    ['吴光荣', '吴光荣', 'exact'],
    ['陳光榮', '陈光荣', 'fold'],
    ['王喆', '王哲', 'fold'],
    ['王?', '王淼', 'wildcard'],
    ['王苗', '王淼', 'sound'],
    ['李娜', '李那', 'sound'],
    ['张伟', '张强', 'one_char'],
    ['张伟', '李强', 'different'],
    ['张伟', '张伟强', 'different'],
  ] as const)('%s against %s is %s', (a, b, level) => {
    expect(compareName(probe({ name: a }), profile({ names: [b] }), tools)).toBe(level);
  });
  it('says nothing when either side has no name', () => {
    expect(compareName(probe({}), profile({ names: ['张伟'] }), tools)).toBeNull();
    expect(compareName(probe({ name: '张伟' }), profile({}), tools)).toBeNull();
  });
});

describe('what survives of a damaged id', () => {
  const cmp = (status: Probe['idStatus'], value: string) => compareId(status, value, profile({}));
  it('spreadsheet damage: the leading digits, allowing one typing error before the damage', () => {
    expect(cmp('spreadsheet_damaged', ID.slice(0, 15))).toEqual({ comparison: 'id_prefix', level: 'full' });
    const mistyped = ID.slice(0, 10) + String((Number(ID[10]) + 1) % 10) + ID.slice(11, 15);
    expect(cmp('spreadsheet_damaged', mistyped)).toEqual({ comparison: 'id_prefix', level: 'full' });
    expect(cmp('spreadsheet_damaged', '520203')).toEqual({ comparison: 'id_prefix', level: 'area' });
    expect(cmp('spreadsheet_damaged', '520203199901010')).toEqual({ comparison: 'id_prefix', level: 'mismatch' });
    expect(cmp('spreadsheet_damaged', '110101')).toEqual({ comparison: 'id_prefix', level: 'mismatch' });
  });
  it('masked: the visible digits', () => {
    expect(cmp('masked', ID.slice(0, 6) + '********' + ID.slice(14))).toEqual({ comparison: 'id_masked', level: 'match' });
    expect(cmp('masked', ID.slice(0, 6) + '********' + '9999')).toEqual({ comparison: 'id_masked', level: 'mismatch' });
  });
  it('a failing check character: one edit, two, or more', () => {
    const swapped = ID.slice(0, 8) + ID[9] + ID[8] + ID.slice(10);
    const one = ID.slice(0, 12) + String((Number(ID[12]) + 3) % 10) + ID.slice(13);
    const two = one.slice(0, 3) + String((Number(one[3]) + 1) % 10) + one.slice(4);
    expect(idEdits(swapped, ID)).toBe(ID[8] === ID[9] ? 0 : 1);
    expect(cmp('checksum_failed', one)).toEqual({ comparison: 'id_typo', level: 'one_edit' });
    expect(cmp('checksum_failed', two)).toEqual({ comparison: 'id_typo', level: 'two_edits' });
    expect(cmp('checksum_failed', HEAD)).toEqual({ comparison: 'id_typo', level: 'mismatch' });
  });
  it('a missing id says nothing', () => {
    expect(compareId('missing', null, profile({}))).toBeNull();
  });
});

describe('birth date, gender, the head of household', () => {
  it('compares birth dates and genders', () => {
    expect(compareBirth(probe({ birth: '1985-01-01' }), profile({ births: ['1985-01-01'] }))).toBe('exact');
    expect(compareBirth(probe({ birth: '1985-01-02' }), profile({ births: ['1985-01-01'] }))).toBe('different');
    expect(compareBirth(probe({}), profile({ births: ['1985-01-01'] }))).toBeNull();
    expect(compareGender(probe({ gender: 'F' }), profile({ genders: ['F'] }))).toBe('same');
    expect(compareGender(probe({ gender: 'M' }), profile({ genders: ['F'] }))).toBe('different');
  });
  it('a row that says it is the head carries its own id in the head column', () => {
    expect(compareHeadSelf(probe({ isSelf: true, headId: ID }), profile({}))).toBe('self');
    expect(compareHeadSelf(probe({ isSelf: true, headId: HEAD }), profile({}))).toBe('other');
    expect(compareHeadSelf(probe({ isSelf: false, headId: HEAD }), profile({}))).toBeNull();
  });
});

describe('relation to the head of household', () => {
  it('reads the labels agencies write as one kind', () => {
    expect(relationKind('本人')).toBe('self');
    expect(relationKind('户主')).toBe('self');
    expect(relationKind('长子')).toBe(relationKind('子'));
    expect(relationKind('次女')).toBe(relationKind('女'));
    expect(relationKind('女')).not.toBe(relationKind('子'));
    expect(relationKind(' 侄子 ')).toBe('侄子');
    expect(relationKind('')).toBeNull();
    expect(relationKind(null)).toBeNull();
  });
  it('same or different, and nothing when either side has none', () => {
    expect(compareRelation(probe({ relation: 'son' }), profile({ relations: ['son'] }))).toBe('same');
    expect(compareRelation(probe({ relation: 'son' }), profile({ relations: ['self'] }))).toBe('different');
    expect(compareRelation(probe({ relation: null }), profile({ relations: ['self'] }))).toBeNull();
    expect(compareRelation(probe({ relation: 'son' }), profile({ relations: [] }))).toBeNull();
  });
  it('a son is 12–75 years younger than the head', () => {
    const born = (y: number) => profile({ births: [`${y}-05-05`], genders: ['M'] });
    // civil: the head's id in the row
    expect(compareHouseholdRole(probe({ relation: 'son', headId: HEAD }), born(1985))).toBe('fits');
    expect(compareHouseholdRole(probe({ relation: 'son', headId: HEAD }), born(1962))).toBe('impossible');
    // gender alone when no head is known; nothing when neither can be told
    expect(compareHouseholdRole(probe({ relation: 'son' }), profile({ births: ['1962-01-01'], genders: ['F'] }))).toBe('impossible');
    expect(compareHouseholdRole(probe({ relation: 'son' }), profile({ births: ['1962-01-01'] }))).toBeNull();
  });
});

describe('context', () => {
  const here = { township: '郎岱镇', village: '沙坝村' };
  it('same household by head id, 户编号 or phone', () => {
    expect(compareContext(probe({ headId: HEAD }), profile({ headIds: [HEAD] }))).toBe('household');
    expect(compareContext(probe({ headId: ID }), profile({}))).toBe('household'); // the person is the head
    expect(compareContext(probe({ household: '520203000000427' }), profile({ households: ['520203000000427'] }))).toBe('household');
    expect(compareContext(probe({ phone: '13912345678' }), profile({ phones: ['13912345678'] }))).toBe('household');
  });
  it('else the same village, township, or elsewhere; unknown without a place', () => {
    expect(compareContext(probe(here), profile({ places: ['郎岱镇|沙坝村'] }))).toBe('village');
    expect(compareContext(probe(here), profile({ places: ['郎岱镇|青山村'] }))).toBe('township');
    expect(compareContext(probe(here), profile({ places: ['岩脚镇|沙坝村'] }))).toBe('elsewhere');
    expect(compareContext(probe({}), profile({ places: ['郎岱镇|沙坝村'] }))).toBeNull();
  });
});
