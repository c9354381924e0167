/**
 * Statistics where autovacuum may be off (db/store.ts analyzeChanged): a table bulk-filled
 * and never analysed is analysed by the run that reads it, one unchanged since is left
 * alone, one grown by more than a tenth is analysed again, on both engines.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { engineStore, ENGINES } from '../helpers/db.js';
import { analyzeChanged, type Store } from '../../src/db/store.js';

describe.each(ENGINES)('analyzeChanged on %s', (engine) => {
  let store: Store;
  let close: () => Promise<void>;
  beforeAll(async () => {
    ({ store, close } = await engineStore(engine));
    await sql`create table probe_stats (n int)`.execute(store.k);
  });
  afterAll(() => close());

  const fill = (n: number) => sql`insert into probe_stats select generate_series(1, ${n})`.execute(store.k);
  const analysed = () => store.transaction((tx) => analyzeChanged(tx, ['probe_stats', 'no_such_table']));

  it('analyses a bulk-filled table once, and again when it has grown by more than a tenth', async () => {
    await fill(20_000);
    expect(await analysed()).toEqual(['probe_stats']);
    const planned = await sql<{ reltuples: number }>`select reltuples from pg_class where relname = 'probe_stats'`.execute(store.k);
    expect(Number(planned.rows[0]!.reltuples)).toBe(20_000);
    expect(await analysed()).toEqual([]);
    await fill(20_000);
    expect(await analysed()).toEqual(['probe_stats']);
  });
});
