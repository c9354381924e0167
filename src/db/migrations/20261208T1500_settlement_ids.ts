/**
 * Assessment scoped to some persons (after a staff decision) reads every delivery of
 * their settlements, and what reverses them, by 结算ID: these indexes find them without
 * reading every settlement row.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create index settlement_row_settlement_id on settlement_row (settlement_id)`.execute(db);
  await sql`create index settlement_row_reversed_id on settlement_row (reversed_id) where reversed_id is not null`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop index settlement_row_reversed_id`.execute(db);
  await sql`drop index settlement_row_settlement_id`.execute(db);
}
