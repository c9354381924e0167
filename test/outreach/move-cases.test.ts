/**
 * Many cases moved at once (moveCases, the worklist's bulk 下放 and 已接收), on both engines:
 * only the cases whose status allows the move move, each with its event; closing moves close;
 * the worklist by person adds up what the filter selects.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import type { CaseStatus } from '../../src/db/schema.js';
import type { Store } from '../../src/db/store.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { moveCases, TRANSITIONS } from '../../src/outreach/cases.js';
import { bulkMove, listWorklist } from '../../src/outreach/worklist.js';
import { ENGINES, engineStore } from '../helpers/db.js';

const STATUSES: CaseStatus[] = ['pending', 'pending', 'dispatched', 'dispatched', 'received', 'contacted', 'applied', 'paid'];

describe.each(ENGINES)('moving cases in bulk (%s)', (engine) => {
  let store: Store;
  let close: () => Promise<void>;
  /** case ids by status, in STATUSES order */
  let ids: number[];

  beforeAll(async () => {
    ({ store, close } = await engineStore(engine));
    if (engine === 'pglite') await migrateToLatest(store);
    // two persons: 1 with the first four cases, 2 with the rest
    await sql`insert into person (id, person_key, name, township, village) values (1, 'a', '甲', '东镇', '一村'), (2, 'b', '乙', '东镇', '二村')`.execute(store.k);
    ids = [];
    for (const [i, status] of STATUSES.entries()) {
      const person = i < 4 ? 1 : 2;
      const f = await sql<{ id: number }>`insert into flag (scope, settlement_id, person_id, flag, amount) values ('settlement', ${`S${i}`}, ${person}, ${i % 2 ? 'underpaid' : 'unclaimed'}, ${(i + 1) * 1000}) returning id`.execute(store.k);
      const c = await store.k
        .insertInto('outreach_case')
        .values({ flag_id: f.rows[0]!.id, person_id: person, township: '东镇', village: person === 1 ? '一村' : '二村', status, kind: i % 2 ? 'underpaid' : 'unclaimed', settled_on: `2026-0${1 + i}-15`, amount: (i + 1) * 1000, opened_month: '2026-11' })
        .returning('id')
        .executeTakeFirstOrThrow();
      ids.push(c.id);
    }
  }, 60_000);
  afterAll(() => close?.());

  it('lists the two persons, with what the filter selects', async () => {
    const all = await listWorklist(store, { status: 'open' }, { sort: 'owed', dir: 'desc' });
    // open: person 1 has 4 cases (1+2+3+4 thousand fen), person 2 has received, contacted, applied (5+6+7)
    expect(all.rows.map((r) => [r.personId, r.flags, r.owed, r.oldest])).toEqual([
      [2, 3, 18000, '2026-05-15'],
      [1, 4, 10000, '2026-01-15'],
    ]);
    expect([all.persons, all.cases, all.owed]).toEqual([2, 7, 28000]);
    expect(all.rows[1]!.statuses).toEqual([
      { status: 'pending', n: 2 },
      { status: 'dispatched', n: 2 },
    ]);
    const unclaimed = await listWorklist(store, { status: 'open', kind: 'unclaimed', from: '2026-02-01' }, { sort: 'owed', dir: 'asc' });
    expect(unclaimed.rows.map((r) => [r.personId, r.flags, r.owed])).toEqual([
      [1, 1, 3000],
      [2, 2, 12000],
    ]);
    const past = await listWorklist(store, { status: 'open' }, { sort: 'owed', dir: 'desc' }, { limit: 50, offset: 50 });
    expect([past.rows.length, past.persons, past.cases]).toEqual([0, 2, 7]);
  });

  it('moves only the cases whose status allows the move, each with its event', async () => {
    const moved = await moveCases(store, ids, 'received', 'console:甲', '乡镇已接收');
    expect(moved).toEqual([
      { id: ids[2], from: 'dispatched' },
      { id: ids[3], from: 'dispatched' },
    ]);
    const now = await store.k.selectFrom('outreach_case').select(['id', 'status']).orderBy('id').execute();
    expect(now.map((c) => c.status)).toEqual(['pending', 'pending', 'received', 'received', 'received', 'contacted', 'applied', 'paid']);
    const events = await store.k.selectFrom('case_event').select(['case_id', 'actor', 'from_status', 'to_status', 'note']).orderBy('case_id').execute();
    expect(events).toEqual([
      { case_id: ids[2], actor: 'console:甲', from_status: 'dispatched', to_status: 'received', note: '乡镇已接收' },
      { case_id: ids[3], actor: 'console:甲', from_status: 'dispatched', to_status: 'received', note: '乡镇已接收' },
    ]);
    // nothing to move, or a status nothing moves to
    expect(await moveCases(store, [], 'dispatched', 'x', null)).toEqual([]);
    expect(await moveCases(store, ids, 'withdrawn', 'x', null)).toEqual([]);
    // the flow: 待下放 → 已下放 → 已接收 → 已联系 (or 无法联系)
    expect([TRANSITIONS.pending, TRANSITIONS.dispatched, TRANSITIONS.received]).toEqual([['dispatched'], ['received'], ['contacted', 'unreachable']]);
  });

  it('closes what a closing move closes', async () => {
    const moved = await moveCases(store, ids, 'declined', 'console:乙', null);
    // from contacted and applied
    expect(moved.map((m) => m.from)).toEqual(['contacted', 'applied']);
    const closed = await store.k.selectFrom('outreach_case').select(['status', 'closed_by']).where('id', 'in', moved.map((m) => m.id)).execute();
    expect(closed).toEqual([
      { status: 'declined', closed_by: 'staff' },
      { status: 'declined', closed_by: 'staff' },
    ]);
  });

  it('sends down the selected persons’ cases the filter shows', async () => {
    const sent = await bulkMove(store, { status: 'open', kind: 'unclaimed' }, [1], 'dispatched', 'console:甲');
    // person 1's pending unclaimed case (the first); the underpaid one stays
    expect(sent.map((m) => m.id)).toEqual([ids[0]]);
    const all = await bulkMove(store, { status: 'open', township: '东镇' }, 'all', 'dispatched', 'console:甲');
    expect(all.map((m) => m.id)).toEqual([ids[1]]);
  });
});

