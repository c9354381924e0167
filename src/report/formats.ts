/**
 * How reports are written: XLSX and CSV, from the typed data in types.ts.
 *
 * Why this shape: the staff who read these reports read Chinese and work in Excel or
 * WPS, so headings are Chinese, money is yuan as numbers they can sum, and id numbers,
 * phones, settlement ids and dates stay text (as numbers a spreadsheet would show a
 * settlement id as 2.02610E+13 and lose its last digits).
 *
 * Data never becomes a formula. In XLSX every text value is written as a plain string
 * cell, never as a formula or rich text, so `=HYPERLINK(…)` in a name is just a name.
 * In CSV the spreadsheet parses every field, so text that would start a formula is
 * prefixed with ' (textCell). Agency files are exactly where such values come from.
 *
 * Files are written to <file>.tmp and renamed, so a reader never sees half a report.
 */
import { rename, rm, writeFile } from 'node:fs/promises';
import ExcelJS from 'exceljs';
import type { NewlyEligibleReport, QualityProblem, QualitySheet, ReportItem } from './types.js';
import { formatYuan } from '../ingest/normalise/money.js';
import { problemText } from '../ingest/problem-text.js';
import { csvLine, textCell } from '../util/csv.js';
import { countyTime } from '../util/time.js';
import { chineseDate, genderOfId, money, newWorkbook, num, printListSheet, printSetup, putRow, tableHeader, text, type Out, type PrintColumn } from './xlsx.js';

const BOM = '\ufeff';
const SUMMARY_SHEET = '汇总';
const UNKNOWN_TOWNSHIP = '未知乡镇';
/** what a township's detail sheet is named after it */
const DETAIL_TAIL = '（明细）';

const STATUS_LABEL: Record<string, string> = {
  staged: '导入中',
  accepted: '已接收',
  quarantined: '待核实（已暂扣）',
  rejected: '已拒收',
  discarded: '已作废',
  superseded: '已被替代',
};

const SEVERITY_LABEL: Record<QualityProblem['severity'], string> = { error: '错误', warning: '警告' };

// ---------------------------------------------------------------------------
// Writing a file whole

async function writeAtomically(file: string, write: (tmp: string) => Promise<void>): Promise<void> {
  const tmp = `${file}.tmp`;
  try {
    await write(tmp);
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

function writeWorkbook(wb: ExcelJS.Workbook, file: string): Promise<void> {
  return writeAtomically(file, (tmp) => wb.xlsx.writeFile(tmp));
}

// ---------------------------------------------------------------------------
// Sheet names

const MAX_SHEET_NAME = 31;

/** Cuts to Excel's 31 UTF-16 units without splitting a character. */
function cut(s: string, max: number): string {
  let out = '';
  for (const ch of s) {
    if (out.length + ch.length > max) break;
    out += ch;
  }
  return out;
}

/**
 * A name Excel accepts: no : \ / ? * [ ], no leading or trailing apostrophe, at most
 * 31 characters, unique ignoring case (a repeat gets "(2)", "(3)" …).
 */
function sheetName(raw: string, taken: Set<string>, tail = ''): string {
  let base = raw.replace(/[:\\/?*[\]]/g, '_').replace(/[\u0000-\u001f\u007f]/g, '').trim().replace(/^'+|'+$/g, '');
  if (base === '') base = UNKNOWN_TOWNSHIP;
  let name = cut(base, MAX_SHEET_NAME - tail.length) + tail;
  // "History" is reserved by Excel
  for (let n = 2; taken.has(name.toLowerCase()) || name.toLowerCase() === 'history'; n++) {
    const suffix = `(${n})${tail}`;
    name = cut(base, MAX_SHEET_NAME - suffix.length) + suffix;
  }
  taken.add(name.toLowerCase());
  return name;
}

// ---------------------------------------------------------------------------
// The outreach report of newly eligible people

const yesNo = (b: boolean) => (b ? '是' : '否');
const categoryText = (item: ReportItem) => item.categories.join('、');

interface Township {
  name: string | null;
  items: ReportItem[];
}

/** Items by township, in the order they first appear (the report's own order). */
function byTownship(items: readonly ReportItem[]): Township[] {
  const groups = new Map<string | null, Township>();
  for (const item of items) {
    let g = groups.get(item.township);
    if (!g) groups.set(item.township, (g = { name: item.township, items: [] }));
    g.items.push(item);
  }
  return [...groups.values()];
}

function tally(items: readonly ReportItem[]): { persons: number; newPersons: number; fen: number } {
  return {
    persons: new Set(items.map((i) => i.personId)).size,
    newPersons: new Set(items.filter((i) => i.newPerson).map((i) => i.personId)).size,
    fen: items.reduce((s, i) => s + i.amount, 0),
  };
}

const SUMMARY_COLUMNS = [
  { label: '乡镇', width: 24 },
  { label: '人数', width: 10 },
  { label: '其中新增人员', width: 14 },
  { label: '标记数', width: 10 },
  { label: '预计金额（元）', width: 18 },
] as const;

function summarySheet(wb: ExcelJS.Workbook, report: NewlyEligibleReport, townships: readonly Township[]): void {
  const ws = wb.addWorksheet(SUMMARY_SHEET);
  const title = `新增应救助人员名单（数据截至 ${report.dataAsOf ?? '未知'}）`;
  putRow(ws, 1, [text(title)]).font = { bold: true, size: 14 };
  putRow(ws, 2, [text(`生成时间：${countyTime(report.createdAt)}（北京时间）`)]);
  putRow(ws, 3, [text(report.since ? `上次报告：${countyTime(report.since)}，本表为其后新增` : '首次报告')]);
  const header = 5;
  tableHeader(ws, header, SUMMARY_COLUMNS);
  townships.forEach((t, i) => {
    const s = tally(t.items);
    putRow(ws, header + 1 + i, [text(t.name ?? UNKNOWN_TOWNSHIP), num(s.persons), num(s.newPersons), num(t.items.length), money(s.fen)]);
  });
  const total = putRow(ws, header + 1 + townships.length, [text('合计'), num(report.persons), num(report.newPersons), num(report.items.length), money(report.total)]);
  total.font = { bold: true };
  printSetup(ws, title);
}

const ITEM_COLUMNS = [
  { label: '村', width: 14 },
  { label: '姓名', width: 10 },
  { label: '身份证号', width: 21 },
  { label: '联系电话', width: 14 },
  { label: '救助类别', width: 18 },
  { label: '新增人员', width: 9 },
  { label: '标记', width: 16 },
  { label: '原因', width: 22 },
  { label: '结算ID', width: 18 },
  { label: '医疗机构', width: 24 },
  { label: '入院日期', width: 12 },
  { label: '出院日期', width: 12 },
  { label: '年度', width: 7 },
  { label: '进入救助金额', width: 14 },
  { label: '应救助金额', width: 14 },
  { label: '已救助金额', width: 14 },
  { label: '差额/金额', width: 14 },
] as const;

function itemCells(i: ReportItem): Out[] {
  return [
    text(i.village), text(i.name), text(i.idNumber), text(i.phone), text(categoryText(i)), text(yesNo(i.newPerson)),
    text(i.flagLabel), text(i.reasonLabel), text(i.settlementId), text(i.institution), text(i.beganOn), text(i.endedOn),
    num(i.year), money(i.base), money(i.entitled), money(i.paid), money(i.amount),
  ];
}

/** The detail sheet of a township: every flag with every column, for the screen. */
function townshipSheet(wb: ExcelJS.Workbook, t: Township, name: string): void {
  const ws = wb.addWorksheet(name);
  tableHeader(ws, 1, ITEM_COLUMNS);
  t.items.forEach((item, i) => putRow(ws, 2 + i, itemCells(item)));
  const s = tally(t.items);
  const total: Out[] = ITEM_COLUMNS.map(() => text(null));
  total[0] = text('合计');
  total[1] = text(`${s.persons} 人`);
  total[6] = text(`${t.items.length} 项`);
  total[ITEM_COLUMNS.length - 1] = money(s.fen);
  putRow(ws, 2 + t.items.length, total).font = { bold: true };
  printSetup(ws, `${t.name ?? UNKNOWN_TOWNSHIP}新增应救助人员明细`);
}

/** The printed list's columns: one line per person, what a township caseworker needs to call them. */
export const PRINT_COLUMNS: readonly PrintColumn[] = [
  { label: '序号', min: 5, max: 5, align: 'center' },
  { label: '村', min: 8, max: 14 },
  { label: '姓名', min: 7, max: 10 },
  { label: '性别', min: 6, max: 6, align: 'center' },
  { label: '联系电话', min: 13, max: 13 },
  { label: '救助类别', min: 10, max: 14 },
  { label: '标记', min: 10, max: 14 },
  { label: '预计金额（元）', min: 11, max: 12, align: 'right' },
  { label: '最早出院日期', min: 11, max: 12, align: 'center' },
  { label: '备注', min: 12, max: 40, fill: true },
];

interface PersonLine {
  first: ReportItem;
  flags: string[];
  fen: number;
  earliest: string | null;
}

/** A township's items as one line per person, in the report's order (village, person). */
function personLines(items: readonly ReportItem[]): PersonLine[] {
  const lines = new Map<number, PersonLine>();
  for (const i of items) {
    let l = lines.get(i.personId);
    if (!l) lines.set(i.personId, (l = { first: i, flags: [], fen: 0, earliest: null }));
    if (!l.flags.includes(i.flagLabel)) l.flags.push(i.flagLabel);
    l.fen += i.amount;
    if (i.endedOn !== null && (l.earliest === null || i.endedOn < l.earliest)) l.earliest = i.endedOn;
  }
  return [...lines.values()];
}

export interface ReportXlsxOptions {
  /** the county's name, for the printed titles; left out when not known */
  county?: string | undefined;
}

/** The township's list to print, before its detail sheet. */
function townshipPrintSheet(wb: ExcelJS.Workbook, report: NewlyEligibleReport, t: Township, name: string, o: ReportXlsxOptions): void {
  const lines = personLines(t.items);
  const s = tally(t.items);
  const none = text(null);
  printListSheet(wb, name, {
    title: `${o.county ?? ''}${t.name ?? UNKNOWN_TOWNSHIP}新增应救助人员名单`,
    lines: [
      `数据截至 ${report.dataAsOf ?? '未知'}；${report.since ? `上次报告（${countyTime(report.since)}）之后新增` : '首次报告'}`,
      `制表日期：${chineseDate(countyTime(report.createdAt))}；共 ${s.persons} 人（其中新增人员 ${s.newPersons} 人），预计金额合计 ${formatYuan(s.fen)} 元`,
    ],
    columns: PRINT_COLUMNS,
    rows: lines.map((l, n) => [
      num(n + 1), text(l.first.village), text(l.first.name), text(genderOfId(l.first.idNumber)), text(l.first.phone),
      text(categoryText(l.first)), text(l.flags.join('、')), money(l.fen), text(l.earliest), none,
    ]),
    total: [text('合计'), none, text(`${s.persons} 人`), none, none, none, text(`${t.items.length} 项`), money(s.fen), none, none],
  });
}

/**
 * The summary 汇总, then for each township its list to print (named as the township) and
 * its detail sheet (…（明细）).
 */
export async function writeNewlyEligibleXlsx(report: NewlyEligibleReport, file: string, o: ReportXlsxOptions = {}): Promise<void> {
  const wb = newWorkbook(report.createdAt);
  const townships = byTownship(report.items);
  summarySheet(wb, report, townships);
  const taken = new Set([SUMMARY_SHEET.toLowerCase()]);
  for (const t of townships) {
    const name = t.name ?? UNKNOWN_TOWNSHIP;
    townshipPrintSheet(wb, report, t, sheetName(name, taken), o);
    townshipSheet(wb, t, sheetName(name, taken, DETAIL_TAIL));
  }
  await writeWorkbook(wb, file);
}

const CSV_HEADER = ['乡镇', '村', '人员ID', '姓名', '身份证号', '联系电话', '救助类别', '新增人员', '标记', '原因', '结算ID', '医疗机构', '入院日期', '出院日期', '年度', '进入救助金额', '应救助金额', '已救助金额', '差额/金额'];

const csvMoney = (fen: number | null) => (fen === null ? '' : formatYuan(fen));

function csvItem(i: ReportItem): string {
  return csvLine([
    textCell(i.township), textCell(i.village), i.personId, textCell(i.name), textCell(i.idNumber), textCell(i.phone),
    textCell(categoryText(i)), yesNo(i.newPerson), textCell(i.flagLabel), textCell(i.reasonLabel), textCell(i.settlementId),
    textCell(i.institution), textCell(i.beganOn), textCell(i.endedOn), i.year, csvMoney(i.base), csvMoney(i.entitled),
    csvMoney(i.paid), csvMoney(i.amount),
  ]);
}

export async function writeNewlyEligibleCsv(report: NewlyEligibleReport, file: string): Promise<void> {
  const footer = CSV_HEADER.map((): string => '');
  footer[0] = '合计';
  footer[2] = `${report.persons} 人`;
  footer[8] = `${report.items.length} 项`;
  footer[CSV_HEADER.length - 1] = csvMoney(report.total);
  const body = BOM + csvLine(CSV_HEADER) + report.items.map(csvItem).join('') + csvLine(footer);
  await writeAtomically(file, (tmp) => writeFile(tmp, body, 'utf8'));
}

// ---------------------------------------------------------------------------
// The data-quality sheet sent back to the agency that delivered a file

const QUALITY_SHEET = '数据质量问题';
const WHOLE_FILE = '整个文件';

const statusLabel = (status: string) => STATUS_LABEL[status] ?? status;

/** The heading block: label and value, numbers as numbers. */
function qualityHeading(sheet: QualitySheet): [string, string | number | null][] {
  return [
    ['文件', sheet.file],
    ['来源', sheet.source],
    ['数据截至', sheet.asOf],
    ['状态', statusLabel(sheet.status)],
    ['数据行数', sheet.rows],
    ['被拒行数', sheet.rejectedRows],
    ['问题数', sheet.problems.length],
  ];
}

// in Chinese throughout: the agency reads it (the codes' words are src/ingest/problem-text.ts)
const QUALITY_COLUMNS = [
  { label: '行号', width: 10 },
  { label: '列', width: 16 },
  { label: '原值', width: 24 },
  { label: '严重程度', width: 10 },
  { label: '问题', width: 22 },
  { label: '说明', width: 48 },
  { label: '处理办法', width: 40 },
] as const;

/** One problem's cells, in QUALITY_COLUMNS order. */
function qualityCells(p: QualityProblem): [number | null, string | null, string | null, string, string, string, string] {
  const t = problemText(p.code);
  return [p.rowNo, p.column, p.value, SEVERITY_LABEL[p.severity], t.title, p.message, t.action];
}

export async function writeQualityXlsx(sheet: QualitySheet, file: string): Promise<void> {
  const wb = newWorkbook(new Date());
  const ws = wb.addWorksheet(QUALITY_SHEET);
  const title = '数据质量问题清单';
  putRow(ws, 1, [text(title)]).font = { bold: true, size: 14 };
  const heading = qualityHeading(sheet);
  heading.forEach(([label, value], i) => {
    const row = putRow(ws, 2 + i, [text(label), typeof value === 'number' ? num(value) : text(value)]);
    row.getCell(1).font = { bold: true };
  });
  const header = 2 + heading.length + 1;
  tableHeader(ws, header, QUALITY_COLUMNS);
  sheet.problems.forEach((p, i) => {
    const [rowNo, ...rest] = qualityCells(p);
    putRow(ws, header + 1 + i, [rowNo === null ? text(WHOLE_FILE) : num(rowNo), ...rest.map(text)]);
  });
  printSetup(ws, `${title}：${sheet.file}`);
  await writeWorkbook(wb, file);
}

export async function writeQualityCsv(sheet: QualitySheet, file: string): Promise<void> {
  const heading = qualityHeading(sheet).map(([label, value]) => csvLine([label, typeof value === 'string' ? textCell(value) : value]));
  const problems = sheet.problems.map((p) => {
    const [rowNo, ...rest] = qualityCells(p);
    return csvLine([rowNo ?? WHOLE_FILE, ...rest.map(textCell)]);
  });
  const body = BOM + heading.join('') + '\n' + csvLine(QUALITY_COLUMNS.map((c) => c.label)) + problems.join('');
  await writeAtomically(file, (tmp) => writeFile(tmp, body, 'utf8'));
}
