/**
 * The worklist as Excel: exactly the persons of the filtered list, in its order, with
 * Chinese headers. Written by the same rules as the township reports (report/formats.ts):
 * every text value a plain string cell in text format (never a formula, whatever it
 * starts with), money as numbers in yuan, the header frozen, filtered and repeated on
 * every printed page, A4 landscape one page wide. Id numbers and phones arrive here
 * already as the reader may see them (privacy.ts).
 */
import ExcelJS from 'exceljs';
import { CATEGORY_LABEL, type Category } from '../policy/policy.js';
import { countyTime } from '../util/time.js';
import { CASE_STATUS_LABEL } from './cases.js';
import type { WorklistRow } from './worklist.js';

const MONEY_FORMAT = '#,##0.00';
const TEXT_FORMAT = '@';
const MAX_CELL_CHARS = 32_767;

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

type Cell = { text: string | null } | { num: number } | { fen: number };

export const categoriesText = (cs: readonly string[]): string => cs.map((c) => CATEGORY_LABEL[c as Category] ?? c).join('、');
export const statusesText = (ss: WorklistRow['statuses']): string => ss.map((s) => `${CASE_STATUS_LABEL[s.status]} ${s.n}`).join('、');

function put(cell: ExcelJS.Cell, v: Cell): void {
  if ('text' in v) {
    cell.value = v.text ? v.text.slice(0, MAX_CELL_CHARS) : null;
    cell.numFmt = TEXT_FORMAT;
  } else if ('num' in v) {
    cell.value = v.num;
  } else {
    cell.value = v.fen / 100;
    cell.numFmt = MONEY_FORMAT;
  }
}

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
  const wb = new ExcelJS.Workbook();
  wb.creator = 'aidlink';
  wb.lastModifiedBy = 'aidlink';
  wb.created = x.createdAt;
  wb.modified = x.createdAt;
  const ws = wb.addWorksheet('外展工作台');
  const title = ws.getRow(1);
  put(title.getCell(1), { text: '外展工作台名单（按人员）' });
  title.font = { bold: true, size: 14 };
  put(ws.getRow(2).getCell(1), { text: `筛选条件：${x.filter}` });
  put(ws.getRow(3).getCell(1), { text: `导出时间：${countyTime(x.createdAt)}（北京时间）；共 ${x.rows.length} 人` });

  const header = 5;
  const h = ws.getRow(header);
  WORKLIST_COLUMNS.forEach((c, i) => {
    put(h.getCell(i + 1), { text: c.label });
    ws.getColumn(i + 1).width = c.width;
  });
  h.font = { bold: true };
  h.eachCell((cell) => {
    cell.fill = { type: 'pattern', pattern: 'solid', fgColor: { argb: 'FFE7EEF7' } };
    cell.border = { bottom: { style: 'thin' } };
  });
  ws.views = [{ state: 'frozen', xSplit: 0, ySplit: header }];
  ws.autoFilter = { from: { row: header, column: 1 }, to: { row: header, column: WORKLIST_COLUMNS.length } };

  x.rows.forEach((r, i) => {
    const row = ws.getRow(header + 1 + i);
    const cells: Cell[] = [
      { text: r.township },
      { text: r.village },
      { text: r.name },
      { text: x.shown.id(r.idNumber) },
      { text: x.shown.phone(r.phone) },
      { text: categoriesText(r.categories) },
      { num: r.flags },
      { fen: r.owed },
      { text: r.oldest },
      { text: statusesText(r.statuses) },
    ];
    cells.forEach((c, j) => put(row.getCell(j + 1), c));
  });
  const total = ws.getRow(header + 1 + x.rows.length);
  put(total.getCell(1), { text: '合计' });
  put(total.getCell(3), { text: `${x.rows.length} 人` });
  put(total.getCell(7), { num: x.rows.reduce((n, r) => n + r.flags, 0) });
  put(total.getCell(8), { fen: x.rows.reduce((n, r) => n + r.owed, 0) });
  total.font = { bold: true };

  const p = ws.pageSetup;
  p.paperSize = 9; // A4
  p.orientation = 'landscape';
  p.fitToPage = true;
  p.fitToWidth = 1;
  p.fitToHeight = 0;
  p.printTitlesRow = `${header}:${header}`;
  ws.headerFooter.oddFooter = '第 &P 页，共 &N 页';
  return Buffer.from(await wb.xlsx.writeBuffer());
}
