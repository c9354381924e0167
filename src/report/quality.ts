/**
 * The data-quality sheet of one delivery: every problem found, by row and column,
 * with the cell as delivered, for the caseworker to send back to the agency. It
 * holds raw data (id numbers among it), so only those who may change data get it,
 * and every download is audited by the caller.
 */
import { sql } from 'kysely';
import type { Store } from '../db/store.js';
import type { QualitySheet } from './types.js';

export async function qualitySheet(store: Store, deliveryId: number): Promise<QualitySheet | undefined> {
  const d = await store.k.selectFrom('delivery').selectAll().where('id', '=', deliveryId).executeTakeFirst();
  if (!d) return undefined;
  const headers = d.headers ?? [];
  const problems = await sql<{ row_no: number | null; severity: 'error' | 'warning'; code: string; column_name: string | null; message: string; raw: string[] | null }>`
    select p.row_no, p.severity, p.code, p.column_name, p.message, s.raw
    from row_problem p
    left join source_row s on s.delivery_id = p.delivery_id and s.row_no = p.row_no
    where p.delivery_id = ${deliveryId}
    order by p.row_no nulls first, p.id`.execute(store.k);
  return {
    file: d.file,
    source: d.source,
    asOf: d.as_of,
    status: d.status,
    rows: d.row_count,
    rejectedRows: d.rejected_rows,
    problems: problems.rows.map((p) => {
      const col = p.column_name === null ? -1 : headers.indexOf(p.column_name);
      return { rowNo: p.row_no, severity: p.severity, code: p.code, column: p.column_name, message: p.message, value: col >= 0 ? (p.raw?.[col] ?? null) : null };
    }),
  };
}
