/**
 * CSV exports of the person index: links (one line per source row) and persons.
 * Id numbers and phones in the persons export are masked unless asked otherwise.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { sql, type Kysely } from 'kysely';
import type { DB } from '../db/schema.js';
import { csvLine } from '../util/csv.js';
import { maskIdNumber, maskPhone } from '../privacy.js';

async function writeLines(out: string, header: readonly string[], rows: AsyncIterable<(string | number | null)[]> | Iterable<(string | number | null)[]>): Promise<number> {
  const stream = createWriteStream(out, { encoding: 'utf8' });
  let n = 0;
  const write = async (line: string) => {
    if (!stream.write(line)) await once(stream, 'drain');
  };
  await write(csvLine(header));
  for await (const r of rows) {
    await write(csvLine(r));
    n++;
  }
  stream.end();
  await once(stream, 'finish');
  return n;
}

/** file,sheet,row,person_id,method,score — person_id empty while the row waits in review. */
export async function exportLinks(k: Kysely<DB>, out: string): Promise<number> {
  const rows = await k
    .selectFrom('row_link')
    .innerJoin('delivery', 'delivery.id', 'row_link.delivery_id')
    .select(['delivery.file', 'delivery.sheet', 'row_link.row_no', 'row_link.person_id', 'row_link.state', 'row_link.method', 'row_link.score'])
    .orderBy('delivery.file')
    .orderBy('row_link.row_no')
    .execute();
  return writeLines(
    out,
    ['file', 'sheet', 'row', 'person_id', 'method', 'score'],
    rows.map((r) => [r.file, r.sheet ?? '', r.row_no, r.state === 'review' ? '' : r.person_id, r.state === 'review' ? 'review' : r.method, r.score === null ? '' : Math.round(r.score * 100) / 100]),
  );
}

export async function exportPersons(k: Kysely<DB>, out: string, opts: { unmasked?: boolean } = {}): Promise<number> {
  const rows = await sql<{
    id: number; id_number: string | null; name: string | null; gender: string | null; birth_date: string | null;
    township: string | null; village: string | null; phone: string | null; household: string | null; row_count: number; sources: string;
  }>`
    select p.id, p.id_number, p.name, p.gender, p.birth_date::text as birth_date, p.township, p.village,
           p.golden->'phone'->>'value' as phone, p.golden->'household'->>'value' as household, p.row_count,
           (select string_agg(distinct s.source, ';' order by s.source) from row_link l
              join source_row s on s.delivery_id = l.delivery_id and s.row_no = l.row_no where l.person_id = p.id) as sources
    from person p where p.retired_at is null order by p.id`.execute(k);
  const id = (v: string | null) => (opts.unmasked ? v : maskIdNumber(v));
  const phone = (v: string | null) => (opts.unmasked ? v : maskPhone(v));
  const household = (v: string | null) => (v?.startsWith('head:') ? `head:${id(v.slice(5))}` : v);
  return writeLines(
    out,
    ['person_id', 'id_number', 'name', 'gender', 'birth_date', 'township', 'village', 'phone', 'household', 'rows', 'sources'],
    rows.rows.map((r) => [r.id, id(r.id_number), r.name, r.gender, r.birth_date, r.township, r.village, phone(r.phone), household(r.household), r.row_count, r.sources]),
  );
}
