/**
 * The anchored part of matching, kept between runs (match/anchor-state.ts) instead of
 * being rebuilt over every row by every run:
 *
 *   link_key            anchored row → person key, after staff decisions
 *   person_block        person key → the block keys of its anchored rows
 *   big_block           block keys shared by too many persons to find candidates
 *   person_profile      a cache of persons' profiles from their anchored rows
 *   match_anchor_state  the staff decisions and parameters the three reflect
 *
 * All of them are UNLOGGED: they are derived from row_link and the decisions, so they skip the
 * write-ahead log, and a crash of the server empties them all, the state row included, which
 * makes the next run rebuild them.
 *
 * During a run the first three also hold, marked `scored`, what the run's scoring passes
 * added; the run removes those before it commits. The indexes let a run find the rows that
 * share a 人员编号 with its new rows, and its new rows themselves, without a scan.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create unlogged table link_key (
      delivery_id int not null,
      row_no int not null,
      person_key text not null,
      scored boolean not null default false,
      primary key (delivery_id, row_no)
    )`.execute(db);
  await sql`create index link_key_person on link_key (person_key)`.execute(db);
  await sql`
    create unlogged table person_block (
      person_key text not null,
      kind text not null,
      value text not null,
      scored boolean not null default false,
      primary key (person_key, kind, value)
    )`.execute(db);
  await sql`create index person_block_key on person_block (kind, value)`.execute(db);
  // what a run's scoring added is removed before it commits: found without a scan
  await sql`create index link_key_scored on link_key (delivery_id, row_no) where scored`.execute(db);
  await sql`create index person_block_scored on person_block (person_key) where scored`.execute(db);
  await sql`
    create unlogged table big_block (
      kind text not null,
      value text not null,
      scored boolean not null default false,
      primary key (kind, value)
    )`.execute(db);
  // a cache: a person's profile from its anchored rows (match/data.ts, loadProfiles)
  await sql`
    create unlogged table person_profile (
      person_key text primary key,
      id18 text,
      partials text[] not null,
      names text[] not null,
      folds text[] not null,
      births text[] not null,
      genders text[] not null,
      head_ids text[] not null,
      is_self boolean,
      relations text[] not null,
      rosters int[] not null,
      households text[] not null,
      places text[] not null,
      phones text[] not null
    )`.execute(db);
  await sql`
    create unlogged table match_anchor_state (
      id smallint primary key check (id = 1),
      decisions int[] not null,
      seen_decision int not null,
      params jsonb not null,
      run_id int not null
    )`.execute(db);
  await sql`create index source_row_insurance_no on source_row (insurance_no) where insurance_no is not null`.execute(db);
  await sql`create index row_link_pending on row_link (delivery_id, row_no) where method = 'pending'`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop index row_link_pending`.execute(db);
  await sql`drop index source_row_insurance_no`.execute(db);
  await sql`drop table match_anchor_state`.execute(db);
  await sql`drop table person_profile`.execute(db);
  await sql`drop table big_block`.execute(db);
  await sql`drop table person_block`.execute(db);
  await sql`drop table link_key`.execute(db);
}
