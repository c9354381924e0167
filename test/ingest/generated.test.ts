/**
 * Beyond the sample: a generated county with every damage form at three times
 * its default rate, ingested and checked against the generator's own truth (every
 * delivery's as-of date, row count and status; every row at its file and number).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { generateCounty } from '../../tools/demo/generate.js';
import { loadMapping } from '../../src/ingest/mapping.js';
import { ingestPath } from '../../src/ingest/inbox.js';

function csv(path: string): Record<string, string>[] {
  const [head, ...lines] = readFileSync(path, 'utf8').trim().split('\n');
  const cols = head!.split(',');
  return lines.map((l) => Object.fromEntries(l.split(',').map((c, i) => [cols[i]!, c])));
}

describe('a heavily damaged generated county', () => {
  let db: TestDb;
  const out = mkdtempSync(join(tmpdir(), 'aidlink-gen-'));
  beforeAll(async () => {
    await generateCounty({ persons: 1500, seed: 2026, out, damageScale: 3 });
    db = await createTestDb();
    await ingestPath(db.store, loadMapping(), join(out, 'inbox'));
  });
  afterAll(() => db?.drop());

  it("gives every file the truth's as-of date, row count and status", async () => {
    const truth = csv(join(out, 'truth/files.csv'));
    const got = await db.store.k.selectFrom('delivery').select(['file', 'as_of', 'row_count', 'status']).execute();
    const byFile = new Map(got.map((d) => [d.file, d]));
    expect(got).toHaveLength(truth.length);
    for (const t of truth) {
      expect(byFile.get(t.file!), t.file).toMatchObject({
        as_of: t.as_of,
        row_count: Number(t.rows),
        status: t.expected === 'accept' ? 'accepted' : 'quarantined',
      });
    }
  });

  it('stores exactly the truth rows', async () => {
    const truth = csv(join(out, 'truth/rows.csv')).map((r) => `${r.file}#${r.row}`).sort();
    const got = await db.store.k
      .selectFrom('source_row')
      .innerJoin('delivery', 'delivery.id', 'source_row.delivery_id')
      .select(['delivery.file', 'source_row.row_no'])
      .execute();
    expect(got.map((r) => `${r.file}#${r.row_no}`).sort()).toEqual(truth);
  });

  it('rejects no row and flags every duplicated row', async () => {
    const rejected = await db.store.k.selectFrom('source_row').select('row_no').where('rejected', '=', true).execute();
    expect(rejected).toEqual([]);
    const damage = csv(join(out, 'truth/damage.csv')).filter((d) => d.form === 'row_duplicate');
    const flagged = await db.store.k
      .selectFrom('row_problem')
      .innerJoin('delivery', 'delivery.id', 'row_problem.delivery_id')
      .select(['delivery.file', 'row_problem.row_no'])
      .where('code', '=', 'duplicate_row')
      .execute();
    expect(flagged.length).toBeGreaterThan(0);
    expect(flagged.length).toBe(damage.length);
  });
});
