/**
 * Bulk loading of parsed rows. Rows are encoded for COPY (`RowEncoder`, in a parse
 * worker or inline), gathered in order into a `RowBatch`, and each batch is written
 * in one transaction with the delivery's checkpoint (`loaded_through_row`). A crash
 * loses at most the batch in flight; the next run resumes after the checkpoint, so
 * no row is missing or doubled.
 */
import type { SourceKey } from '../db/schema.js';
import { copyLine, type CopyValue } from '../db/copy.js';
import { CopyBytes } from './copy-bytes.js';
import type { Tx } from '../db/store.js';
import type { CivilDetail, DeathDetail, DisabilityDetail, ParsedRow, RuralDetail, SettlementDetail } from './row-parser.js';
import type { Problem } from './problems.js';

const SOURCE_ROW_COLUMNS = [
  'delivery_id', 'row_no', 'source', 'raw', 'raw_hash', 'rejected', 'name', 'name_norm', 'id_number', 'id_status', 'gender',
  'birth_date', 'phone', 'township', 'village', 'head_name', 'head_id_number', 'head_id_status', 'relation',
  'household_no', 'insurance_no',
] as const;

const DETAIL_COLUMNS = {
  civil: ['category', 'recognised_on', 'exited_on', 'member_status'] as const satisfies readonly (keyof CivilDetail)[],
  rural: ['household_type', 'registered_on', 'year_lifted', 'monitored_since', 'risk_eliminated',
    'risk_eliminated_on'] as const satisfies readonly (keyof RuralDetail)[],
  disability: ['cert_no', 'disability_kind', 'grade', 'issued_on', 'cert_status', 'cancelled_on',
    'address'] as const satisfies readonly (keyof DisabilityDetail)[],
  settlement: ['settlement_id', 'reversed_id', 'insurance_type', 'med_type', 'institution_code', 'institution_name',
    'institution_level', 'place', 'began_on', 'ended_on', 'settled_on', 'total', 'self_paid', 'over_limit', 'in_scope',
    'basic_paid', 'critical_paid', 'assistance_paid', 'other_paid', 'personal_burden',
    'method'] as const satisfies readonly (keyof SettlementDetail)[],
  death: ['died_on'] as const satisfies readonly (keyof DeathDetail)[],
};

const PROBLEM_COLUMNS = ['delivery_id', 'row_no', 'severity', 'code', 'field', 'column_name', 'message'] as const;

/** Every table a delivery's rows live in; deleting a delivery's rows deletes from all of them. */
export const ROW_TABLES = ['source_row', 'civil_row', 'rural_row', 'disability_row', 'settlement_row', 'death_row', 'row_problem'] as const;

export const detailTable = (source: SourceKey) => `${source}_row` as const;

/** The detail table's values of a row, each preceded by a tab, in DETAIL_COLUMNS order. */
function writeDetail(w: CopyBytes, p: ParsedRow): void {
  let values: CopyValue[];
  switch (p.source) {
    case 'civil':
      values = DETAIL_COLUMNS.civil.map((c) => p.detail[c]);
      break;
    case 'rural':
      values = DETAIL_COLUMNS.rural.map((c) => p.detail[c]);
      break;
    case 'disability':
      values = DETAIL_COLUMNS.disability.map((c) => p.detail[c]);
      break;
    case 'settlement':
      values = DETAIL_COLUMNS.settlement.map((c) => p.detail[c]);
      break;
    case 'death':
      values = DETAIL_COLUMNS.death.map((c) => p.detail[c]);
      break;
  }
  for (const v of values) {
    w.tab();
    if (typeof v === 'number') w.number(v);
    else if (typeof v === 'boolean') w.bool(v);
    else if (v === null || v === undefined || typeof v === 'string') w.text(v);
    else w.textArray(v);
  }
}

export function problemLine(deliveryId: number, p: Problem): string {
  return copyLine([deliveryId, p.rowNo, p.severity, p.code, p.field, p.column, p.message]);
}

export async function copyProblems(tx: Tx, deliveryId: number, problems: readonly Problem[]): Promise<void> {
  if (problems.length === 0) return;
  await tx.copyIn('row_problem', PROBLEM_COLUMNS, problems.map((p) => problemLine(deliveryId, p)).join(''));
}

/** Rows encoded for COPY: what a parse worker hands back, in the order it was given them. */
export interface EncodedRows {
  count: number;
  /** row number of the last row (0 when none) */
  lastRowNo: number;
  rows: Buffer[];
  details: Buffer[];
  problems: Buffer[];
}

/** What the parse pool hands back for a piece of a file (parse-pool.ts). */
export interface ParsedInput extends EncodedRows {
  /** data rows in the piece, those committed before a resumption included */
  dataRows: number;
  /** problems of the rows between data rows (the header repeated), COPY-encoded */
  notes: Buffer[];
  /** the row of the last of them (0 when none) */
  lastNoteRowNo: number;
}

/** Encodes parsed rows into COPY bytes for source_row, the source's detail table and row_problem. */
export class RowEncoder {
  private rows = new CopyBytes(1 << 18);
  private details = new CopyBytes(1 << 17);
  private problems = new CopyBytes(1 << 14);
  private count = 0;
  private lastRowNo = 0;
  private readonly idText: string;

  constructor(private readonly deliveryId: number) {
    this.idText = String(deliveryId);
  }

  add(p: ParsedRow): void {
    const id = p.identity;
    // the hot path of every load: values written straight into bytes, in SOURCE_ROW_COLUMNS order
    const w = this.rows;
    const rowNo = String(p.rowNo);
    w.ascii(this.idText);
    w.tab();
    w.ascii(rowNo);
    w.tab();
    w.ascii(p.source);
    w.tab();
    const hash = w.textArray(p.raw);
    w.tab();
    w.ascii(String(hash));
    w.tab();
    w.ascii(p.rejected ? 't' : 'f');
    for (const v of [id.name, id.name_norm, id.id_number, id.id_status, id.gender, id.birth_date, id.phone, id.township,
      id.village, id.head_name, id.head_id_number, id.head_id_status, id.relation, id.household_no, id.insurance_no]) {
      w.tab();
      w.text(v);
    }
    w.newline();
    const d = this.details;
    d.ascii(this.idText);
    d.tab();
    d.ascii(rowNo);
    writeDetail(d, p);
    d.newline();
    for (const prob of p.problems) this.problems.raw(problemLine(this.deliveryId, prob));
    this.count++;
    this.lastRowNo = p.rowNo;
  }

  /** The rows encoded so far; the encoder starts afresh. */
  take(): EncodedRows {
    const out = { count: this.count, lastRowNo: this.lastRowNo, rows: this.rows.take(), details: this.details.take(), problems: this.problems.take() };
    this.rows = new CopyBytes(1 << 18);
    this.details = new CopyBytes(1 << 17);
    this.problems = new CopyBytes(1 << 14);
    this.count = 0;
    return out;
  }
}

/** One transaction's worth of encoded rows, in row order. */
export class RowBatch {
  private readonly rows: Buffer[] = [];
  private readonly details: Buffer[] = [];
  private readonly problems: Buffer[] = [];
  /** problems found between data rows, such as the header repeated */
  private readonly loose: Buffer[] = [];
  size = 0;
  lastRowNo = 0;

  constructor(
    private readonly deliveryId: number,
    private readonly source: SourceKey,
  ) {}

  add(e: ParsedInput): void {
    this.rows.push(...e.rows);
    this.details.push(...e.details);
    this.problems.push(...e.problems);
    this.loose.push(...e.notes);
    this.size += e.count;
    this.lastRowNo = Math.max(this.lastRowNo, e.lastRowNo, e.lastNoteRowNo);
  }

  get empty(): boolean {
    return this.size === 0 && this.loose.every((b) => b.length === 0);
  }

  /** Writes the batch and the checkpoint in the caller's transaction. */
  async write(tx: Tx, throughRow: number): Promise<void> {
    if (this.size > 0) {
      await tx.copyIn('source_row', SOURCE_ROW_COLUMNS, this.rows);
      await tx.copyIn(detailTable(this.source), ['delivery_id', 'row_no', ...DETAIL_COLUMNS[this.source]], this.details);
    }
    const problems = [...this.problems, ...this.loose].filter((b) => b.length > 0);
    if (problems.length > 0) await tx.copyIn('row_problem', PROBLEM_COLUMNS, problems);
    await tx.k.updateTable('delivery').set({ loaded_through_row: throughRow }).where('id', '=', this.deliveryId).execute();
  }
}
