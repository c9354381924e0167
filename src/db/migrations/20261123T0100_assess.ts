/**
 * Category spells with history, assessment runs, entitlements and flags.
 *
 * A spell row is never updated: when a delivery changes what we know, the old row
 * gets superseded_at and a new row is recorded, so "what did we know on date X" is
 * `recorded_at <= X and (superseded_at is null or superseded_at > X)`. A flag is
 * raised once and withdrawn once, each with when and (for withdrawal) why.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table spell (
      id bigserial primary key,
      person_id int not null references person(id),
      category text not null,
      source text not null,
      valid_from date not null,
      -- exclusive; null while open
      valid_to date,
      -- the end came from the data (an exit date, a cancellation), not from absence
      explicit_end boolean not null,
      -- as-of date of the first accepted delivery listing the spell on or after valid_from
      first_listed date,
      recorded_at timestamptz not null default now(),
      superseded_at timestamptz
    )`.execute(db);
  await sql`create index spell_current on spell (person_id, category) where superseded_at is null`.execute(db);

  await sql`
    create table assessment_run (
      id serial primary key,
      started_at timestamptz not null default now(),
      finished_at timestamptz,
      policy jsonb,
      -- the latest as-of date among the accepted deliveries: "today" as far as the data knows
      data_as_of date,
      stats jsonb
    )`.execute(db);

  await sql`
    create table entitlement (
      settlement_id text primary key,
      -- null while the settlement's row waits in identity review
      person_id int references person(id),
      delivery_id int not null,
      row_no int not null,
      service_date date not null,
      settled_on date,
      year int not null,
      med_type text,
      category text,
      base bigint not null,
      entitled bigint not null,
      paid bigint not null,
      -- an eligible medical type, assessed under the policy
      assessed boolean not null,
      calc jsonb not null,
      run_id int references assessment_run(id)
    )`.execute(db);
  await sql`create index entitlement_person on entitlement (person_id, year)`.execute(db);

  await sql`
    create table flag (
      id bigserial primary key,
      scope text not null check (scope in ('settlement', 'person_year')),
      settlement_id text,
      person_id int references person(id),
      year int,
      flag text not null check (flag in ('unclaimed', 'underpaid', 'overpaid', 'high_burden', 'potential_catastrophic')),
      reason text,
      entitled bigint,
      paid bigint,
      amount bigint,
      raised_at timestamptz not null default now(),
      raised_run int references assessment_run(id),
      -- what the data knew when the flag was raised (latest as-of date)
      raised_data_as_of date,
      updated_at timestamptz,
      withdrawn_at timestamptz,
      withdrawn_run int references assessment_run(id),
      withdrawn_reason text
    )`.execute(db);
  await sql`create unique index flag_open_settlement on flag (settlement_id, flag) where withdrawn_at is null and scope = 'settlement'`.execute(db);
  await sql`create unique index flag_open_person on flag (person_id, year, flag) where withdrawn_at is null and scope = 'person_year'`.execute(db);
  await sql`create index flag_person on flag (person_id)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const t of ['flag', 'entitlement', 'assessment_run', 'spell']) await sql`drop table if exists ${sql.table(t)} cascade`.execute(db);
}
