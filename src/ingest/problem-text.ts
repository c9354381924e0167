/**
 * Each problem code (problems.ts, row_problem.code) in Chinese: what is wrong, in a few
 * words, and what to do about it. The one table the delivery page and the data-quality
 * sheet sent back to the agency read, so staff and the agency see the same words. The
 * stored message says the particulars (which column, which other row); this says the kind.
 */

export interface ProblemText {
  /** what is wrong, for a column of its own */
  title: string;
  /** what the agency (or staff) should do */
  action: string;
}

const REEXPORT = '请在原系统中核对并改正后重新导出';
const ID_FIX = '请核对证件后改正身份证号，再重新导出';

const TEXT: Record<string, ProblemText> = {
  // a cell
  missing_value: { title: '必填项为空', action: '请补上该项后重新导出' },
  unknown_label: { title: '取值无法识别', action: '请改为规定的取值；若是本地的新写法，请联系系统管理员在列名映射中补充' },
  invalid_date: { title: '日期无法识别', action: '请写成 2026-10-31 或 2026年10月31日 这样的日期' },
  invalid_money: { title: '金额无法识别', action: '请只填数字金额（元，最多两位小数），不要带文字' },
  money_rounded: { title: '金额超过两位小数', action: '已按四舍五入到分处理；如有出入请核对原系统' },
  money_empty: { title: '金额为空', action: '已按 0.00 处理；如实际有金额请补上后重新导出' },
  invalid_year: { title: '年份无法识别', action: '请写成四位年份，如 2020' },
  id_checksum_failed: { title: '身份证号校验位不正确', action: ID_FIX },
  id_masked: { title: '身份证号被隐去部分数字', action: '请导出完整的身份证号（不要用 * 隐去）' },
  id_spreadsheet_damaged: { title: '身份证号被表格软件损坏', action: '请把该列设为“文本”格式后重新导出，不要在 Excel 中另存' },
  id_legacy15: { title: '15 位旧身份证号', action: '已自动转换为 18 位；请在原系统中更新为 18 位号码' },
  id_malformed: { title: '身份证号格式不对', action: ID_FIX },
  id_missing: { title: '身份证号为空', action: '请补上身份证号后重新导出' },
  gender_mismatch: { title: '性别与身份证号不一致', action: '已以身份证号为准；请核对原系统中的性别' },
  birth_date_mismatch: { title: '出生日期与身份证号不一致', action: '已以身份证号为准；请核对原系统中的出生日期' },
  invalid_gender: { title: '性别无法识别', action: '请填“男”或“女”' },
  invalid_phone: { title: '电话号码无效', action: '请填 11 位手机号或带区号的固定电话' },
  name_unknown_char: { title: '姓名中有字无法显示', action: '请用 UTF-8 编码导出（或改用 XLSX），以保留生僻字' },
  cert_malformed: { title: '残疾人证号格式不对', action: '请核对残疾人证号（20 位）后重新导出' },
  grade_mismatch: { title: '残疾等级与证号不一致', action: '已以残疾等级列为准；请核对证件' },
  grade_from_cert: { title: '残疾等级无法识别', action: '已按证号末位取等级；请补上残疾等级列' },
  exit_without_date: { title: '已退出但没有退出日期', action: '请补上退出（停保）日期后重新导出' },
  dates_out_of_order: { title: '日期先后顺序不对', action: REEXPORT },
  reversal_without_original: { title: '冲销记录缺少原结算号', action: '请补上被冲销的原结算ID后重新导出' },
  no_identity: { title: '无法确定是谁', action: '请补上有效的身份证号或人员编号后重新导出' },
  // a row
  extra_cells: { title: '本行字段多于表头', action: '可能有未加引号的逗号，请检查后重新导出' },
  duplicate_row: { title: '重复行', action: '只计一次；如确是两笔，请核对后重新导出' },
  repeated_header: { title: '表头重复出现', action: '已跳过，无需处理' },
  // the file
  missing_required_column: { title: '缺少必需的列', action: '请按规定的列名导出全部必需列；如果选错了来源，请选对来源后重新上传' },
  header_not_found: { title: '找不到表头', action: '请确认文件内容和来源；表头行须含规定的列名' },
  profile_ambiguous: { title: '表头同样符合几种格式', action: '请联系系统管理员在格式配置中区分这几种格式' },
  source_unknown: { title: '无法判断来自哪个部门', action: '请在上传时选择来源' },
  absent_column: { title: '缺少一列（按默认值处理）', action: '如有该列，请一并导出' },
  as_of_not_found: { title: '找不到数据截至日期', action: '请在文件名中写明日期（如 _20261031），或在标题行写“截至 2026年10月31日”' },
  as_of_mismatch: { title: '截至日期前后不一致', action: '请核对文件名和标题行中的日期' },
  duplicate_column: { title: '两列表示同一项', action: '已使用前一列；请删去多余的一列' },
  no_data_rows: { title: '文件中没有数据', action: '请确认导出的是完整名单' },
  // a file that cannot be read
  unsupported_empty: { title: '文件为空', action: '请重新导出' },
  unsupported_pdf: { title: '不是表格文件（PDF）', action: '请提交原始导出的 CSV 或 XLSX 文件' },
  unsupported_xls: { title: '旧版 Excel（.xls）', action: '请另存为 .xlsx 或 .csv 后再提交' },
  unsupported_zip_not_xlsx: { title: '压缩包不是 XLSX 工作簿', action: '请提交 CSV 或 XLSX 文件' },
  unsupported_binary: { title: '不是文本表格', action: '请提交 CSV 或 XLSX 文件' },
  unsupported_encoding: { title: '文件编码无法识别', action: '请另存为 UTF-8 或 GBK 编码的 CSV' },
  csv_line_too_long: { title: '某一行过长，无法读取', action: '请检查导出设置（换行、引号）后重新导出' },
  xlsx_corrupt: { title: 'XLSX 工作簿已损坏', action: '请用 Excel/WPS 打开后另存为 .xlsx 或 .csv 再提交' },
  xlsx_too_large: { title: 'XLSX 解压后过大', action: '请重新导出，或改为 CSV' },
  xlsx_cell_too_long: { title: 'XLSX 内容异常', action: '请重新导出，或改为 CSV' },
};

/** A code this table does not know yet (added in problems.ts since): still Chinese, never the code. */
const UNKNOWN: ProblemText = { title: '其他问题', action: '请按说明核对' };

export function problemText(code: string): ProblemText {
  return TEXT[code] ?? UNKNOWN;
}
