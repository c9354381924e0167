/**
 * Identity resolution: persons, one link per source row, staff decisions, runs.
 * Links are derived data: a run recomputes them from the rows, the parameters it
 * estimates, and the staff decisions, which are facts and are never recomputed.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table person (
      id serial primary key,
      -- what the person is known by: id:<18-digit number>, ins:<人员编号>, row:<delivery>:<row>, split:<decision>
      person_key text not null unique,
      -- golden record: field → { value, source, file, row, as_of }
      golden jsonb not null default '{}',
      id_number text,
      name text,
      gender char(1),
      birth_date date,
      township text,
      village text,
      row_count int not null default 0,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      -- set when no row links to the person any more (its rows moved to another person)
      retired_at timestamptz
    )`.execute(db);
  await sql`create index person_id_number on person (id_number)`.execute(db);

  await sql`
    create table match_run (
      id serial primary key,
      kind text not null,
      started_at timestamptz not null default now(),
      finished_at timestamptz,
      params jsonb,
      stats jsonb
    )`.execute(db);

  await sql`
    create table row_link (
      delivery_id int not null,
      row_no int not null,
      -- comparison forms of the name (see match/chinese.ts), computed once per row
      name_fold text,
      name_sound text,
      -- the deterministic key (id:… or ins:…), null for a row that must be scored
      anchor_key text,
      person_id int references person(id),
      state text not null check (state in ('linked', 'review')),
      method text not null check (method in ('id', 'cert_id', 'insurance_no', 'scored', 'new', 'staff', 'pending')),
      score real,
      evidence jsonb,
      candidates jsonb,
      run_id int references match_run(id),
      primary key (delivery_id, row_no)
    )`.execute(db);
  await sql`create index row_link_person on row_link (person_id)`.execute(db);
  await sql`create index row_link_anchor on row_link (anchor_key)`.execute(db);
  await sql`create index row_link_review on row_link (state) where state = 'review'`.execute(db);

  await sql`
    create table match_decision (
      id serial primary key,
      kind text not null check (kind in ('confirm', 'reject', 'split', 'merge')),
      -- confirm / reject: the row and the person it does or does not belong to
      delivery_id int,
      row_no int,
      person_key text,
      -- merge: the person merged into person_key
      other_person_key text,
      -- split: the rows [[delivery_id, row_no], …] that leave person_key as a new person
      rows jsonb,
      actor text not null,
      note text,
      made_at timestamptz not null default now(),
      revoked_at timestamptz,
      revoked_by text
    )`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const t of ['match_decision', 'row_link', 'match_run', 'person']) await sql`drop table if exists ${sql.table(t)} cascade`.execute(db);
}
