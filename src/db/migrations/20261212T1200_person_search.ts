/**
 * The console's person search (console/person-search.ts) finds a person by part of a
 * name, the last digits of a phone or an id number: without indexes each search would
 * read every row of the county.
 *
 * Names are searched in their folded form (row_link.name_fold), by trigram (pg_trgm):
 * any three characters, and two at the start or end of a name. pg_trgm is a contrib
 * extension; where it cannot be created (the embedded PGlite loads no extension, a
 * server without contrib, a role without CREATE on the database) a btree index serves
 * the start of a name and the rest is read in full, which an embedded county can afford.
 * Phones and id numbers are searched by their end: a btree index on the reversed value
 * serves `reverse(x) like '<reversed tail>%'` on every engine.
 */
import { sql, type Kysely } from 'kysely';

/** pg_trgm is installed, or this role may install it here. */
async function trigramsPossible(db: Kysely<unknown>): Promise<boolean> {
  const r = await sql<{ ok: boolean }>`
    select exists (select 1 from pg_extension where extname = 'pg_trgm')
        or exists (
          select 1 from pg_available_extension_versions v, pg_roles r
          where v.name = 'pg_trgm' and r.rolname = current_user
            and (r.rolsuper or ((not v.superuser or v.trusted) and has_database_privilege(current_database(), 'CREATE')))) as ok`.execute(db);
  return r.rows[0]?.ok === true;
}

export async function up(db: Kysely<unknown>): Promise<void> {
  if (await trigramsPossible(db)) {
    await sql`create extension if not exists pg_trgm`.execute(db);
    await sql`create index row_link_name_trgm on row_link using gin (name_fold gin_trgm_ops) where person_id is not null`.execute(db);
  } else {
    await sql`create index row_link_name_prefix on row_link (name_fold text_pattern_ops) where person_id is not null`.execute(db);
  }
  // text_pattern_ops: a LIKE prefix can use a btree only in the C collation or with these operators
  await sql`create index source_row_phone_tail on source_row (reverse(phone) text_pattern_ops) where phone is not null`.execute(db);
  await sql`create index source_row_id_tail on source_row (reverse(id_number) text_pattern_ops) where id_number is not null`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop index if exists source_row_id_tail`.execute(db);
  await sql`drop index if exists source_row_phone_tail`.execute(db);
  await sql`drop index if exists row_link_name_prefix`.execute(db);
  await sql`drop index if exists row_link_name_trgm`.execute(db);
  // the extension stays: dropping it could break what others built on it
}
