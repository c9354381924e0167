/**
 * A case's outcome as staff record it (issue 19): 已支付 with the amount paid and the day it was
 * paid. The amount goes where the data's own 已支付 puts it, `outreach_case.recovered`, so that
 * 挽回金额 has one source; the day on the case, and both on the event that recorded them.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table outreach_case add column paid_on date`.execute(db);
  await sql`alter table case_event add column amount bigint check (amount > 0), add column paid_on date`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`alter table case_event drop column amount, drop column paid_on`.execute(db);
  await sql`alter table outreach_case drop column paid_on`.execute(db);
}
