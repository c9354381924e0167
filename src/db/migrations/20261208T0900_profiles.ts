/**
 * Format profiles (issue 13): a delivery records the profile that read it and its
 * stream. A snapshot supersedes only earlier snapshots of its own stream, so a 低保
 * list and a 特困 list of one agency, on one as-of date, coexist. Earlier deliveries
 * were read by their source's default profile, whose stream is the source.
 *
 * An entitlement is `held` (with the reason) when it would be flagged overpaid while the
 * person's categories are unknown: a roster of theirs unreadable, held, or rejected.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table delivery add column profile text, add column stream text`.execute(db);
  await sql`update delivery set profile = source, stream = source where source is not null`.execute(db);
  await sql`create index delivery_source_stream on delivery (source, stream, as_of)`.execute(db);
  await sql`alter table entitlement add column held text`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`alter table entitlement drop column held`.execute(db);
  await sql`drop index delivery_source_stream`.execute(db);
  await sql`alter table delivery drop column stream, drop column profile`.execute(db);
}
