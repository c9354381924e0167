/**
 * A row linked by what its cluster of rows says together (match/pool.ts): alone it
 * waited for review. A run that keeps the row as it was (affected.ts) pools it again
 * with its cluster, so it must know what the row decided alone.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table row_link add column pooled boolean not null default false`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`alter table row_link drop column pooled`.execute(db);
}
