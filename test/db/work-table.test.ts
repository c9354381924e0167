/**
 * A work table declared once (db/work-table.ts): rows written as objects land in the
 * declared columns whatever order the object's keys come in, on both engines, and the
 * table is gone after the transaction.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { engineStore, ENGINES } from '../helpers/db.js';
import { type Store } from '../../src/db/store.js';
import { workTable } from '../../src/db/work-table.js';

const T = workTable('wt_probe', { id: 'int', name: 'text', day: 'date', ok: 'boolean', amount: 'bigint', doc: 'jsonb' });

describe('a work table', () => {
  it('writes a row in the declared column order, not the object\'s', () => {
    expect(T.line({ doc: '{"a":1}', ok: true, amount: 12_345, day: '2026-02-01', name: '张\t三', id: 7 })).toBe('7\t张\\t三\t2026-02-01\tt\t12345\t{"a":1}\n');
    expect(T.line({ id: null, name: null, day: null, ok: null, amount: null, doc: null })).toBe('\\N\t\\N\t\\N\t\\N\t\\N\t\\N\n');
  });
});

describe.each(ENGINES)('a work table on %s', (engine) => {
  let store: Store;
  let close: () => Promise<void>;
  beforeAll(async () => {
    ({ store, close } = await engineStore(engine));
  });
  afterAll(() => close());

  it('is filled, read with its types inside the transaction, and dropped at commit', async () => {
    const rows = await store.transaction(async (tx) => {
      await T.fill(tx, [
        T.line({ id: 1, name: '李四', day: '2026-03-31', ok: false, amount: 9_000_000_000, doc: '[1,2]' }),
        T.line({ name: null, id: 2, day: null, ok: true, amount: 0, doc: null }),
      ]);
      return (await sql<{ id: number; name: string | null; day: string | null; ok: boolean; amount: string; doc: unknown }>`
        select id, name, day::text as day, ok, amount::text as amount, doc from wt_probe order by id`.execute(tx.k)).rows;
    });
    expect(rows).toEqual([
      { id: 1, name: '李四', day: '2026-03-31', ok: false, amount: '9000000000', doc: [1, 2] },
      { id: 2, name: null, day: null, ok: true, amount: '0', doc: null },
    ]);
    await expect(sql`select 1 from wt_probe`.execute(store.k)).rejects.toThrow(/wt_probe/);
  });
});
