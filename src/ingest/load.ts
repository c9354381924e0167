/**
 * Bulk loading of parsed rows. Rows are encoded for COPY (`RowEncoder`, in a parse
 * worker or inline), gathered in order into a `RowBatch`, and each batch is written
 * in one transaction with the delivery's checkpoint (`loaded_through_row`). A crash
 * loses at most the batch in flight; the next run resumes after the checkpoint, so
 * no row is missing or doubled.
 */
import type { SourceKey } from '../db/schema.js';
import { CopyBuffer, copyLine, copyText, copyTextArray, copyValue, type CopyValue } from '../db/copy.js';
import type { Tx } from '../db/store.js';
import type { CivilDetail, DeathDetail, DisabilityDetail, ParsedRow, RuralDetail, SettlementDetail } from './row-parser.js';
import type { Problem } from './problems.js';
import { rowHash } from './row-hash.js';

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

function detailValues(p: ParsedRow): CopyValue[] {
  switch (p.source) {
    case 'civil':
      return DETAIL_COLUMNS.civil.map((c) => p.detail[c]);
    case 'rural':
      return DETAIL_COLUMNS.rural.map((c) => p.detail[c]);
    case 'disability':
      return DETAIL_COLUMNS.disability.map((c) => p.detail[c]);
    case 'settlement':
      return DETAIL_COLUMNS.settlement.map((c) => p.detail[c]);
    case 'death':
      return DETAIL_COLUMNS.death.map((c) => p.detail[c]);
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

/** Encodes parsed rows into COPY bytes for source_row, the source's detail table and row_problem. */
export class RowEncoder {
  private rows = new CopyBuffer(1 << 18);
  private details = new CopyBuffer(1 << 17);
  private problems = new CopyBuffer(1 << 14);
  private count = 0;
  private lastRowNo = 0;
  private readonly idText: string;

  constructor(private readonly deliveryId: number) {
    this.idText = String(deliveryId);
  }

  add(p: ParsedRow): void {
    const id = p.identity;
    const t = copyText;
    // the hot path of every load: one join per line, in SOURCE_ROW_COLUMNS order
    this.rows.append(
      [
        this.idText, p.rowNo, p.source, copyTextArray(p.raw), rowHash(p.raw), p.rejected ? 't' : 'f', t(id.name),
        t(id.name_norm), t(id.id_number), t(id.id_status), t(id.gender), t(id.birth_date), t(id.phone), t(id.township),
        t(id.village), t(id.head_name), t(id.head_id_number), t(id.head_id_status), t(id.relation), t(id.household_no),
        t(id.insurance_no),
      ].join('\t') + '\n',
    );
    const detail = detailValues(p);
    for (let i = 0; i < detail.length; i++) detail[i] = copyValue(detail[i]);
    this.details.append(this.idText + '\t' + p.rowNo + '\t' + (detail as string[]).join('\t') + '\n');
    for (const prob of p.problems) this.problems.append(problemLine(this.deliveryId, prob));
    this.count++;
    this.lastRowNo = p.rowNo;
  }

  /** The rows encoded so far; the encoder starts afresh. */
  take(): EncodedRows {
    const out = { count: this.count, lastRowNo: this.lastRowNo, rows: this.rows.take(), details: this.details.take(), problems: this.problems.take() };
    this.rows = new CopyBuffer(1 << 18);
    this.details = new CopyBuffer(1 << 17);
    this.problems = new CopyBuffer(1 << 14);
    this.count = 0;
    return out;
  }
}

/** One transaction's worth of encoded rows, in row order. */
export class RowBatch {
  private readonly rows: Buffer[] = [];
  private readonly details: Buffer[] = [];
  private readonly problems: Buffer[] = [];
  private readonly loose = new CopyBuffer(1 << 12);
  size = 0;
  lastRowNo = 0;

  constructor(
    private readonly deliveryId: number,
    private readonly source: SourceKey,
  ) {}

  add(e: EncodedRows): void {
    this.rows.push(...e.rows);
    this.details.push(...e.details);
    this.problems.push(...e.problems);
    this.size += e.count;
    if (e.lastRowNo > this.lastRowNo) this.lastRowNo = e.lastRowNo;
  }

  /** A problem found between data rows, such as the header repeated. */
  addProblem(p: Problem): void {
    this.loose.append(problemLine(this.deliveryId, p));
    if (p.rowNo !== null && p.rowNo > this.lastRowNo) this.lastRowNo = p.rowNo;
  }

  get empty(): boolean {
    return this.size === 0 && this.loose.bytes === 0;
  }

  /** Writes the batch and the checkpoint in the caller's transaction. */
  async write(tx: Tx, throughRow: number): Promise<void> {
    if (this.size > 0) {
      await tx.copyIn('source_row', SOURCE_ROW_COLUMNS, this.rows);
      await tx.copyIn(detailTable(this.source), ['delivery_id', 'row_no', ...DETAIL_COLUMNS[this.source]], this.details);
    }
    const problems = [...this.problems, ...this.loose.take()].filter((b) => b.length > 0);
    if (problems.length > 0) await tx.copyIn('row_problem', PROBLEM_COLUMNS, problems);
    await tx.k.updateTable('delivery').set({ loaded_through_row: throughRow }).where('id', '=', this.deliveryId).execute();
  }
}
