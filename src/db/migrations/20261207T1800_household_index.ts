/**
 * A row in review shows the other members of its household (console 身份核对): the
 * rows that share its 户编号 or its head-of-household id, found by these indexes.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create index source_row_household_no on source_row (household_no) where household_no is not null`.execute(db);
  await sql`create index source_row_head_id on source_row (head_id_number) where head_id_number is not null`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop index source_row_head_id`.execute(db);
  await sql`drop index source_row_household_no`.execute(db);
}
