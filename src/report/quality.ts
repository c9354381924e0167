/**
 * A delivery's problems, by row and column, with the cell as delivered: what the
 * delivery page lists and the data-quality sheet sent back to the agency holds. The
 * sheet holds raw data (id numbers among it), so only those who may change data get it,
 * and every download is audited by the caller; the page masks what its reader may not see.
 */
import { sql } from 'kysely';
import type { Store } from '../db/store.js';
import { isSourceKey, SOURCE_LABEL } from '../ingest/sources.js';
import type { QualityProblem, QualitySheet } from './types.js';

export interface DeliveryProblem extends QualityProblem {
  /** the field the problem is about (row_problem.field), to tell an id number or phone from other values */
  field: string | null;
}

/** The problems of a delivery in row order (file-level first), at most `limit`; each with the cell as delivered. */
export async function deliveryProblems(store: Store, deliveryId: number, headers: readonly string[], limit?: number): Promise<DeliveryProblem[]> {
  const problems = await sql<{ row_no: number | null; severity: 'error' | 'warning'; code: string; field: string | null; column_name: string | null; message: string; raw: string[] | null }>`
    select p.row_no, p.severity, p.code, p.field, p.column_name, p.message, s.raw
    from row_problem p
    left join source_row s on s.delivery_id = p.delivery_id and s.row_no = p.row_no
    where p.delivery_id = ${deliveryId}
    order by p.row_no nulls first, p.id
    ${limit === undefined ? sql`` : sql`limit ${limit}`}`.execute(store.k);
  return problems.rows.map((p) => {
    const col = p.column_name === null ? -1 : headers.indexOf(p.column_name);
    return { rowNo: p.row_no, severity: p.severity, code: p.code, field: p.field, column: p.column_name, message: p.message, value: col >= 0 ? (p.raw?.[col] ?? null) : null };
  });
}

export async function qualitySheet(store: Store, deliveryId: number): Promise<QualitySheet | undefined> {
  const d = await store.k.selectFrom('delivery').selectAll().where('id', '=', deliveryId).executeTakeFirst();
  if (!d) return undefined;
  return {
    file: d.file,
    // the agency reads it: its source by name, not by key
    source: d.source && isSourceKey(d.source) ? SOURCE_LABEL[d.source] : d.source,
    asOf: d.as_of,
    status: d.status,
    rows: d.row_count,
    rejectedRows: d.rejected_rows,
    problems: await deliveryProblems(store, deliveryId, d.headers ?? []),
  };
}
