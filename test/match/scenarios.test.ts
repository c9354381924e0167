/**
 * The hard cases, on households added to the sample county (whose data the weights
 * are estimated from): twins, namesakes in one village, every form of id damage,
 * and staff decisions that every later match keeps.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { SAMPLE_INBOX } from '../helpers/sample.js';
import { inbox, makeId, SETTLEMENT_HEADER } from '../helpers/fixtures.js';
import { loadMapping } from '../../src/ingest/mapping.js';
import { ingestPath } from '../../src/ingest/inbox.js';
import { ingestFile } from '../../src/ingest/ingest.js';
import { runMatch } from '../../src/match/run.js';
import { confirmLink, mergePersons, rejectLink, splitPerson } from '../../src/match/decisions.js';
import { explainLink } from '../../src/match/explain.js';
import { anchorState, staleProfiles } from '../helpers/match.js';
import { sql } from 'kysely';

const mapping = loadMapping();
const box = inbox();

// ── the scenario households ──────────────────────────────────────────────────
const P = {
  // 平寨镇河边村: a head, his wife, and twin sons born on one day
  xiaoHead: { name: '肖建国', id: makeId('1975-03-03', 911), phone: '13900000001' },
  xiaoWife: { name: '刘芳', id: makeId('1978-08-08', 902), phone: '13900000001' },
  twin1: { name: '肖子涵', id: makeId('2015-06-14', 913), phone: '13900000001' },
  twin2: { name: '肖子轩', id: makeId('2015-06-14', 935), phone: '13900000001' },
  // 郎岱镇沙坝村: two unrelated heads of household called 王建华
  wang1: { name: '王建华', id: makeId('1968-01-01', 917), phone: '13900000002' },
  wang2: { name: '王建华', id: makeId('1990-12-12', 939), phone: '13900000003' },
  // 木岗镇田坝村: a head and his wife, whose id arrives in every damaged form
  zhaoHead: { name: '赵志刚', id: makeId('1970-07-07', 951), phone: '13900000004' },
  zhaoWife: { name: '孙丽', id: makeId('1972-02-02', 962), phone: '13900000004' },
  // 岩脚镇红岩村: a father and his son, both called 刘宇
  liuFather: { name: '刘宇', id: makeId('1975-05-05', 971), phone: '13900000005' },
  liuSon: { name: '刘宇', id: makeId('2008-04-18', 993), phone: '13900000005' },
  // 岩脚镇红岩村: a head and his daughters 杨丽 and 杨莉, names one sound apart
  yangHead: { name: '杨德明', id: makeId('1970-09-09', 915), phone: '13900000006' },
  yangLi: { name: '杨丽', id: makeId('2001-02-02', 926), phone: '13900000006' },
  yangLi2: { name: '杨莉', id: makeId('2004-04-04', 948), phone: '13900000006' },
  // 落别乡坪寨村: a head born in 1950, and a 郑伟 born in 1952 known only from a settlement (his
  // brother, say); the roster lists the head's son 郑伟, without an id, whom nothing knew before
  zhengHead: { name: '郑国强', id: makeId('1950-06-06', 917), phone: '13900000007' },
  zhengUncle: { name: '郑伟', id: makeId('1952-08-08', 939), phone: '13900000008' },
  // 落别乡坪寨村: 何永福, whose son 何浩然 is listed without an id, his birth date on one roster only;
  // another 何浩然, born 2009, is known only from a settlement
  heHead: { name: '何永福', id: makeId('1980-01-01', 911), phone: '13900000009' },
  heNamesake: { name: '何浩然', id: makeId('2009-07-07', 933), phone: '13900000010' },
  // 新窑镇松林村, rural: the head 龙德贵 born 1950, whose son 龙飞 is listed without an id; a 龙飞
  // born 1955 is known only from a settlement
  longHead: { name: '龙德贵', id: makeId('1950-02-02', 951), phone: '13900000011' },
  longNamesake: { name: '龙飞', id: makeId('1955-09-09', 973), phone: '13900000012' },
};
type Who = keyof typeof P;

/** One settlement each (with 人员编号), so every scenario person is known by a valid id. */
function settlements() {
  return {
    header: SETTLEMENT_HEADER,
    rows: (Object.keys(P) as Who[]).map((k, i) => [
      `2026119900${String(i).padStart(4, '0')}`, '', `5202039900000000${String(i).padStart(4, '0')}`, P[k].name, P[k].id,
      '14', '本地', '2026-11-02', '2026-11-03', '2026-11-05', '100.00', '0', '90.00', '45.00', '0', '0', '一站式',
    ]),
  };
}

const ROSTER_HEADER = ['姓名', '身份证号', '性别', '出生日期', '户主姓名', '户主身份证号', '与户主关系', '乡镇(街道)', '村(社区)', '联系电话', '保障类别', '认定日期', '保障状态'];
type Place = [string, string];
const HE_BIAN: Place = ['平寨镇', '河边村'];
const SHA_BA: Place = ['郎岱镇', '沙坝村'];
const TIAN_BA: Place = ['木岗镇', '田坝村'];
const HONG_YAN: Place = ['岩脚镇', '红岩村'];
const PING_ZHAI: Place = ['落别乡', '坪寨村'];

function rosterRow(who: Who, idCell: string, head: Who, relation: string, place: Place, opts: { birth?: string; phone?: boolean; name?: string; headColumns?: boolean } = {}) {
  const p = P[who];
  const [headName, headId] = opts.headColumns === false ? ['', ''] : [P[head].name, P[head].id];
  return [opts.name ?? p.name, idCell, '', opts.birth ?? '', headName, headId, relation, place[0], place[1], opts.phone === false ? '' : p.phone, '低保对象', '2020-01-01', '在保'];
}

const z = P.zhaoWife.id;
const DAMAGED: Record<string, string> = {
  legacy15: z.slice(0, 6) + z.slice(8, 17), // only valid if born in the 1900s, as she is
  spaced: `${z.slice(0, 6)} ${z.slice(6, 14)} ${z.slice(14)}`,
  fullwidth: z.replace(/[0-9]/g, (d) => String.fromCharCode(d.charCodeAt(0) + 0xfee0)),
  sheet000: z.slice(0, 15) + '000',
  scientific: '5.20203E+17',
  masked: z.slice(0, 6) + '********' + z.slice(14),
  oneDigit: z.slice(0, 9) + String((Number(z[9]) + 4) % 10) + z.slice(10),
  swapped: z.slice(0, 10) + z[11] + z[10] + z.slice(12),
};
const damageForms = Object.keys(DAMAGED);

function roster() {
  return {
    header: ROSTER_HEADER,
    rows: [
      /* 2 */ rosterRow('xiaoHead', P.xiaoHead.id, 'xiaoHead', '本人', HE_BIAN),
      /* 3 */ rosterRow('xiaoWife', P.xiaoWife.id.slice(0, 6) + '********' + P.xiaoWife.id.slice(14), 'xiaoHead', '配偶', HE_BIAN),
      /* 4 */ rosterRow('twin1', '无', 'xiaoHead', '子', HE_BIAN, { birth: '2015-06-14' }),
      /* 5 */ rosterRow('twin2', '无', 'xiaoHead', '子', HE_BIAN, { birth: '2015-06-14' }),
      /* 6 */ rosterRow('wang1', '/', 'wang1', '本人', SHA_BA),
      /* 7 */ rosterRow('wang2', '/', 'wang2', '本人', SHA_BA),
      // one row per damage form: a roster lists a household's member once, so these rows leave the head's
      // columns empty and stand for eight exports rather than one household listing her eight times
      ...damageForms.map((f) => rosterRow('zhaoWife', DAMAGED[f]!, 'zhaoHead', '配偶', TIAN_BA, { headColumns: false })), // rows 8–15
      /* 16 */ rosterRow('zhaoHead', P.zhaoHead.id, 'zhaoHead', '本人', TIAN_BA),
      /* 17 */ rosterRow('liuFather', P.liuFather.id, 'liuFather', '本人', HONG_YAN),
      /* 18 */ rosterRow('liuSon', P.liuSon.id, 'liuFather', '子', HONG_YAN),
      // a second son called 刘宇, without an id: the first is on row 18 of this very roster
      /* 19 */ rosterRow('liuSon', '无', 'liuFather', '子', HONG_YAN, { phone: false }),
      // both daughters' ids cut by a spreadsheet, and 杨莉's name mistyped as her sister's
      /* 20 */ rosterRow('yangHead', P.yangHead.id, 'yangHead', '本人', HONG_YAN),
      /* 21 */ rosterRow('yangLi', '5.20203E+17', 'yangHead', '女', HONG_YAN, { birth: '2001-02-02' }),
      /* 22 */ rosterRow('yangLi2', '5.20203E+17', 'yangHead', '女', HONG_YAN, { name: '杨丽' }),
      /* 23 */ rosterRow('zhengHead', P.zhengHead.id, 'zhengHead', '本人', PING_ZHAI),
      // the son: two years younger than his father cannot be he
      /* 24 */ rosterRow('zhengUncle', '无', 'zhengHead', '子', PING_ZHAI, { phone: false }),
      /* 25 */ rosterRow('heHead', P.heHead.id, 'heHead', '本人', PING_ZHAI),
      /* 26 */ rosterRow('heNamesake', '无', 'heHead', '子', PING_ZHAI, { birth: '2012-03-03' }),
    ],
  };
}
const ROSTER = 'civil/civil_20201231.csv';
const rowOf = (form: string) => 8 + damageForms.indexOf(form);

/** A month earlier: rows that lost what told them apart. */
function earlierRoster() {
  return {
    header: ROSTER_HEADER,
    rows: [
      /* 2 */ rosterRow('twin2', '', 'xiaoHead', '子', HE_BIAN),
      // a 王建华 of 沙坝村 and nothing else: either of the two
      /* 3 */ ['王建华', '', '', '', '', '', '', '郎岱镇', '沙坝村', '', '低保对象', '2020-01-01', '在保'],
      // the same name, household, gender and phone as his sons: only the relation (户主 is 本人) tells
      /* 4 */ rosterRow('liuFather', '无', 'liuFather', '户主', HONG_YAN),
      // the 杨 household as it was known, every id intact
      /* 5 */ rosterRow('yangHead', P.yangHead.id, 'yangHead', '本人', HONG_YAN),
      /* 6 */ rosterRow('yangLi', P.yangLi.id, 'yangHead', '女', HONG_YAN),
      /* 7 */ rosterRow('yangLi2', P.yangLi2.id, 'yangHead', '女', HONG_YAN),
      // 何永福's son again, without his birth date: alone, the namesake born 2009 could be he
      /* 8 */ rosterRow('heNamesake', '无', 'heHead', '子', PING_ZHAI),
    ],
  };
}
const EARLIER = 'civil/civil_20201130.csv';

// 新窑镇松林村, a rural household (户编号) in two quarterly registers: in the second, a spreadsheet
// has cut the daughter's id to its area code
const SONG = { household: '520203000009901', head: { name: '宋建军', id: makeId('1970-10-10', 915) }, daughter: { name: '宋美玲', id: makeId('1996-03-03', 926) } };
const RURAL_HEADER = ['户编号', '姓名', '证件号码', '性别', '与户主关系', '乡(镇)', '行政村', '联系电话', '户类型', '识别时间'];
const LONG_HOUSEHOLD = '520203000009902';
const ruralRow = (who: { name: string }, idCell: string, gender: string, relation: string, household = SONG.household) =>
  [household, who.name, idCell, gender, relation, '新窑镇', '松林村', '', '脱贫户', '2016-05-01'];
const RURAL_Q3 = 'rural/防返贫监测和脱贫人口信息_2020年第3季度.csv';
const RURAL_Q4 = 'rural/防返贫监测和脱贫人口信息_2020年第4季度.csv';
const ruralRegister = (daughterId: string) => ({
  header: RURAL_HEADER,
  rows: [
    /* 2 */ ruralRow(SONG.head, SONG.head.id, '男', '户主'),
    /* 3 */ ruralRow(SONG.daughter, daughterId, '女', '女'),
    /* 4 */ ruralRow(P.longHead, P.longHead.id, '男', '户主', LONG_HOUSEHOLD),
    /* 5 */ ruralRow(P.longNamesake, '无', '男', '子', LONG_HOUSEHOLD),
  ],
});

let db: TestDb;
const personOf = async (who: Who) =>
  (await db.store.k.selectFrom('person').select('id').where('person_key', '=', `id:${P[who].id}`).executeTakeFirstOrThrow()).id;
const linkOf = async (row: number, file = ROSTER) =>
  db.store.k
    .selectFrom('row_link')
    .innerJoin('delivery', 'delivery.id', 'row_link.delivery_id')
    .select(['row_link.person_id', 'row_link.state', 'row_link.method', 'row_link.delivery_id', 'row_link.row_no'])
    .where('delivery.file', '=', file)
    .where('row_link.row_no', '=', row)
    .executeTakeFirstOrThrow();

beforeAll(async () => {
  db = await createTestDb();
  await ingestPath(db.store, mapping, SAMPLE_INBOX);
  const files = [
    ['settlement/医保结算明细_202611.csv', settlements()],
    [ROSTER, roster()],
    [EARLIER, earlierRoster()],
    [RURAL_Q3, ruralRegister(SONG.daughter.id)],
    [RURAL_Q4, ruralRegister('5.20203E+17')],
  ] as const;
  for (const [rel, content] of files) {
    await ingestFile(db.store, mapping, box.put(rel, content), { inboxRoot: box.root });
  }
  await runMatch(db.store);
}, 300_000);
afterAll(() => db?.drop());

describe('twins', () => {
  it('are told apart by name, though they share household, birth date and gender', async () => {
    expect(await linkOf(4)).toMatchObject({ state: 'linked', person_id: await personOf('twin1') });
    expect(await linkOf(5)).toMatchObject({ state: 'linked', person_id: await personOf('twin2') });
    expect(await linkOf(2, EARLIER)).toMatchObject({ state: 'linked', person_id: await personOf('twin2') });
  });
});

describe('namesakes in one village', () => {
  it('are told apart by their households', async () => {
    expect(await linkOf(6)).toMatchObject({ state: 'linked', person_id: await personOf('wang1') });
    expect(await linkOf(7)).toMatchObject({ state: 'linked', person_id: await personOf('wang2') });
  });
  it('wait for review when nothing but the name and the village tells them apart', async () => {
    const l = await linkOf(3, EARLIER);
    expect(l).toMatchObject({ state: 'review', person_id: null });
    const text = await explainLink(db.store.k, EARLIER, 3);
    expect(text).toContain('待人工核对');
    expect(text).toContain(String(await personOf('wang1')));
    expect(text).toContain(String(await personOf('wang2')));
  });
});

describe('namesakes in one household', () => {
  it('a father and his sons of one name are told apart by their relation to the head of household', async () => {
    expect(await linkOf(4, EARLIER)).toMatchObject({ state: 'linked', person_id: await personOf('liuFather') });
  });
  it('a quarterly row whose id a spreadsheet cut to its area code links to the household\'s member of that name', async () => {
    const daughter = (await db.store.k.selectFrom('person').select('id').where('person_key', '=', `id:${SONG.daughter.id}`).executeTakeFirstOrThrow()).id;
    expect(await linkOf(3, RURAL_Q4)).toMatchObject({ state: 'linked', person_id: daughter, method: 'scored' });
  });
  it('a son is not merged with his namesake brother listed on another row of the same roster', async () => {
    const second = await linkOf(19);
    // a person of his own, or a question for staff: never his brother's or his father's
    expect([await personOf('liuSon'), await personOf('liuFather')]).not.toContain(second.person_id);
    if (second.state === 'linked') expect(second.method).toBe('new');
  });
});

describe('a consistency check', () => {
  it('keeps a son\'s row from his namesake two years younger than the head: nobody\'s son is that', async () => {
    const row = await linkOf(24);
    expect(row.person_id).not.toBe(await personOf('zhengUncle'));
    expect(row).toMatchObject({ state: 'linked', method: 'new' });
  });
});

describe('the rows of one person decided together (pool.ts)', () => {
  it('a son listed without an id is not his namesake: one roster gives his birth date, and it rules the namesake out for every row', async () => {
    const withBirth = await linkOf(26);
    const without = await linkOf(8, EARLIER);
    expect(withBirth.person_id).not.toBe(await personOf('heNamesake'));
    expect(withBirth).toMatchObject({ state: 'linked' });
    // alone the row without a birth date waits for review; with its cluster it is the son
    expect(without).toMatchObject({ state: 'linked', person_id: withBirth.person_id });
    const pooled = await db.store.k.selectFrom('row_link').select('pooled').where('delivery_id', '=', without.delivery_id).where('row_no', '=', without.row_no).executeTakeFirstOrThrow();
    expect(pooled.pooled).toBe(true);
    // staff and the operator are told the row was decided with its cluster, and what it said alone
    const text = await explainLink(db.store.k, EARLIER, 8);
    expect(text).toContain('合并判断');
    expect(text).toContain('单独比对');
  });
  it('a rural son is checked against the age of the head his 户编号 lists: a namesake five years younger than the head is not he', async () => {
    const q3 = await linkOf(5, RURAL_Q3);
    const q4 = await linkOf(5, RURAL_Q4);
    expect(q3.person_id).not.toBe(await personOf('longNamesake'));
    expect(q3).toMatchObject({ state: 'linked' });
    expect(q4).toMatchObject({ state: 'linked', person_id: q3.person_id });
  });
});

describe('a household on a roster is assigned one to one', () => {
  it('the row that is surely 杨丽 takes her, and the other row called 杨丽 goes to the sister left, 杨莉', async () => {
    expect(await linkOf(21)).toMatchObject({ state: 'linked', person_id: await personOf('yangLi') });
    expect(await linkOf(22)).toMatchObject({ state: 'linked', person_id: await personOf('yangLi2'), method: 'scored' });
  });
});

describe('every form of id damage', () => {
  it.each(damageForms)('%s still finds its person', async (form) => {
    const l = await linkOf(rowOf(form));
    expect(l.state).toBe('linked');
    expect(l.person_id).toBe(await personOf('zhaoWife'));
    // cleanable and legacy numbers are deterministic; the rest is scored
    expect(l.method).toBe(['legacy15', 'spaced', 'fullwidth'].includes(form) ? 'id' : 'scored');
  });
  it('and a masked id of a wife in her husband\'s household', async () => {
    expect(await linkOf(3)).toMatchObject({ state: 'linked', person_id: await personOf('xiaoWife'), method: 'scored' });
  });
});

describe('staff decisions survive every later match', () => {
  it('"not the same person": the row leaves the person and stays out after rematches', async () => {
    const wife = await personOf('xiaoWife');
    const row = await linkOf(3);
    await rejectLink(db.store, { deliveryId: row.delivery_id, rowNo: 3 }, wife, 'caseworker-1', 'different person, same household');
    await runMatch(db.store);
    expect((await linkOf(3)).person_id).not.toBe(wife);
    await runMatch(db.store, { scope: { kind: 'all' } });
    expect((await linkOf(3)).person_id).not.toBe(wife);
  });

  it('a confirmation links a row waiting for review, and stays', async () => {
    const wang1 = await personOf('wang1');
    const row = await linkOf(3, EARLIER);
    await confirmLink(db.store, { deliveryId: row.delivery_id, rowNo: 3 }, wang1, 'caseworker-1');
    await runMatch(db.store, { scope: { kind: 'all' } });
    expect(await linkOf(3, EARLIER)).toMatchObject({ state: 'linked', person_id: wang1, method: 'staff' });
  });

  it('a split makes rows a person of their own, and a merge makes two persons one', async () => {
    const zhao = await personOf('zhaoWife');
    const swapped = await linkOf(rowOf('swapped'));
    await splitPerson(db.store, zhao, [{ deliveryId: swapped.delivery_id, rowNo: swapped.row_no }], 'caseworker-2');
    await runMatch(db.store, { scope: { kind: 'all' } });
    const split = (await linkOf(rowOf('swapped'))).person_id;
    expect(split).not.toBe(zhao);
    expect(split).not.toBeNull();
    // the rows known by her id stay; a masked row now has two look-alike persons to choose from
    expect((await linkOf(rowOf('legacy15'))).person_id).toBe(zhao);
    expect((await linkOf(rowOf('masked'))).person_id).not.toBe(split);

    await mergePersons(db.store, zhao, split!, 'caseworker-2', 'same person after all');
    await runMatch(db.store, { scope: { kind: 'all' } });
    expect((await linkOf(rowOf('swapped'))).person_id).toBe(zhao);
    expect((await linkOf(rowOf('masked'))).person_id).toBe(zhao);
    const retired = await db.store.k.selectFrom('person').select('retired_at').where('id', '=', split!).executeTakeFirstOrThrow();
    expect(retired.retired_at).not.toBeNull();
  });
});

describe('an increment re-scores the rows whose candidates changed', () => {
  // 大用镇新华村: 钱伟 and his wife 周敏, known first from settlements alone
  const head = { name: '钱伟', id: makeId('1966-04-04', 971) };
  const wife = { name: '周敏', id: makeId('1969-09-09', 982) };
  const place = ['大用镇', '新华村'];
  const wifeRow = (idCell: string, asOf: string) => ['周敏', idCell, '', '', head.name, head.id, '配偶', place[0]!, place[1]!, '', '低保对象', asOf, '在保'];
  const rowOfWife = async (file: string) =>
    db.store.k
      .selectFrom('row_link')
      .innerJoin('delivery', 'delivery.id', 'row_link.delivery_id')
      .select(['row_link.person_id', 'row_link.state'])
      .where('delivery.file', '=', file)
      .where('row_link.row_no', '=', 2)
      .executeTakeFirstOrThrow();

  it('a new roster row that gives a floating row\'s candidate its household re-links that earlier row, as a full rematch does', async () => {
    const settlement = {
      header: SETTLEMENT_HEADER,
      rows: [head, wife].map((p, i) => [
        `2026129900${String(i).padStart(4, '0')}`, '', `5202039900000100${String(i).padStart(4, '0')}`, p.name, p.id,
        '14', '本地', '2026-12-01', '2026-12-02', '2026-12-03', '100.00', '0', '90.00', '45.00', '0', '0', '一站式',
      ]),
    };
    await ingestFile(db.store, mapping, box.put('settlement/医保结算明细_202612.csv', settlement), { inboxRoot: box.root });
    // her first roster row has no id: only her name and her husband's id tie it to anyone
    const first = 'civil/civil_20210131.csv';
    await ingestFile(db.store, mapping, box.put(first, { header: ROSTER_HEADER, rows: [wifeRow('无', '2021-01-01')] }), { inboxRoot: box.root });
    await runMatch(db.store);
    const wifeId = (await db.store.k.selectFrom('person').select('id').where('person_key', '=', `id:${wife.id}`).executeTakeFirstOrThrow()).id;
    expect((await rowOfWife(first)).person_id).not.toBe(wifeId);

    // the next roster lists her with her id, in her husband's household: her person gains its household
    await ingestFile(db.store, mapping, box.put('civil/civil_20210228.csv', { header: ROSTER_HEADER, rows: [wifeRow(wife.id, '2021-01-01')] }), { inboxRoot: box.root });
    const increment = await runMatch(db.store);
    expect(increment.stats.everyRow).toBeNull();
    expect(increment.stats.kept).toBeGreaterThan(0);
    expect(increment.stats.scored).toBeLessThan(increment.stats.kept);
    expect(await rowOfWife(first)).toEqual({ person_id: wifeId, state: 'linked' });

    const full = await runMatch(db.store, { scope: { kind: 'all' } });
    expect(full.stats.everyRow).not.toBeNull();
    expect(full.stats.changed).toBe(0);
  });
});

describe('the anchored state a run keeps (anchor-state.ts)', () => {
  // 钱小宝 is known first by his 人员编号 alone, then with his id, then the number is seen with another id too
  const INSURANCE_NO = '52020399000002000001';
  const qian = { name: '钱小宝', id: makeId('1988-11-11', 917), other: makeId('1989-01-01', 939) };
  const settlementFile = (month: string, ids: string[]) => ({
    header: SETTLEMENT_HEADER,
    rows: ids.map((id, i) => [
      `${month}99000${String(i).padStart(5, '0')}`, '', INSURANCE_NO, qian.name, id,
      '14', '本地', `${month.slice(0, 4)}-${month.slice(4)}-01`, `${month.slice(0, 4)}-${month.slice(4)}-02`, `${month.slice(0, 4)}-${month.slice(4)}-03`, '100.00', '0', '90.00', '45.00', '0', '0', '一站式',
    ]),
  });
  const keysOf = async (file: string) =>
    (await sql<{ key: string | null }>`
      select p.person_key as key from row_link l join delivery d on d.id = l.delivery_id left join person p on p.id = l.person_id
      where d.file = ${file} order by l.row_no`.execute(db.store.k)).rows.map((r) => r.key);
  /** The increment's kept state is the one a rebuild makes, and the rebuild changes no link. */
  const expectRebuildAgrees = async () => {
    const cached = await db.store.k.selectFrom('person_profile').select((e) => e.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    expect(Number(cached.n)).toBeGreaterThan(0);
    expect(await staleProfiles(db.store)).toEqual([]);
    const kept = await anchorState(db.store);
    const full = await runMatch(db.store, { scope: { kind: 'all' } });
    expect(full.stats.anchors.mode).toBe('rebuilt');
    expect(full.stats.changed).toBe(0);
    expect(await anchorState(db.store)).toEqual(kept);
  };
  const JAN = 'settlement/医保结算明细_202701.csv';

  it('moves the rows a 人员编号 keys when the number is seen with an id, and frees them when it is seen with two', async () => {
    await ingestFile(db.store, mapping, box.put(JAN, settlementFile('202701', ['', ''])), { inboxRoot: box.root });
    const jan = await runMatch(db.store);
    expect(jan.stats.anchors.mode).toBe('updated');
    expect(await keysOf(JAN)).toEqual([`ins:${INSURANCE_NO}`, `ins:${INSURANCE_NO}`]);
    await expectRebuildAgrees();

    // the number is seen with his id: January's rows leave ins:… for id:…
    await ingestFile(db.store, mapping, box.put('settlement/医保结算明细_202702.csv', settlementFile('202702', [qian.id])), { inboxRoot: box.root });
    const feb = await runMatch(db.store);
    expect(feb.stats.anchors).toMatchObject({ mode: 'updated', moved: 3 });
    expect(await keysOf(JAN)).toEqual([`id:${qian.id}`, `id:${qian.id}`]);
    await expectRebuildAgrees();

    // and with another id: the number keys nobody, and January's rows are scored
    await ingestFile(db.store, mapping, box.put('settlement/医保结算明细_202703.csv', settlementFile('202703', [qian.other])), { inboxRoot: box.root });
    const mar = await runMatch(db.store);
    expect(mar.stats.anchors).toMatchObject({ mode: 'updated', moved: 3 });
    const jan3 = await sql<{ method: string }>`select l.method from row_link l join delivery d on d.id = l.delivery_id where d.file = ${JAN}`.execute(db.store.k);
    expect(jan3.rows.every((r) => r.method !== 'insurance_no')).toBe(true);
    await expectRebuildAgrees();
  });
});
