/**
 * A sync's spells and assessment for the persons its changes touched (issue 14): the
 * database marks them (db/stale.ts), the runs claim the marks. On the sample county,
 * after each of a new month's deliveries, a staff merge and a split, a quarantine
 * release and a policy change, the scoped runs end exactly where a full recompute does.
 * Proof: a full run afterwards changes nothing (no spell recorded or superseded, no
 * flag raised or withdrawn, the same entitlements, flags and cases).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { sql } from 'kysely';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { SAMPLE_INBOX } from '../helpers/sample.js';
import { CIVIL_HEADER, civilRow, inbox, makeId, SETTLEMENT_HEADER } from '../helpers/fixtures.js';
import { testContext } from '../helpers/context.js';
import { syncInProcess } from '../../src/jobs/local.js';
import { mergePersons, splitPerson } from '../../src/match/decisions.js';
import { applyPendingDecisions } from '../../src/match/apply-now.js';
import { decideQuarantine } from '../../src/ingest/deliveries.js';
import { runSpells } from '../../src/spells/run.js';
import { runAssessment, type AssessStats } from '../../src/assess/run.js';
import { updateCases } from '../../src/outreach/cases.js';
import { DEFAULT_POLICY_FILE, parsePolicy, type Policy } from '../../src/policy/policy.js';
import type { AppContext } from '../../src/context.js';

let db: TestDb;
let app: AppContext;
let persons = 0;

beforeAll(async () => {
  db = await createTestDb();
  app = testContext(db.store);
  // every delivery up to August 2026; the months after it come in the first test
  const first = await syncInProcess(app, { inbox: SAMPLE_INBOX, until: '2026-08-31', requestedBy: 'test' });
  expect(first.assessment.scope).toEqual({ everyone: 'first run' });
}, 300_000);
afterAll(() => db?.drop());

/** What the runs leave: current spells, entitlements, every flag with its state, and the cases. */
async function state() {
  const k = db.store.k;
  const spells = await sql`select person_id, category, source, valid_from::text, valid_to::text, explicit_end, first_listed::text
    from spell where superseded_at is null order by 1, 2, 3, 4`.execute(k);
  const ents = await sql`select settlement_id, person_id, category, base, entitled, paid, assessed, held, calc::text from entitlement order by 1`.execute(k);
  const flags = await sql`select scope, settlement_id, person_id, year, flag, reason, entitled, paid, amount, withdrawn_at is null as open, withdrawn_reason
    from flag order by 1, 2, 3, 4, 5, 10, 11`.execute(k);
  const cases = await sql`select flag_id, status, recovered from outreach_case order by 1`.execute(k);
  return { spells: spells.rows, ents: ents.rows, flags: flags.rows, cases: cases.rows };
}

/** A full recompute from here must change nothing. */
async function fullChangesNothing(policy: Policy = app.policy) {
  const scoped = await state();
  const spells = await runSpells(db.store);
  const assess = await runAssessment(db.store, policy);
  const cases = await updateCases(db.store);
  expect({ recorded: spells.recorded, superseded: spells.superseded }).toEqual({ recorded: 0, superseded: 0 });
  expect({ raised: assess.flags.raised, withdrawn: assess.flags.withdrawn }).toEqual({ raised: 0, withdrawn: 0 });
  expect(cases).toMatchObject({ opened: 0 });
  expect(await state()).toEqual(scoped);
  // nothing is left marked once everyone was assessed
  expect(await db.store.k.selectFrom('stale_person').select('person_id').execute()).toEqual([]);
}

/** Spells and assessment as a sync runs them after its match, then the cases. */
async function changedRuns(policy: Policy = app.policy): Promise<AssessStats> {
  const spells = await runSpells(db.store, { changed: true });
  const assess = await runAssessment(db.store, policy, { changed: true });
  await updateCases(db.store);
  expect(typeof spells.scope).toBe('number');
  return assess;
}

function expectScoped(a: AssessStats) {
  expect(a.scope, JSON.stringify(a.scope)).toBeTypeOf('number');
  expect(a.scope as number).toBeGreaterThan(0);
  expect(a.scope as number).toBeLessThan(persons);
}

async function personsWithSettlements(n: number): Promise<number[]> {
  const r = await sql<{ person_id: number }>`
    select e.person_id from entitlement e where e.person_id is not null and e.category is not null
    group by e.person_id order by count(*) desc, e.person_id limit ${n}`.execute(db.store.k);
  return r.rows.map((x) => x.person_id);
}

describe('a scoped sync equals a full recompute', () => {
  it('after a new month\'s deliveries', async () => {
    const next = await syncInProcess(app, { inbox: SAMPLE_INBOX, requestedBy: 'test' });
    expect(next.scan.queued).toBeGreaterThan(0);
    persons = (await sql<{ n: number }>`select count(*)::int as n from person`.execute(db.store.k)).rows[0]!.n;
    expectScoped(next.assessment);
    await fullChangesNothing();
  });

  it('after a staff merge, and after a split', async () => {
    const [a, b] = await personsWithSettlements(2);
    await mergePersons(db.store, a!, b!, 'caseworker-1');
    expect((await applyPendingDecisions(db.store)).applied).toBe(true);
    expectScoped(await changedRuns());
    await fullChangesNothing();

    const [p] = await personsWithSettlements(1);
    const rows = await db.store.k.selectFrom('row_link').select(['delivery_id as deliveryId', 'row_no as rowNo']).where('person_id', '=', p!).orderBy('delivery_id').orderBy('row_no').execute();
    await splitPerson(db.store, p!, rows.slice(0, Math.ceil(rows.length / 2)), 'caseworker-1');
    expect((await applyPendingDecisions(db.store)).applied).toBe(true);
    expectScoped(await changedRuns());
    await fullChangesNothing();
  });

  it('after a quarantine release', async () => {
    const held = await db.store.k.selectFrom('delivery').select('id').where('status', '=', 'quarantined').execute();
    expect(held.length).toBeGreaterThan(0);
    for (const d of held) await decideQuarantine(db.store, d.id, 'release', 'caseworker-1');
    expectScoped(await changedRuns());
    await fullChangesNothing();
  });

  it('after a policy change: everyone, on the new policy', async () => {
    const doc = parseYaml(readFileSync(DEFAULT_POLICY_FILE, 'utf8'), { schema: 'core' }) as { thresholds: Record<string, number> };
    doc.thresholds.high_burden = 5000;
    const changed = parsePolicy(doc, 'changed-policy.yaml');
    const before = await state();
    const a = await changedRuns(changed);
    expect(a.scope).toEqual({ everyone: 'policy changed' });
    expect(await state()).not.toEqual(before); // a lower threshold flags more person-years
    await fullChangesNothing(changed);
    // the same policy from another file is the same basis: nothing to redo
    expect((await runAssessment(db.store, parsePolicy(doc, 'elsewhere.yaml'), { changed: true })).scope).toBe(0);
  });
});

describe('the data\'s as-of date moving', () => {
  it('re-assesses the persons whose person-year flags it cuts, though none of their data changed', async () => {
    const own = await createTestDb();
    const ownApp = testContext(own.store);
    try {
      const box = inbox();
      const a = { name: '甲未到', id: makeId('1960-03-03', 11) };
      const b = { name: '乙另人', id: makeId('1970-05-05', 23) };
      // 甲 is recognised as 低保 from 2026-03-15, a date the January roster already gives
      const others = Array.from({ length: 8 }, (_, i) => ({ name: `丙其他${i}`, id: makeId('1980-01-01', 101 + i * 2) }));
      box.put('civil/civil_20260131.csv', {
        header: CIVIL_HEADER,
        rows: [civilRow(a.name, a.id, { recognised: '2026-03-15' }), ...[b, ...others].map((p) => civilRow(p.name, p.id))],
      });
      // 30,000.00 of costs in February, while 甲 held nothing: a potential catastrophic burden for 2026 so far
      const stay = (id: string, who: typeof a, day: string) =>
        [id, '', `P${id}`, who.name, who.id, '21', '本地', day, day, day, '30000', '0', '30000', '0', '0', '0', '一站式'];
      box.put('settlement/settlement_20260228.csv', { header: SETTLEMENT_HEADER, rows: [stay('S1', a, '2026-02-20')] });
      await syncInProcess(ownApp, { inbox: box.root, requestedBy: 'test' });
      const flagsOf = () => sql<{ flag: string; open: boolean }>`
        select f.flag, f.withdrawn_at is null as open from flag f join person p on p.id = f.person_id
        where f.scope = 'person_year' and p.id_number = ${a.id} order by f.id`.execute(own.store.k).then((r) => r.rows);
      expect(await flagsOf()).toEqual([{ flag: 'potential_catastrophic', open: true }]);

      // March's settlements are 乙's alone; the data now reaches past 2026-03-15, when 甲 held 低保
      box.put('settlement/settlement_20260331.csv', { header: SETTLEMENT_HEADER, rows: [stay('S2', b, '2026-03-20')] });
      const next = await syncInProcess(ownApp, { inbox: box.root, requestedBy: 'test' });
      expect(next.assessment.scope).toBeTypeOf('number');
      expect(await flagsOf()).toEqual([{ flag: 'potential_catastrophic', open: false }]);
      const full = await runAssessment(own.store, ownApp.policy);
      expect({ raised: full.flags.raised, withdrawn: full.flags.withdrawn }).toEqual({ raised: 0, withdrawn: 0 });
    } finally {
      await own.drop();
    }
  });
});
