/**
 * A county at the worklist's scale (issue 19), written straight into the tables: 30,000
 * persons in 12 townships, 50,000 open flags and their pending cases (persons 1…1,000 one
 * case each, the others two or more). Synthetic; for test/outreach/worklist-speed.test.ts
 * and `npm run bench:console`.
 */
import { sql } from 'kysely';
import type { AppContext } from '../../src/context.js';

export const WORKLIST_COUNTY = { persons: 30_000, cases: 50_000, townships: 12 } as const;

export async function fillWorklistCounty(app: AppContext): Promise<void> {
  const { persons: PERSONS, cases: CASES, townships: TOWNSHIPS } = WORKLIST_COUNTY;
  const db = app.store.k;
  await sql`
    insert into person (id, person_key, golden, name, id_number, township, village)
    select i, 'p' || i, jsonb_build_object('phone', jsonb_build_object('value', (13800000000 + i)::text)),
           '测试' || i, '520203' || lpad(i::text, 12, '0'),
           '镇' || (i % ${TOWNSHIPS}), '村' || (i % 7)
    from generate_series(1, ${PERSONS}) i`.execute(db);
  await sql`select setval(pg_get_serial_sequence('person', 'id'), ${PERSONS})`.execute(db);
  await sql`
    insert into spell (person_id, category, source, valid_from, explicit_end)
    select i, (array['dibao', 'destitute', 'monitored', 'lifted'])[1 + i % 4], 'civil', date '2024-01-01', false
    from generate_series(1, ${PERSONS}) i`.execute(db);
  // persons 1…1,000 have one case each; persons 1,001… have the rest, two or more each
  await sql`
    with n as (select g, case when g <= ${PERSONS} then g else 1001 + (g - ${PERSONS} - 1) % (${PERSONS} - 1000) end as person_id from generate_series(1, ${CASES}) g)
    insert into flag (id, scope, settlement_id, person_id, flag, amount, entitled, paid)
    select g, 'settlement', 'S' || g, person_id, (array['unclaimed', 'underpaid', 'high_burden', 'potential_catastrophic'])[1 + g % 4],
           1000 + (g * 7919) % 500000, 1000 + (g * 7919) % 500000, 0
    from n`.execute(db);
  await sql`select setval(pg_get_serial_sequence('flag', 'id'), ${CASES})`.execute(db);
  await sql`
    insert into outreach_case (flag_id, person_id, township, village, status, kind, settled_on, amount, opened_month)
    select f.id, f.person_id, p.township, p.village, 'pending', f.flag, date '2025-01-01' + (f.id % 600)::int, f.amount, '2026-11'
    from flag f join person p on p.id = f.person_id`.execute(db);
  await sql`insert into case_event (case_id, actor, from_status, to_status) select id, 'system', null, 'pending' from outreach_case`.execute(db);
  for (const t of ['person', 'spell', 'flag', 'outreach_case', 'case_event']) await sql`analyze ${sql.table(t)}`.execute(db);
}
