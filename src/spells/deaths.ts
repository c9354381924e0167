/**
 * Deaths, from the health commission's 死亡人员名单 (issue 13): a person's date of death
 * is the earliest an accepted, readable, linked death-list row gives. Spells end there
 * (spells/run.ts); reports never list the person for contact (report/newly-eligible.ts).
 */
import { sql, type Kysely } from 'kysely';
import type { DB } from '../db/schema.js';
import { ofPersons } from '../db/scope.js';

/** person_id, died_on: one row per person who died. */
export const PERSON_DEATHS = sql`
  select l.person_id, min(r.died_on) as died_on
  from death_row r
  join source_row s on s.delivery_id = r.delivery_id and s.row_no = r.row_no and not s.rejected
  join row_link l on l.delivery_id = r.delivery_id and l.row_no = r.row_no and l.state = 'linked'
  join delivery d on d.id = r.delivery_id and d.status = 'accepted'
  where r.died_on is not null
  group by l.person_id`;

/** @param persons only these (null: everyone) */
export async function deathDates(k: Kysely<DB>, persons: readonly number[] | null = null): Promise<Map<number, string>> {
  const r = await sql<{ person_id: number; died_on: string }>`
    select person_id, died_on::text as died_on from (${PERSON_DEATHS}) x
    where true ${ofPersons(sql`person_id`, persons)}`.execute(k);
  return new Map(r.rows.map((x) => [x.person_id, x.died_on]));
}
