/**
 * What a scoped run of spells and assessment must redo (issue 14), marked by the
 * database itself, so that no path that changes links or deliveries can forget to say so:
 *
 *   stale_person    a person whose spells must be derived again (`spells`), or who must be
 *                   assessed again (`assess`). A row moved to a person or taken from them
 *                   (by matching or a staff decision) marks both; spells mark `assess` for
 *                   the persons whose spells they changed; the assessment removes the mark.
 *   stale_delivery  a delivery whose status changed (accepted, superseded, quarantined,
 *                   released, discarded). The first spells run after all its rows have been
 *                   matched reads it into person marks (db/stale.ts).
 *
 * An assessment also records its basis (policy fingerprint, the roster rejection that holds
 * everyone's categories unknown): a run on another basis recomputes everyone.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create table stale_person (person_id int primary key, spells boolean not null, assess boolean not null)`.execute(db);
  await sql`create table stale_delivery (delivery_id int primary key)`.execute(db);
  await sql`alter table assessment_run add column basis jsonb`.execute(db);

  // a row trigger filtered by WHEN: rows whose person and state stay (name forms, anchor keys) never call the
  // function, nor do a new row's insert or first link ('pending'): its delivery's mark covers it (db/stale.ts)
  await sql`
    create function mark_stale_link() returns trigger language plpgsql as $$
    begin
      if old.person_id is not null then
        insert into stale_person (person_id, spells, assess) values (old.person_id, true, true)
        on conflict (person_id) do update set spells = true, assess = true;
      end if;
      if tg_op <> 'DELETE' and new.person_id is not null then
        insert into stale_person (person_id, spells, assess) values (new.person_id, true, true)
        on conflict (person_id) do update set spells = true, assess = true;
      end if;
      return null;
    end $$`.execute(db);
  await sql`
    create trigger row_link_stale after update on row_link
    for each row when (old.method is distinct from 'pending' and (old.person_id is distinct from new.person_id or old.state is distinct from new.state))
    execute function mark_stale_link()`.execute(db);
  await sql`
    create trigger row_link_stale_delete after delete on row_link
    for each row when (old.person_id is not null) execute function mark_stale_link()`.execute(db);

  await sql`
    create function mark_stale_delivery() returns trigger language plpgsql as $$
    begin
      if tg_op = 'INSERT' or new.status is distinct from old.status then
        insert into stale_delivery (delivery_id) values (new.id) on conflict do nothing;
      end if;
      return null;
    end $$`.execute(db);
  await sql`
    create trigger delivery_stale after insert or update of status on delivery
    for each row execute function mark_stale_delivery()`.execute(db);

  // a database migrated from before this has assessed everyone on no recorded basis: the next run is everyone's
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop trigger delivery_stale on delivery`.execute(db);
  await sql`drop function mark_stale_delivery()`.execute(db);
  await sql`drop trigger row_link_stale_delete on row_link`.execute(db);
  await sql`drop trigger row_link_stale on row_link`.execute(db);
  await sql`drop function mark_stale_link()`.execute(db);
  await sql`alter table assessment_run drop column basis`.execute(db);
  await sql`drop table stale_delivery`.execute(db);
  await sql`drop table stale_person`.execute(db);
}
