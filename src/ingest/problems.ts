/**
 * Every problem ingest can report: a stable English code, a severity, and a
 * Chinese message staff can act on (and send back to the agency). Messages name
 * the column as it appears in the file and quote the offending value, except for
 * personal data (names, id numbers, phones, addresses), which they never quote:
 * the row number is enough for staff to find it.
 */
import type { Severity } from '../db/schema.js';
import type { Profile } from './mapping.js';
import { FIELD_LABEL, SOURCES, type AnyField } from './sources.js';

/** What a message says about a profile. */
type ProfileRef = Pick<Profile, 'name' | 'title' | 'file' | 'isDefault'>;

/** Fields whose values are personal data and never appear in a message. */
const PERSONAL: ReadonlySet<string> = new Set([
  'name', 'id_number', 'head_name', 'head_id_number', 'phone', 'address', 'cert_no', 'insurance_no', 'birth_date',
]);

export interface Problem {
  rowNo: number | null;
  severity: Severity;
  code: string;
  field: string | null;
  column: string | null;
  message: string;
}

export interface CellRef {
  rowNo: number;
  field: AnyField;
  /** header as in the file; falls back to the field's Chinese name */
  column: string | null;
}

const quote = (v: string) => `“${v.length > 40 ? v.slice(0, 40) + '…' : v}”`;

function col(ref: CellRef): string {
  return `「${ref.column ?? FIELD_LABEL[ref.field]}」`;
}

/** " “value”" for non-personal fields, "" for personal ones. */
function shown(ref: CellRef, value: string): string {
  return PERSONAL.has(ref.field) ? '' : quote(value);
}

function cellProblem(ref: CellRef, severity: Severity, code: string, message: string): Problem {
  return { rowNo: ref.rowNo, severity, code, field: ref.field, column: ref.column, message };
}

/** Row-level problems, by code. */
export const cell = {
  missingValue: (ref: CellRef, severity: Severity = 'error') =>
    cellProblem(ref, severity, 'missing_value', `${col(ref)}为空`),
  unknownLabel: (ref: CellRef, value: string, severity: Severity = 'error') =>
    cellProblem(ref, severity, 'unknown_label', `${col(ref)}的值${quote(value)}不在可识别的取值中（可在映射文件中补充）`),
  invalidDate: (ref: CellRef, value: string, severity: Severity) =>
    cellProblem(ref, severity, 'invalid_date', `${col(ref)}不是可识别的日期${shown(ref, value) ? '：' + shown(ref, value) : ''}`),
  invalidMoney: (ref: CellRef, value: string, severity: Severity) =>
    cellProblem(ref, severity, 'invalid_money', `${col(ref)}不是可识别的金额：${quote(value)}`),
  moneyRounded: (ref: CellRef, value: string) =>
    cellProblem(ref, 'warning', 'money_rounded', `${col(ref)}的金额${quote(value)}超过两位小数，已四舍五入到分`),
  moneyEmpty: (ref: CellRef) =>
    cellProblem(ref, 'warning', 'money_empty', `${col(ref)}为空，按 0.00 处理`),
  invalidYear: (ref: CellRef, value: string) =>
    cellProblem(ref, 'warning', 'invalid_year', `${col(ref)}不是可识别的年份：${quote(value)}`),
  idChecksumFailed: (ref: CellRef) =>
    cellProblem(ref, 'warning', 'id_checksum_failed', `${col(ref)}校验位不正确，可能有录入错误`),
  idMasked: (ref: CellRef) =>
    cellProblem(ref, 'warning', 'id_masked', `${col(ref)}部分被隐藏（含 *），请提供完整号码`),
  idSpreadsheetDamaged: (ref: CellRef) =>
    cellProblem(ref, 'warning', 'id_spreadsheet_damaged',
      `${col(ref)}被表格软件按数字保存而损坏（末三位变为 000 或显示为科学计数法），请将该列设为文本格式后重新导出`),
  idLegacy15: (ref: CellRef) =>
    cellProblem(ref, 'warning', 'id_legacy15', `${col(ref)}为 15 位旧号码，已转换为 18 位`),
  idMalformed: (ref: CellRef) =>
    cellProblem(ref, 'warning', 'id_malformed', `${col(ref)}不是有效的身份证号码格式`),
  idMissing: (ref: CellRef) => cellProblem(ref, 'warning', 'id_missing', `${col(ref)}为空`),
  genderMismatch: (ref: CellRef) =>
    cellProblem(ref, 'warning', 'gender_mismatch', `${col(ref)}与身份证号显示的性别不一致，以身份证号为准`),
  birthDateMismatch: (ref: CellRef) =>
    cellProblem(ref, 'warning', 'birth_date_mismatch', `${col(ref)}与身份证号中的出生日期不一致，以身份证号为准`),
  invalidGender: (ref: CellRef, value: string) =>
    cellProblem(ref, 'warning', 'invalid_gender', `${col(ref)}的值${quote(value)}无法识别`),
  invalidPhone: (ref: CellRef) => cellProblem(ref, 'warning', 'invalid_phone', `${col(ref)}不是有效的电话号码`),
  nameUnknownChar: (ref: CellRef) =>
    cellProblem(ref, 'warning', 'name_unknown_char', `${col(ref)}含有“?”：原文件的编码无法表示其中某个字`),
  certMalformed: (ref: CellRef, severity: Severity) =>
    cellProblem(ref, severity, 'cert_malformed', `${col(ref)}应为 20 位：18 位身份证号 + 残疾类别 1 位 + 等级 1 位`),
  gradeMismatch: (ref: CellRef, column: number, cert: number) =>
    cellProblem(ref, 'warning', 'grade_mismatch', `${col(ref)}（${column}级）与残疾人证号末位（${cert}级）不一致，以${col(ref)}为准`),
  gradeFromCert: (ref: CellRef, cert: number) =>
    cellProblem(ref, 'warning', 'grade_from_cert', `${col(ref)}无法识别，按残疾人证号末位取 ${cert} 级`),
  exitWithoutDate: (ref: CellRef) =>
    cellProblem(ref, 'warning', 'exit_without_date', `状态为退出或停保，但${col(ref)}为空`),
  datesOutOfOrder: (ref: CellRef, other: string) =>
    cellProblem(ref, 'warning', 'dates_out_of_order', `${col(ref)}早于「${other}」`),
  reversalWithoutOriginal: (ref: CellRef) =>
    cellProblem(ref, 'warning', 'reversal_without_original', `金额为负（冲销），但${col(ref)}为空，无法确定被冲销的结算`),
  noIdentity: (ref: CellRef) =>
    cellProblem(ref, 'error', 'no_identity', `${col(ref)}与身份证号都无法使用，无法确定是谁的结算`),
};

/** Problems of a row as a whole. */
export const row = {
  extraCells: (rowNo: number, cells: number, headers: number): Problem => ({
    rowNo, severity: 'error', code: 'extra_cells', field: null, column: null,
    message: `本行有 ${cells} 个字段，多于表头的 ${headers} 列，可能有未加引号的逗号，请检查后重新导出`,
  }),
  duplicate: (rowNo: number, firstRowNo: number): Problem => ({
    rowNo, severity: 'warning', code: 'duplicate_row', field: null, column: null,
    message: `与第 ${firstRowNo} 行内容完全相同（重复行）`,
  }),
};

/** Problems of the file as a whole (row_no is null). */
export const file = {
  missingColumns: (missing: { field: AnyField; aliases: readonly string[] }[], headers: readonly string[], profile: ProfileRef): Problem => ({
    rowNo: null, severity: 'error', code: 'missing_required_column', field: missing.map((m) => m.field).join(','), column: null,
    message:
      `按格式「${profile.title}」读取：` +
      missing.map((m) => `缺少必需列「${FIELD_LABEL[m.field]}」（可用列名：${m.aliases.join('、')}）`).join('；') +
      `。文件中的列：${headers.filter((h) => h.trim() !== '').join('、') || '（无）'}。` +
      (profile.isDefault
        ? `如果这是另一种导出格式，请在格式配置文件（AIDLINK_MAPPING）中为它写一个格式（见 docs/ingest.md）`
        : `如果文件用了别的列名，请在格式配置文件 ${profile.file} 的 profiles.${profile.name} 中补上`),
  }),
  headerNotFound: (searched: number, closest: { profile: ProfileRef; rowNo: number; cells: readonly string[]; recognised: number } | undefined): Problem => ({
    rowNo: null, severity: 'error', code: 'header_not_found', field: null, column: null,
    message:
      `前 ${searched} 行中没有找到表头（表头行须包含至少 3 个可识别的列名）。` +
      (!closest
        ? '没有一行含有可识别的列名。'
        : closest.recognised >= 2 // a row with two column names is a header, not data: its cells are no one's personal data
          ? `最像表头的是第 ${closest.rowNo} 行：${closest.cells.slice(0, 20).join('、')}${closest.cells.length > 20 ? '…' : ''}，其中按格式「${closest.profile.title}」只认得 ${closest.recognised} 列。`
          : `第 ${closest.rowNo} 行只有 1 个可识别的列名（按格式「${closest.profile.title}」）。`) +
      '请确认文件内容和来源是否正确；如果这是一种新的导出格式，请在格式配置文件（AIDLINK_MAPPING）中为它写一个格式（见 docs/ingest.md）',
  }),
  ambiguousProfiles: (profiles: readonly ProfileRef[]): Problem => ({
    rowNo: null, severity: 'error', code: 'profile_ambiguous', field: null, column: null,
    message: `文件的表头同样符合几种格式：${profiles.map((p) => `「${p.title}」`).join('、')}。请用格式的 file_names 区分文件名，或放入对应来源的 inbox 目录`,
  }),
  absentColumn: (field: AnyField, note: string): Problem => ({
    rowNo: null, severity: 'warning', code: 'absent_column', field, column: null, message: note,
  }),
  sourceUnknown: (): Problem => ({
    rowNo: null, severity: 'error', code: 'source_unknown', field: null, column: null,
    message: `无法判断文件来自哪个部门：请放入 inbox/<来源>/ 目录，或用 --source 指定（${SOURCES.join('、')}）`,
  }),
  asOfNotFound: (): Problem => ({
    rowNo: null, severity: 'error', code: 'as_of_not_found', field: null, column: null,
    message: '无法确定数据截至日期：标题行和文件名中都没有日期。请用 --as-of 指定（如 --as-of 2026-10-31）',
  }),
  asOfMismatch: (title: string, other: string, otherOrigin: 'filename' | 'argument'): Problem => ({
    rowNo: null, severity: 'warning', code: 'as_of_mismatch', field: null, column: null,
    message: `标题行中的日期 ${title} 与${otherOrigin === 'filename' ? '文件名' : '指定'}的日期 ${other} 不一致，以标题行为准`,
  }),
  asOfArgumentIgnored: (found: string, given: string): Problem => ({
    rowNo: null, severity: 'warning', code: 'as_of_mismatch', field: null, column: null,
    message: `文件名中的日期 ${found} 与指定的日期 ${given} 不一致，以文件名为准`,
  }),
  duplicateColumn: (field: AnyField, column: string, used: string): Problem => ({
    rowNo: null, severity: 'warning', code: 'duplicate_column', field, column,
    message: `列「${column}」与「${used}」都表示${FIELD_LABEL[field]}，使用「${used}」`,
  }),
  repeatedHeader: (rowNo: number): Problem => ({
    rowNo, severity: 'warning', code: 'repeated_header', field: null, column: null,
    message: `第 ${rowNo} 行重复了表头，已跳过`,
  }),
  noDataRows: (): Problem => ({
    rowNo: null, severity: 'warning', code: 'no_data_rows', field: null, column: null,
    message: '文件中没有数据行',
  }),
  unreadable: (code: string, message: string): Problem => ({
    rowNo: null, severity: 'error', code, field: null, column: null, message,
  }),
};

export const UNSUPPORTED_MESSAGE: Record<string, string> = {
  empty: '文件为空',
  pdf: '文件是 PDF，不是 CSV 或 XLSX 表格（可能是改了扩展名）。请提交原始导出的表格文件',
  xls: '文件是旧版 Excel（.xls）格式。请用 Excel/WPS 另存为 .xlsx 或 .csv 后再提交',
  zip_not_xlsx: '文件是压缩包，但不是 XLSX 工作簿',
  binary: '文件不是文本表格（含有二进制内容）。请提交 CSV 或 XLSX 文件',
  encoding: '文件编码无法识别：既不是 UTF-8 也不是 GBK/GB18030（或声明为 UTF-8 却含有其他编码的内容）。请另存为 UTF-8 或 GBK 编码的 CSV',
};
