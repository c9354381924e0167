/**
 * Real agencies' exports, read by format profiles a deployment writes (issue 13):
 * the three exports of a district medical-assistance tool, in GBK CSV and XLSX,
 * with config/examples/jiangjin.yaml and no code change.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ExcelJS from 'exceljs';
import { sql } from 'kysely';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { CIVIL_HEADER, civilRow, inbox, makeId, SETTLEMENT_HEADER as SPEC_SETTLEMENT_HEADER } from '../helpers/fixtures.js';
import { testContext } from '../helpers/context.js';
import { loadMapping, MappingError } from '../../src/ingest/mapping.js';
import { ingestFile } from '../../src/ingest/ingest.js';
import { syncInProcess } from '../../src/jobs/local.js';

const PROFILES = fileURLToPath(new URL('../../config/examples/jiangjin.yaml', import.meta.url));
const mapping = loadMapping(PROFILES);

let db: TestDb;
beforeEach(async () => {
  db = await createTestDb();
});
afterEach(() => db?.drop());

async function xlsx(path: string, header: string[], rows: (string | number)[][]): Promise<void> {
  mkdirSync(dirname(path), { recursive: true });
  const wb = new ExcelJS.Workbook();
  const ws = wb.addWorksheet('Sheet1');
  ws.addRow(header);
  for (const r of rows) ws.addRow(r);
  await wb.xlsx.writeFile(path);
}

const ROSTER_HEADER = ['姓名', '身份证号', '镇街', '村社', '优先身份'];
const FUNDED_HEADER = ['序号', '身份证号', '姓名', '医疗救助身份', '镇（街）', '村（居）', '纳入资助时间'];
const SETTLEMENT_HEADER = ['医保分类', '清算期', '费款所属期', '结算id', '认定地', '镇街', '参保地', '参保类别', '身份证号', '姓名', '救助身份', '就诊地',
  '就诊医疗机构名称', '医保就诊类别', '医疗救助类别', '病种编码', '病种名称', '入院日期', '出院日期', '结算日期', '费用总额', '符合医保报销金额',
  '基本医疗保险报销金额', '大病报销金额', '大额报销金额', '进入医疗救助金额', '医疗救助', '倾斜救助', '扶贫济困金额（元）', '渝快保支出金额（元）',
  '个人账户支付金额（元）', '个人现金支付金额（元）'];

const dibaoA = { name: '甲低保', id: makeId('1960-02-03', 11) };
const monitoredB = { name: '乙监测', id: makeId('1971-05-06', 23) };
const destituteC = { name: '丙特困', id: makeId('1948-07-08', 35) };
const bothD = { name: '丁两单', id: makeId('1955-09-10', 47) };

/** One settlement row of 区内明细: an inpatient stay in April 2026, amounts in yuan. */
function settlement(id: string, who: { name: string; id: string }, a: { inScope: number; basic: number; critical: number; assistance: number; tilted: number }) {
  const row: Record<string, string | number> = {
    医保分类: '城乡居民', 清算期: '202604', 费款所属期: '202604', 结算id: id, 认定地: '江津区', 镇街: '几江街道', 参保地: '江津区', 参保类别: '城乡居民',
    身份证号: who.id, 姓名: who.name, 救助身份: '', 就诊地: '区内', 就诊医疗机构名称: '区人民医院', 医保就诊类别: '普通住院', 医疗救助类别: '住院救助',
    入院日期: '2026-04-01', 出院日期: '2026-04-10', 结算日期: '2026-04-10', 费用总额: a.inScope + 500, 符合医保报销金额: a.inScope,
    基本医疗保险报销金额: a.basic, 大病报销金额: a.critical, 大额报销金额: 0, 进入医疗救助金额: a.inScope - a.basic - a.critical,
    医疗救助: a.assistance, 倾斜救助: a.tilted,
  };
  return SETTLEMENT_HEADER.map((h) => row[h] ?? 0);
}

describe('the district tool\'s three exports, read by a profile file', () => {
  it('yield the right persons, spells and entitlements, with assistance paid in two columns', async () => {
    const box = inbox();
    // 救助对象名单, GBK CSV: rural categories in a civil list, a label with a trailing （救助）
    box.put('civil/救助对象名单_20260331.csv', {
      encoding: 'gbk',
      header: ROSTER_HEADER,
      rows: [
        [dibaoA.name, dibaoA.id, '几江街道', '艾坪村', '低保户（救助）'],
        [monitoredB.name, monitoredB.id, '几江街道', '艾坪村', '防返贫监测对象'],
        [bothD.name, bothD.id, '德感街道', '长冲村', '低保户'],
      ],
    });
    // 资助参保对象全量明细, XLSX, the same as-of date: a second civil stream; dates give only the month
    await xlsx(join(box.root, 'civil/资助参保对象全量明细_20260331.xlsx'), FUNDED_HEADER, [
      [1, destituteC.id, destituteC.name, '特困人员', '几江街道', '重庆市江津区几江街道艾坪村3组', '2026年3月'],
      [2, bothD.id, bothD.name, '低保对象', '德感街道', '重庆市江津区德感街道长冲村1组', '2026年1月'],
    ]);
    // 统计汇总-区内明细, XLSX: no 人员编号; assistance = 医疗救助 + 倾斜救助
    await xlsx(join(box.root, 'settlement/统计汇总-区内明细_202604.xlsx'), SETTLEMENT_HEADER, [
      settlement('JJ0001', dibaoA, { inScope: 10000, basic: 6000, critical: 1000, assistance: 2000, tilted: 250 }),
      settlement('JJ0002', monitoredB, { inScope: 10000, basic: 6000, critical: 1000, assistance: 1300, tilted: 0 }),
      settlement('JJ0003', destituteC, { inScope: 5000, basic: 3000, critical: 0, assistance: 1500, tilted: 0 }),
    ]);

    const result = await syncInProcess(testContext(db.store, { AIDLINK_MAPPING: PROFILES }), { inbox: box.root, requestedBy: 'test' });
    expect(result).toBeTruthy();

    const deliveries = await db.store.k.selectFrom('delivery').select(['file', 'status', 'profile', 'stream', 'row_count', 'rejected_rows', 'error']).orderBy('file').execute();
    expect(deliveries).toEqual([
      { file: 'civil/救助对象名单_20260331.csv', status: 'accepted', profile: '救助对象名单', stream: '救助对象名单', row_count: 3, rejected_rows: 0, error: null },
      { file: 'civil/资助参保对象全量明细_20260331.xlsx', status: 'accepted', profile: '资助参保对象', stream: '资助参保对象', row_count: 2, rejected_rows: 0, error: null },
      { file: 'settlement/统计汇总-区内明细_202604.xlsx', status: 'accepted', profile: '区内明细', stream: 'settlement', row_count: 3, rejected_rows: 0, error: null },
    ]);
    // the roster without 认定日期 and the settlements without 人员编号 say so, once, on the delivery
    const notes = await sql<{ file: string; code: string; field: string }>`
      select d.file, p.code, p.field from row_problem p join delivery d on d.id = p.delivery_id order by d.file, p.field`.execute(db.store.k);
    expect(notes.rows).toEqual([
      { file: 'civil/救助对象名单_20260331.csv', code: 'absent_column', field: 'recognised_on' },
      { file: 'settlement/统计汇总-区内明细_202604.xlsx', code: 'absent_column', field: 'insurance_no' },
    ]);

    const persons = await db.store.k.selectFrom('person').select(['id_number']).where('retired_at', 'is', null).execute();
    expect(persons.map((p) => p.id_number).sort()).toEqual([dibaoA.id, monitoredB.id, destituteC.id, bothD.id].sort());

    const spells = await sql<{ id: string; category: string; vf: string; vt: string | null }>`
      select p.id_number as id, s.category, s.valid_from::text as vf, s.valid_to::text as vt
      from spell s join person p on p.id = s.person_id where s.superseded_at is null order by 1, 2`.execute(db.store.k);
    const spell = (who: { id: string }) => spells.rows.filter((s) => s.id === who.id).map((s) => `${s.category} ${s.vf}..${s.vt ?? ''}`);
    expect(spell(dibaoA)).toEqual(['dibao 2026-03-31..']); // no 认定日期: from the first list naming her
    expect(spell(monitoredB)).toEqual(['monitored 2026-03-31..']);
    expect(spell(destituteC)).toEqual(['destitute 2026-03-01..']); // 2026年3月: from the month's first day
    expect(spell(bothD)).toEqual(['dibao 2026-01-01..']); // on both lists: one spell, the earlier start

    const entitlements = await sql<{ settlement_id: string; category: string | null; base: number; entitled: number; paid: number }>`
      select settlement_id, category, base, entitled, paid from entitlement order by settlement_id`.execute(db.store.k);
    expect(entitlements.rows).toEqual([
      // base 10,000 − 6,000 − 1,000 = 3,000; 低保 75% = 2,250.00, paid 2,000 + 250 in two columns
      { settlement_id: 'JJ0001', category: 'dibao', base: 300_000, entitled: 225_000, paid: 225_000 },
      // 监测对象: (3,000 − 1,000 deductible) × 65% = 1,300.00
      { settlement_id: 'JJ0002', category: 'monitored', base: 300_000, entitled: 130_000, paid: 130_000 },
      // 特困 100% of 2,000; paid 1,500: underpaid by 500
      { settlement_id: 'JJ0003', category: 'destitute', base: 200_000, entitled: 200_000, paid: 150_000 },
    ]);
    const flags = await sql<{ settlement_id: string; flag: string; amount: number }>`
      select settlement_id, flag, amount from flag where withdrawn_at is null and scope = 'settlement' order by settlement_id`.execute(db.store.k);
    expect(flags.rows).toEqual([{ settlement_id: 'JJ0003', flag: 'underpaid', amount: 50_000 }]);
  });
});

describe('two civil streams with one as-of date', () => {
  it('coexist: neither supersedes the other, and leaving one list ends only what it stated', async () => {
    const streams = join(mkdtempSync(join(tmpdir(), 'aidlink-streams-')), 'streams.yaml');
    const columns = '    columns:\n      name: [姓名]\n      id_number: [身份证号]\n      category: [保障类别]\n      recognised_on: [认定日期]\n';
    writeFileSync(streams, `profiles:\n  低保名单:\n    source: civil\n    stream: 低保\n    file_names: ["*低保*"]\n${columns}  特困名单:\n    source: civil\n    stream: 特困\n    file_names: ["*特困*"]\n${columns}`);
    const m = loadMapping(streams);
    const box = inbox();
    const dibao = { name: '戊低保', id: makeId('1966-01-01', 51) };
    const destitute = { name: '己特困', id: makeId('1944-01-01', 63) };
    const put = (file: string, who: { name: string; id: string }[], category: string) =>
      ingestFile(db.store, m, box.put(file, { header: CIVIL_HEADER, rows: who.map((p) => civilRow(p.name, p.id, { category, recognised: '2025-06-01' })) }), { inboxRoot: box.root });
    await put('civil/低保名单_20260131.csv', [dibao], '低保对象');
    await put('civil/特困名单_20260131.csv', [destitute], '特困人员');
    const newcomer = { name: '庚新低保', id: makeId('1970-01-01', 75) };
    await put('civil/低保名单_20260228.csv', [dibao, newcomer], '低保对象'); // February: only the 低保 list came
    const d = await db.store.k.selectFrom('delivery').select(['file', 'status', 'stream']).orderBy('file').execute();
    expect(d).toEqual([
      { file: 'civil/低保名单_20260131.csv', status: 'accepted', stream: '低保' },
      { file: 'civil/低保名单_20260228.csv', status: 'accepted', stream: '低保' },
      { file: 'civil/特困名单_20260131.csv', status: 'accepted', stream: '特困' },
    ]);
    await syncInProcess(testContext(db.store, { AIDLINK_MAPPING: streams }), { inbox: box.root, requestedBy: 'test' });
    const spells = await sql<{ id: string; category: string; vt: string | null }>`
      select p.id_number as id, s.category, s.valid_to::text as vt from spell s join person p on p.id = s.person_id
      where s.superseded_at is null order by 2, 1`.execute(db.store.k);
    // the 特困 person is not ended by February's 低保 list, which never listed her
    expect(spells.rows).toEqual([
      { id: destitute.id, category: 'destitute', vt: null },
      { id: dibao.id, category: 'dibao', vt: null },
      { id: newcomer.id, category: 'dibao', vt: null },
    ]);
  });
});

describe('a profile file with a mistake', () => {
  it.each([
    ['a sum of a field that is no amount', 'profiles:\n  x:\n    source: settlement\n    columns:\n      settlement_id: [编号]\n      id_number: [身份证号]\n    sums:\n      name: [姓, 名]\n', /profiles\.x\.sums：「name」不是医保结算明细的金额字段/],
    ['a profile without an id column', 'profiles:\n  x:\n    source: civil\n    columns:\n      name: [姓名]\n      category: [类别]\n', /profiles\.x\.columns：缺少「id_number」（身份证号）的列名/],
    ['a required field without a column', 'profiles:\n  x:\n    source: civil\n    columns:\n      name: [姓名]\n      id_number: [身份证号]\n', /profiles\.x\.required：必需字段「category」在 columns、sums 和 ranges 中都没有列名/],
    ['a profile named like a source', 'profiles:\n  civil:\n    source: civil\n    columns:\n      name: [姓名]\n', /格式名「civil」已被使用/],
    ['an unknown key', 'profiles:\n  x:\n    source: civil\n    colums:\n      name: [姓名]\n', /不认识的项：colums/],
  ])('fails at start-up on %s, in Chinese, naming the entry', (_what, text, message) => {
    const p = join(mkdtempSync(join(tmpdir(), 'aidlink-profile-')), 'bad.yaml');
    writeFileSync(p, text);
    expect(() => loadMapping(p)).toThrow(MappingError);
    expect(() => loadMapping(p)).toThrow(message);
  });
});

describe('a profile\'s column names are its own', () => {
  it('a deployment reading 费款所属期 as the end date leaves the default settlement format\'s 出院日期 alone', async () => {
    const p = join(mkdtempSync(join(tmpdir(), 'aidlink-profile-')), 'monthly.yaml');
    writeFileSync(p, [
      'profiles:', '  月度结算:', '    source: settlement', '    file_names: ["月度结算*"]', '    columns:',
      '      settlement_id: [结算id]', '      id_number: [身份证号]', '      name: [姓名]', '      med_type: [医疗类别]',
      '      ended_on: [费款所属期]', '      settled_on: [清算期]', '      total: [费用总额]', '      in_scope: [符合医保报销金额]',
      '    months:', '      ended_on: end', '      settled_on: end', '',
    ].join('\n'));
    const m = loadMapping(p);
    const box = inbox();
    const who = { name: '辛结算', id: makeId('1950-03-03', 87) };
    // the spec's format with an extra 费款所属期 column: before profiles, "列「出院日期」与「费款所属期」都表示结束日期"
    const spec = await ingestFile(db.store, m, box.put('settlement/settlement_20260430.csv', {
      header: [...SPEC_SETTLEMENT_HEADER, '费款所属期'],
      rows: [['S1', '', 'P1', who.name, who.id, '21', '本地', '2026-04-01', '2026-04-10', '2026-04-12', '1000', '0', '900', '500', '100', '300', '一站式', '202604']],
    }), { inboxRoot: box.root });
    const monthly = await ingestFile(db.store, m, box.put('settlement/月度结算_202604.csv', {
      header: ['结算id', '身份证号', '姓名', '医疗类别', '费款所属期', '清算期', '费用总额', '符合医保报销金额'],
      rows: [['M1', who.id, who.name, '21', '202604', '202605', '1000', '900']],
    }), { inboxRoot: box.root });
    expect([spec.outcome, monthly.outcome]).toEqual(['ingested', 'ingested']);
    const rows = await sql<{ settlement_id: string; ended_on: string; settled_on: string; profile: string }>`
      select r.settlement_id, r.ended_on::text as ended_on, r.settled_on::text as settled_on, d.profile
      from settlement_row r join delivery d on d.id = r.delivery_id order by 1`.execute(db.store.k);
    expect(rows.rows).toEqual([
      { settlement_id: 'M1', ended_on: '2026-04-30', settled_on: '2026-05-31', profile: '月度结算' },
      { settlement_id: 'S1', ended_on: '2026-04-10', settled_on: '2026-04-12', profile: 'settlement' },
    ]);
    const dup = await db.store.k.selectFrom('row_problem').select('code').where('code', '=', 'duplicate_column').execute();
    expect(dup).toEqual([]);
  });
});

describe('a file no profile reads', () => {
  it('is rejected with the header candidate it saw, and where to describe the new format', async () => {
    const box = inbox();
    const r = await ingestFile(db.store, mapping, box.put('civil/低保台账_20260331.csv', {
      title: ['低保台账'],
      header: ['户主', '身份证', '类别', '金额'],
      rows: [['某某', makeId('1960-01-01', 99), '低保', '100']],
    }), { inboxRoot: box.root });
    expect(r.outcome).toBe('rejected');
    const error = r.outcome === 'rejected' ? r.delivery.error : '';
    expect(error).toContain('前 50 行中没有找到表头');
    expect(error).toContain('AIDLINK_MAPPING');
    expect(error).toContain('docs/ingest.md');
    expect(error).not.toContain('某某'); // a data row is never quoted
  });

  it('lists the columns of a row that looks like a header (the district roster, without its profile)', async () => {
    const box = inbox();
    const r = await ingestFile(db.store, loadMapping(), box.put('civil/名单_20260331.csv', {
      header: ['姓名', '身份证号', '镇街', '村社', '优先身份'],
      rows: [['某某', makeId('1960-01-01', 99), '几江街道', '艾坪村', '低保户']],
    }), { inboxRoot: box.root });
    const error = r.outcome === 'rejected' ? r.delivery.error : '';
    expect(error).toContain('最像表头的是第 1 行：姓名、身份证号、镇街、村社、优先身份，其中按格式「民政救助对象名册」只认得 2 列');
  });
});

describe('a column holding two dates', () => {
  it('is read as the start and the end of a stay, in any way the range is written', async () => {
    const p = join(mkdtempSync(join(tmpdir(), 'aidlink-profile-')), 'ranges.yaml');
    writeFileSync(p, [
      'profiles:', '  住院起止:', '    source: settlement', '    columns:', '      settlement_id: [结算id]', '      id_number: [身份证号]',
      '      name: [姓名]', '      med_type: [医疗类别]', '      settled_on: [结算日期]', '      total: [费用总额]', '      in_scope: [符合医保报销金额]',
      '    ranges:', '      - columns: [住院起止日期]', '        from: began_on', '        to: ended_on', '',
    ].join('\n'));
    const box = inbox();
    const who = { name: '卯起止', id: makeId('1952-05-05', 91) };
    const row = (id: string, range: string) => [id, who.id, who.name, '21', range, '2026-04-20', '1000', '900'];
    const r = await ingestFile(db.store, loadMapping(p), box.put('settlement/住院_20260430.csv', {
      header: ['结算id', '身份证号', '姓名', '医疗类别', '住院起止日期', '结算日期', '费用总额', '符合医保报销金额'],
      rows: [row('R1', '2026-04-01至2026-04-10'), row('R2', '20260402-20260411'), row('R3', '2026.4.3~2026.4.12'), row('R4', '2026-04-04'), row('R5', '四月初')],
    }), { inboxRoot: box.root });
    expect(r.outcome).toBe('ingested');
    const rows = await sql<{ settlement_id: string; began_on: string | null; ended_on: string | null; rejected: boolean }>`
      select r.settlement_id, r.began_on::text as began_on, r.ended_on::text as ended_on, s.rejected
      from settlement_row r join source_row s using (delivery_id, row_no) order by 1`.execute(db.store.k);
    expect(rows.rows).toEqual([
      { settlement_id: 'R1', began_on: '2026-04-01', ended_on: '2026-04-10', rejected: false },
      { settlement_id: 'R2', began_on: '2026-04-02', ended_on: '2026-04-11', rejected: false },
      { settlement_id: 'R3', began_on: '2026-04-03', ended_on: '2026-04-12', rejected: false },
      { settlement_id: 'R4', began_on: '2026-04-04', ended_on: '2026-04-04', rejected: false },
      { settlement_id: 'R5', began_on: null, ended_on: null, rejected: true }, // no date at all: the end date is required
    ]);
    const problem = await db.store.k.selectFrom('row_problem').select(['row_no', 'column_name', 'code']).where('row_no', '=', 6).where('field', '=', 'ended_on').execute();
    expect(problem).toEqual([{ row_no: 6, column_name: '住院起止日期', code: 'invalid_date' }]);
  });
});
