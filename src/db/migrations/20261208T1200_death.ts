/**
 * A fifth source (issue 13): the health commission's 死亡人员名单. Each row says a
 * person died on a date; it ends every category on that date and keeps the person out
 * of outreach. Rows are facts, not a snapshot: a later list supersedes nothing.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table delivery drop constraint if exists delivery_source_check`.execute(db);
  await sql`alter table delivery add constraint delivery_source_check check (source in ('civil','rural','disability','settlement','death'))`.execute(db);
  await sql`
    create table death_row (
      delivery_id int not null,
      row_no int not null,
      died_on date,
      primary key (delivery_id, row_no)
    )`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table death_row`.execute(db);
  await sql`alter table delivery drop constraint delivery_source_check`.execute(db);
  await sql`alter table delivery add constraint delivery_source_check check (source in ('civil','rural','disability','settlement'))`.execute(db);
}
