/**
 * The evidence of an identity comparison as staff would say it (身份核对, issue 19): each
 * stored item {c: comparison, l: level, w: weight} becomes a short Chinese phrase, a
 * candidate's items one sentence (what agreed, then what did not, strongest first), its
 * probability a plain verdict, and several candidates what told them apart. The weights
 * only order the phrases; the numbers stay with `aidlink explain-link` (match/explain.ts).
 * One place for this wording: the comparisons and levels are those of match/compare.ts.
 */
import { COMPARISON_LABEL, type Comparison, type Context, type Level } from '../match/compare.js';
import type { StoredEvidenceItem } from '../match/review.js';

type Phrases = { [C in Comparison]: Record<Level<C>, string> } & { context: Record<Context, string> };

/** Every comparison and level of match/compare.ts: the type makes a missing one a compile error. */
export const EVIDENCE_PHRASE: Phrases = {
  context: {
    household: '同一户（户主、户编号或电话相同）',
    village: '同村、不同户',
    township: '同乡镇、不同村',
    elsewhere: '不在同一乡镇',
  },
  name: {
    exact: '姓名相同',
    fold: '姓名相同（繁简体或形近字写法不同）',
    wildcard: '姓名除表格中丢失的字外相同',
    sound: '姓名读音相同（字不同）',
    one_char: '姓名只差一个字',
    different: '姓名不同',
  },
  id_prefix: {
    full: '身份证号前 14 位相同（后几位被表格改成了 000）',
    area: '身份证号只剩前 6 位地区码，地区码相同',
    mismatch: '身份证号被表格损坏，剩下的数字与此人不同',
  },
  id_masked: {
    match: '身份证号被隐去部分数字，露出的数字与此人相同',
    mismatch: '身份证号被隐去部分数字，露出的数字与此人不同',
  },
  id_typo: {
    one_edit: '身份证号有误，与此人只差一位（或相邻两位颠倒）',
    two_edits: '身份证号有误，与此人差两位',
    mismatch: '身份证号有误，与此人相差很多',
  },
  birth: { exact: '出生日期相同', different: '出生日期不同' },
  gender: { same: '性别相同', different: '性别不同' },
  head_self: {
    self: '本条记录是户主，户主身份证号就是此人的',
    other: '本条记录是户主，但户主身份证号是另一个人的',
  },
  relation: { same: '与户主关系相同', different: '与户主关系不同' },
  household_role: {
    fits: '与户主关系与年龄、性别相符',
    impossible: '与户主关系与年龄或性别不符（不可能是户主的这一亲属）',
  },
  same_roster: {
    listed: '此人已在同一份名册的另一行（多半是另一个人，如同名的兄弟姐妹）',
    not_listed: '同一份名册中没有此人的其他行',
  },
};

const comparisonName = (c: string): string => (COMPARISON_LABEL as Record<string, [string, string] | undefined>)[c]?.[0] ?? '其他比对项';

/** One comparison's outcome in words; a pair the table does not know (an older model's) is still said in Chinese. */
export function evidencePhrase(c: string, l: string): string {
  const levels = (EVIDENCE_PHRASE as Record<string, Record<string, string> | undefined>)[c];
  return levels?.[l] ?? `${comparisonName(c)}：比对结果无法说明`;
}

/**
 * What agreed (a weight for "the same person", or none), then what did not, each strongest
 * first: 「同一户（…），姓名相同；但出生日期不同。」
 */
export function evidenceSentence(items: readonly StoredEvidenceItem[]): string {
  const agreed = items.filter((x) => x.w >= 0).sort((a, b) => b.w - a.w);
  const against = items.filter((x) => x.w < 0).sort((a, b) => a.w - b.w);
  const say = (xs: StoredEvidenceItem[]) => xs.map((x) => evidencePhrase(x.c, x.l)).join('，');
  if (agreed.length === 0 && against.length === 0) return '没有可以比对的信息。';
  if (against.length === 0) return `${say(agreed)}。`;
  if (agreed.length === 0) return `${say(against)}。`;
  return `${say(agreed)}；但${say(against)}。`;
}

/**
 * The verdict from the stored probability. The matcher links on its own at 0.99; below
 * that a person decides, so the page only says which way the evidence leans, and calls
 * the middle ground what it is.
 */
export const VERDICT = { likely: '很可能是同一人', unsure: '无法区分，需要人工判断', unlikely: '不太可能是同一人' } as const;
const LIKELY = 0.9;
const UNLIKELY = 0.1;

export function verdictOf(probability: number): string {
  return probability >= LIKELY ? VERDICT.likely : probability <= UNLIKELY ? VERDICT.unlikely : VERDICT.unsure;
}

/** The comparisons that came out differently for the candidates (first seen first), so what told them apart. */
export function splitComparisons(candidates: readonly { evidence?: readonly StoredEvidenceItem[] | undefined }[]): string[] {
  const order: string[] = [];
  for (const c of candidates) for (const x of c.evidence ?? []) if (!order.includes(x.c)) order.push(x.c);
  return order.filter((comparison) => new Set(candidates.map((c) => c.evidence?.find((x) => x.c === comparison)?.l ?? '')).size > 1);
}

/**
 * For several candidates: which comparisons told them apart and how each came out for each
 * (「候选人员 1 出生日期相同；候选人员 2 出生日期不同」), or that nothing did.
 */
export function whatToldApart(candidates: readonly { evidence?: readonly StoredEvidenceItem[] | undefined }[]): string {
  if (candidates.length < 2) return '只有一名候选人员：证据不足以认定，也不足以排除。';
  const split = splitComparisons(candidates);
  if (split.length === 0) return '各候选人员在每一项上的比对结果都相同：现有信息区分不了他们，请核对户籍、联系电话等其他材料。';
  const each = candidates.map((c, i) => {
    const said = split.map((comparison) => {
      const x = c.evidence?.find((e) => e.c === comparison);
      return x ? evidencePhrase(x.c, x.l) : `${comparisonName(comparison)}无法比对`;
    });
    return `候选人员 ${i + 1} ${said.join('，')}`;
  });
  return `能把候选人员区分开的是${split.map(comparisonName).join('、')}：${each.join('；')}。`;
}
