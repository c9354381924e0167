/**
 * What a match run decided about each row it scored, kept for the next run to start
 * from (match/affected.ts): the pass in which a row was linked by score, and whether it
 * was claimed by no person (and so clustered with the other unclaimed rows). A run
 * re-scores only the rows whose candidates changed and keeps the rest as they were.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table row_link add column scored_pass smallint`.execute(db);
  await sql`alter table row_link add column unclaimed boolean not null default false`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`alter table row_link drop column unclaimed`.execute(db);
  await sql`alter table row_link drop column scored_pass`.execute(db);
}
