/**
 * The report files as staff open them: XLSX read back with exceljs, CSV parsed by
 * hand, and the XLSX converted by LibreOffice (a real spreadsheet program must open
 * it). Synthetic data only; id numbers and phones are invented.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import ExcelJS from 'exceljs';
import yauzl, { type Entry } from 'yauzl';
import { writeNewlyEligibleCsv, writeNewlyEligibleXlsx, writeQualityCsv, writeQualityXlsx } from '../../src/report/formats.js';
import type { NewlyEligibleReport, QualitySheet, ReportItem } from '../../src/report/types.js';
import { problemText, type ProblemText } from '../../src/ingest/problem-text.js';
import { parseCsv } from '../helpers/csv.js';
import { convertToPdf, libreoffice } from '../helpers/office.js';

const dir = mkdtempSync(join(tmpdir(), 'aidlink-formats-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// ---------------------------------------------------------------------------
// Fixtures

const HOSTILE_NAME = '=HYPERLINK("http://x","点我")';
const HOSTILE_INSTITUTION = '+SUM(A1:A9)';
const HOSTILE_VILLAGE = '@cmd';
const HOSTILE_REASON = '-零星报销，需本人申请';
const SLASHED = '新窑镇/街道';
const LONG_A = '六枝特区' + '甲'.repeat(30) + '镇'; // 35 characters
const LONG_B = '六枝特区' + '甲'.repeat(30) + '乡'; // the same first 31

function item(personId: number, township: string | null, over: Partial<ReportItem>): ReportItem {
  return {
    township, village: '新华村', personId, name: `测试${personId}`, idNumber: '520203********0351', phone: '183****5309',
    categories: ['低保对象'], newPerson: true, flag: 'unclaimed', flagLabel: '未申请救助', reason: 'manual_claim',
    reasonLabel: '零星报销，需本人申请', settlementId: `2026100000${7000 + personId}`, institution: '六枝特区人民医院',
    beganOn: '2026-03-01', endedOn: '2026-03-09', year: null, base: 500_000, entitled: 30_050, paid: 10_000, amount: 20_050,
    ...over,
  };
}

const items: ReportItem[] = [
  // one person flagged twice, with every hostile value
  item(101, '岩脚镇', {
    village: HOSTILE_VILLAGE, name: HOSTILE_NAME, phone: '18300000000', categories: ['低保对象', '特困人员'],
    reasonLabel: HOSTILE_REASON, settlementId: '20261000008818', institution: HOSTILE_INSTITUTION,
    base: 1_234_567, entitled: 80_000, paid: 0, amount: 80_000,
  }),
  item(101, '岩脚镇', {
    village: HOSTILE_VILLAGE, name: HOSTILE_NAME, phone: '18300000000', categories: ['低保对象', '特困人员'],
    flag: 'underpaid', flagLabel: '救助不足', reason: null, reasonLabel: null, settlementId: '20261000008819',
  }),
  // a person-year flag: no settlement, a year
  item(102, '岩脚镇', {
    name: '测试乙', newPerson: false, flag: 'potential_catastrophic', flagLabel: '疑似因病致贫（邀请申请）', reason: null,
    reasonLabel: null, settlementId: null, institution: null, beganOn: null, endedOn: null, year: 2026,
    base: null, entitled: null, paid: null, amount: 1_500_000,
  }),
  item(201, SLASHED, { name: '测试丙', flag: 'high_burden', flagLabel: '高额负担（倾斜救助）', amount: 12_345 }),
  item(202, '新窑镇_街道', { name: '测试丁', amount: 99 }),
  item(301, LONG_A, { name: '测试戊', newPerson: false }),
  item(302, LONG_B, { name: '测试己' }),
  item(901, null, { name: '测试庚', village: null, phone: null, categories: [] }),
];

const report: NewlyEligibleReport = {
  runId: 7,
  createdAt: new Date('2026-11-21T18:00:00Z'),
  since: new Date('2026-10-31T16:00:00Z'),
  dataAsOf: '2026-10-31',
  items,
  persons: new Set(items.map((i) => i.personId)).size,
  newPersons: new Set(items.filter((i) => i.newPerson).map((i) => i.personId)).size,
  total: items.reduce((s, i) => s + i.amount, 0),
};

const quality: QualitySheet = {
  file: '岩脚镇结算明细-2026-10.xlsx',
  source: '医保结算数据',
  asOf: '2026-10-31',
  status: 'quarantined',
  rows: 120,
  rejectedRows: 2,
  problems: [
    { rowNo: null, severity: 'error', code: 'missing_required_column', column: null, message: '缺少必需列：身份证号', value: null },
    { rowNo: 5, severity: 'warning', code: 'invalid_money', column: '金额', message: '金额不是数字', value: '=1+1' },
    { rowNo: 7, severity: 'error', code: 'invalid_phone', column: '联系电话', message: '电话号码格式不对', value: '+86 183 0000 0000' },
  ],
};

// ---------------------------------------------------------------------------
// Reading back

async function readXlsx(file: string): Promise<ExcelJS.Workbook> {
  const wb = new ExcelJS.Workbook();
  await wb.xlsx.readFile(file);
  return wb;
}

/** Every cell of the workbook, with where it is. */
function allCells(wb: ExcelJS.Workbook): { where: string; cell: ExcelJS.Cell }[] {
  const out: { where: string; cell: ExcelJS.Cell }[] = [];
  for (const ws of wb.worksheets) ws.eachRow((row) => row.eachCell((cell) => out.push({ where: `${ws.name}!${cell.address}`, cell })));
  return out;
}

function expectNoFormulaAndOnlyPlainCells(wb: ExcelJS.Workbook): void {
  const cells = allCells(wb);
  expect(cells.length).toBeGreaterThan(20);
  expect(cells.filter(({ cell }) => cell.type === ExcelJS.ValueType.Formula || cell.formula !== undefined).map((c) => c.where)).toEqual([]);
  // text is a plain string, never rich text, a hyperlink or a shared formula
  const odd = cells.filter(({ cell }) => ![ExcelJS.ValueType.String, ExcelJS.ValueType.Number].includes(cell.type));
  expect(odd.map((c) => `${c.where}:${c.cell.type}`)).toEqual([]);
  for (const { cell } of cells) expect(cell.type === ExcelJS.ValueType.String).toBe(typeof cell.value === 'string');
}

const rowValues = (ws: ExcelJS.Worksheet, rowNo: number, n: number) => Array.from({ length: n }, (_, i) => ws.getRow(rowNo).getCell(i + 1).value);

/** The text of the zip entries whose names match, read independently of exceljs. */
function zipParts(file: string, name: RegExp): Promise<string[]> {
  return new Promise((resolve, reject) => {
    yauzl.open(file, { lazyEntries: true }, (err, zip) => {
      if (err) return reject(err);
      const parts: string[] = [];
      zip.on('error', reject);
      zip.on('end', () => resolve(parts));
      zip.on('entry', (entry: Entry) => {
        if (!name.test(entry.fileName)) return zip.readEntry();
        zip.openReadStream(entry, (e, stream) => {
          if (e) return reject(e);
          const chunks: Buffer[] = [];
          stream.on('data', (c: Buffer) => chunks.push(c));
          stream.on('end', () => {
            parts.push(Buffer.concat(chunks).toString('utf8'));
            zip.readEntry();
          });
        });
      });
      zip.readEntry();
    });
  });
}

const yuan = (fen: number) => fen / 100;
const sumFen = (xs: readonly ReportItem[]) => xs.reduce((s, i) => s + i.amount, 0);

// ---------------------------------------------------------------------------

describe('newly eligible report as XLSX', async () => {
  const file = join(dir, 'newly-eligible.xlsx');
  await writeNewlyEligibleXlsx(report, file);
  const wb = await readXlsx(file);
  const townships = ['岩脚镇', SLASHED, '新窑镇_街道', LONG_A, LONG_B, null];

  it('has the summary first, then per township in order its printed list and its detail, names made legal and unique', () => {
    expect(wb.worksheets.map((ws) => ws.name)).toEqual([
      '汇总', '岩脚镇', '岩脚镇（明细）', '新窑镇_街道', '新窑镇_街道（明细）', '新窑镇_街道(2)', '新窑镇_街道(2)（明细）',
      '六枝特区' + '甲'.repeat(27), '六枝特区' + '甲'.repeat(23) + '（明细）', '六枝特区' + '甲'.repeat(24) + '(2)', '六枝特区' + '甲'.repeat(20) + '(2)（明细）',
      '未知乡镇', '未知乡镇（明细）',
    ]);
    for (const ws of wb.worksheets) expect(ws.name.length).toBeLessThanOrEqual(31);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('summarises each township and the whole from the items', () => {
    const ws = wb.getWorksheet('汇总')!;
    expect(ws.getCell('A1').value).toBe('新增应救助人员名单（数据截至 2026-10-31）');
    expect(ws.getCell('A2').value).toBe('生成时间：2026-11-22 02:00:00（北京时间）');
    expect(rowValues(ws, 5, 5)).toEqual(['乡镇', '人数', '其中新增人员', '标记数', '预计金额（元）']);
    townships.forEach((t, i) => {
      const mine = items.filter((x) => x.township === t);
      const values = rowValues(ws, 6 + i, 5);
      expect(values.slice(0, 4)).toEqual([
        t ?? '未知乡镇', new Set(mine.map((x) => x.personId)).size, new Set(mine.filter((x) => x.newPerson).map((x) => x.personId)).size, mine.length,
      ]);
      expect(values[4]).toBeCloseTo(yuan(sumFen(mine)), 2);
    });
    const total = rowValues(ws, 6 + townships.length, 5);
    expect(total.slice(0, 4)).toEqual(['合计', 7, 5, items.length]);
    expect(total[4]).toBe(yuan(sumFen(items)));
    expect(total[4]).toBe(16_726.44);
    expect(ws.getCell(`E${6 + townships.length}`).numFmt).toBe('#,##0.00');
  });

  it('lists each flag with text as text, money as yuan numbers, and a total per township', () => {
    const ws = wb.getWorksheet('岩脚镇（明细）')!;
    expect(rowValues(ws, 1, 17)).toEqual([
      '村', '姓名', '身份证号', '联系电话', '救助类别', '新增人员', '标记', '原因', '结算ID', '医疗机构', '入院日期', '出院日期', '年度',
      '进入救助金额', '应救助金额', '已救助金额', '差额/金额',
    ]);
    expect(rowValues(ws, 2, 17)).toEqual([
      HOSTILE_VILLAGE, HOSTILE_NAME, '520203********0351', '18300000000', '低保对象、特困人员', '是', '未申请救助', HOSTILE_REASON,
      '20261000008818', HOSTILE_INSTITUTION, '2026-03-01', '2026-03-09', null, 12_345.67, 800, 0, 800,
    ]);
    // the person-year flag: a year, no settlement
    expect(rowValues(ws, 4, 17)).toEqual([
      '新华村', '测试乙', '520203********0351', '183****5309', '低保对象', '否', '疑似因病致贫（邀请申请）', null, null, null, null, null, 2026,
      null, null, null, 15_000,
    ]);
    const total = rowValues(ws, 5, 17);
    expect([total[0], total[1], total[6]]).toEqual(['合计', '2 人', '3 项']);
    expect(total[16]).toBeCloseTo(yuan(sumFen(items.filter((x) => x.township === '岩脚镇'))), 2);
    expect(ws.rowCount).toBe(5);

    // long digit strings and dates stay text, in a text-formatted cell
    for (const address of ['C2', 'D2', 'I2', 'K2', 'L2']) {
      expect(ws.getCell(address).type).toBe(ExcelJS.ValueType.String);
      expect(ws.getCell(address).numFmt).toBe('@');
    }
    expect(typeof ws.getCell('I2').value).toBe('string');
    expect(typeof ws.getCell('D2').value).toBe('string');
    for (const address of ['N2', 'O2', 'P2', 'Q2', 'Q5']) {
      expect(ws.getCell(address).type).toBe(ExcelJS.ValueType.Number);
      expect(ws.getCell(address).numFmt).toBe('#,##0.00');
    }
  });

  it('has the amounts of each township sheet add up to the summary', () => {
    townships.forEach((t, i) => {
      const ws = wb.worksheets[2 + 2 * i]!;
      const mine = items.filter((x) => x.township === t);
      const amounts = Array.from({ length: mine.length }, (_, r) => ws.getRow(r + 2).getCell(17).value);
      expect(amounts).toEqual(mine.map((x) => yuan(x.amount)));
      expect(ws.getRow(mine.length + 2).getCell(1).value).toBe('合计');
    });
  });

  it('never holds a formula; every text value is a plain string cell, returned as given', () => {
    expectNoFormulaAndOnlyPlainCells(wb);
    const strings = allCells(wb).map(({ cell }) => cell.value);
    for (const hostile of [HOSTILE_NAME, HOSTILE_INSTITUTION, HOSTILE_VILLAGE, HOSTILE_REASON]) expect(strings).toContain(hostile);
  });

  it('has no formula element in any worksheet part of the file itself', async () => {
    const parts = await zipParts(file, /^xl\/worksheets\/sheet\d+\.xml$/);
    expect(parts).toHaveLength(13);
    for (const xml of parts) {
      expect(xml).not.toMatch(/<f[\s>]/);
      expect(xml).toMatch(/t="s"/); // shared strings: plain text
    }
  });

  it('has a bold frozen header with a filter, prints landscape one page wide, and is stamped by aidlink', () => {
    const ws = wb.getWorksheet('岩脚镇（明细）')!;
    expect(ws.getCell('A1').font?.bold).toBe(true);
    expect(ws.views[0]).toMatchObject({ state: 'frozen', ySplit: 1 });
    expect(ws.autoFilter).toBe('A1:Q1');
    expect(ws.pageSetup).toMatchObject({ orientation: 'landscape', fitToPage: true, fitToWidth: 1, fitToHeight: 0 });
    expect(ws.getColumn(10).width).toBeGreaterThan(ws.getColumn(13).width ?? 0);
    const summary = wb.getWorksheet('汇总')!;
    expect(summary.views[0]).toMatchObject({ state: 'frozen', ySplit: 5 });
    expect(wb.creator).toBe('aidlink');
    expect(wb.created.getTime()).toBe(report.createdAt.getTime());
    expect(wb.modified.getTime()).toBe(report.createdAt.getTime());
  });
});

describe('newly eligible report as CSV', async () => {
  const file = join(dir, 'newly-eligible.csv');
  await writeNewlyEligibleCsv(report, file);
  const raw = readFileSync(file, 'utf8');
  const rows = parseCsv(raw.slice(1));

  it('starts with a BOM and the Chinese header, one line per flag and a total line', () => {
    expect(raw.startsWith('\ufeff乡镇,村,人员ID,')).toBe(true);
    expect(rows[0]).toEqual([
      '乡镇', '村', '人员ID', '姓名', '身份证号', '联系电话', '救助类别', '新增人员', '标记', '原因', '结算ID', '医疗机构', '入院日期', '出院日期',
      '年度', '进入救助金额', '应救助金额', '已救助金额', '差额/金额',
    ]);
    expect(rows).toHaveLength(items.length + 2);
    for (const r of rows) expect(r).toHaveLength(19);
    expect(rows.at(-1)).toEqual(['合计', '', '7 人', '', '', '', '', '', '8 项', '', '', '', '', '', '', '', '', '', '16726.44']);
    expect(raw.endsWith('16726.44\n')).toBe(true);
  });

  it('prefixes text that would start a formula with a quote, and nothing is left to start one', () => {
    const first = rows[1]!;
    expect(first.slice(0, 12)).toEqual([
      '岩脚镇', `'${HOSTILE_VILLAGE}`, '101', `'${HOSTILE_NAME}`, '520203********0351', '18300000000', '低保对象、特困人员', '是', '未申请救助',
      `'${HOSTILE_REASON}`, '20261000008818', `'${HOSTILE_INSTITUTION}`,
    ]);
    for (const r of rows) for (const f of r) expect(f).not.toMatch(/^[=+\-@\t\r]/);
  });

  it('writes money as yuan with two decimals, and empty where there is none', () => {
    expect(rows[1]!.slice(12)).toEqual(['2026-03-01', '2026-03-09', '', '12345.67', '800.00', '0.00', '800.00']);
    expect(rows[3]!.slice(10, 19)).toEqual(['', '', '', '', '2026', '', '', '', '15000.00']);
    expect(rows[5]!.slice(15)).toEqual(['5000.00', '300.50', '100.00', '0.99']);
    expect(rows[8]![0]).toBe(''); // the unknown township
  });
});

describe('data-quality sheet', async () => {
  const [MISSING, MONEY, PHONE] = ['missing_required_column', 'invalid_money', 'invalid_phone'].map(problemText) as [ProblemText, ProblemText, ProblemText];
  const xlsx = join(dir, 'quality.xlsx');
  const csv = join(dir, 'quality.csv');
  await writeQualityXlsx(quality, xlsx);
  await writeQualityCsv(quality, csv);

  it('as XLSX: a heading block, then the problems, raw values as text', async () => {
    const wb = await readXlsx(xlsx);
    expect(wb.worksheets).toHaveLength(1);
    const ws = wb.worksheets[0]!;
    const heading = Array.from({ length: 7 }, (_, i) => rowValues(ws, 2 + i, 2));
    expect(heading).toEqual([
      ['文件', '岩脚镇结算明细-2026-10.xlsx'], ['来源', '医保结算数据'], ['数据截至', '2026-10-31'], ['状态', '待核实（已暂扣）'],
      ['数据行数', 120], ['被拒行数', 2], ['问题数', 3],
    ]);
    expect(rowValues(ws, 10, 7)).toEqual(['行号', '列', '原值', '严重程度', '问题', '说明', '处理办法']);
    expect(rowValues(ws, 11, 7)).toEqual(['整个文件', null, null, '错误', MISSING.title, '缺少必需列：身份证号', MISSING.action]);
    expect(rowValues(ws, 12, 7)).toEqual([5, '金额', '=1+1', '警告', MONEY.title, '金额不是数字', MONEY.action]);
    expect(ws.getCell('C12').type).toBe(ExcelJS.ValueType.String);
    expect(rowValues(ws, 13, 7)).toEqual([7, '联系电话', '+86 183 0000 0000', '错误', PHONE.title, '电话号码格式不对', PHONE.action]);
    expect(ws.views[0]).toMatchObject({ state: 'frozen', ySplit: 10 });
    expect(ws.autoFilter).toBe('A10:G10');
    expectNoFormulaAndOnlyPlainCells(wb);
  });

  it('as CSV: the same, with values that would start a formula quoted', () => {
    const raw = readFileSync(csv, 'utf8');
    expect(raw.startsWith('\ufeff文件,')).toBe(true);
    const rows = parseCsv(raw.slice(1));
    expect(rows).toEqual([
      ['文件', '岩脚镇结算明细-2026-10.xlsx'], ['来源', '医保结算数据'], ['数据截至', '2026-10-31'], ['状态', '待核实（已暂扣）'],
      ['数据行数', '120'], ['被拒行数', '2'], ['问题数', '3'],
      [''],
      ['行号', '列', '原值', '严重程度', '问题', '说明', '处理办法'],
      ['整个文件', '', '', '错误', MISSING.title, '缺少必需列：身份证号', MISSING.action],
      ['5', '金额', "'=1+1", '警告', MONEY.title, '金额不是数字', MONEY.action],
      ['7', '联系电话', "'+86 183 0000 0000", '错误', PHONE.title, '电话号码格式不对', PHONE.action],
    ]);
    // Chinese throughout: no problem code reaches the agency
    expect(raw).not.toMatch(/[a-z]+_[a-z_]+/);
    expect(MISSING.title).toMatch(/[\u4e00-\u9fff]/);
  });

  it('says a code it does not know in Chinese rather than by the code', async () => {
    const file = join(dir, 'quality-new-code.csv');
    await writeQualityCsv({ ...quality, problems: [{ rowNo: 3, severity: 'warning', code: 'some_new_code', column: '姓名', message: '新问题', value: null }] }, file);
    const raw = readFileSync(file, 'utf8');
    expect(raw).toContain('其他问题');
    expect(raw).not.toContain('some_new_code');
  });

  it('shows an unknown status by its code rather than dropping it', async () => {
    const file = join(dir, 'quality-odd.csv');
    await writeQualityCsv({ ...quality, status: 'limbo', problems: [] }, file);
    expect(readFileSync(file, 'utf8')).toContain('状态,limbo\n');
    expect(readFileSync(file, 'utf8')).toContain('问题数,0\n');
  });
});

// ---------------------------------------------------------------------------
// A real spreadsheet program must open what we write

describe('LibreOffice', () => {
  it.skipIf(!libreoffice && !process.env.CI)('converts both workbooks to PDF', async () => {
    const reportFile = join(dir, 'lo-report.xlsx');
    const qualityFile = join(dir, 'lo-quality.xlsx');
    await writeNewlyEligibleXlsx(report, reportFile);
    await writeQualityXlsx(quality, qualityFile);
    for (const file of [reportFile, qualityFile]) {
      const { pdf, ms } = await convertToPdf(file);
      expect(pdf.subarray(0, 4).toString('latin1')).toBe('%PDF');
      console.info(`libreoffice: ${basename(file)} → PDF in ${Math.round(ms)} ms`);
    }
  }, 300_000);
});
