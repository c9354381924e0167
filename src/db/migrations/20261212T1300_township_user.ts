/**
 * Township staff (乡镇经办, issue 19): a role outside the ranked ones, bound to one
 * township, whose cases alone they see (server/auth.ts, console/pages/worklist.ts). The
 * township is required for them and left empty for everyone else, so a township user
 * can never exist without the township that limits them.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table app_user add column township text`.execute(db);
  await sql`alter table app_user drop constraint app_user_role_check`.execute(db);
  await sql`alter table app_user add constraint app_user_role_check check (role in ('viewer', 'caseworker', 'supervisor', 'admin', 'township'))`.execute(db);
  await sql`
    alter table app_user add constraint app_user_township_check
      check (case when role = 'township' then coalesce(btrim(township), '') <> '' else township is null end)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  // the earlier schema has no place for township staff: they go, with their sessions
  await sql`delete from app_session where user_id in (select id from app_user where role = 'township')`.execute(db);
  await sql`delete from app_user where role = 'township'`.execute(db);
  await sql`alter table app_user drop constraint app_user_township_check`.execute(db);
  await sql`alter table app_user drop constraint app_user_role_check`.execute(db);
  await sql`alter table app_user add constraint app_user_role_check check (role in ('viewer', 'caseworker', 'supervisor', 'admin'))`.execute(db);
  await sql`alter table app_user drop column township`.execute(db);
}
