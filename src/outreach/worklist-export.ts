/**
 * The worklist as Excel: exactly the persons of the filtered list, in its order, with
 * Chinese headers, on two sheets. The first, 打印名单, is the list a township office prints
 * and calls from (report/xlsx.ts printListSheet): a title, ten columns at a readable size,
 * the header on every page, page numbers, a blank 备注 to write in. The second, 外展工作台,
 * holds every column as before. Written by the same rules as the township reports: every
 * text value a plain string cell (never a formula, whatever it starts with), money as
 * numbers in yuan. Id numbers and phones arrive here already as the reader may see them
 * (privacy.ts); the printed list shows the phone as shown and no id number.
 */
import { chineseDate, genderOfId, money, newWorkbook, num, printListSheet, printSetup, putRow, tableHeader, text, type PrintColumn } from '../report/xlsx.js';
import { formatYuan } from '../ingest/normalise/money.js';
import { CATEGORY_LABEL, type Category } from '../policy/policy.js';
import { countyTime } from '../util/time.js';
import { CASE_STATUS_LABEL } from './cases.js';
import type { WorklistRow } from './worklist.js';

export const WORKLIST_COLUMNS = [
  { label: '乡镇', width: 14 },
  { label: '村', width: 14 },
  { label: '姓名', width: 10 },
  { label: '身份证号', width: 21 },
  { label: '联系电话', width: 14 },
  { label: '救助类别', width: 20 },
  { label: '标记数', width: 8 },
  { label: '应补金额（元）', width: 14 },
  { label: '最早结算日期', width: 13 },
  { label: '个案状态', width: 22 },
] as const;

export const categoriesText = (cs: readonly string[]): string => cs.map((c) => CATEGORY_LABEL[c as Category] ?? c).join('、');
export const statusesText = (ss: WorklistRow['statuses'], sep = '、'): string => ss.map((s) => `${CASE_STATUS_LABEL[s.status]} ${s.n}`).join(sep);

export interface WorklistExport {
  rows: readonly WorklistRow[];
  /** the filter in words, for the title block */
  filter: string;
  createdAt: Date;
  /** how the reader sees id numbers and phones */
  shown: { id(v: string | null): string; phone(v: string | null): string };
  /** the county's name, for the printed title; left out when not known */
  county?: string | undefined;
}

export const PRINT_SHEET = '打印名单';
export const DETAIL_SHEET = '外展工作台';

/** The printed list's columns: what a township caseworker needs to call the person and note the outcome. */
export const WORKLIST_PRINT_COLUMNS = (manyTownships: boolean): PrintColumn[] => [
  { label: '序号', min: 5, max: 5, align: 'center' },
  // one township is in the title; a list of several names each person's
  manyTownships ? { label: '乡镇、村', min: 10, max: 14 } : { label: '村', min: 8, max: 14 },
  { label: '姓名', min: 7, max: 10 },
  { label: '性别', min: 6, max: 6, align: 'center' },
  { label: '联系电话', min: 13, max: 13 },
  { label: '救助类别', min: 10, max: 14 },
  { label: '应补金额（元）', min: 11, max: 12, align: 'right' },
  { label: '最早结算日期', min: 11, max: 12, align: 'center' },
  { label: '个案状态', min: 10, max: 14 },
  { label: '备注', min: 12, max: 40, fill: true },
];

/** The first sheet: the list to print. */
function printSheet(wb: ReturnType<typeof newWorkbook>, x: WorklistExport): void {
  const townships = [...new Set(x.rows.map((r) => r.township))];
  const many = townships.length !== 1;
  const place = many ? '各乡镇' : townships[0]!;
  const owed = x.rows.reduce((n, r) => n + r.owed, 0);
  const none = text(null);
  printListSheet(wb, PRINT_SHEET, {
    title: `${x.county ?? ''}${place}医疗救助待联系人员名单`,
    lines: [
      `范围：${x.filter}`,
      `制表日期：${chineseDate(countyTime(x.createdAt))}；共 ${x.rows.length} 人，应补金额合计 ${formatYuan(owed)} 元`,
    ],
    columns: WORKLIST_PRINT_COLUMNS(many),
    rows: x.rows.map((r, i) => [
      num(i + 1),
      text(many ? `${r.township} ${r.village}` : r.village),
      text(r.name),
      text(genderOfId(r.idNumber)),
      text(x.shown.phone(r.phone)),
      text(categoriesText(r.categories)),
      money(r.owed),
      text(r.oldest),
      // one status a line: a narrow column stays readable
      text(statusesText(r.statuses, '\n')),
      none,
    ]),
    total: [text('合计'), none, text(`${x.rows.length} 人`), none, none, none, money(owed), none, none, none],
  });
}

/** The workbook as bytes, for a download. */
export async function worklistXlsx(x: WorklistExport): Promise<Buffer> {
  const wb = newWorkbook(x.createdAt);
  printSheet(wb, x);
  const ws = wb.addWorksheet(DETAIL_SHEET);
  const title = '外展工作台名单（按人员）';
  putRow(ws, 1, [text(title)]).font = { bold: true, size: 14 };
  putRow(ws, 2, [text(`筛选条件：${x.filter}`)]);
  putRow(ws, 3, [text(`导出时间：${countyTime(x.createdAt)}（北京时间）；共 ${x.rows.length} 人`)]);

  const header = 5;
  tableHeader(ws, header, WORKLIST_COLUMNS);
  x.rows.forEach((r, i) =>
    putRow(ws, header + 1 + i, [
      text(r.township),
      text(r.village),
      text(r.name),
      text(x.shown.id(r.idNumber)),
      text(x.shown.phone(r.phone)),
      text(categoriesText(r.categories)),
      num(r.flags),
      money(r.owed),
      text(r.oldest),
      text(statusesText(r.statuses)),
    ]),
  );
  const none = text(null);
  putRow(ws, header + 1 + x.rows.length, [
    text('合计'), none, text(`${x.rows.length} 人`), none, none, none,
    num(x.rows.reduce((n, r) => n + r.flags, 0)), money(x.rows.reduce((n, r) => n + r.owed, 0)),
  ]).font = { bold: true };

  printSetup(ws, title);
  return Buffer.from(await wb.xlsx.writeBuffer());
}
