import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { copyLine } from '../../src/db/copy.js';
import { engineStore, ENGINES } from '../helpers/db.js';
import { type Store } from '../../src/db/store.js';

const awkward = ['plain', 'tab\there', 'new\nline', 'cr\rhere', 'back\\slash', 'quote"s', '{braces},', 'NULL', '', '中文　全角'];

describe('COPY text encoding', () => {
  it('escapes what COPY would misread', () => {
    expect(copyLine([1, 'a\tb', null, true, ['x', 'y"z']])).toBe('1\ta\\tb\t\\N\tt\t{"x","y\\\\"z"}\n');
  });
});

describe.each(ENGINES)('COPY round trip on %s', (engine) => {
  let store: Store;
  let close: () => Promise<void>;
  beforeAll(async () => {
    ({ store, close } = await engineStore(engine));
    await sql`create table t (n int, s text, a text[], b boolean)`.execute(store.k);
  });
  afterAll(() => close());

  it('stores every awkward value exactly, as text and inside arrays', async () => {
    await store.transaction((tx) => tx.copyIn('t', ['n', 's', 'a', 'b'], awkward.map((s, i) => copyLine([i, s, [s, s], i % 2 === 0])).join('')));
    const rows = await sql<{ n: number; s: string; a: string[] }>`select n, s, a from t order by n`.execute(store.k);
    expect(rows.rows.map((r) => r.s)).toEqual(awkward);
    expect(rows.rows.map((r) => r.a)).toEqual(awkward.map((s) => [s, s]));
  });

  it('rolls the whole transaction back when anything in it fails', async () => {
    await expect(
      store.transaction(async (tx) => {
        await tx.copyIn('t', ['n', 's'], copyLine([100, 'kept?']));
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    const r = await sql<{ n: number }>`select count(*)::int as n from t where n = 100`.execute(store.k);
    expect(r.rows[0]!.n).toBe(0);
  });
});
