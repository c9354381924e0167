/**
 * A staff decision in effect at once (match/apply-now.ts), on the sample county: it
 * changes the rows and persons it names and nothing else, the next full match gives
 * the named rows the same persons (same ids), and a decision made while a match holds
 * the lock waits for that match or the next.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import type { TestDb } from '../helpers/db.js';
import { matchedSampleDb } from '../helpers/match.js';
import { runMatch } from '../../src/match/run.js';
import { confirmLink, mergePersons, rejectLink, revokeDecision, splitPerson } from '../../src/match/decisions.js';
import { applyPendingDecisions } from '../../src/match/apply-now.js';

interface Link {
  person_id: number | null;
  state: string;
}
type Links = Map<string, Link>;

let db: TestDb;

async function links(): Promise<Links> {
  const rows = await db.store.k.selectFrom('row_link').select(['delivery_id', 'row_no', 'person_id', 'state']).execute();
  return new Map(rows.map((r) => [`${r.delivery_id}:${r.row_no}`, { person_id: r.person_id, state: r.state }]));
}

/** The rows whose person or state differ between two snapshots. */
function changed(a: Links, b: Links): string[] {
  return [...b].filter(([k, l]) => a.get(k)?.person_id !== l.person_id || a.get(k)?.state !== l.state).map(([k]) => k).sort();
}

async function person(id: number) {
  return db.store.k.selectFrom('person').select(['id', 'person_key', 'row_count', 'retired_at', 'name']).where('id', '=', id).executeTakeFirstOrThrow();
}

async function rowCount(id: number): Promise<number> {
  return Number((await db.store.k.selectFrom('row_link').select((eb) => eb.fn.countAll<number>().as('n')).where('person_id', '=', id).executeTakeFirstOrThrow()).n);
}

beforeAll(async () => {
  db = await matchedSampleDb();
}, 300_000);
afterAll(() => db?.drop());

describe('a staff decision in effect at once', () => {
  it('confirm: the row waiting for review joins the person, nothing else moves, and the next match agrees', async () => {
    const review = await db.store.k.selectFrom('row_link').select(['delivery_id', 'row_no', 'candidates']).where('state', '=', 'review').orderBy('delivery_id').orderBy('row_no').executeTakeFirstOrThrow();
    const best = (review.candidates as { person_id: number }[])[0]!.person_id;
    const before = await links();
    const count = (await person(best)).row_count;

    await confirmLink(db.store, { deliveryId: review.delivery_id, rowNo: review.row_no }, best, 'caseworker-1');
    const effect = await applyPendingDecisions(db.store);
    expect(effect).toMatchObject({ applied: true, decisions: 1, rows: 1, persons: [best] });
    const after = await links();
    expect(changed(before, after)).toEqual([`${review.delivery_id}:${review.row_no}`]);
    expect(after.get(`${review.delivery_id}:${review.row_no}`)).toEqual({ person_id: best, state: 'linked' });
    expect((await person(best)).row_count).toBe(count + 1);
    const recorded = await db.store.k.selectFrom('match_change').selectAll().where('run_id', '=', effect.runId!).execute();
    expect(recorded).toEqual([{ run_id: effect.runId, delivery_id: review.delivery_id, row_no: review.row_no, from_person_id: null, to_person_id: best, from_state: 'review', to_state: 'linked' }]);

    // nothing pending any more: a second call does nothing
    expect(await applyPendingDecisions(db.store)).toMatchObject({ applied: true, decisions: 0, rows: 0, persons: [] });
    await runMatch(db.store);
    expect((await links()).get(`${review.delivery_id}:${review.row_no}`)).toEqual({ person_id: best, state: 'linked' });
  });

  it('split and merge: the rows leave for a person of their own and come back, and the next match keeps the same person ids', async () => {
    // a person known by id with several rows
    const big = (
      await sql<{ person_id: number }>`
        select l.person_id from row_link l join person p on p.id = l.person_id
        where p.person_key like 'id:%' and l.state = 'linked'
        group by l.person_id having count(*) >= 4 order by l.person_id limit 1`.execute(db.store.k)
    ).rows[0]!.person_id;
    const rows = await db.store.k.selectFrom('row_link').select(['delivery_id', 'row_no']).where('person_id', '=', big).orderBy('delivery_id').orderBy('row_no').execute();
    const leaving = rows.slice(-2).map((r) => ({ deliveryId: r.delivery_id, rowNo: r.row_no }));
    const before = await links();

    const splitId = await splitPerson(db.store, big, leaving, 'caseworker-2');
    const split = await applyPendingDecisions(db.store);
    const after = await links();
    expect(changed(before, after)).toEqual(leaving.map((r) => `${r.deliveryId}:${r.rowNo}`).sort());
    const other = after.get(`${leaving[0]!.deliveryId}:${leaving[0]!.rowNo}`)!.person_id!;
    expect((await person(other)).person_key).toBe(`split:${splitId}`);
    expect(split.persons).toEqual([big, other].sort((a, b) => a - b));
    expect((await person(big)).row_count).toBe(rows.length - 2);
    expect((await person(other)).row_count).toBe(2);
    expect((await person(other)).name).toBeTruthy();

    await runMatch(db.store);
    const rematched = await links();
    for (const r of leaving) expect(rematched.get(`${r.deliveryId}:${r.rowNo}`)).toEqual({ person_id: other, state: 'linked' });

    // the match may have moved more rows to or from either (a scored row whose best candidate changed)
    const otherRows = [...rematched].filter(([, l]) => l.person_id === other).map(([k]) => k).sort();
    const together = (await rowCount(big)) + otherRows.length;
    await mergePersons(db.store, big, other, 'caseworker-2', 'same person after all');
    const merged = await applyPendingDecisions(db.store);
    const afterMerge = await links();
    expect(changed(rematched, afterMerge)).toEqual(otherRows);
    expect(merged.rows).toBe(otherRows.length);
    expect((await person(other)).retired_at).not.toBeNull();
    expect((await person(other)).row_count).toBe(0);
    expect((await person(big)).row_count).toBe(together);

    await runMatch(db.store, { scope: { kind: 'all' } });
    const final = await links();
    for (const [k, l] of afterMerge) if (l.person_id === big) expect(final.get(k), k).toEqual({ person_id: big, state: 'linked' });
  });

  it('a split in effect at once and revoked before the next match: that match (new rows only) puts the rows back', async () => {
    const big = (
      await sql<{ person_id: number }>`
        select l.person_id from row_link l join person p on p.id = l.person_id
        where p.person_key like 'id:%' and l.state = 'linked' and l.method = 'id'
        group by l.person_id having count(*) >= 4 order by l.person_id desc limit 1`.execute(db.store.k)
    ).rows[0]!.person_id;
    await runMatch(db.store);
    const before = await links();
    const rows = await db.store.k.selectFrom('row_link').select(['delivery_id', 'row_no']).where('person_id', '=', big).orderBy('delivery_id').orderBy('row_no').execute();
    const leaving = rows.slice(0, 2).map((r) => ({ deliveryId: r.delivery_id, rowNo: r.row_no }));
    const splitId = await splitPerson(db.store, big, leaving, 'caseworker-2');
    await applyPendingDecisions(db.store);
    expect(changed(before, await links())).toEqual(leaving.map((r) => `${r.deliveryId}:${r.rowNo}`).sort());
    await revokeDecision(db.store, splitId, 'caseworker-2');

    const next = await runMatch(db.store);
    // the decision was made and revoked between two runs: the kept anchored state is rebuilt from the decisions in effect
    expect(next.stats.anchors).toMatchObject({ mode: 'rebuilt', reason: 'a merge or split made or revoked' });
    expect(changed(before, await links())).toEqual([]);
  });

  it('reject: a linked row leaves its person for one of its own, and no later match puts it back', async () => {
    const row = await db.store.k.selectFrom('row_link').select(['delivery_id', 'row_no', 'person_id']).where('state', '=', 'linked').where('method', '=', 'scored').orderBy('delivery_id').orderBy('row_no').executeTakeFirstOrThrow();
    const from = row.person_id!;
    const before = await links();
    await rejectLink(db.store, { deliveryId: row.delivery_id, rowNo: row.row_no }, from, 'caseworker-1');
    const effect = await applyPendingDecisions(db.store);
    const key = `${row.delivery_id}:${row.row_no}`;
    expect(changed(before, await links())).toEqual([key]);
    const own = (await links()).get(key)!.person_id!;
    expect((await person(own)).person_key).toBe(`row:${row.delivery_id}:${row.row_no}`);
    expect(effect.persons).toEqual([from, own].sort((a, b) => a - b));
    await runMatch(db.store, { scope: { kind: 'all' } });
    expect((await links()).get(key)!.person_id).not.toBe(from);
  });

  it('waits while a match holds the lock, and the next match applies it', async () => {
    const review = await db.store.k.selectFrom('row_link').select(['delivery_id', 'row_no', 'person_id']).where('state', '=', 'linked').where('method', '=', 'id').orderBy('delivery_id').orderBy('row_no').executeTakeFirstOrThrow();
    const target = (
      await sql<{ id: number }>`select id from person where retired_at is null and id <> ${review.person_id} and person_key like 'id:%' order by id limit 1`.execute(db.store.k)
    ).rows[0]!.id;
    await confirmLink(db.store, { deliveryId: review.delivery_id, rowNo: review.row_no }, target, 'caseworker-1');
    const before = await links();
    let effect: Awaited<ReturnType<typeof applyPendingDecisions>> | undefined;
    await db.store.transaction(async (tx) => {
      await sql`select pg_advisory_xact_lock(hashtextextended('aidlink:match', 0))`.execute(tx.k);
      effect = await applyPendingDecisions(db.store);
    });
    expect(effect).toMatchObject({ applied: false, rows: 0 });
    expect(changed(before, await links())).toEqual([]);
    await runMatch(db.store);
    expect((await links()).get(`${review.delivery_id}:${review.row_no}`)).toEqual({ person_id: target, state: 'linked' });
  });
});
