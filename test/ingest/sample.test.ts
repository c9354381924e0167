/**
 * The spec's sample county, ingested end to end: every delivery's as-of date,
 * data-row count and status, and every row at its file and row number, against
 * the truth files. Then re-ingesting changes nothing, and the reverse order ends
 * in the same deliveries and statuses. The embedded engine must agree.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { readTruth, SAMPLE_INBOX } from '../helpers/sample.js';
import { loadMapping } from '../../src/ingest/mapping.js';
import { ingestPath, listFiles } from '../../src/ingest/inbox.js';
import { ingestFile } from '../../src/ingest/ingest.js';
import { openStore, type Store } from '../../src/db/store.js';
import { migrateToLatest } from '../../src/db/migrate.js';

const mapping = loadMapping();
const truthFiles = readTruth('files.csv');
const truthRows = readTruth('rows.csv');

/** What a delivery looks like from outside, independent of ids and clocks. */
async function deliverySummary(store: Store) {
  const rows = await store.k
    .selectFrom('delivery')
    .select(['file', 'source', 'as_of', 'status', 'row_count', 'rejected_rows', 'warning_count'])
    .orderBy('file')
    .execute();
  return rows;
}

function expectMatchesTruth(summary: Awaited<ReturnType<typeof deliverySummary>>) {
  expect(summary).toHaveLength(55);
  const byFile = new Map(summary.map((d) => [d.file, d]));
  for (const t of truthFiles) {
    const d = byFile.get(t.file!);
    expect(d, t.file).toBeDefined();
    expect({ file: d!.file, source: d!.source, as_of: d!.as_of, rows: d!.row_count, status: d!.status }).toEqual({
      file: t.file,
      source: t.source,
      as_of: t.as_of,
      rows: Number(t.rows),
      status: t.expected === 'accept' ? 'accepted' : 'quarantined',
    });
  }
}

describe('the sample county on PostgreSQL', () => {
  let db: TestDb;
  beforeAll(async () => {
    db = await createTestDb();
    const outcomes = await ingestPath(db.store, mapping, SAMPLE_INBOX);
    expect(outcomes.map((o) => o.outcome)).toEqual(Array(55).fill('ingested'));
  });
  afterAll(() => db?.drop());

  it("gives every file the truth's as-of date, data-row count and status", async () => {
    expectMatchesTruth(await deliverySummary(db.store));
  });

  it('stores exactly the truth rows: same file, same row number, no other data rows', async () => {
    const stored = await db.store.k
      .selectFrom('source_row')
      .innerJoin('delivery', 'delivery.id', 'source_row.delivery_id')
      .select(['delivery.file', 'source_row.row_no'])
      .execute();
    const key = (file: string, row: number | string) => `${file}#${row}`;
    const storedKeys = new Set(stored.map((r) => key(r.file, r.row_no)));
    const truthKeys = new Set(truthRows.map((r) => key(r.file!, r.row!)));
    expect(stored.length).toBe(truthRows.length);
    expect([...truthKeys].filter((k) => !storedKeys.has(k))).toEqual([]);
    expect([...storedKeys].filter((k) => !truthKeys.has(k))).toEqual([]);
  });

  it('rejects no row of the sample and reads every identity field it needs', async () => {
    const r = await sql<{ rejected: number; no_name: number; no_status: number }>`
      select count(*) filter (where rejected)::int as rejected,
             count(*) filter (where name_norm is null)::int as no_name,
             count(*) filter (where id_status is null)::int as no_status
      from source_row`.execute(db.store.k);
    expect(r.rows[0]).toEqual({ rejected: 0, no_name: 0, no_status: 0 });
  });

  it('re-ingesting the whole inbox changes nothing', async () => {
    const snapshot = async () => ({
      deliveries: await db.store.k.selectFrom('delivery').selectAll().orderBy('id').execute(),
      rows: (await sql<{ n: number }>`select count(*)::int as n from source_row`.execute(db.store.k)).rows[0]!.n,
      problems: (await sql<{ n: number }>`select count(*)::int as n from row_problem`.execute(db.store.k)).rows[0]!.n,
      events: (await sql<{ n: number }>`select count(*)::int as n from delivery_event`.execute(db.store.k)).rows[0]!.n,
    });
    const before = await snapshot();
    const outcomes = await ingestPath(db.store, mapping, SAMPLE_INBOX);
    expect(outcomes.every((o) => o.outcome === 'duplicate')).toBe(true);
    expect(await snapshot()).toEqual(before);
  });

  it('ingesting in reverse order gives the same deliveries and statuses', async () => {
    const reverse = await createTestDb();
    try {
      const files = (await listFiles(SAMPLE_INBOX)).reverse();
      for (const f of files) await ingestFile(reverse.store, mapping, f, { inboxRoot: SAMPLE_INBOX });
      expect(await deliverySummary(reverse.store)).toEqual(await deliverySummary(db.store));
    } finally {
      await reverse.drop();
    }
  });
});

describe('the sample county on the embedded database', () => {
  it('gives the same deliveries as PostgreSQL', async () => {
    const store = await openStore({ dataDir: 'memory://' });
    try {
      await migrateToLatest(store);
      await ingestPath(store, mapping, SAMPLE_INBOX);
      const summary = await deliverySummary(store);
      expectMatchesTruth(summary);
      const rows = await sql<{ n: number }>`select count(*)::int as n from source_row`.execute(store.k);
      expect(rows.rows[0]!.n).toBe(truthRows.length);
    } finally {
      await store.close();
    }
  });
});

describe('parsing in worker threads', () => {
  it('stores exactly what parsing in the main thread stores', async () => {
    const inline = await createTestDb();
    const threaded = await createTestDb();
    try {
      await ingestPath(inline.store, mapping, SAMPLE_INBOX, { parseWorkers: 0, batchRows: 700 });
      await ingestPath(threaded.store, mapping, SAMPLE_INBOX, { parseWorkers: 2, batchRows: 700 });
      const dump = (s: Store) =>
        sql<{ file: string; rows: string; problems: string }>`
          select d.file,
                 (select md5(string_agg(r::text, '|' order by r.row_no)) from source_row r where r.delivery_id = d.id) as rows,
                 (select md5(string_agg(concat_ws(',', p.row_no, p.code, p.column_name, p.message), '|' order by p.row_no, p.code, p.message))
                    from row_problem p where p.delivery_id = d.id) as problems
          from delivery d order by d.file`.execute(s.k).then((r) => r.rows);
      const a = await dump(inline.store);
      expect(a).toHaveLength(55);
      expect(await dump(threaded.store)).toEqual(a);
    } finally {
      await inline.drop();
      await threaded.drop();
    }
  });
});
