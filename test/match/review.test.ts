/**
 * The rows waiting for review and the decisions still waiting for a match (match/review.ts),
 * on the sample county: a decision waits until a match run starts after it, a revoked one
 * never waits.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestDb } from '../helpers/db.js';
import { matchedSampleDb } from '../helpers/match.js';
import { rejectLink, revokeDecision } from '../../src/match/decisions.js';
import { candidatesOf, countReviewRows, evidenceOf, listReviewRows, rowDecisions } from '../../src/match/review.js';

let db: TestDb;

beforeAll(async () => {
  db = await matchedSampleDb();
}, 300_000);
afterAll(() => db?.drop());

describe('rows waiting for review', () => {
  it('lists exactly the rows in review, and a decision waits until a match run starts after it', async () => {
    const inReview = await db.store.k.selectFrom('row_link').select(['delivery_id', 'row_no']).where('state', '=', 'review').orderBy('delivery_id').orderBy('row_no').execute();
    expect(inReview.length).toBeGreaterThan(0);
    expect(await countReviewRows(db.store.k)).toBe(inReview.length);
    const listed = await listReviewRows(db.store.k, { limit: 100, offset: 0 });
    expect(listed.map((r) => `${r.delivery_id}:${r.row_no}`).sort()).toEqual(inReview.map((r) => `${r.delivery_id}:${r.row_no}`).sort());
    expect(listed.every((r) => r.pending === 0 && r.file.length > 0)).toBe(true);
    expect(await listReviewRows(db.store.k, { limit: 100, offset: inReview.length })).toEqual([]);

    const row = { deliveryId: listed[0]!.delivery_id, rowNo: listed[0]!.row_no };
    const candidate = (listed[0]!.candidates as { person_id: number }[])[0]!.person_id;
    const pendingOf = async () => (await listReviewRows(db.store.k, { limit: 100, offset: 0 })).find((r) => r.delivery_id === row.deliveryId && r.row_no === row.rowNo)!.pending;

    const first = await rejectLink(db.store, row, candidate, 'caseworker-1');
    expect(await pendingOf()).toBe(1);
    expect(await rowDecisions(db.store.k, row)).toMatchObject([{ kind: 'reject', person_id: candidate, actor: 'caseworker-1', revoked_at: null, pending: true }]);

    // revoked: no longer waits
    await revokeDecision(db.store, first, 'caseworker-1');
    expect(await pendingOf()).toBe(0);

    // a run started since: the decision no longer waits for one
    await rejectLink(db.store, row, candidate, 'caseworker-2');
    expect(await pendingOf()).toBe(1);
    await db.store.k.insertInto('match_run').values({ kind: 'decision', params: null, stats: null }).execute();
    expect(await pendingOf()).toBe(0);
    const decisions = await rowDecisions(db.store.k, row);
    expect(decisions.map((d) => [d.actor, d.pending, d.revoked_at !== null])).toEqual([
      ['caseworker-1', false, true],
      ['caseworker-2', false, false],
    ]);
  });
});

describe('the stored shapes of row_link', () => {
  it('reads candidates with and without their evidence, and nothing from another shape', () => {
    const stored = [
      { person_id: 7, score: 3.5, probability: 0.62, evidence: [{ c: 'name', l: 'exact', w: 4.1 }] },
      { person_id: 9, score: 1.2, probability: 0.2 },
    ];
    expect(candidatesOf(stored)).toEqual(stored);
    expect(candidatesOf(null)).toEqual([]);
    // a pre-resolution candidate names a person key, not a person id
    expect(candidatesOf([{ key: 'id:1', score: 1, probability: 0.5 }])).toEqual([]);
    expect(candidatesOf([{ person_id: '7', score: 1, probability: 0.5 }])).toEqual([]);
  });

  it('reads the evidence of a comparison, and nothing for a deterministic link', () => {
    const e = { total: 6.2, probability: 0.98, prior: -12.3, evidence: [{ c: 'birth_date', l: 'exact', w: 9 }] };
    expect(evidenceOf(e)).toEqual(e);
    expect(evidenceOf(null)).toBeUndefined();
    expect(evidenceOf({ total: 1, probability: 0.5, evidence: [] })).toBeUndefined();
  });
});
