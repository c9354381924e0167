/**
 * Field comparisons of the Fellegi–Sunter model: a row to be linked (a probe) is
 * compared with what a person's rows say (a profile), field by field, and each
 * comparison gives a level. Levels get their weights from data (weights.ts); a
 * comparison that cannot be made (a value missing on either side) gives none and
 * weighs nothing.
 */
import type { IdStatus } from '../db/schema.js';
import type { NameTools } from './chinese.js';

/** What a row says about who it is, in the forms the comparisons need. */
export interface Probe {
  name: string | null;
  fold: string | null;
  idStatus: IdStatus | null;
  /** what survives of the row's id: the leading digits, the masked text, the mistyped number */
  idValue: string | null;
  birth: string | null;
  gender: 'M' | 'F' | null;
  /** the head of household's usable id number: its column (civil), else its 户编号's head row (rural; data.ts HEAD_ID) */
  headId: string | null;
  /** the row says it is the head itself (本人, 户主) */
  isSelf: boolean;
  /** its relation to the head of household, as a kind (relationKind) */
  relation: string | null;
  /** the delivery, when it is a roster (a snapshot, which lists a person once); null for a settlement */
  roster: number | null;
  household: string | null;
  township: string | null;
  village: string | null;
  phone: string | null;
}

/** What a person's rows say, each field as the set of values seen. */
export interface Profile {
  key: string;
  id18: string | null;
  /** damaged or partial ids of a person known only from such rows */
  partials: string[];
  names: string[];
  folds: string[];
  births: string[];
  genders: string[];
  /** head-of-household ids on its rows, and its own id when a row says it is the head */
  headIds: string[];
  households: string[];
  /** `township|village` */
  places: string[];
  phones: string[];
  /** relations to the head of household on its rows, as kinds (relationKind) */
  relations: string[];
  /** the rosters (deliveries) that list it */
  rosters: number[];
}

/**
 * Comparisons of the person: their u (how often two different persons agree) depends
 * strongly on whether the two are in one household (siblings share a surname and
 * often a birthday; spouses share nothing of the sort), so it is estimated for each
 * CONTEXT level separately (weights.ts).
 */
export const COMPARISONS = {
  name: ['exact', 'fold', 'wildcard', 'sound', 'one_char', 'different'],
  id_prefix: ['full', 'area', 'mismatch'],
  id_masked: ['match', 'mismatch'],
  id_typo: ['one_edit', 'two_edits', 'mismatch'],
  birth: ['exact', 'different'],
  gender: ['same', 'different'],
  /** a row that says it is the head of household carries the head's id: its own */
  head_self: ['self', 'other'],
  /**
   * the relation to the head of household: a person keeps theirs from month to month,
   * while two members of one household rarely share both it and a name
   */
  relation: ['same', 'different'],
  /**
   * whether the person can hold the row's place in the household: a son is at least 12
   * years younger than the head, a parent 12 older, a grandchild 25 younger; a son is
   * male and a daughter female. A father and his namesake son fail each other's rows.
   * It only ever counts against a candidate (weights.ts ONLY_AGAINST)
   */
  household_role: ['fits', 'impossible'],
  /**
   * a roster lists a person once (bar a duplicated row): a person already on another row
   * of the probe's roster is most likely somebody else, such as a namesake sibling
   */
  same_roster: ['listed', 'not_listed'],
} as const;

/**
 * Where the person stands relative to the probe: in its household (a shared head of
 * household id, 户编号 or phone), in its village, its township, or elsewhere.
 */
export const CONTEXT_LEVELS = ['household', 'village', 'township', 'elsewhere'] as const;
export type Context = (typeof CONTEXT_LEVELS)[number];

export type Comparison = keyof typeof COMPARISONS;
export type Level<C extends Comparison = Comparison> = (typeof COMPARISONS)[C][number];
export type Levels = Partial<{ [C in Comparison]: Level<C> }>;

/** Chinese and English, for explanations to staff. */
export const COMPARISON_LABEL: Record<Comparison | 'context', [string, string]> = {
  context: ['所在户、村', 'household and village'],
  name: ['姓名', 'name'],
  id_prefix: ['身份证号（表格损坏后保留的前几位）', 'id number (digits left by spreadsheet damage)'],
  id_masked: ['身份证号（隐藏后可见的位数）', 'id number (visible digits of a masked one)'],
  id_typo: ['身份证号（校验位错误）', 'id number (failing its check character)'],
  birth: ['出生日期', 'birth date'],
  gender: ['性别', 'gender'],
  head_self: ['户主身份证号（本人为户主）', 'head of household id (the row is the head)'],
  relation: ['与户主关系', 'relation to the head of household'],
  household_role: ['与户主关系和年龄、性别是否相符', 'relation to the head against age and gender'],
  same_roster: ['同一份名册', 'the same roster'],
};

export const LEVEL_LABEL: Record<string, [string, string]> = {
  exact: ['完全相同', 'identical'],
  fold: ['繁简、形近字折算后相同', 'identical after traditional/look-alike folding'],
  wildcard: ['“?”位外相同', 'identical apart from “?”'],
  sound: ['读音相同', 'same sound'],
  one_char: ['仅一字不同', 'one character differs'],
  different: ['不同', 'different'],
  full: ['前 14 位以上一致（至多一位录入错误）', 'first 14+ digits agree (one typing error at most)'],
  area: ['仅地区码一致', 'only the area code agrees'],
  mismatch: ['不一致', 'disagree'],
  match: ['可见位一致（至多一位录入错误）', 'visible digits agree (one typing error at most)'],
  one_edit: ['相差一位或相邻两位颠倒', 'one digit off or two neighbours swapped'],
  two_edits: ['相差两位', 'two digits off'],
  same: ['相同', 'same'],
  self: ['即本人身份证号', 'is its own id number'],
  other: ['是另一人的身份证号', 'is somebody else\'s id number'],
  fits: ['相符', 'consistent'],
  impossible: ['不可能（年龄差或性别与关系不符）', 'impossible (age gap or gender contradicts the relation)'],
  listed: ['此人已在本名册的另一行', 'already on another row of this roster'],
  not_listed: ['本名册中没有此人的其他行', 'on no other row of this roster'],
  household: ['同一户（户主身份证号、户编号或电话相同）', 'same household (head id, household number or phone)'],
  village: ['同村、不同户', 'same village, other household'],
  township: ['同乡镇、不同村', 'same township, other village'],
  elsewhere: ['不同乡镇', 'other township'],
};

// ── names ──────────────────────────────────────────────────────────────────

function wildcardEqual(a: string, b: string): boolean {
  const x = [...a];
  const y = [...b];
  if (x.length !== y.length || (!a.includes('?') && !b.includes('?'))) return false;
  return x.every((c, i) => c === y[i] || c === '?' || y[i] === '?');
}

function soundEqual(a: string, b: string, tools: NameTools): boolean {
  const x = [...a];
  const y = [...b];
  return x.length === y.length && x.every((c, i) => tools.soundAlike(c, y[i]!));
}

function oneCharApart(a: string, b: string): boolean {
  const x = [...a];
  const y = [...b];
  if (x.length !== y.length || x.length < 2) return false;
  let diff = 0;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i] && ++diff > 1) return false;
  return diff === 1;
}

export function compareName(p: Probe, q: Profile, tools: NameTools): Level<'name'> | null {
  if (!p.name || !p.fold || q.names.length === 0) return null;
  if (q.names.includes(p.name)) return 'exact';
  if (q.folds.includes(p.fold)) return 'fold';
  if (q.folds.some((f) => wildcardEqual(p.fold!, f))) return 'wildcard';
  if (q.folds.some((f) => soundEqual(p.fold!, f, tools))) return 'sound';
  if (q.folds.some((f) => oneCharApart(p.fold!, f))) return 'one_char';
  return 'different';
}

// ── what survives of a damaged id ───────────────────────────────────────────

/**
 * The digits a mask shows agree with the id, allowing one typing error among them
 * (a number can be mistyped before it is masked).
 */
function maskedAgrees(masked: string, id: string): boolean {
  if (masked.length !== id.length) return false;
  let visible = 0;
  let wrong = 0;
  for (let i = 0; i < masked.length; i++) {
    if (masked[i] === '*') continue;
    visible++;
    if (masked[i] !== id[i] && ++wrong > 1) return false;
  }
  return visible >= 6;
}

/** Substitutions apart, or one adjacent transposition (counted as one edit). */
export function idEdits(a: string, b: string): number {
  if (a.length !== b.length) return Infinity;
  const diffs: number[] = [];
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) diffs.push(i);
  if (diffs.length === 2 && diffs[1] === diffs[0]! + 1 && a[diffs[0]!] === b[diffs[1]!] && a[diffs[1]!] === b[diffs[0]!]) return 1;
  return diffs.length;
}

export type IdComparison = { comparison: 'id_prefix'; level: Level<'id_prefix'> } | { comparison: 'id_masked'; level: Level<'id_masked'> } | { comparison: 'id_typo'; level: Level<'id_typo'> };

/**
 * Compares what is left of the probe's id with the person's: the leading digits a
 * spreadsheet kept, the digits a mask shows, or a number one typing error away.
 */
export function compareId(status: IdStatus | null, value: string | null, q: Profile): IdComparison | null {
  if (!value) return null;
  const targets = q.id18 ? [q.id18] : q.partials;
  if (targets.length === 0) return null;
  switch (status) {
    case 'spreadsheet_damaged': {
      // a damaged id keeps its leading digits: 15 after the last 3 became 000, 6 or more in scientific
      // notation; a number mistyped before the spreadsheet damaged it keeps them with one error
      const agrees = targets.some((t) => {
        const n = Math.min(t.length, value.length);
        return idEdits(value.slice(0, n), t.slice(0, n)) <= (n >= 14 ? 1 : 0);
      });
      if (!agrees) return { comparison: 'id_prefix', level: 'mismatch' };
      return { comparison: 'id_prefix', level: value.length >= 14 ? 'full' : 'area' };
    }
    case 'masked':
      return { comparison: 'id_masked', level: targets.some((t) => maskedAgrees(value, t) || t === value) ? 'match' : 'mismatch' };
    case 'checksum_failed':
    case 'malformed': {
      if (value.length !== 18) return null;
      const best = Math.min(...targets.map((t) => idEdits(value, t)));
      return { comparison: 'id_typo', level: best <= 1 ? 'one_edit' : best === 2 ? 'two_edits' : 'mismatch' };
    }
    default:
      return null;
  }
}

// ── relation to the head of household ─────────────────────────────────────────

/** Labels of one relation, as agencies write them; a label not listed is its own kind. */
const RELATION_LABELS: Record<string, readonly string[]> = {
  self: ['本人', '户主', '户主本人', '自己'],
  spouse: ['配偶', '妻', '妻子', '夫', '丈夫', '之妻', '之夫'],
  son: ['子', '儿子', '长子', '次子', '三子', '四子', '五子', '独子', '之子', '养子', '继子'],
  daughter: ['女', '女儿', '长女', '次女', '三女', '四女', '五女', '独女', '之女', '养女', '继女'],
  parent: ['父母', '父亲', '母亲', '父', '母'],
  grandchild: ['孙子', '孙女', '外孙子', '外孙女', '孙子女', '外孙子女'],
  sibling: ['兄弟姐妹', '兄', '弟', '姐', '妹', '哥哥', '弟弟', '姐姐', '妹妹'],
  child_in_law: ['儿媳', '女婿'],
  grandparent: ['祖父母', '祖父', '祖母', '外祖父母', '外祖父', '外祖母'],
};
const RELATION_KIND = new Map(Object.entries(RELATION_LABELS).flatMap(([kind, labels]) => labels.map((l) => [l, kind] as const)));

/** Labels by which a row says it is the head of household itself. */
export const SELF_RELATIONS: readonly string[] = RELATION_LABELS.self!;

/** The kind of a relation label (本人 and 户主 are one, 子 and 长子 are one). */
export function relationKind(label: string | null): string | null {
  const l = label?.trim();
  if (!l) return null;
  return RELATION_KIND.get(l) ?? l;
}

export function compareRelation(p: Probe, q: Profile): Level<'relation'> | null {
  if (!p.relation || q.relations.length === 0) return null;
  return q.relations.includes(p.relation) ? 'same' : 'different';
}

/**
 * How much younger than the head (in years of birth) a person of each relation may be:
 * [least, most]; negative, older. Wide on purpose: only the impossible is ruled out.
 */
const GENERATION_GAP: Record<string, readonly [number, number]> = {
  son: [12, 75], daughter: [12, 75], child_in_law: [5, 80], grandchild: [25, 110],
  parent: [-75, -12], grandparent: [-110, -25], spouse: [-40, 40], sibling: [-40, 40],
};
const RELATION_GENDER: Record<string, 'M' | 'F'> = { son: 'M', daughter: 'F' };

/** The year of birth an 18-digit id number gives. */
function birthYear(id18: string): number | null {
  const y = Number(id18.slice(6, 10));
  return Number.isInteger(y) && y > 1880 ? y : null;
}

/** Whether the person can be the head's son, daughter, parent … that the row says; null when it cannot be told. */
export function compareHouseholdRole(p: Probe, q: Profile): Level<'household_role'> | null {
  if (!p.relation) return null;
  const gap = GENERATION_GAP[p.relation];
  const head = p.headId ? birthYear(p.headId) : null;
  const years = q.births.map((b) => Number(b.slice(0, 4)));
  const ageKnown = gap !== undefined && head !== null && years.length > 0;
  const gender = RELATION_GENDER[p.relation];
  const genderKnown = gender !== undefined && q.genders.length > 0;
  if (!ageKnown && !genderKnown) return null;
  const ageFits = !ageKnown || years.some((y) => y - head! >= gap![0] && y - head! <= gap![1]);
  const genderFits = !genderKnown || q.genders.includes(gender!);
  return ageFits && genderFits ? 'fits' : 'impossible';
}

// ── the rest ────────────────────────────────────────────────────────────────

/** Whether the person is on another row of the probe's roster (never asked of a settlement). */
export function compareRoster(p: Probe, q: Profile): Level<'same_roster'> | null {
  if (p.roster === null) return null;
  return q.rosters.includes(p.roster) ? 'listed' : 'not_listed';
}

export function compareBirth(p: Probe, q: Profile): Level<'birth'> | null {
  if (!p.birth || q.births.length === 0) return null;
  return q.births.includes(p.birth) ? 'exact' : 'different';
}

export function compareGender(p: Probe, q: Profile): Level<'gender'> | null {
  if (!p.gender || q.genders.length === 0) return null;
  return q.genders.includes(p.gender) ? 'same' : 'different';
}

/** A row that says it is the head carries its own id in the head-of-household column. */
export function compareHeadSelf(p: Probe, q: Profile): Level<'head_self'> | null {
  if (!p.isSelf || !p.headId || !q.id18) return null;
  return q.id18 === p.headId ? 'self' : 'other';
}

/** Where the person stands relative to the probe's household and place. */
export function compareContext(p: Probe, q: Profile): Context | null {
  const household =
    (p.headId !== null && (q.headIds.includes(p.headId) || q.id18 === p.headId)) ||
    (p.household !== null && q.households.includes(p.household)) ||
    (p.phone !== null && q.phones.includes(p.phone));
  if (household) return 'household';
  if (!p.township || q.places.length === 0) return null;
  if (p.village && q.places.includes(`${p.township}|${p.village}`)) return 'village';
  return q.places.some((pl) => pl.startsWith(`${p.township}|`)) ? 'township' : 'elsewhere';
}

/** Every comparison that can be made between the probe and the profile. */
export function compareAll(p: Probe, q: Profile, tools: NameTools): Levels {
  const out: Levels = {};
  const name = compareName(p, q, tools);
  if (name) out.name = name;
  const id = compareId(p.idStatus, p.idValue, q);
  if (id) (out as Record<string, string>)[id.comparison] = id.level;
  const birth = compareBirth(p, q);
  if (birth) out.birth = birth;
  const gender = compareGender(p, q);
  if (gender) out.gender = gender;
  const self = compareHeadSelf(p, q);
  if (self) out.head_self = self;
  const relation = compareRelation(p, q);
  if (relation) out.relation = relation;
  const role = compareHouseholdRole(p, q);
  if (role) out.household_role = role;
  const roster = compareRoster(p, q);
  if (roster) out.same_roster = roster;
  return out;
}
