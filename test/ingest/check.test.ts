/**
 * `aidlink profile check` (issue 13): for one file, the format profile that reads it, how
 * each column maps, its as-of date and the first problems of its rows, without ingesting
 * it: no database is opened, nothing is written. Synthetic people only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ExcelJS from 'exceljs';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { CIVIL_HEADER, civilRow, inbox, makeId } from '../helpers/fixtures.js';
import { runLogEnv } from '../helpers/log-scan.js';
import { run } from '../helpers/process.js';
import { loadMapping } from '../../src/ingest/mapping.js';
import { checkFile, type CheckResult } from '../../src/ingest/check.js';

const PROFILES_REL = 'config/examples/jiangjin.yaml';
const PROFILES = fileURLToPath(new URL(`../../${PROFILES_REL}`, import.meta.url));
const BIN = fileURLToPath(new URL('../../bin/aidlink.mjs', import.meta.url));
const jiangjin = loadMapping(PROFILES);
const defaults = loadMapping();

const ROSTER_HEADER = ['姓名', '身份证号', '镇街', '村社', '优先身份'];
const people = [
  { name: '甲检查', id: makeId('1960-02-03', 111) },
  { name: '乙检查', id: makeId('1971-05-06', 123) },
  { name: '丙检查', id: makeId('1948-07-08', 135) },
];
/** 乙's row (file row 3) holds a category no profile knows. */
const rosterRows = [
  [people[0]!.name, people[0]!.id, '几江街道', '艾坪村', '低保户（救助）'],
  [people[1]!.name, people[1]!.id, '几江街道', '艾坪村', '五保户'],
  [people[2]!.name, people[2]!.id, '德感街道', '长冲村', '防返贫监测对象'],
];

function roster(box: ReturnType<typeof inbox>, file = 'civil/救助对象名单_20260331.csv'): string {
  return box.put(file, { encoding: 'gbk', header: [...ROSTER_HEADER, '备注'], rows: rosterRows.map((r) => [...r, '']) });
}

/** No name and no id number of the fixture in any text. */
function expectNoPersonalData(text: string): void {
  for (const p of people) {
    expect(text).not.toContain(p.name);
    expect(text).not.toContain(p.id);
  }
}

describe('checkFile', () => {
  it('names the profile of a GBK roster, how each column maps, its as-of date, and the problem of the row with an unknown label', async () => {
    const box = inbox();
    const r = await checkFile(jiangjin, roster(box), { inboxRoot: box.root });
    expect(r).toMatchObject({
      file: 'civil/救助对象名单_20260331.csv', format: 'csv', encoding: 'gb18030', delimiter: ',', source: 'civil',
      profile: { name: '救助对象名单', title: '救助对象名单（民政、乡村振兴）', source: 'civil', stream: '救助对象名单', file: PROFILES, isDefault: false },
      headerRowNo: 1, missing: [], asOf: { date: '2026-03-31', origin: 'filename' }, rejection: null, wouldIngest: true,
    });
    expect(r.columns.map((c) => [c.header, c.use, c.field, c.label])).toEqual([
      ['姓名', 'field', 'name', '姓名'],
      ['身份证号', 'field', 'id_number', '身份证号'],
      ['镇街', 'field', 'township', '乡镇'],
      ['村社', 'field', 'village', '村'],
      ['优先身份', 'field', 'category', '救助类别'],
      ['备注', 'unused', null, null],
    ]);
    // no 认定日期: noted on the delivery, as ingest would
    expect(r.notes.map((n) => [n.code, n.field])).toEqual([['absent_column', 'recognised_on']]);
    expect(r.sample).toMatchObject({ rows: 3, usable: 2, rejected: 1, withWarnings: 0, endOfFile: true });
    expect(r.sample!.problems).toEqual([
      { rowNo: 3, severity: 'error', code: 'unknown_label', field: 'category', column: '优先身份', message: '「优先身份」的值“五保户”不在可识别的取值中（可在映射文件中补充）' },
    ]);
    expectNoPersonalData(JSON.stringify(r));
  });

  it('reports a file the default mapping cannot read with the message ingest would store', async () => {
    const box = inbox();
    const r = await checkFile(defaults, roster(box), { inboxRoot: box.root });
    expect(r.wouldIngest).toBe(false);
    expect(r.profile).toBeNull();
    expect(r.sample).toBeNull();
    expect(r.rejection?.code).toBe('header_not_found');
    expect(r.rejection?.message).toContain('最像表头的是第 1 行：姓名、身份证号、镇街、村社、优先身份、备注，其中按格式「民政救助对象名册」只认得 2 列');
    expectNoPersonalData(JSON.stringify(r));
  });

  it('shows the profile that came closest and the required columns missing', async () => {
    const box = inbox();
    const header = CIVIL_HEADER.filter((h) => h !== '认定日期');
    const drop = CIVIL_HEADER.indexOf('认定日期');
    const file = box.put('civil/civil_20260131.csv', { header, rows: people.map((p) => civilRow(p.name, p.id).filter((_, i) => i !== drop)) });
    const r = await checkFile(defaults, file, { inboxRoot: box.root });
    expect(r.wouldIngest).toBe(false);
    expect(r.rejection?.code).toBe('missing_required_column');
    expect(r.rejection?.message).toContain('按格式「民政救助对象名册」读取：缺少必需列「认定日期」');
    expect(r.profile).toMatchObject({ name: 'civil', isDefault: true });
    expect(r.headerRowNo).toBe(1);
    expect(r.missing.map((m) => [m.field, m.label])).toEqual([['recognised_on', '认定日期']]);
    expect(r.missing[0]!.aliases).toContain('认定日期');
    expect(r.columns.find((c) => c.header === '保障类别')).toMatchObject({ use: 'field', field: 'category' });
    // the absence that rejects the file is not also a note on how its rows would read
    expect(r.notes).toEqual([]);
    expectNoPersonalData(JSON.stringify(r));
  });

  it('is rejected without an as-of date, and takes one given as an argument', async () => {
    const box = inbox();
    const file = roster(box, 'civil/救助对象名单.csv');
    const without = await checkFile(jiangjin, file, { inboxRoot: box.root });
    expect(without.wouldIngest).toBe(false);
    expect(without.rejection?.code).toBe('as_of_not_found');
    expect(without.profile?.name).toBe('救助对象名单');
    expect(without.sample?.rows).toBe(3); // the rows are checked all the same
    const given = await checkFile(jiangjin, file, { inboxRoot: box.root, asOf: '2026-03-31' });
    expect(given).toMatchObject({ wouldIngest: true, asOf: { date: '2026-03-31', origin: 'argument' } });
  });

  it('parses only the first rows asked for, and says the file goes on', async () => {
    const box = inbox();
    const r = await checkFile(jiangjin, roster(box), { inboxRoot: box.root, sampleRows: 1 });
    expect(r.sample).toMatchObject({ limit: 1, rows: 1, usable: 1, rejected: 0, endOfFile: false, problems: [] });
  });

  it('shows a sum of columns and a column named twice', async () => {
    const box = inbox();
    const header = ['结算id', '身份证号', '姓名', '医保就诊类别', '出院日期', '结算日期', '费用总额', '符合医保报销金额', '医疗救助', '倾斜救助', '姓名'];
    const path = join(box.root, 'settlement/统计汇总-区内明细_202604.xlsx');
    mkdirSync(dirname(path), { recursive: true });
    const wb = new ExcelJS.Workbook();
    const ws = wb.addWorksheet('明细');
    ws.addRow(header);
    ws.addRow(['JJ0001', people[0]!.id, people[0]!.name, '普通住院', '2026-04-10', '2026-04-10', 10500, 10000, 2000, 250, people[0]!.name]);
    await wb.xlsx.writeFile(path);
    const r = await checkFile(jiangjin, path, { inboxRoot: box.root });
    expect(r).toMatchObject({ format: 'xlsx', sheet: '明细', source: 'settlement', profile: { name: '区内明细' }, wouldIngest: true, asOf: { date: '2026-04-30', origin: 'filename' } });
    expect(r.columns.filter((c) => c.use !== 'field').map((c) => [c.column, c.header, c.use, c.field, c.others])).toEqual([
      [9, '医疗救助', 'sum', 'assistance_paid', [{ column: 10, header: '倾斜救助' }]],
      [10, '倾斜救助', 'sum', 'assistance_paid', [{ column: 9, header: '医疗救助' }]],
      [11, '姓名', 'duplicate', 'name', [{ column: 3, header: '姓名' }]],
    ]);
    // no 人员编号 and no fund columns of the basic and critical insurance: read as ingest would, and noted
    expect(r.notes.map((n) => `${n.code} ${n.field}`).sort()).toEqual(['absent_column basic_paid', 'absent_column critical_paid', 'absent_column insurance_no', 'duplicate_column name']);
    expect(r.sample).toMatchObject({ rows: 1, usable: 1, rejected: 0 });
    expectNoPersonalData(JSON.stringify(r));
  });
});

describe('aidlink profile check', () => {
  let db: TestDb;
  const scratch = mkdtempSync(join(tmpdir(), 'aidlink-check-'));
  beforeAll(async () => {
    db = await createTestDb();
  });
  afterAll(() => db?.drop());

  function aidlink(args: string[], env: Record<string, string>) {
    return run(process.execPath, [BIN, 'profile', 'check', ...args], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...runLogEnv(), CI: 'true', AIDLINK_DATA_DIR: scratch, ...env },
      timeout: 120_000,
    });
  }

  it('prints the profile, the columns and the first problems in Chinese, exits 0, and writes nothing to the database', async () => {
    const box = inbox();
    const file = roster(box);
    // the command runs where the tests run (the repository): the profile file is shown relative to it
    const r = await aidlink([file], { DATABASE_URL: db.url, AIDLINK_MAPPING: PROFILES });
    expect(r.code, r.err).toBe(0);
    const lines = r.out.split('\n');
    expect(lines[0]).toBe('文件：civil/救助对象名单_20260331.csv（CSV，GB18030）');
    expect(lines[1]).toBe(`格式：救助对象名单（救助对象名单（民政、乡村振兴）），来源 civil（民政救助对象名册），系列 救助对象名单，定义于 ${PROFILES_REL}`);
    expect(lines[2]).toBe('表头：第 1 行');
    expect(lines.slice(3, 9)).toEqual([
      '  姓名 → name 姓名',
      '  身份证号 → id_number 身份证号',
      '  镇街 → township 乡镇',
      '  村社 → village 村',
      '  优先身份 → category 救助类别',
      '  备注 → 未使用',
    ]);
    expect(r.out).toContain('截至日期：2026-03-31（来自文件名）\n');
    expect(r.out).toContain('  文件没有「认定日期」列：每人的身份从首次列入名册的截至日期算起\n');
    expect(r.out).toContain('全部 3 行：2 行可用，1 行被拒，0 行有警告\n');
    expect(r.out).toContain('  第 3 行 错误：「优先身份」的值“五保户”不在可识别的取值中（可在映射文件中补充）（unknown_label）\n');
    expect(r.out.trimEnd().split('\n').at(-1)).toBe('结论：可以导入');
    expectNoPersonalData(r.out + r.err);
    // nothing ingested: the database it was pointed at holds no delivery
    expect(await db.store.k.selectFrom('delivery').select('id').execute()).toEqual([]);
  });

  it('exits 1 with the rejection message when the mapping cannot read the file, without a database at all', async () => {
    const box = inbox();
    // a server nobody listens on: a check that tried to connect would fail
    const env = { DATABASE_URL: 'postgres://127.0.0.1:1/nobody' };
    const r = await aidlink([roster(box)], env);
    expect(r.code, r.err).toBe(1);
    expect(r.out).toContain('文件：civil/救助对象名单_20260331.csv（CSV，GB18030）');
    expect(r.out).toContain('结论：会被拒收：前 50 行中没有找到表头');
    expect(r.out).toContain('其中按格式「民政救助对象名册」只认得 2 列');
    expectNoPersonalData(r.out + r.err);

    const json = await aidlink([roster(box), '--json'], env);
    expect(json.code).toBe(1);
    const parsed = JSON.parse(json.out) as CheckResult;
    expect(parsed).toMatchObject({ wouldIngest: false, rejection: { code: 'header_not_found' }, profile: null });
    expectNoPersonalData(json.out);
    // nor the embedded database: the data folder stays empty
    expect(readdirSync(scratch)).toEqual([]);
  });

  it('exits 2 on a usage error and on a file that is not there', async () => {
    const bad = await aidlink(['x.csv', '--source', 'nope'], {});
    expect(bad.code).toBe(2);
    expect(bad.err).toContain("option '--source <source>' argument 'nope' is invalid");
    const missing = await aidlink([join(scratch, 'nope.csv')], {});
    expect(missing.code).toBe(2);
    expect(missing.err).toContain('aidlink: 不是文件：');
  });
});
