/**
 * The rows a person's golden record was taken from (match/persons.ts): a person that
 * only gains rows is refreshed from those and its new rows, not from all its rows.
 * Null until a refresh reads the person in full.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table person add column golden_basis jsonb`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`alter table person drop column golden_basis`.execute(db);
}
