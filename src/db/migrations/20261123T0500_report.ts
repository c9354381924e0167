/** Report runs: each report written, when, by whom, what it covered. */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table report_run (
      id serial primary key,
      kind text not null,
      created_at timestamptz not null default now(),
      requested_by text not null,
      -- flags first raised after this time were new to this report (the previous report's time)
      since timestamptz,
      data_as_of date,
      persons int not null,
      flags int not null,
      total bigint not null,
      files jsonb not null default '[]'
    )`.execute(db);
  await sql`create index report_run_kind on report_run (kind, created_at)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table if exists report_run`.execute(db);
}
