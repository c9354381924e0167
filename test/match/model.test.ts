/**
 * The match model as a version (match/model.ts): when a run estimates a new one, that
 * later runs reuse it, that every scored link names the version that made it, and that
 * a re-estimation records exactly the links it changed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { readTruth, SAMPLE_INBOX } from '../helpers/sample.js';
import { loadMapping } from '../../src/ingest/mapping.js';
import { ingestFile } from '../../src/ingest/ingest.js';
import { DEFAULT_MODEL_POLICY, reestimateReason } from '../../src/match/model.js';
import { runMatch } from '../../src/match/run.js';
import { confirmLink, rejectLink } from '../../src/match/decisions.js';
import type { Weights } from '../../src/match/weights.js';

const mapping = loadMapping();
const DAY = 86_400_000;

describe('when a run estimates a new model version', () => {
  const policy = { growth: 0.25, maxAgeDays: 7 };
  const now = new Date('2026-12-07T02:00:00Z');
  const latest = { id: 3, created_at: new Date(now.getTime() - 2 * DAY), source_rows: 1000 };

  it('estimates the first, and one asked for', () => {
    expect(reestimateReason(undefined, 10, { asked: false, policy, now })).toBe('first');
    expect(reestimateReason(latest, 1000, { asked: true, policy, now })).toBe('asked');
  });

  it('estimates again once the rows have grown by the policy share, or the version is too old', () => {
    expect(reestimateReason(latest, 1250, { asked: false, policy, now })).toBeUndefined();
    expect(reestimateReason(latest, 1251, { asked: false, policy, now })).toBe('growth');
    expect(reestimateReason({ ...latest, created_at: new Date(now.getTime() - 7 * DAY + 60_000) }, 1000, { asked: false, policy, now })).toBeUndefined();
    expect(reestimateReason({ ...latest, created_at: new Date(now.getTime() - 8 * DAY) }, 1000, { asked: false, policy, now })).toBe('age');
  });

  it('defaults to a quarter more rows or a week', () => {
    expect(DEFAULT_MODEL_POLICY).toEqual({ growth: 0.25, maxAgeDays: 7 });
  });
});

describe('a model version on the sample county', () => {
  let db: TestDb;
  const files = [...readTruth('files.csv')].sort((a, b) => (a.as_of! < b.as_of! ? -1 : a.as_of! > b.as_of! ? 1 : a.file! < b.file! ? -1 : 1));
  // the first year's files estimate the first version; the rest arrive under it
  const firstYear = files.filter((f) => f.as_of! < '2025-07-01');
  const rest = files.filter((f) => f.as_of! >= '2025-07-01');
  const never = { growth: 100, maxAgeDays: 3650 };

  const links = async () =>
    new Map(
      (await db.store.k.selectFrom('row_link').select(['delivery_id', 'row_no', 'person_id', 'state', 'method', 'model_id']).execute()).map((l) => [`${l.delivery_id}#${l.row_no}`, l]),
    );

  beforeAll(async () => {
    db = await createTestDb();
    for (const f of firstYear) await ingestFile(db.store, mapping, join(SAMPLE_INBOX, f.file!), { inboxRoot: SAMPLE_INBOX });
    await runMatch(db.store);
    for (const f of rest) await ingestFile(db.store, mapping, join(SAMPLE_INBOX, f.file!), { inboxRoot: SAMPLE_INBOX });
  }, 300_000);
  afterAll(() => db?.drop());

  it('is reused by later runs, and stamps every scored link with its id', async () => {
    const first = await db.store.k.selectFrom('match_model').selectAll().execute();
    expect(first).toHaveLength(1);
    expect(first[0]).toMatchObject({ reason: 'first' });
    const r = await runMatch(db.store, { modelPolicy: never });
    expect(r.stats.model).toEqual({ id: first[0]!.id, reason: null });
    expect(await db.store.k.selectFrom('match_model').select('id').execute()).toHaveLength(1);
    const all = [...(await links()).values()];
    const scored = all.filter((l) => l.method === 'scored' || l.method === 'new' || l.state === 'review');
    expect(scored.length).toBeGreaterThan(0);
    expect(scored.every((l) => l.model_id === first[0]!.id)).toBe(true);
    // a row linked by its id number was not made by the model
    expect(all.filter((l) => l.method === 'id').every((l) => l.model_id === null)).toBe(true);
    const run = await db.store.k.selectFrom('match_run').select('model_id').where('id', '=', r.runId).executeTakeFirstOrThrow();
    expect(run.model_id).toBe(first[0]!.id);
  });

  it('records a new version when asked, re-scores with it, and records exactly the links that changed', async () => {
    const before = await links();
    const r = await runMatch(db.store, { scope: { kind: 'all' }, reestimate: true, modelPolicy: never });
    expect(r.stats.model.reason).toBe('asked');
    const models = await db.store.k.selectFrom('match_model').select(['id', 'reason', 'source_rows']).orderBy('id').execute();
    expect(models).toHaveLength(2);
    expect(models[1]).toMatchObject({ id: r.stats.model.id, reason: 'asked', source_rows: before.size });
    // estimated from the whole county, not the first year: the weights differ
    const weights = await db.store.k.selectFrom('match_model').select('weights').orderBy('id').execute();
    expect(JSON.stringify(weights[1]!.weights)).not.toBe(JSON.stringify(weights[0]!.weights));

    const after = await links();
    const expected = [...after]
      .filter(([key, l]) => before.get(key)!.person_id !== l.person_id || before.get(key)!.state !== l.state)
      .map(([key, l]) => ({ key, from: before.get(key)!.person_id, to: l.person_id }))
      .sort((a, b) => (a.key < b.key ? -1 : 1));
    const recorded = (await db.store.k.selectFrom('match_change').selectAll().where('run_id', '=', r.runId).execute())
      .map((c) => ({ key: `${c.delivery_id}#${c.row_no}`, from: c.from_person_id, to: c.to_person_id }))
      .sort((a, b) => (a.key < b.key ? -1 : 1));
    expect(recorded).toEqual(expected);
    expect(r.stats.relinked).toBe(expected.length);
    const scored = [...after.values()].filter((l) => l.method === 'scored' || l.method === 'new' || l.state === 'review');
    expect(scored.every((l) => l.model_id === r.stats.model.id)).toBe(true);
  });

  it('learns from staff decisions: a confirmed row and its person are a match, a rejected pair is not', async () => {
    const byId = [...(await links()).values()].filter((l) => l.method === 'id' && l.person_id !== null);
    const first = byId[0]!;
    const other = byId.find((l) => l.person_id !== first.person_id)!;
    await confirmLink(db.store, { deliveryId: first.delivery_id, rowNo: first.row_no }, first.person_id!, 'caseworker-1');
    await rejectLink(db.store, { deliveryId: other.delivery_id, rowNo: other.row_no }, first.person_id!, 'caseworker-1');
    const r = await runMatch(db.store, { scope: { kind: 'all' }, reestimate: true, modelPolicy: never });
    const model = await db.store.k.selectFrom('match_model').select('weights').where('id', '=', r.stats.model.id).executeTakeFirstOrThrow();
    expect((model.weights as Weights).pairs.staff).toEqual({ confirmed: 1, rejected: 1 });
  });
});
