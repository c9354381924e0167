/**
 * The worklist by person (issue 19): one more step in a case's flow, 已接收 received, when
 * the township acknowledges the list sent down to it (待下放 → 已下放 → 已接收 → 已联系 → …);
 * and what the worklist sorts and filters by, kept on the case so that the list is one
 * scan of outreach_case: the flag's kind and the settlement's date (null for a person-year flag).
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table outreach_case drop constraint outreach_case_status_check`.execute(db);
  await sql`alter table outreach_case add constraint outreach_case_status_check
    check (status in ('pending', 'dispatched', 'received', 'contacted', 'applied', 'paid', 'unreachable', 'declined', 'withdrawn'))`.execute(db);
  await sql`alter table outreach_case add column kind text, add column settled_on date`.execute(db);
  await sql`
    update outreach_case c set kind = f.flag, settled_on = coalesce(e.settled_on, e.service_date)
    from flag f left join entitlement e on e.settlement_id = f.settlement_id
    where f.id = c.flag_id`.execute(db);
  await sql`alter table outreach_case alter column kind set not null`.execute(db);
  // the open cases of a person, and of a township, as the worklist and the bulk moves read them
  await sql`create index outreach_case_open on outreach_case (person_id) where status not in ('paid', 'declined', 'withdrawn')`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop index if exists outreach_case_open`.execute(db);
  await sql`update outreach_case set status = 'dispatched' where status = 'received'`.execute(db);
  await sql`alter table outreach_case drop column kind, drop column settled_on`.execute(db);
  await sql`alter table outreach_case drop constraint outreach_case_status_check`.execute(db);
  await sql`alter table outreach_case add constraint outreach_case_status_check
    check (status in ('pending', 'dispatched', 'contacted', 'applied', 'paid', 'unreachable', 'declined', 'withdrawn'))`.execute(db);
}
