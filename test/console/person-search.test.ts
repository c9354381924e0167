/**
 * 人员查询's one search box (console/person-search.ts), on a small county written
 * straight into the tables: part of a name, a traditional or variant spelling from any
 * linked row, the last digits of a phone or an id number, a person number; masked
 * numbers for a viewer; too short a query refused in Chinese; the count and the order.
 * And the migration on the embedded engine, which has no pg_trgm: it falls back, and
 * the search works there too.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import type { AppContext } from '../../src/context.js';
import { findPersons, readSearch, TOO_SHORT } from '../../src/console/person-search.js';
import { createNameTools } from '../../src/match/chinese.js';
import { openStore } from '../../src/db/store.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { escapeHtml } from '../../src/console/html.js';
import type { Store } from '../../src/db/store.js';
import { consoleRig, type ConsoleRig } from '../helpers/console.js';

const FULL_ID = /(?<![\dA-Z])\d{17}[\dX](?![\dA-Z])/;
const FULL_PHONE = /(?<!\d)1[3-9]\d{9}(?!\d)/;

interface Row {
  name: string;
  id?: string;
  phone?: string;
}
interface Spec {
  key: string;
  /** golden name, township, village */
  name: string;
  township?: string;
  village?: string;
  id?: string;
  phone?: string;
  rows: Row[];
}

// 18-digit numbers; the search does not check them, so no checksum is needed
const A_ID = '510102199001011234';
const A_PHONE = '13912345678';
const SPECS: Spec[] = [
  { key: 'a', name: '陈小明', township: '城关镇', village: '东村', id: A_ID, phone: A_PHONE, rows: [{ name: '陈小明', id: A_ID, phone: A_PHONE }, { name: '陳小明', id: A_ID, phone: '13800001111' }] },
  { key: 'b', name: '陈小红', township: '城关镇', village: '西村', id: '510102198502023456', rows: [{ name: '陈小红', id: '510102198502023456' }] },
  { key: 'c', name: '王小明', township: '河口乡', village: '南村', id: '510102197003031357', rows: [{ name: '王小明', id: '510102197003031357' }] },
  // a row that spells the name otherwise, linked by id: the variant finds the person
  { key: 'g', name: '周晓燕', township: '河口乡', village: '北村', id: '510102196004047890', rows: [{ name: '周晓燕', id: '510102196004047890' }, { name: '周小燕', id: '510102196004047890' }] },
  { key: 'exact', name: '李建', rows: [{ name: '李建' }] },
  // 60 persons whose names begin 李建: more than a page of results
  ...Array.from({ length: 60 }, (_, i): Spec => {
    const n = `李建${String.fromCodePoint(0x4e00 + 100 + i)}`;
    return { key: `li${i}`, name: n, rows: [{ name: n }] };
  }),
];

/** Persons, deliveries, source rows and their links, as a match would leave them. */
async function fill(store: Store, fold: (n: string) => string): Promise<Map<string, number>> {
  const ids = new Map<string, number>();
  const d = await store.k
    .insertInto('delivery')
    .values({ file: 'civil/civil_20261130.csv', source: 'civil', content_hash: 'search-test', size_bytes: 1, status: 'accepted', as_of: '2026-11-30' })
    .returning('id')
    .executeTakeFirstOrThrow();
  let rowNo = 0;
  for (const s of SPECS) {
    const first = s.rows[0]!;
    const golden = {
      name: { value: s.name, source: 'civil', file: 'civil/civil_20261130.csv', row: rowNo + 1, as_of: '2026-11-30' },
      ...(s.phone ? { phone: { value: s.phone, source: 'civil', file: 'civil/civil_20261130.csv', row: rowNo + 1, as_of: '2026-11-30' } } : {}),
    };
    const p = await store.k
      .insertInto('person')
      .values({ person_key: `test:${s.key}`, name: s.name, id_number: s.id ?? first.id ?? null, township: s.township ?? null, village: s.village ?? null, row_count: s.rows.length, golden: JSON.stringify(golden) })
      .returning('id')
      .executeTakeFirstOrThrow();
    ids.set(s.key, p.id);
    for (const r of s.rows) {
      rowNo += 1;
      await sql`insert into source_row (delivery_id, row_no, source, raw, raw_hash, rejected, name, name_norm, id_number, id_status, phone)
        values (${d.id}, ${rowNo}, 'civil', ${[r.name]}, ${rowNo}, false, ${r.name}, ${r.name}, ${r.id ?? null}, ${r.id ? 'valid' : 'missing'}, ${r.phone ?? null})`.execute(store.k);
      await sql`insert into row_link (delivery_id, row_no, name_fold, person_id, state, method)
        values (${d.id}, ${rowNo}, ${fold(r.name)}, ${p.id}, 'linked', 'id')`.execute(store.k);
    }
  }
  return ids;
}

/** The persons listed in the results table, in order. */
const listed = (body: string): number[] => {
  const tbody = /<h2>查询结果<\/h2>[\s\S]*?<tbody>([\s\S]*?)<\/tbody>/.exec(body)?.[1] ?? '';
  return [...tbody.matchAll(/<tr><td class="num"><a href="\/persons\/(\d+)">/g)].map((m) => Number(m[1]));
};

describe('console: person search', () => {
  let rig: ConsoleRig;
  let ids: Map<string, number>;
  const id = (key: string) => ids.get(key)!;

  beforeAll(async () => {
    rig = await consoleRig({
      prepare: async (app: AppContext) => {
        ids = await fill(app.store, (n) => app.names.fold(n));
      },
    });
  }, 60_000);
  afterAll(() => rig?.close());

  it('finds a person by two characters of a three-character name, the whole name first', async () => {
    const c = await rig.as('viewer');
    const r = await c.post('/persons/search', { q: '小明' });
    expect(r.statusCode).toBe(200);
    expect(listed(r.body).sort()).toEqual([id('a'), id('c')].sort());
    expect(r.body).toContain(`<a href="/persons/${id('a')}">陈小明</a>`);
    expect(r.body).toContain('共找到 2 人。');
    // the start of a name too; the whole name before names it begins
    const start = await c.post('/persons/search', { q: '陈小' });
    expect(listed(start.body).sort()).toEqual([id('a'), id('b')].sort());
    const whole = await c.post('/persons/search', { q: '陈小明' });
    expect(listed(whole.body)).toEqual([id('a')]);
    // township and village are listed
    expect(whole.body).toContain('<td class="">城关镇</td><td class="">东村</td>');
  });

  it('finds a person by the traditional form of the name, and by a linked row that spells it otherwise', async () => {
    const c = await rig.as('viewer');
    const traditional = await c.post('/persons/search', { q: '陳小明' });
    expect(listed(traditional.body)).toEqual([id('a')]);
    const variant = await c.post('/persons/search', { q: '周小燕' });
    expect(listed(variant.body)).toEqual([id('g')]);
    expect(variant.body).toContain('（记录中写作 周小燕）');
    // the golden name itself, of course
    expect(listed((await c.post('/persons/search', { q: '晓燕' })).body)).toEqual([id('g')]);
  });

  it('finds a person by the last 4 digits of any linked row’s phone, the whole phone, and the last 6 of the id number', async () => {
    const c = await rig.as('caseworker');
    expect(listed((await c.post('/persons/search', { q: A_PHONE.slice(-4) })).body)).toEqual([id('a')]);
    expect(listed((await c.post('/persons/search', { q: '1111' })).body)).toEqual([id('a')]);
    expect(listed((await c.post('/persons/search', { q: A_PHONE })).body)).toEqual([id('a')]);
    expect(listed((await c.post('/persons/search', { q: A_ID.slice(-6) })).body)).toEqual([id('a')]);
    expect(listed((await c.post('/persons/search', { q: '510102197003031357'.slice(-5) })).body)).toEqual([id('c')]);
    // the last digits of nobody's number
    expect((await c.post('/persons/search', { q: '9999' })).body).toContain('没有找到符合条件的人员');
  });

  it('finds a person by person number, typed or linked', async () => {
    const c = await rig.as('viewer');
    expect(listed((await c.post('/persons/search', { q: String(id('g')) })).body)).toEqual([id('g')]);
    expect(listed((await c.get(`/persons?id=${id('b')}`)).body)).toEqual([id('b')]);
  });

  it('shows a viewer id numbers and phones masked, a caseworker the phone', async () => {
    const viewer = await rig.as('viewer');
    const r = await viewer.post('/persons/search', { q: '陈小明' });
    expect(r.body).toContain('510102********1234');
    expect(r.body).toContain('139****5678');
    expect(r.body).not.toMatch(FULL_ID);
    expect(r.body).not.toMatch(FULL_PHONE);
    // a number typed in is not written back into the page
    const byPhone = await viewer.post('/persons/search', { q: A_PHONE });
    expect(listed(byPhone.body)).toEqual([id('a')]);
    expect(byPhone.body).not.toMatch(FULL_PHONE);
    const cw = await (await rig.as('caseworker')).post('/persons/search', { q: '陈小明' });
    expect(cw.body).toContain(A_PHONE);
    expect(cw.body).not.toMatch(FULL_ID);
  });

  it('refuses a one-character name in Chinese, and looks up fewer than 4 digits as a person number only', async () => {
    const c = await rig.as('viewer');
    const one = await c.post('/persons/search', { q: '陈' });
    expect(one.statusCode).toBe(400);
    expect(one.body).toContain(escapeHtml(TOO_SHORT));
    expect(one.body).not.toMatch(/href="\/persons\/\d+"/);
    // 3 digits: the person numbered so, not every phone ending in them
    const short = await c.post('/persons/search', { q: '111' });
    expect(short.statusCode).toBe(200);
    expect(short.body).toContain('电话、身份证号请至少输入最后 4 位');
    expect(listed(short.body)).toEqual([]);
    expect((await c.post('/persons/search', { q: 'x' })).statusCode).toBe(400);
  });

  it('counts every person found, lists the best 50, the whole name first', async () => {
    const c = await rig.as('viewer');
    const r = await c.post('/persons/search', { q: '李建' });
    expect(r.statusCode).toBe(200);
    expect(r.body).toContain('共找到 61 人，显示前 50 人。');
    const shown = listed(r.body);
    expect(shown).toHaveLength(50);
    expect(shown[0]).toBe(id('exact'));
    const total = Number((await sql<{ n: number }>`select count(*)::int as n from person where name like '李建%'`.execute(rig.db.store.k)).rows[0]!.n);
    expect(total).toBe(61);
  });

  it('has the trigram index on PostgreSQL, and the name search can use it', async () => {
    const idx = await sql<{ indexname: string }>`select indexname from pg_indexes where tablename in ('row_link', 'source_row') and indexname in ('row_link_name_trgm', 'source_row_phone_tail', 'source_row_id_tail') order by 1`.execute(rig.db.store.k);
    expect(idx.rows.map((x) => x.indexname)).toEqual(['row_link_name_trgm', 'source_row_id_tail', 'source_row_phone_tail']);
    // a few rows are read fastest by any index: without the person index's competition, the plan shows the trigram index can serve the pattern
    const plan = await rig.db.store
      .transaction(async (tx) => {
        await sql`set local enable_seqscan = off`.execute(tx.k);
        await sql`drop index row_link_person`.execute(tx.k);
        const e = await sql<{ 'QUERY PLAN': string }>`explain select person_id from row_link l where l.person_id is not null and l.name_fold like ${'%小明%'}`.execute(tx.k);
        throw Object.assign(new Error('rolled back'), { plan: e.rows.map((x) => x['QUERY PLAN']).join('\n') });
      })
      .catch((e: { plan?: string }) => e.plan ?? '');
    expect(plan).toContain('row_link_name_trgm');
  });
});

describe('person search: reading the box', () => {
  const names = createNameTools();
  it('reads names folded, numbers by kind, and refuses what is too short', () => {
    expect(readSearch('陳小明', names)).toEqual({ query: { name: '陈小明', shown: '姓名 陳小明' } });
    expect(readSearch(' 1234 ', names)).toEqual({ query: { personId: 1234, phoneTail: '1234', idTail: '1234', shown: '号码 1234' } });
    expect(readSearch('12345x', names)).toEqual({ query: { idTail: '12345X', shown: '身份证号尾号 12345X' } });
    expect(readSearch('139-1234-5678', names)).toMatchObject({ query: { phoneTail: '13912345678', shown: '号码尾号 5678' } });
    expect(readSearch('+86 139 1234 5678', names)).toMatchObject({ query: { phoneTail: '13912345678' } });
    expect(readSearch('陈', names)).toEqual({ error: TOO_SHORT });
    expect(readSearch('', names)).toEqual({ empty: true });
    expect(readSearch('0', names)).toEqual({ error: '人员编号应为正整数' });
  });
});

describe('person search on the embedded engine', () => {
  it('migrates without pg_trgm and finds by part of a name and by the end of a phone', async () => {
    const store = await openStore({ dataDir: 'memory://' });
    try {
      await migrateToLatest(store);
      const idx = await sql<{ indexname: string }>`select indexname from pg_indexes where indexname in ('row_link_name_trgm', 'row_link_name_prefix') order by 1`.execute(store.k);
      expect(idx.rows.map((x) => x.indexname)).toEqual(['row_link_name_prefix']);
      const names = createNameTools();
      const ids = await fill(store, (n) => names.fold(n));
      const byName = await findPersons(store.k, { name: names.fold('陳小'), shown: '' });
      expect(byName.rows.map((r) => r.id).sort()).toEqual([ids.get('a'), ids.get('b')].sort());
      const byPhone = await findPersons(store.k, { phoneTail: '5678', shown: '' });
      expect(byPhone.rows.map((r) => r.id)).toEqual([ids.get('a')]);
      expect(byPhone.rows[0]!.kinds).toEqual(['phone']);
      const many = await findPersons(store.k, { name: '李建', shown: '' });
      expect(many.total).toBe(61);
      expect(many.rows).toHaveLength(50);
    } finally {
      await store.close();
    }
  }, 60_000);
});
