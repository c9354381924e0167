/**
 * The identity review page's evidence in plain Chinese (issue 19): the wording module for
 * every comparison and level, and the page on the sample county — sentences and verdicts,
 * what told candidates apart, a pooled row's note, and none of the numbers' jargon.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { syncInProcess } from '../../src/jobs/local.js';
import { COMPARISONS, CONTEXT_LEVELS } from '../../src/match/compare.js';
import { EVIDENCE_PHRASE, evidencePhrase, evidenceSentence, VERDICT, verdictOf, whatToldApart } from '../../src/console/evidence-words.js';
import { escapeHtml } from '../../src/console/html.js';
import { consoleRig, type ConsoleRig } from '../helpers/console.js';
import { SAMPLE_INBOX } from '../helpers/sample.js';

type Item = { c: string; l: string; w: number };
const LATIN = /[A-Za-z]/;
const JARGON = ['先验', '对数几率', '权重'];

describe('evidence in words', () => {
  const pairs: [string, string][] = [
    ...Object.entries(COMPARISONS).flatMap(([c, levels]) => levels.map((l): [string, string] => [c, l])),
    ...CONTEXT_LEVELS.map((l): [string, string] => ['context', l]),
  ];

  it('has a Chinese phrase, without English, for every comparison and level, and no phrase for a level that does not exist', () => {
    expect(pairs.length).toBeGreaterThan(25);
    for (const [c, l] of pairs) {
      const phrase = (EVIDENCE_PHRASE as Record<string, Record<string, string>>)[c]![l];
      expect(phrase, `${c}.${l}`).toMatch(/[\u4e00-\u9fff]/);
      expect(phrase, `${c}.${l}`).not.toMatch(LATIN);
      expect(evidencePhrase(c, l)).toBe(phrase);
    }
    const known = new Set(pairs.map(([c, l]) => `${c}.${l}`));
    const phrased = Object.entries(EVIDENCE_PHRASE).flatMap(([c, levels]) => Object.keys(levels).map((l) => `${c}.${l}`));
    expect(phrased.sort()).toEqual([...known].sort());
  });

  it('tells the levels of one comparison apart', () => {
    for (const levels of Object.values(EVIDENCE_PHRASE)) {
      const phrases = Object.values(levels as Record<string, string>);
      expect(new Set(phrases).size).toBe(phrases.length);
    }
  });

  it('says a pair it does not know in Chinese, not with its code', () => {
    expect(evidencePhrase('name', 'made_up')).toBe('姓名：比对结果无法说明');
    expect(evidencePhrase('made_up', 'x')).not.toMatch(LATIN);
  });

  it('says what agreed, then what did not, strongest first', () => {
    const items: Item[] = [
      { c: 'birth', l: 'different', w: -3.2 },
      { c: 'name', l: 'exact', w: 6.1 },
      { c: 'gender', l: 'different', w: -7.5 },
      { c: 'context', l: 'household', w: 9.4 },
      { c: 'household_role', l: 'fits', w: 0 },
    ];
    expect(evidenceSentence(items)).toBe('同一户（户主、户编号或电话相同），姓名相同，与户主关系与年龄、性别相符；但性别不同，出生日期不同。');
    expect(evidenceSentence([{ c: 'name', l: 'sound', w: 2 }])).toBe('姓名读音相同（字不同）。');
    expect(evidenceSentence([{ c: 'birth', l: 'different', w: -4 }])).toBe('出生日期不同。');
    // the village, not the household, counting against: said after 但 without a second 但
    expect(evidenceSentence([{ c: 'name', l: 'exact', w: 4 }, { c: 'context', l: 'village', w: -1.5 }])).toBe('姓名相同；但同村、不同户。');
    expect(evidenceSentence([])).toBe('没有可以比对的信息。');
  });

  it('gives a plain verdict from the probability', () => {
    expect(verdictOf(0.97)).toBe(VERDICT.likely);
    expect(verdictOf(0.9)).toBe(VERDICT.likely);
    expect(verdictOf(0.5)).toBe(VERDICT.unsure);
    expect(verdictOf(0.12)).toBe(VERDICT.unsure);
    expect(verdictOf(0.1)).toBe(VERDICT.unlikely);
    expect(verdictOf(0.001)).toBe(VERDICT.unlikely);
  });

  it('says which comparison told candidates apart, how for each, or that nothing did', () => {
    const a: Item[] = [{ c: 'name', l: 'exact', w: 5 }, { c: 'birth', l: 'exact', w: 8 }];
    const b: Item[] = [{ c: 'name', l: 'exact', w: 5 }, { c: 'birth', l: 'different', w: -4 }];
    expect(whatToldApart([{ evidence: a }, { evidence: b }])).toBe('能把候选人员区分开的是出生日期：候选人员 1 出生日期相同；候选人员 2 出生日期不同。');
    expect(whatToldApart([{ evidence: a }, { evidence: [a[0]!] }])).toBe('能把候选人员区分开的是出生日期：候选人员 1 出生日期相同；候选人员 2 出生日期无法比对。');
    expect(whatToldApart([{ evidence: a }, { evidence: a }])).toContain('现有信息区分不了他们');
    expect(whatToldApart([{ evidence: a }])).toContain('只有一名候选人员');
  });
});

/** The 比对依据 section of a review page. */
function evidenceSection(body: string): string {
  const start = body.indexOf('<h2>比对依据</h2>');
  const end = body.indexOf('<h2>同户的已知成员</h2>');
  expect(start).toBeGreaterThan(0);
  expect(end).toBeGreaterThan(start);
  return body.slice(start, end);
}

/** The text a person reads in a piece of page, without the command in <code> (an operator types it as it is). */
const visibleText = (part: string): string => part.replace(/<code>[\s\S]*?<\/code>/g, '').replace(/<[^>]+>/g, '');

function expectPlain(body: string): string {
  for (const word of JARGON) expect(body).not.toContain(word);
  const section = evidenceSection(body);
  expect(visibleText(section)).not.toMatch(LATIN);
  expect(section).toContain('查看计算细节');
  expect(section).toMatch(/<code>aidlink explain-link [^<]+ \d+<\/code>/);
  return section;
}

describe('console: the review page in plain Chinese, on the sample county', () => {
  let rig: ConsoleRig;
  let review: { delivery_id: number; row_no: number; candidates: { person_id: number; probability: number; evidence?: Item[] }[] };
  /** two rows linked by score to two different persons, to craft reviews on */
  let scored: { delivery_id: number; row_no: number; person_id: number; evidence: { probability: number; evidence: Item[] } }[];

  beforeAll(async () => {
    rig = await consoleRig({ prepare: (app) => syncInProcess(app, { inbox: SAMPLE_INBOX, requestedBy: 'test' }).then(() => undefined) });
    const k = rig.db.store.k;
    const rows = await sql<typeof review>`select delivery_id, row_no, candidates from row_link where state = 'review'`.execute(k);
    // the sample county leaves exactly one row in review (docs/matching.md)
    expect(rows.rows).toHaveLength(1);
    review = rows.rows[0]!;
    scored = (
      await sql<(typeof scored)[number]>`
        select distinct on (person_id) delivery_id, row_no, person_id, evidence from row_link
        where state = 'linked' and method = 'scored' and not pooled and evidence is not null
        order by person_id, delivery_id, row_no limit 2`.execute(k)
    ).rows;
    expect(scored).toHaveLength(2);
  }, 180_000);
  afterAll(() => rig?.close());

  it('shows each candidate of the review row as a verdict and one sentence, and no numbers\' jargon', async () => {
    const r = await (await rig.as('caseworker')).get(`/review/${review.delivery_id}/${review.row_no}`);
    expect(r.statusCode).toBe(200);
    const section = expectPlain(r.body);
    expect(review.candidates.length).toBeGreaterThan(0);
    for (const [i, c] of review.candidates.entries()) {
      expect(c.evidence?.length).toBeGreaterThan(0);
      expect(section).toContain(`候选人员 ${i + 1}（人员 ${c.person_id}）`);
      expect(section).toContain(verdictOf(c.probability));
      expect(section).toContain(escapeHtml(evidenceSentence(c.evidence!)));
    }
    expect(section).toContain(escapeHtml(whatToldApart(review.candidates)));
    // no score anywhere on the page: the probability and the verdict say it
    expect(r.body).not.toContain('评分 ');
  });

  it('says in words which comparison told two candidates apart', async () => {
    const [row, other] = scored;
    const a: Item[] = [{ c: 'context', l: 'household', w: 9.1 }, { c: 'name', l: 'exact', w: 6.2 }, { c: 'birth', l: 'exact', w: 8.3 }];
    const b: Item[] = [{ c: 'context', l: 'household', w: 9.1 }, { c: 'name', l: 'exact', w: 6.2 }, { c: 'birth', l: 'different', w: -4.4 }];
    const candidates = [
      { person_id: row!.person_id, score: 3.4, probability: 0.55, evidence: a },
      { person_id: other!.person_id, score: 1.2, probability: 0.4, evidence: b },
    ];
    await rig.db.store.k
      .updateTable('row_link')
      .set({ state: 'review', person_id: null, candidates: JSON.stringify(candidates), evidence: JSON.stringify({ total: 3.4, probability: 0.55, prior: -11.3, evidence: a }) })
      .where('delivery_id', '=', row!.delivery_id)
      .where('row_no', '=', row!.row_no)
      .execute();
    const r = await (await rig.as('viewer')).get(`/review/${row!.delivery_id}/${row!.row_no}`);
    expect(r.statusCode).toBe(200);
    const section = expectPlain(r.body);
    expect(section).toContain('同一户（户主、户编号或电话相同），姓名相同；但出生日期不同。');
    expect(section).toContain('同一户（户主、户编号或电话相同），出生日期相同，姓名相同。');
    expect(section).toContain(VERDICT.unsure);
    expect(section).toContain('能把候选人员区分开的是出生日期：候选人员 1 出生日期相同；候选人员 2 出生日期不同。');
    expect(section).not.toContain('-4.4');
    expect(section).not.toContain('+9.1');
  });

  it('keeps a pooled row\'s note above its candidates in words', async () => {
    const row = scored[1]!;
    const alone: Item[] = [{ c: 'name', l: 'sound', w: 3.1 }, { c: 'id_prefix', l: 'full', w: 12.8 }];
    await rig.db.store.k
      .updateTable('row_link')
      .set({ pooled: true, candidates: JSON.stringify([{ person_id: row.person_id, score: 1.5, probability: 0.74, evidence: alone }]), evidence: JSON.stringify({ total: 1.5, probability: 0.74, prior: -11.3, evidence: alone }) })
      .where('delivery_id', '=', row.delivery_id)
      .where('row_no', '=', row.row_no)
      .execute();
    const r = await (await rig.as('viewer')).get(`/review/${row.delivery_id}/${row.row_no}`);
    expect(r.statusCode).toBe(200);
    const section = expectPlain(r.body);
    expect(section).toContain('本条记录单独比对时未达自动关联标准');
    expect(section).toContain('身份证号前 14 位相同（后几位被表格改成了 000），姓名读音相同（字不同）。');
    expect(section).toContain(VERDICT.unsure);
    expect(r.body).toContain('与同一人的其他记录合并判断后关联');
  });

  it('says a scored link in words with its verdict', async () => {
    const k = rig.db.store.k;
    const row = await sql<(typeof scored)[number]>`
      select delivery_id, row_no, person_id, evidence from row_link
      where state = 'linked' and method = 'scored' and not pooled and evidence is not null
        and (delivery_id, row_no) not in ((${scored[0]!.delivery_id}, ${scored[0]!.row_no}), (${scored[1]!.delivery_id}, ${scored[1]!.row_no}))
      order by delivery_id, row_no limit 1`.execute(k);
    const linked = row.rows[0]!;
    expect(linked.evidence.probability).toBeGreaterThanOrEqual(0.99);
    const r = await (await rig.as('viewer')).get(`/review/${linked.delivery_id}/${linked.row_no}`);
    expect(r.statusCode).toBe(200);
    const section = expectPlain(r.body);
    expect(section).toContain(`与关联的人员（人员 ${linked.person_id}）逐项比对`);
    expect(section).toContain(VERDICT.likely);
    expect(section).toContain(escapeHtml(evidenceSentence(linked.evidence.evidence)));
  });
});
