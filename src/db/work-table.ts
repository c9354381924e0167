/**
 * A transaction's work table, declared once: its name and its columns with their types.
 * Rows are written as objects keyed by column, and the declaration puts their values in
 * COPY's column order, so a tuple can no longer drift from a column list written
 * elsewhere, and a column renamed in the declaration is a compile error at every writer.
 *
 * The stages' "desired state → COPY → diff → apply" (spells, assessment, links) each
 * declare their desired state here and keep only their own diff.
 */
import { sql } from 'kysely';
import { analyze, type Tx } from './store.js';
import { copyLine } from './copy.js';

export type WorkColumnType = 'int' | 'smallint' | 'bigint' | 'real' | 'text' | 'date' | 'boolean' | 'jsonb';

/** What a column of the type takes: numbers, booleans, or text (dates as `YYYY-MM-DD`, jsonb as its JSON text). */
export type WorkValue<T extends WorkColumnType> = (T extends 'int' | 'smallint' | 'bigint' | 'real' ? number : T extends 'boolean' ? boolean : string) | null;

export type WorkRow<S extends Record<string, WorkColumnType>> = { [K in keyof S]: WorkValue<S[K]> };

export interface WorkTable<S extends Record<string, WorkColumnType>> {
  readonly name: string;
  readonly columns: S;
  /** One COPY line of the row, its values in the declared column order. */
  line(row: WorkRow<S>): string;
  /** Creates the table for this transaction (dropped at commit), loads the lines, and analyses it for the planner. */
  fill(tx: Tx, lines: readonly string[]): Promise<void>;
}

export function workTable<S extends Record<string, WorkColumnType>>(name: string, columns: S): WorkTable<S> {
  const names = Object.keys(columns) as (keyof S & string)[];
  const ddl = sql.raw(`create temp table ${name} (${names.map((c) => `${c} ${columns[c]}`).join(', ')}) on commit drop`);
  return {
    name,
    columns,
    line: (row) => copyLine(names.map((c) => row[c])),
    async fill(tx, lines) {
      await sql`${ddl}`.execute(tx.k);
      if (lines.length) await tx.copyIn(name, names, lines.join(''));
      // autovacuum never sees a temp table: without this the planner guesses its size
      await analyze(tx, name);
    },
  };
}
