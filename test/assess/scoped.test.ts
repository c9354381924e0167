/**
 * Spells and assessment scoped to the persons a staff decision touched (issue 14's
 * first step): on the sample county, after a merge, a split, a confirmation and a
 * rejection, the scoped run ends exactly where a full run does. Proof: a full run
 * afterwards changes nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { SAMPLE_INBOX } from '../helpers/sample.js';
import { testContext } from '../helpers/context.js';
import { syncInProcess } from '../../src/jobs/local.js';
import { confirmLink, mergePersons, rejectLink, splitPerson } from '../../src/match/decisions.js';
import { applyPendingDecisions } from '../../src/match/apply-now.js';
import { runSpells } from '../../src/spells/run.js';
import { runAssessment } from '../../src/assess/run.js';
import { loadPolicy } from '../../src/policy/policy.js';

const policy = loadPolicy();
let db: TestDb;

beforeAll(async () => {
  db = await createTestDb();
  await syncInProcess(testContext(db.store), { inbox: SAMPLE_INBOX, requestedBy: 'test' });
}, 300_000);
afterAll(() => db?.drop());

/** What a run leaves: current spells, entitlements and open flags. */
async function state() {
  const spells = await sql`select person_id, category, source, valid_from::text, valid_to::text, explicit_end, first_listed::text
    from spell where superseded_at is null order by 1, 2, 3, 4`.execute(db.store.k);
  const ents = await sql`select settlement_id, person_id, category, base, entitled, paid, held, calc::text from entitlement order by 1`.execute(db.store.k);
  const flags = await sql`select scope, settlement_id, person_id, year, flag, reason, entitled, paid, amount
    from flag where withdrawn_at is null order by 1, 2, 3, 4, 5`.execute(db.store.k);
  return { spells: spells.rows, ents: ents.rows, flags: flags.rows };
}

/** Applies the decisions, runs spells and assessment for the persons touched, then a full run: which must change nothing. */
async function scopedEqualsFull() {
  const effect = await applyPendingDecisions(db.store);
  expect(effect.applied).toBe(true);
  expect(effect.persons.length).toBeGreaterThan(0);
  const spells = await runSpells(db.store, { persons: effect.persons });
  const assess = await runAssessment(db.store, policy, { persons: effect.persons });
  const scoped = await state();
  const fullSpells = await runSpells(db.store);
  const fullAssess = await runAssessment(db.store, policy);
  expect(await state()).toEqual(scoped);
  expect({ recorded: fullSpells.recorded, superseded: fullSpells.superseded }).toEqual({ recorded: 0, superseded: 0 });
  expect({ raised: fullAssess.flags.raised, withdrawn: fullAssess.flags.withdrawn }).toEqual({ raised: 0, withdrawn: 0 });
  return { spells, assess };
}

/** Two persons who each hold a category and have settlements: what a decision between them moves matters. */
async function personsWithSettlements(n: number): Promise<number[]> {
  const r = await sql<{ person_id: number }>`
    select e.person_id from entitlement e
    where e.person_id is not null and e.category is not null
    group by e.person_id order by count(*) desc, e.person_id limit ${n}`.execute(db.store.k);
  return r.rows.map((x) => x.person_id);
}

async function rowsOf(personId: number) {
  return db.store.k.selectFrom('row_link').select(['delivery_id as deliveryId', 'row_no as rowNo']).where('person_id', '=', personId).orderBy('delivery_id').orderBy('row_no').execute();
}

describe('spells and assessment for the persons a decision touched', () => {
  it('after a merge of two persons, equal a full run', async () => {
    const [a, b] = await personsWithSettlements(2);
    await mergePersons(db.store, a!, b!, 'caseworker-1');
    const { assess } = await scopedEqualsFull();
    expect(assess.settlements).toBeGreaterThan(0);
  });

  it('after a split of rows off a person, equal a full run', async () => {
    const [p] = await personsWithSettlements(1);
    const rows = await rowsOf(p!);
    await splitPerson(db.store, p!, rows.slice(0, Math.ceil(rows.length / 2)), 'caseworker-1');
    await scopedEqualsFull();
  });

  it('after a rejection (the row leaves) and a confirmation (it joins another), equal a full run', async () => {
    const [p, q] = await personsWithSettlements(3).then((x) => x.slice(1));
    const [row] = await rowsOf(p!);
    await rejectLink(db.store, row!, p!, 'caseworker-1');
    await scopedEqualsFull();
    await confirmLink(db.store, row!, q!, 'caseworker-1');
    await scopedEqualsFull();
  });
});
