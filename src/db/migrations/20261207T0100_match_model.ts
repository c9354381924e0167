/**
 * The match model as data: the weights a run estimated and the name frequencies it
 * scored with, as a version that later runs reuse until it is estimated again; every
 * link records the version that made it, and every run the links it changed.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table match_model (
      id serial primary key,
      created_at timestamptz not null default now(),
      -- the run that estimated it, and why: first (none before), asked, growth, age
      run_id int references match_run(id),
      reason text not null check (reason in ('first', 'asked', 'growth', 'age')),
      -- what it was estimated from
      source_rows int not null,
      persons int not null,
      weights jsonb not null
    )`.execute(db);
  // how many persons carry each folded name, as the model saw the county (term frequencies)
  await sql`
    create table match_model_name (
      model_id int not null references match_model(id) on delete cascade,
      fold text not null,
      persons int not null,
      primary key (model_id, fold)
    )`.execute(db);
  await sql`alter table row_link add column model_id int references match_model(id)`.execute(db);
  await sql`alter table match_run add column model_id int references match_model(id)`.execute(db);
  // a row whose person or state a run changed: what staff see after a new model version
  await sql`
    create table match_change (
      run_id int not null references match_run(id),
      delivery_id int not null,
      row_no int not null,
      from_person_id int,
      to_person_id int,
      from_state text not null,
      to_state text not null,
      primary key (run_id, delivery_id, row_no)
    )`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table if exists match_change`.execute(db);
  await sql`alter table match_run drop column if exists model_id`.execute(db);
  await sql`alter table row_link drop column if exists model_id`.execute(db);
  await sql`drop table if exists match_model_name`.execute(db);
  await sql`drop table if exists match_model`.execute(db);
}
