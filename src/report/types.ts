/**
 * What reports hold, apart from how they are written (formats.ts writes XLSX and CSV).
 * Money in fen; dates as ISO strings (YYYY-MM-DD). Id numbers arrive here already
 * masked unless the reader was allowed to see them (see privacy.ts).
 */

/** One flag in the outreach report of newly eligible people (policy.md §4). */
export interface ReportItem {
  township: string | null;
  village: string | null;
  personId: number;
  name: string | null;
  /** masked (area code, ********, last four) unless an authorised, audited request asked otherwise */
  idNumber: string;
  phone: string | null;
  /** category labels in Chinese (低保对象 …), the person's open categories */
  categories: string[];
  /** the person was in no earlier report: a new person to contact, not a new flag of someone known */
  newPerson: boolean;
  /** flag code and its Chinese label: unclaimed 未申请救助, underpaid 救助不足, high_burden …, potential_catastrophic … */
  flag: string;
  flagLabel: string;
  /** unclaimed reason code and label (零星报销，需本人申请 …), or null */
  reason: string | null;
  reasonLabel: string | null;
  /** the settlement, for a settlement flag; null for a person-year flag */
  settlementId: string | null;
  institution: string | null;
  beganOn: string | null;
  endedOn: string | null;
  /** the year, for a person-year flag */
  year: number | null;
  base: number | null;
  entitled: number | null;
  paid: number | null;
  /** what the flag is worth: entitled − paid for a settlement, the year's amount for a person flag */
  amount: number;
}

export interface NewlyEligibleReport {
  runId: number;
  createdAt: Date;
  /** the previous report's time, or null for the first report */
  since: Date | null;
  /** the latest as-of date of the accepted deliveries */
  dataAsOf: string | null;
  /** ordered by township, village, person, settlement */
  items: ReportItem[];
  persons: number;
  newPersons: number;
  /** sum of item amounts, fen */
  total: number;
}

/** One problem found in a delivery, for the data-quality sheet sent back to the agency. */
export interface QualityProblem {
  /** row number as spec §3 defines it (title lines counted); null for a file-level problem */
  rowNo: number | null;
  severity: 'error' | 'warning';
  code: string;
  /** the column header as delivered */
  column: string | null;
  /** in Chinese, for the agency's staff */
  message: string;
  /** the cell as delivered, so the agency can find and fix it */
  value: string | null;
}

export interface QualitySheet {
  file: string;
  source: string | null;
  asOf: string | null;
  status: string;
  rows: number;
  rejectedRows: number;
  problems: QualityProblem[];
}
