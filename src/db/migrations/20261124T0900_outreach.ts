/**
 * Outreach and the staff console: what each report held, the cases staff follow
 * until the assistance is paid, sessions, login throttling and the audit log.
 * Roles become viewer / caseworker / supervisor / admin (the earlier `staff` is a
 * caseworker).
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table app_user drop constraint app_user_role_check`.execute(db);
  await sql`update app_user set role = 'caseworker' where role = 'staff'`.execute(db);
  await sql`alter table app_user add constraint app_user_role_check check (role in ('viewer', 'caseworker', 'supervisor', 'admin'))`.execute(db);

  // the flags each report held: "new since the previous report" is "in no report yet"
  await sql`
    create table report_item (
      report_run_id int not null references report_run(id),
      flag_id bigint not null references flag(id),
      person_id int not null references person(id),
      -- the person was in no earlier report
      new_person boolean not null,
      primary key (report_run_id, flag_id)
    )`.execute(db);
  await sql`create index report_item_flag on report_item (flag_id)`.execute(db);
  await sql`create index report_item_person on report_item (person_id)`.execute(db);

  // one case per outreach flag, followed by township staff until the assistance is paid
  await sql`
    create table outreach_case (
      id serial primary key,
      flag_id bigint not null unique references flag(id),
      person_id int not null references person(id),
      township text,
      village text,
      status text not null check (status in ('pending', 'dispatched', 'contacted', 'applied', 'paid', 'unreachable', 'declined', 'withdrawn')),
      -- what the flag was worth when the case opened, what had been paid then, and what was paid since (fen)
      amount bigint not null,
      paid_at_open bigint not null default 0,
      recovered bigint not null default 0,
      opened_at timestamptz not null default now(),
      -- the month the case counts in (county time), for the metrics
      opened_month text not null,
      updated_at timestamptz not null default now(),
      closed_at timestamptz,
      -- 'staff' or 'data' (a later delivery showed it paid, or the flag was withdrawn)
      closed_by text
    )`.execute(db);
  await sql`create index outreach_case_township on outreach_case (township, status)`.execute(db);
  await sql`create index outreach_case_person on outreach_case (person_id)`.execute(db);
  await sql`
    create table case_event (
      id bigserial primary key,
      case_id int not null references outreach_case(id),
      at timestamptz not null default now(),
      actor text not null,
      from_status text,
      to_status text not null,
      note text
    )`.execute(db);
  await sql`create index case_event_case on case_event (case_id, at)`.execute(db);

  // sessions of the console: the cookie holds a random token, the table its hash
  await sql`
    create table app_session (
      token_hash text primary key,
      user_id int not null references app_user(id),
      csrf_token text not null,
      created_at timestamptz not null default now(),
      last_seen_at timestamptz not null default now(),
      expires_at timestamptz not null,
      ip text
    )`.execute(db);
  await sql`create index app_session_user on app_session (user_id)`.execute(db);

  // failed sign-ins, for throttling (per user name and per address)
  await sql`
    create table login_failure (
      id bigserial primary key,
      username text not null,
      ip text,
      at timestamptz not null default now()
    )`.execute(db);
  await sql`create index login_failure_username on login_failure (username, at)`.execute(db);
  await sql`create index login_failure_ip on login_failure (ip, at)`.execute(db);

  // who saw or took what: every unmasked view, every export and download, every change
  await sql`
    create table audit_log (
      id bigserial primary key,
      at timestamptz not null default now(),
      actor text not null,
      action text not null,
      -- what it was about: a person id, a report run, a delivery, a case (never a name or an id number)
      subject text,
      detail jsonb,
      ip text
    )`.execute(db);
  await sql`create index audit_log_at on audit_log (at)`.execute(db);
  await sql`create index audit_log_action on audit_log (action, at)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const t of ['audit_log', 'login_failure', 'app_session', 'case_event', 'outreach_case', 'report_item']) await sql`drop table if exists ${sql.table(t)}`.execute(db);
  await sql`alter table app_user drop constraint app_user_role_check`.execute(db);
  await sql`update app_user set role = 'staff' where role in ('caseworker', 'supervisor')`.execute(db);
  await sql`alter table app_user add constraint app_user_role_check check (role in ('viewer', 'staff', 'admin'))`.execute(db);
}
