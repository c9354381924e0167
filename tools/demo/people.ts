/**
 * The people of a made-up county (the place names of 六枝特区, the people invented):
 * townships and villages, households with a head and members, names with the common
 * homonyms real rosters are full of (王伟, 张秀英 … even two in one village), twins,
 * ethnic-minority names, a few rare characters, id numbers with valid check
 * characters, births and deaths during the period, and each person's 人员编号.
 */
import { checkChar } from '../../src/ingest/normalise/id-number.js';
import { ageOn, dayOf, ymd, type Day } from './calendar.js';
import type { Rng } from './random.js';

export const COUNTY_NAME = '六枝特区';
export const COUNTY_AREA_CODE = '520203';
export const PROVINCE_CITY = '贵州省六盘水市';
/** 六盘水's telephone area code */
const LANDLINE_AREA_CODE = '0858';

/** Area codes of people whose number was issued elsewhere (spec §5: the area code is where it was issued). */
const OTHER_AREA_CODES = ['522632', '522401', '520221', '530102', '520102', '440781', '520201', '510107'];

export const TOWNSHIPS = ['中寨乡', '大用镇', '岩脚镇', '平寨镇', '新窑镇', '梭戛乡', '郎岱镇', '木岗镇', '牛场乡', '落别乡'];

/** Village names repeat across townships, as they do in reality. */
const VILLAGE_NAMES = [
  '凉水村', '新寨村', '红岩村', '大冲村', '河边村', '石桥村', '花园村', '沙坝村', '坝子村', '田坝村', '松林村',
  '龙井村', '黄泥村', '青山村', '高坡村', '小河村', '岔河村', '营盘村', '关寨村', '桃园村', '白岩村', '水井村',
];

export type Gender = 'M' | 'F';
export type Relation = '户主' | '配偶' | '子' | '女' | '父母';

export interface Phone {
  /** as a clerk would write it: 13912345678, 0858-5312345 */
  readonly text: string;
  /** digits only, the truth's form */
  readonly digits: string;
  readonly kind: 'mobile' | 'landline';
}

export interface Person {
  readonly pid: number;
  readonly hid: number;
  readonly name: string;
  readonly gender: Gender;
  readonly birth: Day;
  /** 18 characters with a valid check character */
  readonly id: string;
  /** the legacy 15-digit number, for people born in the 1900s */
  readonly legacyId: string | null;
  readonly relation: Relation;
  /** 人员编号: the id's area code and a 14-digit sequence */
  readonly insuranceNo: string;
  readonly diedOn: Day | null;
  /** the rare character in the name, when there is one (look-alike damage replaces it) */
  readonly rareChar: string | null;
  /** an ethnic-minority name with a separator dot (·) */
  readonly dotted: boolean;
}

export interface Household {
  readonly hid: number;
  readonly township: string;
  readonly village: string;
  readonly phone: Phone | null;
  /** pids, head first */
  readonly members: readonly number[];
}

export interface County {
  readonly persons: readonly Person[];
  readonly households: readonly Household[];
  /** township → its villages */
  readonly villages: ReadonlyMap<string, readonly string[]>;
}

// ── names ────────────────────────────────────────────────────────────────────

const SURNAMES: readonly (readonly [string, number])[] = [
  ['王', 70], ['李', 70], ['张', 65], ['刘', 55], ['陈', 50], ['杨', 45], ['黄', 35], ['赵', 30], ['吴', 28],
  ['周', 26], ['徐', 20], ['孙', 18], ['马', 18], ['朱', 16], ['胡', 16], ['郭', 14], ['何', 14], ['高', 13],
  ['林', 12], ['罗', 14], ['郑', 10], ['梁', 10], ['谢', 9], ['宋', 9], ['唐', 9], ['许', 8], ['韩', 8], ['冯', 8],
  ['邓', 8], ['曹', 7], ['彭', 7], ['曾', 7], ['肖', 7], ['田', 7], ['董', 6], ['袁', 6], ['潘', 6], ['于', 6],
  ['蒋', 6], ['蔡', 6], ['余', 6], ['杜', 6], ['叶', 5], ['程', 5], ['苏', 5], ['魏', 5], ['吕', 5], ['丁', 5],
  ['任', 5], ['沈', 4], ['姚', 4], ['卢', 4], ['姜', 4], ['崔', 4], ['钟', 4], ['谭', 4], ['陆', 4], ['汪', 3],
  ['范', 3], ['金', 3], ['石', 4], ['廖', 3], ['贾', 3], ['夏', 3], ['韦', 4], ['付', 3], ['方', 3], ['白', 3],
  ['邹', 3], ['孟', 3], ['熊', 3], ['秦', 3], ['邱', 3], ['江', 3], ['尹', 3], ['薛', 2], ['段', 2], ['雷', 2],
  ['侯', 2], ['龙', 3], ['史', 2], ['陶', 2], ['黎', 2], ['贺', 2], ['顾', 2], ['毛', 2], ['郝', 2], ['龚', 2],
  ['邵', 2], ['万', 2], ['钱', 2], ['严', 2], ['覃', 2], ['武', 2], ['戴', 2], ['莫', 2], ['孔', 2], ['向', 2],
];

type Era = 'old' | 'mid' | 'young';

/** Whole given names, by generation: the small lists make homonyms as common as they really are. */
const GIVEN: Record<Era, Record<Gender, readonly string[]>> = {
  old: {
    M: ['建国', '国强', '德明', '光荣', '万福', '永福', '福', '明', '文', '志强', '国华', '建华', '德才', '世伟', '正阳', '启明', '东才', '富贵', '学文', '永刚', '德华', '国庆'],
    F: ['秀英', '桂兰', '玉兰', '桂英', '秀兰', '凤英', '翠花', '淑珍', '玉珍', '秀珍', '桂芳', '玉梅', '淑英', '凤兰', '秀芳', '春兰', '兰英', '桂花'],
  },
  mid: {
    M: ['伟', '强', '军', '磊', '洋', '勇', '涛', '斌', '超', '明辉', '海涛', '志勇', '建军', '文斌', '俊', '杰', '鹏', '亮', '飞', '平', '刚', '华', '东', '海波', '国强'],
    F: ['丽', '敏', '静', '艳', '芳', '娟', '霞', '海燕', '丽娟', '春梅', '红梅', '玲', '萍', '琴', '燕', '婷', '雪梅', '丽萍', '小红', '梅', '芬', '英'],
  },
  young: {
    M: ['子轩', '浩然', '宇轩', '浩宇', '俊杰', '宇航', '子涵', '梓涵', '一鸣', '博文', '皓轩', '子豪', '明轩', '浩', '宇', '鑫', '旭', '晨', '阳', '嘉豪', '俊熙'],
    F: ['欣怡', '梓萱', '雨欣', '佳怡', '诗涵', '子涵', '一诺', '梓涵', '雨涵', '可馨', '思琪', '语嫣', '欣妍', '雨桐', '紫涵', '梦瑶', '婉婷', '佳琪'],
  },
};

/** Characters for composed given names, when a name is not taken whole from the lists. */
const GIVEN_CHARS: Record<Gender, readonly string[]> = {
  M: ['明', '国', '文', '华', '德', '建', '志', '永', '林', '海', '光', '成', '家', '俊', '兴', '福', '学', '宇', '浩', '天', '龙', '启', '贵', '荣'],
  F: ['秀', '丽', '芳', '玉', '兰', '春', '梅', '美', '燕', '娟', '红', '琴', '霞', '婷', '雪', '佳', '欣', '慧', '静', '月', '凤', '珍'],
};

/**
 * Rare characters and what clerks type instead (look-alike or same sound); the
 * damage forms name_lookalike and name_unknown_char use this table.
 */
export const RARE_CHARS: ReadonlyMap<string, string> = new Map([
  ['喆', '哲'], ['堃', '坤'], ['赟', '云'], ['昇', '升'], ['玥', '月'], ['犇', '奔'], ['垚', '尧'], ['镕', '荣'], ['珺', '君'], ['曌', '照'],
]);
const RARE_BY_GENDER: Record<Gender, readonly string[]> = { M: ['喆', '堃', '赟', '昇', '犇', '垚', '镕'], F: ['玥', '珺', '曌', '喆'] };

/** Simplified → traditional for the characters of the lists above that have one (name_traditional). */
export const TRADITIONAL: ReadonlyMap<string, string> = new Map(
  ('陈陳 刘劉 张張 杨楊 黄黃 赵趙 吴吳 郑鄭 冯馮 邓鄧 孙孫 马馬 罗羅 许許 韩韓 叶葉 苏蘇 钟鍾 谭譚 陆陸 龙龍 万萬 钱錢 严嚴 '
    + '贺賀 顾顧 龚龔 卢盧 蒋蔣 邹鄒 汤湯 国國 华華 兰蘭 军軍 伟偉 丽麗 红紅 凤鳳 东東 荣榮 涛濤 杰傑 鹏鵬 飞飛 刚剛 '
    + '庆慶 静靜 艳豔 学學 兴興 贵貴 强強 辉輝 轩軒 诗詩 语語 梦夢 泽澤 颖穎 云雲 义義 凯凱 宝寶 乔喬')
    .split(' ')
    .map((pair) => [pair[0]!, pair[1]!] as const),
);

const DOTTED_FIRST: Record<Gender, readonly string[]> = {
  M: ['买买提', '艾力', '木合塔尔', '阿不都', '努尔', '伊力哈木', '艾山', '吐尔逊'],
  F: ['阿依古丽', '古丽娜尔', '热依汗', '帕提古丽', '迪丽拜尔'],
};
const DOTTED_SECOND = ['艾力', '买买提', '吐尔逊', '艾山', '阿不都', '热合曼', '依明', '卡德尔'];

function eraOf(birthYear: number): Era {
  return birthYear < 1965 ? 'old' : birthYear < 1990 ? 'mid' : 'young';
}

interface NameParts {
  name: string;
  rareChar: string | null;
  dotted: boolean;
}

function givenName(rng: Rng, gender: Gender, birthYear: number): { given: string; rareChar: string | null } {
  if (birthYear >= 1970 && rng.chance(0.008)) {
    const rare = rng.pick(RARE_BY_GENDER[gender]);
    const other = rng.pick(GIVEN_CHARS[gender]);
    return { given: rng.chance(0.4) ? rare : rng.chance(0.5) ? other + rare : rare + other, rareChar: rare };
  }
  if (rng.chance(0.7)) return { given: rng.pick(GIVEN[eraOf(birthYear)][gender]), rareChar: null };
  const chars = GIVEN_CHARS[gender];
  return { given: rng.chance(0.3) ? rng.pick(chars) : rng.pick(chars) + rng.pick(chars), rareChar: null };
}

function personName(rng: Rng, surname: string, gender: Gender, birthYear: number): NameParts {
  if (rng.chance(0.003)) {
    return { name: `${rng.pick(DOTTED_FIRST[gender])}·${rng.pick(DOTTED_SECOND)}`, rareChar: null, dotted: true };
  }
  const { given, rareChar } = givenName(rng, gender, birthYear);
  return { name: surname + given, rareChar, dotted: false };
}

// ── id numbers, phones ───────────────────────────────────────────────────────

class IdRegistry {
  private readonly used = new Set<string>();

  /** A new 18-character number: area, birth date, a sequence whose parity is the gender, check character. */
  issue(rng: Rng, area: string, birth: Day, gender: Gender, nearSeq?: number): { id: string; legacyId: string | null } {
    const { y, m, d } = ymd(birth);
    const date = `${y}${String(m).padStart(2, '0')}${String(d).padStart(2, '0')}`;
    for (let attempt = 0; ; attempt++) {
      // twins get neighbouring sequence numbers from the same registry office
      let seq = nearSeq !== undefined && attempt < 5 ? nearSeq + 2 * (attempt + 1) : rng.int(0, 499) * 2;
      seq = (seq % 1000) - (seq % 2) + (gender === 'M' ? 1 : 0);
      const seq3 = String(seq).padStart(3, '0');
      const first17 = area + date + seq3;
      if (this.used.has(first17)) continue;
      this.used.add(first17);
      const legacyId = y >= 1900 && y <= 1999 ? area + date.slice(2) + seq3 : null;
      return { id: first17 + checkChar(first17), legacyId };
    }
  }
}

const MOBILE_PREFIXES = ['130', '131', '132', '133', '134', '135', '136', '137', '138', '139', '150', '151', '152', '153', '155',
  '156', '157', '158', '159', '170', '173', '175', '177', '178', '180', '181', '182', '183', '185', '186', '187', '188', '189', '199'];

function digits(rng: Rng, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += String(rng.int(0, 9));
  return s;
}

function householdPhone(rng: Rng): Phone | null {
  const kind = rng.weighted<'mobile' | 'landline' | 'none'>([['mobile', 75], ['landline', 6], ['none', 19]]);
  if (kind === 'none') return null;
  if (kind === 'mobile') {
    const number = rng.pick(MOBILE_PREFIXES) + digits(rng, 8);
    return { text: number, digits: number, kind };
  }
  const local = String(rng.int(2, 8)) + digits(rng, 6);
  return { text: `${LANDLINE_AREA_CODE}-${local}`, digits: LANDLINE_AREA_CODE + local, kind };
}

// ── the county ───────────────────────────────────────────────────────────────

export interface CountyPeriod {
  /** first day of the period: deaths fall within it, births up to its end */
  readonly start: Day;
  readonly end: Day;
}

/** Yearly probability of dying, by age. */
function mortality(age: number): number {
  return age < 50 ? 0.001 : age < 60 ? 0.004 : age < 70 ? 0.012 : age < 80 ? 0.035 : 0.09;
}

interface Draft {
  name: NameParts;
  gender: Gender;
  birth: Day;
  relation: Relation;
  area: string;
  twinOf?: number; // index into the household's drafts
}

function birthIn(rng: Rng, fromYear: number, toYear: number): Day {
  return dayOf(fromYear, 1, 1) + rng.int(0, (toYear - fromYear + 1) * 365 - 1);
}

function areaCode(rng: Rng): string {
  return rng.chance(0.9) ? COUNTY_AREA_CODE : rng.pick(OTHER_AREA_CODES);
}

/** Builds exactly `count` persons in households. */
export function buildCounty(rng: Rng, count: number, period: CountyPeriod): County {
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`persons must be a positive integer, got ${count}`);
  const villages = new Map<string, string[]>();
  for (const t of TOWNSHIPS) villages.set(t, rng.sample(VILLAGE_NAMES, rng.int(5, 8)));

  const persons: Person[] = [];
  const households: Household[] = [];
  const ids = new IdRegistry();
  /** adults' names per village, to give some newcomers a neighbour's name */
  const namesByVillage = new Map<string, { name: NameParts; gender: Gender }[]>();

  while (persons.length < count) {
    const hid = households.length;
    const township = rng.pick(TOWNSHIPS);
    const village = rng.pick(villages.get(township)!);
    const villageKey = `${township}/${village}`;
    const neighbours = namesByVillage.get(villageKey) ?? [];
    namesByVillage.set(villageKey, neighbours);

    const drafts: Draft[] = [];
    const headYear = rng.weighted<[number, number]>([[[1935, 1949], 15], [[1950, 1964], 30], [[1965, 1979], 30], [[1980, 1998], 25]]);
    const headBirth = birthIn(rng, headYear[0], headYear[1]);
    const headGender: Gender = rng.chance(0.8) ? 'M' : 'F';
    const headBirthYear = ymd(headBirth).y;
    const familySurname = rng.weighted(SURNAMES);
    const sameNameAsNeighbour = neighbours.filter((n) => n.gender === headGender);
    const headName =
      sameNameAsNeighbour.length > 0 && rng.chance(0.03)
        ? rng.pick(sameNameAsNeighbour).name
        : personName(rng, familySurname, headGender, headBirthYear);
    drafts.push({ name: headName, gender: headGender, birth: headBirth, relation: '户主', area: areaCode(rng) });
    const surname = headName.dotted ? familySurname : headName.name.slice(0, 1);

    const livesAlone = headBirthYear < 1950 && rng.chance(0.3);
    const hasSpouse = !livesAlone && rng.chance(headBirthYear > 1995 ? 0.3 : 0.82);
    let mother: Draft | undefined = headGender === 'F' ? drafts[0] : undefined;
    let fatherSurname = surname;
    if (hasSpouse) {
      const gender: Gender = headGender === 'M' ? 'F' : 'M';
      const birth = headBirth + Math.round(rng.normal(headGender === 'M' ? 2 : -2, 3) * 365);
      const spouseSurname = rng.weighted(SURNAMES);
      const spouse: Draft = { name: personName(rng, spouseSurname, gender, ymd(birth).y), gender, birth, relation: '配偶', area: areaCode(rng) };
      drafts.push(spouse);
      if (gender === 'F') mother = spouse;
      else fatherSurname = spouseSurname;
    }
    if (!livesAlone) {
      const children = rng.weighted<number>([[0, 15], [1, 30], [2, 33], [3, 15], [4, 7]]);
      const motherBirth = mother?.birth ?? headBirth;
      for (let c = 0; c < children; c++) {
        const birth = motherBirth + rng.int(20 * 365, 38 * 365);
        if (birth > period.end) continue;
        const twins = rng.chance(0.02);
        const firstIndex = drafts.length;
        for (let t = 0; t < (twins ? 2 : 1); t++) {
          const gender: Gender = rng.chance(0.52) ? 'M' : 'F';
          drafts.push({
            name: personName(rng, fatherSurname, gender, ymd(birth).y),
            gender,
            birth,
            relation: gender === 'M' ? '子' : '女',
            area: t === 0 ? areaCode(rng) : drafts[firstIndex]!.area,
            ...(t === 1 ? { twinOf: firstIndex } : {}),
          });
        }
      }
      if (headBirthYear >= 1960 && rng.chance(0.25)) {
        const parents = rng.int(1, 2);
        for (let p = 0; p < parents; p++) {
          const gender: Gender = parents === 2 ? (p === 0 ? 'M' : 'F') : rng.chance(0.4) ? 'M' : 'F';
          const birth = Math.max(dayOf(1925, 1, 1), headBirth - rng.int(22 * 365, 34 * 365));
          const parentSurname = gender === 'M' && headGender === 'M' ? surname : rng.weighted(SURNAMES);
          drafts.push({ name: personName(rng, parentSurname, gender, ymd(birth).y), gender, birth, relation: '父母', area: areaCode(rng) });
        }
      }
    }

    const phone = householdPhone(rng);
    const members: number[] = [];
    const seqOf: number[] = [];
    for (const [i, draft] of drafts.entries()) {
      if (persons.length >= count) break;
      const pid = persons.length;
      const twinSeq = draft.twinOf !== undefined ? seqOf[draft.twinOf] : undefined;
      const { id, legacyId } = ids.issue(rng, draft.area, draft.birth, draft.gender, twinSeq);
      seqOf[i] = Number(id.slice(14, 17));
      const age = ageOn(draft.birth, period.start);
      const years = (period.end - period.start) / 365;
      const dies = draft.birth < period.start && rng.chance(1 - Math.pow(1 - mortality(age), years));
      persons.push({
        pid,
        hid,
        name: draft.name.name,
        gender: draft.gender,
        birth: draft.birth,
        id,
        legacyId,
        relation: draft.relation,
        insuranceNo: id.slice(0, 6) + String(pid + 1).padStart(14, '0'),
        diedOn: dies ? rng.int(period.start, period.end) : null,
        rareChar: draft.name.rareChar,
        dotted: draft.name.dotted,
      });
      members.push(pid);
      if (draft.relation === '户主' || draft.relation === '配偶') neighbours.push({ name: draft.name, gender: draft.gender });
    }
    households.push({ hid, township, village, phone, members });
  }
  return { persons, households, villages };
}

/** Alive on a day (born on or before it, not yet dead). */
export function aliveOn(person: Person, day: Day): boolean {
  return person.birth <= day && (person.diedOn === null || person.diedOn > day);
}
