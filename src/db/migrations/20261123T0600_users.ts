/**
 * Who may use the HTTP server and the operations view. Passwords are stored as
 * scrypt hashes (src/server/users.ts), never in clear.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table app_user (
      id serial primary key,
      username text not null unique,
      password_hash text not null,
      -- viewer: sees jobs and queues; staff: also starts syncs and rematches; admin: also retries and removes jobs
      role text not null check (role in ('viewer', 'staff', 'admin')),
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      disabled_at timestamptz
    )`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table if exists app_user`.execute(db);
}
