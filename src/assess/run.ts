/**
 * An assessment run: every settlement assessed under the policy, and the flags that
 * follow (policy.md §3–4). Settlements are taken from the accepted deliveries: one per
 * 结算ID (the latest delivery wins), reversals and the settlements they reverse left
 * out. Results are written where they changed; flags are raised and withdrawn, never
 * edited away, so their history stays.
 *
 * A run scoped to some persons (after a staff decision moved their rows), or to the
 * persons marked stale (a sync: db/stale.ts), assesses and writes theirs alone, with the
 * persons a moved as-of date can touch: a person's entitlements and flags depend on their
 * own settlements and spells and on a basis shared by all (basis.ts), so it ends exactly
 * where a full run would. A run on another basis than the last assesses everyone.
 */
import { sql } from 'kysely';
import { ofPersons } from '../db/scope.js';
import { basisOf, personsToAssess, type EveryoneBecause } from './basis.js';
import { analyze, analyzeChanged, setRunMemory, type Store, type Tx } from '../db/store.js';
import { workTable } from '../db/work-table.js';
import type { Policy, Category } from '../policy/policy.js';
import { applyAgeOut, assessPerson, personYearFlags, settlementFlag, type Claim, type Holding } from '../policy/calculate.js';

export interface AssessStats {
  /** how many persons the run assessed, or everyone and why */
  scope: number | { everyone: EveryoneBecause };
  dataAsOf: string | null;
  settlements: number;
  assessed: number;
  withoutPerson: number;
  flags: { raised: number; withdrawn: number; open: number };
}

interface ClaimRow {
  settlement_id: string;
  delivery_id: number;
  row_no: number;
  person_id: number | null;
  service_date: string;
  settled_on: string | null;
  med_type: string | null;
  place: string | null;
  method: string | null;
  base: number;
  paid: number;
}

/**
 * One settlement per 结算ID, the latest delivery's; reversals and what they reverse left out (spec §7).
 * Scoped, every delivery of the settlements that are the persons' now or were before, and what
 * reverses them. The scoped rows are found by joins: an OR of two IN-lists is planned row by row
 * once the lists outgrow work_mem (a 200,000-person county's month: minutes instead of seconds).
 */
async function loadClaims(tx: Tx, persons: readonly number[] | null): Promise<ClaimRow[]> {
  const p = persons ? [...persons] : null;
  const r = await sql<ClaimRow>`
    with theirs_before as (
      ${p ? sql`select settlement_id from entitlement where person_id = any(${p})` : sql`select null::text as settlement_id where false`}
    ),
    ids as (
      ${p
        ? sql`select sr.settlement_id from row_link l join settlement_row sr on sr.delivery_id = l.delivery_id and sr.row_no = l.row_no
              where l.person_id = any(${p}) and sr.settlement_id is not null
              union select settlement_id from theirs_before`
        : sql`select null::text as settlement_id where false`}
    ),
    scoped_rows as (
      select sr.delivery_id, sr.row_no from settlement_row sr join ids i on i.settlement_id = sr.settlement_id
      union
      select sr.delivery_id, sr.row_no from settlement_row sr join ids i on i.settlement_id = sr.reversed_id
    ),
    delivered as (
      select sr.settlement_id, sr.reversed_id, sr.delivery_id, sr.row_no, d.as_of, d.file,
             case when l.state = 'linked' then l.person_id end as person_id,
             sr.ended_on, sr.settled_on, sr.med_type, sr.place, sr.method,
             sr.in_scope, sr.basic_paid, sr.critical_paid, sr.other_paid, sr.assistance_paid
      from settlement_row sr
      ${p ? sql`join scoped_rows x on x.delivery_id = sr.delivery_id and x.row_no = sr.row_no` : sql``}
      join source_row s on s.delivery_id = sr.delivery_id and s.row_no = sr.row_no
      join delivery d on d.id = sr.delivery_id and d.status = 'accepted' and d.source = 'settlement'
      left join row_link l on l.delivery_id = sr.delivery_id and l.row_no = sr.row_no
      where not s.rejected and sr.settlement_id is not null and sr.ended_on is not null
    ),
    latest as (
      select distinct on (settlement_id) * from delivered
      order by settlement_id, as_of desc, file desc, row_no desc
    )
    select c.settlement_id, c.delivery_id, c.row_no, c.person_id, c.ended_on::text as service_date, c.settled_on::text as settled_on,
           c.med_type, c.place, c.method,
           greatest(0, coalesce(c.in_scope, 0) - coalesce(c.basic_paid, 0) - coalesce(c.critical_paid, 0) - coalesce(c.other_paid, 0)) as base,
           coalesce(c.assistance_paid, 0) as paid
    from latest c
    ${p ? sql`left join theirs_before b on b.settlement_id = c.settlement_id` : sql``}
    where c.reversed_id is null
      -- a hashed subplan (the run's work_mem holds it): as an anti-join of the CTE with itself, a
      -- misjudged row count turned into a nested loop over every pair
      and c.settlement_id not in (select reversed_id from latest where reversed_id is not null)
      ${p
        ? // theirs now, or theirs before (a row a decision sent back to review belongs to nobody now)
          sql`and (c.person_id = any(${p}) or b.settlement_id is not null)`
        : sql``}
    order by c.person_id, c.settlement_id`.execute(tx.k);
  return r.rows;
}

/**
 * Why a person's categories are unknown, when they are: "unknown is not 'not eligible'"
 * (issue 13). A roster row of theirs that could not be read, or that sits in a snapshot
 * held in quarantine, may state a category; a roster file rejected as a whole, and not
 * yet followed by an accepted file of its source, may list anyone. A settlement paid
 * while the person holds no known category is then held with this reason, not flagged
 * overpaid; one with a known category is judged on it.
 */
async function unknownCategories(tx: Tx, persons: number[] | null): Promise<Map<number, string>> {
  const rows = await sql<{ person_id: number; file: string; row_no: number; held: boolean }>`
    select distinct on (l.person_id) l.person_id, d.file, s.row_no, d.status = 'quarantined' as held
    from source_row s
    join row_link l on l.delivery_id = s.delivery_id and l.row_no = s.row_no and l.state = 'linked' ${ofPersons(sql`l.person_id`, persons)}
    join delivery d on d.id = s.delivery_id and d.kind = 'snapshot'
    where d.status = 'quarantined' or (d.status = 'accepted' and s.rejected)
    order by l.person_id, d.as_of desc, d.file, s.row_no`.execute(tx.k);
  const byPerson = new Map(
    rows.rows.map((r) => [
      r.person_id,
      r.held ? `名册 ${r.file} 暂停使用（待放行或作废），其中有此人的记录：类别未定，暂不判断多支付` : `名册 ${r.file} 第 ${r.row_no} 行（此人的记录）无法读取：类别未定，暂不判断多支付`,
    ]),
  );
  return byPerson;
}

/** A roster file rejected as a whole and not yet followed by an accepted file of its source: everyone's categories are unknown. */
async function rejectedRoster(tx: Tx): Promise<string | null> {
  const rejected = await sql<{ file: string }>`
    select r.file from delivery r
    where r.status = 'rejected' and r.source in ('civil', 'rural', 'disability')
      and not exists (select 1 from delivery a where a.source = r.source and a.status in ('accepted', 'superseded') and a.received_at > r.received_at)
    order by r.received_at, r.file limit 1`.execute(tx.k);
  const file = rejected.rows[0]?.file;
  return file ? `名册文件 ${file} 被拒收，尚未重新报送：类别未定，暂不判断多支付` : null;
}

export interface AssessScope {
  /** only these persons' settlements */
  persons?: readonly number[] | undefined;
  /** only the persons marked stale (db/stale.ts); neither this nor `persons`: every settlement */
  changed?: boolean | undefined;
}

/** Persons assessed and to assess, reported every this many persons. */
const PROGRESS_EVERY = 5_000;
export type AssessProgress = (done: number, total: number) => void;

export async function runAssessment(store: Store, policy: Policy, scope: AssessScope = {}, onProgress?: AssessProgress): Promise<AssessStats> {
  return store.transaction(async (tx) => {
    await sql`select pg_advisory_xact_lock(hashtextextended('aidlink:assess', 0))`.execute(tx.k);
    await setRunMemory(store, tx);
    await analyzeChanged(tx, ['delivery', 'source_row', 'settlement_row', 'row_link', 'person', 'spell', 'entitlement', 'flag', 'stale_person']);
    const asOf = (await sql<{ as_of: string | null }>`select max(as_of)::text as as_of from delivery where status = 'accepted'`.execute(tx.k)).rows[0]!.as_of;
    const heldForEveryone = await rejectedRoster(tx);
    const basis = basisOf(policy, heldForEveryone);
    const whom = await personsToAssess(tx, policy, scope.persons ? { persons: scope.persons } : scope.changed ? 'changed' : 'everyone', basis, asOf);
    const scoped = 'persons' in whom ? whom.persons : null;
    const run = await tx.k
      .insertInto('assessment_run')
      .values({ policy: JSON.stringify({ name: policy.name, file: policy.file }), data_as_of: asOf, stats: null, basis: JSON.stringify(basis) })
      .returning('id')
      .executeTakeFirstOrThrow();

    const claims = await loadClaims(tx, scoped);
    const persons = [...new Set(claims.map((c) => c.person_id).filter((p): p is number => p !== null))];
    const spells = await sql<{ person_id: number; category: Category; valid_from: string; valid_to: string | null; first_listed: string | null }>`
      select person_id, category, valid_from::text as valid_from, valid_to::text as valid_to, first_listed::text as first_listed
      from spell where superseded_at is null and person_id = any(${persons})`.execute(tx.k);
    const births = await sql<{ id: number; birth_date: string | null }>`
      select id, birth_date::text as birth_date from person where id = any(${persons})`.execute(tx.k);
    const birthOf = new Map(births.rows.map((b) => [b.id, b.birth_date]));
    const holdingsOf = new Map<number, Holding[]>();
    for (const s of spells.rows) {
      (holdingsOf.get(s.person_id) ?? holdingsOf.set(s.person_id, []).get(s.person_id)!).push({
        category: s.category, validFrom: s.valid_from, validTo: s.valid_to, firstListed: s.first_listed,
      });
    }

    const unknownOf = await unknownCategories(tx, scoped);
    const entLines: string[] = [];
    const flagLines: string[] = [];
    const byPerson = new Map<number | null, ClaimRow[]>();
    for (const c of claims) (byPerson.get(c.person_id) ?? byPerson.set(c.person_id, []).get(c.person_id)!).push(c);
    let assessedCount = 0;
    let done = 0;
    for (const [personId, rows] of byPerson) {
      if (onProgress && done++ % PROGRESS_EVERY === 0) onProgress(done - 1, byPerson.size);
      const claimOf = new Map(rows.map((r) => [r.settlement_id, r]));
      const asClaim = (r: ClaimRow): Claim => ({
        settlementId: r.settlement_id, serviceDate: r.service_date, settledOn: r.settled_on, medType: r.med_type,
        base: r.base, paid: r.paid, place: r.place, method: r.method,
      });
      // a settlement whose row waits in identity review cannot be assessed: nobody's categories apply yet
      const holdings = personId === null ? [] : applyAgeOut(policy, holdingsOf.get(personId) ?? [], birthOf.get(personId) ?? null);
      const assessments = assessPerson(policy, rows.map(asClaim), holdings);
      for (const a of assessments) {
        const r = claimOf.get(a.settlementId)!;
        if (a.assessed) assessedCount++;
        const f = personId === null ? null : settlementFlag(policy, a, asClaim(r));
        // paid while entitled to nothing, and the roster that may give the person a category is unknown: held, not flagged
        const held = f?.flag === 'overpaid' && a.category === null ? (unknownOf.get(personId!) ?? heldForEveryone) : null;
        entLines.push(DESIRED_ENTITLEMENT.line({
          settlement_id: a.settlementId, person_id: personId, delivery_id: r.delivery_id, row_no: r.row_no, service_date: a.serviceDate,
          settled_on: r.settled_on, year: a.year, med_type: r.med_type, category: a.category, base: a.base, entitled: a.entitled,
          paid: a.paid, assessed: a.assessed, calc: JSON.stringify(a.calc), held,
        }));
        if (f && !held) {
          flagLines.push(DESIRED_FLAG.line({
            scope: 'settlement', settlement_id: a.settlementId, person_id: personId, year: a.year, flag: f.flag, reason: f.reason,
            entitled: a.entitled, paid: a.paid, amount: a.entitled - a.paid,
          }));
        }
      }
      if (personId === null || !asOf) continue;
      for (const f of personYearFlags(policy, assessments, holdings, asOf)) {
        flagLines.push(DESIRED_FLAG.line({ scope: 'person_year', settlement_id: null, person_id: personId, year: f.year, flag: f.flag, reason: null, entitled: null, paid: null, amount: f.amount }));
      }
    }

    await writeEntitlements(tx, run.id, entLines, scoped);
    const flags = await writeFlags(tx, run.id, flagLines, asOf, scoped);
    if (!scoped) {
      // everyone's rewritten: statistics now, or the next scoped run's plans guess (autovacuum may be off)
      await analyze(tx, 'entitlement');
      await analyze(tx, 'flag');
    }
    const stats: AssessStats = {
      scope: 'persons' in whom ? whom.persons.length : whom,
      dataAsOf: asOf,
      settlements: claims.length,
      assessed: assessedCount,
      withoutPerson: byPerson.get(null)?.length ?? 0,
      flags,
    };
    await tx.k.updateTable('assessment_run').set({ finished_at: new Date(), stats: JSON.stringify(stats) }).where('id', '=', run.id).execute();
    return stats;
  });
}

/** What a run assesses each settlement to, and the flags that follow, before they are compared with those recorded. */
const DESIRED_ENTITLEMENT = workTable('desired_entitlement', {
  settlement_id: 'text', person_id: 'int', delivery_id: 'int', row_no: 'int', service_date: 'date', settled_on: 'date', year: 'int',
  med_type: 'text', category: 'text', base: 'bigint', entitled: 'bigint', paid: 'bigint', assessed: 'boolean', calc: 'jsonb', held: 'text',
});
const DESIRED_FLAG = workTable('desired_flag', {
  scope: 'text', settlement_id: 'text', person_id: 'int', year: 'int', flag: 'text', reason: 'text', entitled: 'bigint', paid: 'bigint', amount: 'bigint',
});

async function writeEntitlements(tx: Tx, runId: number, lines: string[], persons: number[] | null): Promise<void> {
  await DESIRED_ENTITLEMENT.fill(tx, lines);
  const cols = Object.keys(DESIRED_ENTITLEMENT.columns);
  await sql`
    delete from entitlement e
    where not exists (select 1 from desired_entitlement d where d.settlement_id = e.settlement_id) ${ofPersons(sql`e.person_id`, persons)}`.execute(tx.k);
  await sql`
    insert into entitlement (${sql.join(cols.map((c) => sql.ref(c)))}, run_id)
    select ${sql.join(cols.map((c) => sql.ref(`d.${c}`)))}, ${runId} from desired_entitlement d
    on conflict (settlement_id) do update set
      person_id = excluded.person_id, delivery_id = excluded.delivery_id, row_no = excluded.row_no,
      service_date = excluded.service_date, settled_on = excluded.settled_on, year = excluded.year,
      med_type = excluded.med_type, category = excluded.category, base = excluded.base, entitled = excluded.entitled,
      paid = excluded.paid, assessed = excluded.assessed, calc = excluded.calc, held = excluded.held, run_id = excluded.run_id
    where (entitlement.person_id, entitlement.delivery_id, entitlement.row_no, entitlement.category, entitlement.base,
           entitlement.entitled, entitlement.paid, entitlement.assessed, entitlement.calc, entitlement.held)
          is distinct from
          (excluded.person_id, excluded.delivery_id, excluded.row_no, excluded.category, excluded.base,
           excluded.entitled, excluded.paid, excluded.assessed, excluded.calc, excluded.held)`.execute(tx.k);
}

/** Raises the flags that newly hold, withdraws those that no longer do, updates the rest in place. */
async function writeFlags(tx: Tx, runId: number, lines: string[], asOf: string | null, persons: number[] | null): Promise<AssessStats['flags']> {
  await DESIRED_FLAG.fill(tx, lines);
  // a flag is the same flag when it is about the same settlement, or the same person-year
  const same = sql`d.scope = f.scope and d.flag = f.flag and (
    (f.scope = 'settlement' and d.settlement_id = f.settlement_id) or
    (f.scope = 'person_year' and d.person_id = f.person_id and d.year = f.year))`;
  const withdrawn = await sql`
    update flag f set withdrawn_at = now(), withdrawn_run = ${runId},
      withdrawn_reason = case
        when f.scope = 'person_year' then 'no_longer_holds'
        when exists (select 1 from settlement_row sr join delivery d on d.id = sr.delivery_id and d.status = 'accepted'
                     where sr.reversed_id = f.settlement_id) then 'reversed'
        when not exists (select 1 from entitlement e where e.settlement_id = f.settlement_id) then 'not_in_data'
        else 'no_longer_holds' end
    where f.withdrawn_at is null ${ofPersons(sql`f.person_id`, persons)} and not exists (select 1 from desired_flag d where ${same})`.execute(tx.k);
  await sql`
    update flag f set person_id = d.person_id, reason = d.reason, entitled = d.entitled, paid = d.paid, amount = d.amount, updated_at = now()
    from desired_flag d
    where f.withdrawn_at is null and ${same}
      and (f.person_id, f.reason, f.entitled, f.paid, f.amount) is distinct from (d.person_id, d.reason, d.entitled, d.paid, d.amount)`.execute(tx.k);
  const raised = await sql`
    insert into flag (scope, settlement_id, person_id, year, flag, reason, entitled, paid, amount, raised_run, raised_data_as_of)
    select d.scope, d.settlement_id, d.person_id, d.year, d.flag, d.reason, d.entitled, d.paid, d.amount, ${runId}, ${asOf}::date
    from desired_flag d
    where not exists (select 1 from flag f where f.withdrawn_at is null and ${same})`.execute(tx.k);
  const open = await sql<{ n: number }>`select count(*)::int as n from flag where withdrawn_at is null`.execute(tx.k);
  return { raised: Number(raised.numAffectedRows ?? 0), withdrawn: Number(withdrawn.numAffectedRows ?? 0), open: open.rows[0]!.n };
}
