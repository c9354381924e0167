/**
 * Every damage form of spec §5 and layout variant of §2–3, including those the
 * sample lacks, on small files written here and ingested through the real path.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import ExcelJS from 'exceljs';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { CIVIL_HEADER, civilRow, inbox, makeId, SETTLEMENT_HEADER } from '../helpers/fixtures.js';
import { loadMapping } from '../../src/ingest/mapping.js';
import { ingestFile, type IngestOutcome } from '../../src/ingest/ingest.js';
import type { Delivery } from '../../src/db/schema.js';

const mapping = loadMapping();
let db: TestDb;
const box = inbox();

// a database per test: snapshots of one test must not quarantine another's
beforeEach(async () => {
  db = await createTestDb();
});
afterEach(() => db?.drop());

function delivered(o: IngestOutcome): Delivery {
  if (o.outcome !== 'ingested' && o.outcome !== 'rejected') throw new Error(`unexpected outcome ${o.outcome}`);
  return o.delivery;
}

async function ingest(relPath: string, content: Parameters<typeof box.put>[1], opts: { asOf?: string; source?: 'civil' | 'rural' | 'disability' | 'settlement' } = {}) {
  const path = box.put(relPath, content);
  return delivered(await ingestFile(db.store, mapping, path, { inboxRoot: box.root, ...opts }));
}

const rowsOf = (deliveryId: number) =>
  db.store.k.selectFrom('source_row').selectAll().where('delivery_id', '=', deliveryId).orderBy('row_no').execute();
const problemsOf = (deliveryId: number) =>
  db.store.k.selectFrom('row_problem').selectAll().where('delivery_id', '=', deliveryId).orderBy('row_no').orderBy('id').execute();

const A = makeId('1970-12-17', 35); // male
const B = makeId('1966-09-20', 202); // female
const C = makeId('2000-07-25', 246);

describe('values as they really arrive (spec §5)', () => {
  it('tab-separated GBK disability file: certificates, grades, kinds, a disagreeing grade', async () => {
    const d = await ingest('disability/持证残疾人信息_20250630.csv', {
      encoding: 'gbk',
      delimiter: '\t',
      header: ['姓名', '残疾证号', '性别', '残疾类别', '残疾等级', '发证日期', '证件状态', '注销日期', '联系电话'],
      rows: [
        ['王伟', `${A}42`, '男', '肢体', '二级', '2013年7月29日', '正常', '', '139 1234 5678'],
        ['李娜', `${B}13`, '女', '视力残疾', '1级', '2012/3/4', '注销', '2024-05-01', ''],
        ['张强', '52020370010111133', '男', '言语', '3', '2020-01-01', '正常', '', ''], // a 15-digit id inside: 17 characters
      ],
    });
    expect(d).toMatchObject({ status: 'accepted', delimiter: '\t', encoding: 'gb18030', row_count: 3, rejected_rows: 0 });
    const details = await db.store.k.selectFrom('disability_row').selectAll().where('delivery_id', '=', d.id).orderBy('row_no').execute();
    expect(details.map((r) => [r.disability_kind, r.grade, r.issued_on, r.cert_status, r.cancelled_on])).toEqual([
      [4, 2, '2013-07-29', 'valid', null],
      [1, 1, '2012-03-04', 'cancelled', '2024-05-01'],
      [3, 3, '2020-01-01', 'valid', null],
    ]);
    const rows = await rowsOf(d.id);
    expect(rows.map((r) => [r.id_number, r.id_status, r.phone])).toEqual([
      [A, 'valid', '13912345678'],
      [B, 'valid', null],
      [expect.stringMatching(/^52020319700101111/), 'legacy15', null],
    ]);
    expect((await problemsOf(d.id)).map((p) => [p.row_no, p.code])).toEqual([
      [3, 'grade_mismatch'], // column says 1, certificate says 3: the column wins
      [4, 'id_legacy15'],
    ]);
  });

  it('settlements: thousands separators, reversals, serial dates, every kind of damaged id', async () => {
    const base = ['21', '本地', '45662', '45665', '2025/1/9 10:30:00'];
    const d = await ingest('settlement/医保结算明细_202501.csv', {
      encoding: 'utf-8-bom',
      eol: '\r\n',
      header: SETTLEMENT_HEADER,
      rows: [
        ['20250100000001', '', '52020300000000000001', '王伟', A, ...base, '12,345.67', '1,000.00', '11,000.00', '8,000.50', '0.00', '0.00', '一站式'],
        ['20250190000001', '20250100000001', '52020300000000000001', '王伟', A, ...base, '-12,345.67', '-1,000.00', '-11,000.00', '-8,000.50', '0.00', '0.00', '一站式'],
        ['20250100000002', '', '52020300000000000002', '李娜', '5.20203E+17', ...base, '100.00', '0', '90.00', '45.00', '0', '0', '零星报销'],
        ['20250100000003', '', '52020300000000000003', '刘佳怡', '520203********2461', ...base, '100.00', '0', '90.00', '45.00', '0', '0', '一站式'],
        ['20250100000004', '', '52020300000000000004', '陈?', C.slice(0, 15) + '000', ...base, '100.00', '0', '90.00', '45.00', '0', '0', '一站式'],
      ],
    });
    expect(d).toMatchObject({ status: 'accepted', row_count: 5, rejected_rows: 0, as_of: '2025-01-31', as_of_origin: 'filename' });
    const s = await db.store.k.selectFrom('settlement_row').selectAll().where('delivery_id', '=', d.id).orderBy('row_no').execute();
    expect(s[0]).toMatchObject({ total: 1234567, self_paid: 100000, in_scope: 1100000, basic_paid: 800050, began_on: '2025-01-05', ended_on: '2025-01-08', settled_on: '2025-01-09', med_type: '21', place: 'local', method: 'one_stop' });
    expect(s[1]).toMatchObject({ reversed_id: '20250100000001', total: -1234567, in_scope: -1100000 });
    expect(s[2]!.method).toBe('manual_claim');
    const rows = await rowsOf(d.id);
    expect(rows.map((r) => [r.id_status, r.id_number])).toEqual([
      ['valid', A],
      ['valid', A],
      ['spreadsheet_damaged', '520203'],
      ['masked', '520203********2461'],
      ['spreadsheet_damaged', C.slice(0, 15)],
    ]);
    expect(rows[4]!.name_norm).toBe('陈?');
    const codes = (await problemsOf(d.id)).map((p) => [p.row_no, p.code]);
    expect(codes).toEqual([[4, 'id_spreadsheet_damaged'], [5, 'id_masked'], [6, 'name_unknown_char'], [6, 'id_spreadsheet_damaged']]);
  });

  it('civil roster: annotated and dotted names, spaced and full-width ids, duplicate rows, gender from the id', async () => {
    const fullWidth = B.replace(/[0-9]/g, (x) => String.fromCharCode(x.charCodeAt(0) + 0xfee0));
    const dup = civilRow('刘佳怡', C);
    const d = await ingest('civil/civil_20250131.csv', {
      title: ['六枝特区城乡低保特困等救助对象名册 2025年1月', '导出日期:2025-01-31'],
      header: CIVIL_HEADER,
      rows: [
        civilRow('王伟(户主)', ` ${A.slice(0, 6)} ${A.slice(6)}\t`, { gender: '女' }),
        civilRow('阿依古丽•买买提', fullWidth, { gender: '2' }),
        dup,
        civilRow('李 娜*', '无', { gender: 'F' }),
        dup,
      ],
      footer: ['合计:5人', '制表人:', ''],
    });
    expect(d).toMatchObject({ status: 'accepted', row_count: 5, rejected_rows: 0, as_of: '2025-01-31', as_of_origin: 'title', header_row: 3 });
    const rows = await rowsOf(d.id);
    expect(rows.map((r) => [r.row_no, r.name, r.name_norm, r.id_status, r.gender])).toEqual([
      [4, '王伟(户主)', '王伟', 'valid', 'M'],
      [5, '阿依古丽•买买提', '阿依古丽买买提', 'valid', 'F'],
      [6, '刘佳怡', '刘佳怡', 'valid', 'F'],
      [7, '李 娜*', '李娜', 'missing', 'F'],
      [8, '刘佳怡', '刘佳怡', 'valid', 'F'],
    ]);
    expect(rows[0]!.raw[1]).toBe(` ${A.slice(0, 6)} ${A.slice(6)}\t`); // the original stays
    const problems = await problemsOf(d.id);
    expect(problems.map((p) => [p.row_no, p.code])).toEqual([[4, 'gender_mismatch'], [8, 'duplicate_row']]);
    expect(problems[1]!.message).toContain('第 6 行');
  });

  it('XLSX roster: title merged over the header, Excel date cells and serials, an id stored as a number', async () => {
    const wb = new ExcelJS.Workbook();
    const ws = wb.addWorksheet('Sheet1');
    ws.getCell('A1').value = '六枝特区城乡低保特困等救助对象名册 2025年3月';
    ws.mergeCells('A1:I1');
    ws.getCell('A2').value = '填报单位:六枝特区   截至日期:2025年3月31日';
    ws.getRow(3).values = CIVIL_HEADER;
    ws.getRow(4).values = civilRow('王伟', A, { recognised: '' });
    ws.getCell('H4').value = new Date(Date.UTC(2017, 9, 3));
    ws.getCell('H4').numFmt = 'yyyy-mm-dd';
    ws.getRow(5).values = civilRow('李娜', B, { recognised: '' });
    ws.getCell('B5').value = Number(B.slice(0, 15) + '000');
    ws.getCell('H5').value = 43011;
    ws.getRow(7).values = ['制表人:', '', '', '制表日期:2025-03-31'];
    const path = box.put('civil/civil_20250331.xlsx', '');
    await wb.xlsx.writeFile(path);
    const d = delivered(await ingestFile(db.store, mapping, path, { inboxRoot: box.root }));
    expect(d).toMatchObject({ status: 'accepted', format: 'xlsx', sheet: 'Sheet1', header_row: 3, row_count: 2, as_of: '2025-03-31' });
    const civil = await db.store.k.selectFrom('civil_row').select(['row_no', 'recognised_on']).where('delivery_id', '=', d.id).orderBy('row_no').execute();
    expect(civil).toEqual([{ row_no: 4, recognised_on: '2017-10-03' }, { row_no: 5, recognised_on: '2017-10-03' }]);
    const rows = await rowsOf(d.id);
    expect(rows.map((r) => [r.id_status, r.id_number])).toEqual([['valid', A], ['spreadsheet_damaged', B.slice(0, 15)]]);
  });

  it('quoted cells with line breaks keep later row numbers true to the editor', async () => {
    const d = await ingest('civil/civil_20250228.csv', {
      header: CIVIL_HEADER,
      rows: [civilRow('王伟', A, { status: '在保' }), ['李娜', B, '', '郎岱镇', '沙坝村\n二组', '', '低保对象', '2020-01-15', '在保'], civilRow('刘佳怡', C)],
    });
    expect((await rowsOf(d.id)).map((r) => r.row_no)).toEqual([2, 3, 5]);
  });
});

describe('bad values reject their row only, naming row and column (spec §3–4)', () => {
  it('an unknown category label, an unreadable required date, an unquoted comma', async () => {
    const d = await ingest('civil/civil_20250430.csv', {
      header: CIVIL_HEADER,
      rows: [
        civilRow('王伟', A),
        civilRow('李娜', B, { category: '优抚对象' }),
        civilRow('刘佳怡', C, { recognised: '2020-13-45' }),
        [...civilRow('张强', A), '多出来的'],
      ],
    });
    expect(d).toMatchObject({ status: 'accepted', row_count: 4, rejected_rows: 3 });
    const rows = await rowsOf(d.id);
    expect(rows.map((r) => [r.row_no, r.rejected])).toEqual([[2, false], [3, true], [4, true], [5, true]]);
    const errors = (await problemsOf(d.id)).filter((p) => p.severity === 'error');
    expect(errors.map((p) => [p.row_no, p.code, p.column_name])).toEqual([
      [3, 'unknown_label', '保障类别'],
      [4, 'invalid_date', '认定日期'],
      [5, 'extra_cells', null],
    ]);
    expect(errors[0]!.message).toBe('「保障类别」的值“优抚对象”不在可识别的取值中（可在映射文件中补充）');
    expect(errors[1]!.message).toContain('“2020-13-45”');
  });

  it('never quotes personal data in a message', async () => {
    const d = await ingest('civil/civil_20250531.csv', { header: CIVIL_HEADER, rows: [civilRow('王伟', A.slice(0, 16) + 'Z' + A[17], { phone: '123' })] });
    const messages = (await problemsOf(d.id)).map((p) => p.message).join(' ');
    expect(messages).toContain('「身份证号」');
    expect(messages).not.toContain(A.slice(0, 16));
    expect(messages).not.toContain('王伟');
  });
});

describe('the file as a whole (spec §2–3)', () => {
  it('a missing required column rejects the file, naming the column and listing the headers found', async () => {
    const d = await ingest('civil/civil_20250630.csv', {
      header: ['姓名', '身份证号', '性别', '保障类别'],
      rows: [['王伟', A, '男', '低保对象']],
    });
    expect(d).toMatchObject({ status: 'rejected', row_count: 0 });
    expect(d.error).toBe(
      '按格式「民政救助对象名册」读取：缺少必需列「认定日期」（可用列名：认定日期、审批日期、批准时间、纳入时间）。文件中的列：姓名、身份证号、性别、保障类别。' +
        '如果这是另一种导出格式，请在格式配置文件（AIDLINK_MAPPING）中为它写一个格式（见 docs/ingest.md）',
    );
    expect(await rowsOf(d.id)).toEqual([]);
  });

  it('the title wins over the file name, with a warning', async () => {
    const d = await ingest('civil/civil_20250731.csv', { title: ['截至2025年7月30日'], header: CIVIL_HEADER, rows: [civilRow('王伟', A)] });
    expect(d).toMatchObject({ as_of: '2025-07-30', as_of_origin: 'title', warning_count: 1 });
    expect((await problemsOf(d.id))[0]).toMatchObject({ row_no: null, code: 'as_of_mismatch' });
  });

  it('without a date in title or name, the date given is used; without any, the file is rejected', async () => {
    const text = { header: CIVIL_HEADER, rows: [civilRow('王伟', B)] };
    const rejected = await ingest('civil/roster.csv', text);
    expect(rejected).toMatchObject({ status: 'rejected', as_of: null });
    expect(rejected.error).toContain('--as-of');
    const retried = await ingest('civil/roster.csv', text, { asOf: '2025-08-31' });
    expect(retried).toMatchObject({ id: rejected.id, status: 'accepted', as_of: '2025-08-31', as_of_origin: 'argument' });
  });

  it('tells the source from the header when the folder does not', async () => {
    const d = await ingest('incoming/医保结算明细_202502.csv', {
      header: SETTLEMENT_HEADER,
      rows: [['20250200000001', '', '52020300000000000001', '王伟', A, '14', '本地', '2025-02-01', '2025-02-01', '2025-02-02', '10', '0', '10', '5', '0', '0', '一站式']],
    });
    expect(d).toMatchObject({ source: 'settlement', kind: 'delta', status: 'accepted', file: 'incoming/医保结算明细_202502.csv' });
  });

  it('skips a repeated header, blank lines and footers without counting them', async () => {
    const d = await ingest('civil/civil_20250930.csv', {
      header: CIVIL_HEADER,
      rows: [civilRow('王伟', A), [''], CIVIL_HEADER, civilRow('李娜', B), ['']],
      footer: ['合计:2人', '制表人:张三,制表日期:2025-09-30'],
    });
    expect(d).toMatchObject({ status: 'accepted', row_count: 2 });
    expect((await rowsOf(d.id)).map((r) => r.row_no)).toEqual([2, 5]);
    expect((await problemsOf(d.id)).map((p) => [p.row_no, p.code])).toEqual([[4, 'repeated_header']]);
  });

  it.each([
    ['an empty file', 'civil/civil_20251031.csv', '', 'unsupported_empty'],
    ['a PDF renamed .xlsx', 'civil/civil_20251130.xlsx', '%PDF-1.4\n%âãÏÓ\n1 0 obj', 'unsupported_pdf'],
    ['a table with no recognisable header', 'civil/civil_20251231.csv', 'a,b,c\n1,2,3\n', 'header_not_found'],
  ])('rejects %s with a reason staff can act on', async (_what, rel, content, code) => {
    const d = await ingest(rel, content);
    expect(d.status).toBe('rejected');
    expect(d.error).toBeTruthy();
    expect((await problemsOf(d.id)).map((p) => p.code)).toEqual([code]);
  });
});
