/**
 * "Newly eligible people to contact" (policy.md §4): the open unclaimed, underpaid,
 * potential_catastrophic and high_burden flags first raised since the previous
 * report, grouped by township, then village. "Since the previous report" is kept
 * exactly: each report records the flags it held (report_item), and a flag is new
 * until a report has held it. A person who was in an earlier report comes back only
 * with a new flag, marked as known (新增人员：否), never as a new person.
 *
 * Written as XLSX (a sheet per township and a summary) and CSV; id numbers masked
 * unless an authorised user asks (and that is audited by the caller).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'kysely';
import type { Store, Tx } from '../db/store.js';
import { shownAs, type Disclosure } from '../privacy.js';
import { CATEGORY_LABEL, type Category } from '../policy/policy.js';
import { FLAG_LABEL, OUTREACH_FLAGS, REASON_LABEL } from '../assess/labels.js';
import { PERSON_DEATHS } from '../spells/deaths.js';
import { countyStamp } from '../util/time.js';
import { writeNewlyEligibleCsv, writeNewlyEligibleXlsx } from './formats.js';
import type { NewlyEligibleReport, ReportItem } from './types.js';

interface ItemRow {
  flag_id: number;
  township: string | null;
  village: string | null;
  person_id: number;
  name: string | null;
  id_number: string | null;
  phone: string | null;
  categories: string[] | null;
  new_person: boolean;
  flag: string;
  reason: string | null;
  settlement_id: string | null;
  institution: string | null;
  began_on: string | null;
  ended_on: string | null;
  year: number | null;
  base: number | null;
  entitled: number | null;
  paid: number | null;
  amount: number;
}

/**
 * The report lines for the chosen flags: the open outreach flags no report has held
 * yet (and whether their person was ever reported), or the flags one report held.
 */
async function itemRows(k: Tx['k'] | Store['k'], chosen: { unreported: true } | { runId: number }): Promise<ItemRow[]> {
  const flags =
    'runId' in chosen
      ? sql`select flag_id, new_person from report_item where report_run_id = ${chosen.runId}`
      : sql`select f.id as flag_id, not exists (select 1 from report_item ri where ri.person_id = f.person_id) as new_person
            from flag f
            where f.withdrawn_at is null and f.flag = any(${[...OUTREACH_FLAGS]})
              and not exists (select 1 from report_item ri where ri.flag_id = f.id)
              -- a person who died is nobody to contact (a death list says so)
              and f.person_id not in (select person_id from (${PERSON_DEATHS}) deaths)`;
  const r = await sql<ItemRow>`
    with chosen as (${flags})
    select f.id as flag_id, p.township, p.village, p.id as person_id, p.name, p.id_number, p.golden->'phone'->>'value' as phone,
           (select array_agg(distinct s.category order by s.category) from spell s where s.person_id = p.id and s.superseded_at is null and s.valid_to is null) as categories,
           c.new_person, f.flag, f.reason, f.settlement_id, sr.institution_name as institution, sr.began_on::text as began_on,
           e.service_date::text as ended_on, f.year, e.base, e.entitled, e.paid,
           coalesce(f.amount, e.entitled - e.paid, 0) as amount
    from chosen c
    join flag f on f.id = c.flag_id
    join person p on p.id = f.person_id
    left join entitlement e on e.settlement_id = f.settlement_id
    left join settlement_row sr on sr.delivery_id = e.delivery_id and sr.row_no = e.row_no
    order by p.township nulls last, p.village nulls last, p.id, f.settlement_id nulls last, f.year nulls last, f.flag`.execute(k);
  return r.rows;
}

/**
 * What a report file shows: its readers are the staff who contact people (caseworkers and
 * up, server/users.ts `disclosureFor`), so phones in full; id numbers only when unmasked.
 */
const REPORT_READER: Disclosure = { fullIdNumbers: false, fullPhones: true };

function toItem(r: ItemRow, d: Disclosure): ReportItem {
  const show = shownAs(d);
  return {
    township: r.township,
    village: r.village,
    personId: r.person_id,
    name: r.name,
    idNumber: show.id(r.id_number),
    phone: r.phone === null ? null : show.phone(r.phone),
    categories: (r.categories ?? []).map((c) => CATEGORY_LABEL[c as Category] ?? c),
    newPerson: r.new_person,
    flag: r.flag,
    flagLabel: FLAG_LABEL[r.flag] ?? r.flag,
    reason: r.reason,
    reasonLabel: r.reason ? (REASON_LABEL[r.reason] ?? r.reason) : null,
    settlementId: r.settlement_id,
    institution: r.institution,
    beganOn: r.began_on,
    endedOn: r.ended_on,
    year: r.year,
    base: r.base === null ? null : Number(r.base),
    entitled: r.entitled === null ? null : Number(r.entitled),
    paid: r.paid === null ? null : Number(r.paid),
    amount: Number(r.amount),
  };
}

export interface ReportRunResult {
  runId: number;
  files: { xlsx: string; csv: string };
  persons: number;
  newPersons: number;
  flags: number;
  total: number;
}

/**
 * Makes the next report: takes the flags no report has held, records them as this
 * run's, and writes the files. One report at a time (an advisory lock), so two runs
 * never both claim the same flags; the run is recorded only if its files were written.
 */
export async function writeNewlyEligibleReport(
  store: Store,
  opts: { dir: string; requestedBy: string; unmasked?: boolean; now?: Date; county?: string | undefined },
): Promise<ReportRunResult> {
  mkdirSync(opts.dir, { recursive: true });
  return store.transaction(async (tx) => {
    await sql`select pg_advisory_xact_lock(hashtextextended('aidlink:report', 0))`.execute(tx.k);
    const previous = await tx.k.selectFrom('report_run').select('created_at').where('kind', '=', 'newly-eligible').orderBy('id', 'desc').executeTakeFirst();
    const dataAsOf = (await sql<{ as_of: string | null }>`select max(as_of)::text as as_of from delivery where status = 'accepted'`.execute(tx.k)).rows[0]!.as_of;
    const rows = await itemRows(tx.k, { unreported: true });
    const items = rows.map((r) => toItem(r, { ...REPORT_READER, fullIdNumbers: opts.unmasked === true }));
    const persons = new Set(items.map((i) => i.personId));
    const newPersons = new Set(items.filter((i) => i.newPerson).map((i) => i.personId));
    const total = items.reduce((s, i) => s + i.amount, 0);
    const createdAt = opts.now ?? new Date();
    const run = await tx.k
      .insertInto('report_run')
      .values({ kind: 'newly-eligible', created_at: createdAt, requested_by: opts.requestedBy, since: previous?.created_at ?? null, data_as_of: dataAsOf, persons: persons.size, flags: items.length, total, files: '[]' })
      .returning('id')
      .executeTakeFirstOrThrow();
    if (rows.length) {
      await tx.k.insertInto('report_item').values(rows.map((r) => ({ report_run_id: run.id, flag_id: r.flag_id, person_id: r.person_id, new_person: r.new_person }))).execute();
    }
    const report: NewlyEligibleReport = { runId: run.id, createdAt, since: previous?.created_at ?? null, dataAsOf, items, persons: persons.size, newPersons: newPersons.size, total };
    const base = join(opts.dir, `newly-eligible-${countyStamp(createdAt)}-${run.id}${opts.unmasked ? '-unmasked' : ''}`);
    const files = { xlsx: `${base}.xlsx`, csv: `${base}.csv` };
    await writeNewlyEligibleXlsx(report, files.xlsx, { county: opts.county });
    await writeNewlyEligibleCsv(report, files.csv);
    await tx.k.updateTable('report_run').set({ files: JSON.stringify([files.xlsx, files.csv]) }).where('id', '=', run.id).execute();
    return { runId: run.id, files, persons: persons.size, newPersons: newPersons.size, flags: items.length, total };
  });
}

/** A report already made, read again (for a download with id numbers shown, say): the items it held, as they are now. */
export async function reportItems(store: Store, runId: number, disclosure: Disclosure = REPORT_READER): Promise<NewlyEligibleReport | undefined> {
  const run = await store.k.selectFrom('report_run').selectAll().where('id', '=', runId).executeTakeFirst();
  if (!run) return undefined;
  const rows = await itemRows(store.k, { runId });
  const items = rows.map((row) => toItem(row, disclosure));
  return {
    runId,
    createdAt: run.created_at,
    since: run.since,
    dataAsOf: run.data_as_of,
    items,
    persons: new Set(items.map((i) => i.personId)).size,
    newPersons: new Set(items.filter((i) => i.newPerson).map((i) => i.personId)).size,
    total: items.reduce((s, i) => s + i.amount, 0),
  };
}
