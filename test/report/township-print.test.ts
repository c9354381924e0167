/**
 * The list a township office prints (issue 19): the first sheet of the worklist export and
 * of each township in the newly-eligible report. Read back with exceljs (its structure), then
 * printed by LibreOffice to PDF and read with pdftotext: the title and the header row on every
 * page, page numbers, text at 10 pt or more. Synthetic people only; ids and phones invented.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ExcelJS from 'exceljs';
import { DETAIL_SHEET, PRINT_SHEET, WORKLIST_PRINT_COLUMNS, worklistXlsx, type WorklistExport } from '../../src/outreach/worklist-export.js';
import type { WorklistRow } from '../../src/outreach/worklist.js';
import { PRINT_COLUMNS, writeNewlyEligibleXlsx } from '../../src/report/formats.js';
import type { NewlyEligibleReport, ReportItem } from '../../src/report/types.js';
import {
  genderOfId, linesIn, newWorkbook, PRINT_FONT_SIZE, PRINT_MAX_COLUMNS, PRINT_PAGE_WIDTH, printListSheet, text, type PrintColumn,
} from '../../src/report/xlsx.js';
import { shownAs } from '../../src/privacy.js';
import { convertToPdf, libreoffice, pdfPages, pdftotext, pdfWords } from '../helpers/office.js';

const dir = mkdtempSync(join(tmpdir(), 'aidlink-print-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const COUNTY = '六枝特区';
const createdAt = new Date('2026-11-21T18:00:00Z'); // 2026-11-22 02:00 in the county
const caseworker = shownAs({ fullIdNumbers: false, fullPhones: true });
const viewer = shownAs({ fullIdNumbers: false, fullPhones: false });

/** an invented id number whose 17th digit is odd (男) for even i */
const idOf = (i: number) => `52020319800101${String(i % 100).padStart(2, '0')}${i % 2 === 0 ? '1' : '2'}X`;
const phoneOf = (i: number) => `1830000${String(1000 + i)}`;
const nameOf = (i: number) => `测试${String(i).padStart(3, '0')}`;

function person(i: number, township = '岩脚镇'): WorklistRow {
  return {
    personId: i, name: nameOf(i), idNumber: idOf(i), phone: phoneOf(i), township, village: i % 2 ? '新华村' : '河边村',
    categories: i % 5 === 0 ? ['dibao', 'destitute', 'severe_disability'] : ['dibao'], flags: 1 + (i % 3), owed: 10_000 + i,
    oldest: `2026-03-${String(1 + (i % 28)).padStart(2, '0')}`,
    statuses: i % 4 === 0 ? [{ status: 'pending', n: 1 }, { status: 'dispatched', n: 2 }] : [{ status: 'dispatched', n: 1 }], caseIds: [i],
  };
}

// long enough for three printed pages
const rows = Array.from({ length: 60 }, (_, i) => person(i + 1));
const FILTER = '乡镇 岩脚镇；状态 未结案；结算日期 2026-01-01 至 2026-10-31；按应补金额从高到低排序';
const exportOf = (over: Partial<WorklistExport> = {}): WorklistExport => ({ rows, filter: FILTER, createdAt, shown: caseworker, county: COUNTY, ...over });

async function load(body: Buffer | string): Promise<ExcelJS.Workbook> {
  const wb = new ExcelJS.Workbook();
  if (typeof body === 'string') await wb.xlsx.readFile(body);
  else await wb.xlsx.load(body as unknown as ArrayBuffer);
  return wb;
}

const values = (ws: ExcelJS.Worksheet, rowNo: number) => (ws.getRow(rowNo).values as unknown[]).slice(1);
const WORKLIST_HEADER = ['序号', '村', '姓名', '性别', '联系电话', '救助类别', '应补金额（元）', '最早结算日期', '个案状态', '备注'];
const REPORT_HEADER = ['序号', '村', '姓名', '性别', '联系电话', '救助类别', '标记', '预计金额（元）', '最早出院日期', '备注'];

/** What every printed list must be, whatever it lists. */
function expectPrintable(ws: ExcelJS.Worksheet, title: string, header: readonly string[], headerRow: number): void {
  expect(ws.getCell('A1').value).toBe(title);
  expect(ws.getCell('A1').font?.size).toBeGreaterThanOrEqual(14);
  expect(values(ws, headerRow)).toEqual(header);
  expect(header.length).toBeLessThanOrEqual(PRINT_MAX_COLUMNS);
  expect(ws.actualColumnCount).toBeLessThanOrEqual(PRINT_MAX_COLUMNS);
  expect(ws.pageSetup).toMatchObject({ paperSize: 9, orientation: 'landscape', fitToPage: true, fitToWidth: 1, fitToHeight: 0 });
  expect(ws.pageSetup.printTitlesRow).toBe(`${headerRow}:${headerRow}`);
  expect(ws.headerFooter.oddHeader).toBe(`&C${title}`);
  expect(ws.headerFooter.oddFooter).toBe('&C第 &P 页 共 &N 页');

  // every cell of the table bordered, at a readable size, the blank 备注 included
  for (let r = headerRow; r <= ws.rowCount; r++) {
    for (let c = 1; c <= header.length; c++) {
      const cell = ws.getRow(r).getCell(c);
      expect(cell.font?.size, cell.address).toBeGreaterThanOrEqual(10);
      expect(cell.border, cell.address).toMatchObject({ top: { style: 'thin' }, left: { style: 'thin' }, bottom: { style: 'thin' }, right: { style: 'thin' } });
    }
  }
  // the columns add up to a page that prints at 10 pt or more, and each holds its header in two lines at most
  const widths = header.map((_, i) => ws.getColumn(i + 1).width ?? 0);
  expect(widths.reduce((s, w) => s + w, 0)).toBeLessThanOrEqual((PRINT_PAGE_WIDTH * PRINT_FONT_SIZE) / 10);
  header.forEach((label, i) => expect(linesIn(label, widths[i]!), label).toBeLessThanOrEqual(2));
}

describe('the worklist export: the list to print first', async () => {
  const wb = await load(await worklistXlsx(exportOf()));
  const ws = wb.worksheets[0]!;

  it('is the first sheet, the detail second as before', () => {
    expect(wb.worksheets.map((w) => w.name)).toEqual([PRINT_SHEET, DETAIL_SHEET]);
    expect(PRINT_SHEET).toBe('打印名单');
    const detail = wb.getWorksheet(DETAIL_SHEET)!;
    expect(values(detail, 5)).toEqual(['乡镇', '村', '姓名', '身份证号', '联系电话', '救助类别', '标记数', '应补金额（元）', '最早结算日期', '个案状态']);
    expect(detail.headerFooter.oddFooter).toBe('&C第 &P 页 共 &N 页');
    expect(detail.pageSetup.printTitlesRow).toBe('5:5');
  });

  it('has a title with county and township, the period and the date made, and prints as a list', () => {
    expectPrintable(ws, '六枝特区岩脚镇医疗救助待联系人员名单', WORKLIST_HEADER, 4);
    expect(ws.getCell('A2').value).toBe(`范围：${FILTER}`);
    expect(ws.getCell('A3').value).toBe('制表日期：2026年11月22日；共 60 人，应补金额合计 6018.30 元');
  });

  it('lists each person once, in order, with what a caller needs', () => {
    expect(values(ws, 5)).toEqual([1, '新华村', nameOf(1), '女', phoneOf(1), '低保对象', 100.01, '2026-03-02', '已下放 1']);
    expect(values(ws, 8)).toEqual([4, '河边村', nameOf(4), '男', phoneOf(4), '低保对象', 100.04, '2026-03-05', '待下放 1\n已下放 2']);
    expect(ws.getCell('F9').value).toBe('低保对象、特困人员、重度残疾人');
    expect(Array.from({ length: rows.length }, (_, i) => ws.getCell(`C${5 + i}`).value)).toEqual(rows.map((r) => r.name));
    const total = values(ws, 5 + rows.length);
    expect([total[0], total[2], total[6]]).toEqual(['合计', '60 人', 6018.3]);
    // the rows with more lines are taller, so wrapped text does not run into the next row
    expect(ws.getRow(9).height).toBeGreaterThan(ws.getRow(5).height);
    expect(ws.getRow(8).height).toBeGreaterThan(ws.getRow(5).height);
    // phone, date and name each on one line
    for (const [col, sample] of [[5, phoneOf(1)], [8, '2026-03-02'], [3, nameOf(1)]] as const) expect(linesIn(sample, ws.getColumn(col).width!)).toBe(1);
  });

  it('shows phones as the reader may see them, and no id number', async () => {
    const masked = (await load(await worklistXlsx(exportOf({ shown: viewer })))).worksheets[0]!;
    expect(masked.getCell('E5').value).toBe('183****1001');
    const cells: string[] = [];
    for (const w of [ws, masked]) w.eachRow((row) => row.eachCell((c) => cells.push(String(c.value))));
    expect(cells.filter((c) => /\d{6}(\*{8}|\d{8})\d{3}[\dX]/.test(c))).toEqual([]);
  });

  it('writes a name that looks like a formula as plain text', async () => {
    const hostile = { ...person(1), name: '=HYPERLINK("http://x","点我")', village: '+SUM(A1:A9)' };
    const w = (await load(await worklistXlsx(exportOf({ rows: [hostile] })))).worksheets[0]!;
    for (const address of ['B5', 'C5']) {
      expect(w.getCell(address).type).toBe(ExcelJS.ValueType.String);
      expect(w.getCell(address).formula).toBeUndefined();
    }
    expect(w.getCell('C5').value).toBe(hostile.name);
  });

  it('names the township of each person when the list has several, and leaves out an unknown county', async () => {
    const mixed = [person(1, '岩脚镇'), person(2, '木岗镇')];
    const w = (await load(await worklistXlsx(exportOf({ rows: mixed, county: undefined })))).worksheets[0]!;
    expect(w.getCell('A1').value).toBe('各乡镇医疗救助待联系人员名单');
    expect(values(w, 4)[1]).toBe('乡镇、村');
    expect(w.getCell('B6').value).toBe('木岗镇 河边村');
  });
});

// ---------------------------------------------------------------------------

function item(personId: number, township: string, over: Partial<ReportItem> = {}): ReportItem {
  return {
    township, village: personId % 2 ? '新华村' : '河边村', personId, name: nameOf(personId), idNumber: `520203********03${personId % 2 ? '5' : '4'}1`,
    phone: phoneOf(personId), categories: ['低保对象'], newPerson: true, flag: 'unclaimed', flagLabel: '未申请救助', reason: 'manual_claim',
    reasonLabel: '零星报销，需本人申请', settlementId: `2026100000${7000 + personId}`, institution: '六枝特区人民医院', beganOn: '2026-03-01',
    endedOn: '2026-03-09', year: null, base: 500_000, entitled: 30_050, paid: 10_000, amount: 20_050, ...over,
  };
}

const items: ReportItem[] = [
  // one person with two flags: one line, both flags, the amounts added, the earlier date
  item(1, '岩脚镇', { endedOn: '2026-04-02' }),
  item(1, '岩脚镇', { flag: 'underpaid', flagLabel: '救助不足', reason: null, reasonLabel: null, endedOn: '2026-02-10', amount: 5_000 }),
  ...Array.from({ length: 54 }, (_, i) => item(i + 2, '岩脚镇')),
  item(100, '木岗镇', { newPerson: false }),
];
const report: NewlyEligibleReport = {
  runId: 9, createdAt, since: new Date('2026-10-31T16:00:00Z'), dataAsOf: '2026-10-31', items,
  persons: new Set(items.map((i) => i.personId)).size, newPersons: new Set(items.filter((i) => i.newPerson).map((i) => i.personId)).size,
  total: items.reduce((s, i) => s + i.amount, 0),
};
const reportFile = join(dir, 'newly-eligible.xlsx');

describe('the newly-eligible report: each township its list to print, then its detail', async () => {
  await writeNewlyEligibleXlsx(report, reportFile, { county: COUNTY });
  const wb = await load(reportFile);

  it('puts each township\'s printed list before its detail sheet', () => {
    expect(wb.worksheets.map((w) => w.name)).toEqual(['汇总', '岩脚镇', '岩脚镇（明细）', '木岗镇', '木岗镇（明细）']);
    expect(values(wb.getWorksheet('岩脚镇（明细）')!, 1)).toHaveLength(17);
  });

  it('prints one line per person, with a title, the period and the date made', () => {
    const ws = wb.getWorksheet('岩脚镇')!;
    expectPrintable(ws, '六枝特区岩脚镇新增应救助人员名单', REPORT_HEADER, 4);
    expect(ws.getCell('A2').value).toBe('数据截至 2026-10-31；上次报告（2026-11-01 00:00:00）之后新增');
    expect(ws.getCell('A3').value).toBe('制表日期：2026年11月22日；共 55 人（其中新增人员 55 人），预计金额合计 11077.50 元');
    expect(values(ws, 5)).toEqual([1, '新华村', nameOf(1), '男', phoneOf(1), '低保对象', '未申请救助、救助不足', 250.5, '2026-02-10']);
    expect(values(ws, 6)).toEqual([2, '河边村', nameOf(2), '女', phoneOf(2), '低保对象', '未申请救助', 200.5, '2026-03-09']);
    const total = values(ws, 5 + 55);
    expect([total[0], total[2], total[6], total[7]]).toEqual(['合计', '55 人', '56 项', 11077.5]);
    expect(wb.getWorksheet('木岗镇')!.getCell('A1').value).toBe('六枝特区木岗镇新增应救助人员名单');
  });
});

describe('print rules', () => {
  it('keeps every printed list at 10 pt or more even when each column is at its widest', () => {
    const sets: readonly (readonly PrintColumn[])[] = [WORKLIST_PRINT_COLUMNS(false), WORKLIST_PRINT_COLUMNS(true), PRINT_COLUMNS];
    for (const cols of sets) {
      expect(cols.length).toBeLessThanOrEqual(PRINT_MAX_COLUMNS);
      const widest = cols.reduce((s, c) => s + (c.fill ? c.min : c.max), 0);
      expect((PRINT_FONT_SIZE * Math.min(1, PRINT_PAGE_WIDTH / widest))).toBeGreaterThanOrEqual(10);
    }
  });

  it('refuses a printed list of more than ten columns', () => {
    const columns = Array.from({ length: 11 }, (_, i) => ({ label: `列${i}`, min: 5, max: 8 }));
    expect(() => printListSheet(newWorkbook(createdAt), '表', { title: '表', lines: [], columns, rows: [columns.map(() => text('x'))] })).toThrow(/at most 10/);
  });

  it('reads 性别 from the id number\'s 17th digit, which masking keeps', () => {
    expect(genderOfId('520203198001011231')).toBe('男');
    expect(genderOfId('520203********0341')).toBe('女');
    expect(genderOfId('52020319800101123X')).toBe('男');
    expect(genderOfId('520203800101123')).toBe('男'); // 15 digits: the last
    expect([genderOfId(null), genderOfId(''), genderOfId('5202')]).toEqual(['', '', '']);
  });
});

// ---------------------------------------------------------------------------
// As LibreOffice prints it

const printed = Boolean(libreoffice && pdftotext);
const line = (labels: readonly string[]) => new RegExp(labels.map((l) => l.replace(/[（）]/g, '.')).join('\\s+'));

/**
 * The printed list's pages: those naming its people, apart from the detail sheet's (whose
 * header has 身份证号). They come one after another, each with the header row.
 */
async function printedList(xlsx: string, names: readonly string[], header: readonly string[]): Promise<{ pages: { no: number; text: string }[]; pdf: Buffer }> {
  const { pdf } = await convertToPdf(xlsx);
  const all = await pdfPages(pdf);
  const pages = all.map((text, i) => ({ no: i + 1, text })).filter((p) => names.some((n) => p.text.includes(n)) && !p.text.includes('身份证号'));
  expect(pages.length).toBeGreaterThanOrEqual(2);
  expect(pages.map((p) => p.no)).toEqual(pages.map((_, i) => pages[0]!.no + i));
  for (const p of pages) expect(p.text, `page ${p.no}`).toMatch(line(header));
  const text = pages.map((p) => p.text).join('\n');
  for (const n of names) expect(text).toContain(n);
  return { pages, pdf };
}

describe.skipIf(!printed && !process.env.CI)('printed by LibreOffice', () => {
  it('prints the worklist on A4 pages, each with the title, the header row and its page number', async () => {
    const xlsx = join(dir, 'worklist.xlsx');
    writeFileSync(xlsx, await worklistXlsx(exportOf()));
    const { pages, pdf } = await printedList(xlsx, rows.map((r) => r.name!), WORKLIST_HEADER);
    expect(pages[0]!.no).toBe(1);
    for (const p of pages) {
      expect(p.text).toContain('六枝特区岩脚镇医疗救助待联系人员名单');
      expect(p.text).toMatch(new RegExp(`第\\s*${p.no}\\s*页\\s*共\\s*\\d+\\s*页`));
    }
    expect(pages[0]!.text).toContain('制表日期：2026年11月22日');
    expect(pages.at(-1)!.text).toMatch(/合计\s+60 人/);

    // CJK glyphs are square: a two-character header as wide as 20 pt is 10 pt text
    const heads = (await pdfWords(pdf)).filter((w) => w.text === '序号');
    expect(heads.map((w) => w.page)).toEqual(pages.map((p) => p.no));
    for (const w of heads) expect(w.width / 2).toBeGreaterThanOrEqual(10);
  }, 180_000);

  it('prints a township of the report the same way, after the summary', async () => {
    const names = Array.from({ length: 55 }, (_, i) => nameOf(i + 1));
    const { pages, pdf } = await printedList(reportFile, names, REPORT_HEADER);
    expect(pages[0]!.no).toBe(2); // after 汇总
    for (const p of pages) {
      expect(p.text).toContain('六枝特区岩脚镇新增应救助人员名单');
      expect(p.text).toMatch(new RegExp(`第\\s*${p.no}\\s*页\\s*共\\s*\\d+\\s*页`));
    }
    expect(pages.map((p) => p.text).join('\n')).not.toContain(nameOf(100)); // 木岗镇's list is its own
    const heads = (await pdfWords(pdf)).filter((w) => w.text === '序号' && pages.some((p) => p.no === w.page));
    expect(heads).toHaveLength(pages.length);
    for (const w of heads) expect(w.width / 2).toBeGreaterThanOrEqual(10);
  }, 180_000);
});
