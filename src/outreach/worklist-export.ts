/**
 * The worklist as Excel: exactly the persons of the filtered list, in its order, with
 * Chinese headers. Written by the same rules as the township reports (report/xlsx.ts):
 * every text value a plain string cell in text format (never a formula, whatever it
 * starts with), money as numbers in yuan, the header frozen, filtered and repeated on
 * every printed page, A4 landscape one page wide. Id numbers and phones arrive here
 * already as the reader may see them (privacy.ts).
 */
import { money, newWorkbook, num, printSetup, putRow, tableHeader, text } from '../report/xlsx.js';
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
export const statusesText = (ss: WorklistRow['statuses']): string => ss.map((s) => `${CASE_STATUS_LABEL[s.status]} ${s.n}`).join('、');

export interface WorklistExport {
  rows: readonly WorklistRow[];
  /** the filter in words, for the title block */
  filter: string;
  createdAt: Date;
  /** how the reader sees id numbers and phones */
  shown: { id(v: string | null): string; phone(v: string | null): string };
}

/** The workbook as bytes, for a download. */
export async function worklistXlsx(x: WorklistExport): Promise<Buffer> {
  const wb = newWorkbook(x.createdAt);
  const ws = wb.addWorksheet('外展工作台');
  putRow(ws, 1, [text('外展工作台名单（按人员）')]).font = { bold: true, size: 14 };
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

  printSetup(ws);
  ws.headerFooter.oddFooter = '第 &P 页，共 &N 页';
  return Buffer.from(await wb.xlsx.writeBuffer());
}
