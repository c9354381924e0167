/** CSV exports of spells, entitlements and flags. Money in yuan with two decimals. */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { sql, type Kysely } from 'kysely';
import type { DB } from '../db/schema.js';
import { csvLine } from '../util/csv.js';
import { formatYuan } from '../ingest/normalise/money.js';

type Cell = string | number | null;

async function writeCsv(out: string, header: readonly string[], rows: readonly Cell[][]): Promise<number> {
  const stream = createWriteStream(out, { encoding: 'utf8' });
  const write = async (line: string) => {
    if (!stream.write(line)) await once(stream, 'drain');
  };
  await write(csvLine(header));
  for (const r of rows) await write(csvLine(r));
  stream.end();
  await once(stream, 'finish');
  return rows.length;
}

const yuan = (fen: number | null) => (fen === null ? '' : formatYuan(fen));

export const EXPORTS = {
  /** person_id,category,valid_from,valid_to — the spells as the deliveries establish them (no age-out) */
  async spells(k: Kysely<DB>, out: string) {
    const r = await sql<{ person_id: number; category: string; valid_from: string; valid_to: string | null }>`
      select person_id, category, valid_from::text as valid_from, valid_to::text as valid_to
      from spell where superseded_at is null order by person_id, category, valid_from`.execute(k);
    return writeCsv(out, ['person_id', 'category', 'valid_from', 'valid_to'], r.rows.map((s) => [s.person_id, s.category, s.valid_from, s.valid_to ?? '']));
  },
  /** settlement_id,person_id,service_date,category,base,entitled,paid,flag */
  async entitlements(k: Kysely<DB>, out: string) {
    const r = await sql<{ settlement_id: string; person_id: number | null; service_date: string; category: string | null; base: number; entitled: number; paid: number; flag: string | null }>`
      select e.settlement_id, e.person_id, e.service_date::text as service_date, e.category, e.base, e.entitled, e.paid, f.flag
      from entitlement e
      left join flag f on f.scope = 'settlement' and f.settlement_id = e.settlement_id and f.withdrawn_at is null
      order by e.service_date, e.settlement_id`.execute(k);
    return writeCsv(out, ['settlement_id', 'person_id', 'service_date', 'category', 'base', 'entitled', 'paid', 'flag'],
      r.rows.map((e) => [e.settlement_id, e.person_id, e.service_date, e.category ?? '', yuan(e.base), yuan(e.entitled), yuan(e.paid), e.flag ?? '']));
  },
  /** settlement_id,person_id,flag,reason,entitled,paid — open settlement flags */
  async flags(k: Kysely<DB>, out: string) {
    const r = await sql<{ settlement_id: string; person_id: number; flag: string; reason: string | null; entitled: number; paid: number }>`
      select settlement_id, person_id, flag, reason, entitled, paid from flag
      where scope = 'settlement' and withdrawn_at is null order by settlement_id`.execute(k);
    return writeCsv(out, ['settlement_id', 'person_id', 'flag', 'reason', 'entitled', 'paid'],
      r.rows.map((f) => [f.settlement_id, f.person_id, f.flag, f.reason ?? '', yuan(f.entitled), yuan(f.paid)]));
  },
  /** person_id,year,flag,amount — open person-year flags */
  async 'person-flags'(k: Kysely<DB>, out: string) {
    const r = await sql<{ person_id: number; year: number; flag: string; amount: number }>`
      select person_id, year, flag, amount from flag
      where scope = 'person_year' and withdrawn_at is null order by person_id, year, flag`.execute(k);
    return writeCsv(out, ['person_id', 'year', 'flag', 'amount'], r.rows.map((f) => [f.person_id, f.year, f.flag, yuan(f.amount)]));
  },
} as const;

export type ExportKind = keyof typeof EXPORTS;
