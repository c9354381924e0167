/**
 * What a database holds after a sync, as a value that two databases can be compared
 * on with toEqual: independent of surrogate ids (delivery, person, flag, spell ids
 * depend on arrival order and retries) and of timestamps. A person is named by the
 * rows linked to it (the first `file#row` of its group), so two databases agree on
 * persons when they partition the rows the same way, whatever ids they gave them.
 */
import { sql } from 'kysely';
import type { Store } from '../../src/db/store.js';

export interface DeliveryPrint {
  file: string;
  source: string | null;
  kind: string | null;
  as_of: string | null;
  content_hash: string;
  format: string | null;
  encoding: string | null;
  header_row: number | null;
  status: string;
  status_reason: string | null;
  decision: string | null;
  superseded_by: string | null;
  row_count: number;
  rejected_rows: number;
  warning_count: number;
  loaded_through_row: number;
  error: string | null;
}

export interface RowsPrint {
  rows: number;
  /** md5 of every source row (raw cells and normalised fields), in row order */
  source: string;
  /** md5 of the rows of the source's own table (civil_row, settlement_row, …), in row order */
  detail: string;
  problems: number;
  /** md5 of every problem, sorted */
  problem_digest: string;
}

export interface StateFingerprint {
  /** one per delivery, by file name */
  deliveries: DeliveryPrint[];
  /** by delivery file */
  rows: Record<string, RowsPrint>;
  /** the persons as sorted groups of `file#row` (linked rows), sorted: the partition of the rows */
  persons: string[][];
  /** rows waiting in identity review */
  review: string[];
  /** each person's golden values (not where they came from): `person|id|name|gender|birth|township|village` */
  golden: string[];
  /** current spells: `person|category|source|from|to|explicit end|first listed` */
  spells: string[];
  /** spells recorded and later superseded (history; empty after one clean sync) */
  supersededSpells: string[];
  /** `settlement|person|file#row|service date|year|med type|category|base|entitled|paid|assessed|calc` */
  entitlements: string[];
  /** every flag, open or withdrawn: `scope|settlement or person/year|flag|person|reason|entitled|paid|amount|open or withdrawn:<reason>` */
  flags: string[];
  /** outreach cases: `flag key|status|amount|closed by` */
  cases: string[];
}

export interface FingerprintOptions {
  /**
   * Leave these files' rows out of everything the rows make (rows, persons, golden
   * values), keeping their deliveries: "the clean run, plus this delivery".
   */
  ignoreRowsOf?: readonly string[];
}

/** Deliveries in file-name order (code points, as JavaScript sorts; not the database's collation). */
export const byFile = (a: DeliveryPrint, b: DeliveryPrint): number =>
  a.file !== b.file ? (a.file < b.file ? -1 : 1) : a.content_hash < b.content_hash ? -1 : a.content_hash > b.content_hash ? 1 : 0;

const DETAIL_TABLES = ['civil_row', 'rural_row', 'disability_row', 'settlement_row'] as const;

export async function stateFingerprint(store: Store, opts: FingerprintOptions = {}): Promise<StateFingerprint> {
  const k = store.k;
  const ignored = new Set(opts.ignoreRowsOf ?? []);

  const deliveries = (
    await sql<DeliveryPrint>`
      select d.file, d.source, d.kind, d.as_of::text as as_of, d.content_hash, d.format, d.encoding, d.header_row,
             d.status, d.status_reason, d.decision, s.file as superseded_by,
             d.row_count, d.rejected_rows, d.warning_count, d.loaded_through_row, d.error
      from delivery d left join delivery s on s.id = d.superseded_by`.execute(k)
  ).rows.sort(byFile);

  const rows: Record<string, RowsPrint> = {};
  const sourceRows = await sql<{ file: string; rows: number; digest: string }>`
    select d.file, count(*)::int as rows, md5(string_agg((to_jsonb(s) - 'delivery_id')::text, '|' order by s.row_no)) as digest
    from source_row s join delivery d on d.id = s.delivery_id group by d.file`.execute(k);
  for (const r of sourceRows.rows) rows[r.file] = { rows: r.rows, source: r.digest, detail: '', problems: 0, problem_digest: '' };
  for (const table of DETAIL_TABLES) {
    const detail = await sql<{ file: string; digest: string }>`
      select d.file, md5(string_agg((to_jsonb(t) - 'delivery_id')::text, '|' order by t.row_no)) as digest
      from ${sql.table(table)} t join delivery d on d.id = t.delivery_id group by d.file`.execute(k);
    for (const r of detail.rows) if (rows[r.file]) rows[r.file]!.detail = `${table}:${r.digest}`;
  }
  const problems = await sql<{ file: string; n: number; digest: string }>`
    select d.file, count(*)::int as n, md5(string_agg((to_jsonb(p) - 'delivery_id' - 'id')::text, '|' order by (to_jsonb(p) - 'delivery_id' - 'id')::text)) as digest
    from row_problem p join delivery d on d.id = p.delivery_id group by d.file`.execute(k);
  for (const r of problems.rows) {
    const print = rows[r.file] ?? (rows[r.file] = { rows: 0, source: '', detail: '', problems: 0, problem_digest: '' });
    print.problems = r.n;
    print.problem_digest = r.digest;
  }
  for (const f of ignored) delete rows[f];

  // persons: the partition of the linked rows, each person named by its first row
  const links = await sql<{ file: string; row_no: number; person_id: number | null; state: string }>`
    select d.file, l.row_no, l.person_id, l.state from row_link l join delivery d on d.id = l.delivery_id`.execute(k);
  const members = new Map<number, string[]>();
  const review: string[] = [];
  for (const l of links.rows) {
    if (ignored.has(l.file)) continue;
    const key = `${l.file}#${l.row_no}`;
    if (l.state === 'review' || l.person_id === null) review.push(key);
    else (members.get(l.person_id) ?? members.set(l.person_id, []).get(l.person_id)!).push(key);
  }
  const label = new Map<number, string>();
  for (const [id, group] of members) {
    group.sort();
    label.set(id, group[0]!);
  }
  const persons = [...members.values()].sort((a, b) => (a[0]! < b[0]! ? -1 : a[0]! > b[0]! ? 1 : 0));
  // a person without rows (retired) has no name of its own; nothing should point at one
  const who = (id: number | null): string => (id === null ? '-' : (label.get(id) ?? 'person without rows'));

  const golden = (
    await sql<{ id: number; id_number: string | null; name: string | null; gender: string | null; birth_date: string | null; township: string | null; village: string | null }>`
      select id, id_number, name, gender, birth_date::text as birth_date, township, village from person where retired_at is null`.execute(k)
  ).rows
    .filter((p) => label.has(p.id))
    .map((p) => [who(p.id), p.id_number, p.name, p.gender, p.birth_date, p.township, p.village].map((v) => v ?? '').join('|'))
    .sort();

  const spellRows = await sql<{ person_id: number; category: string; source: string; vf: string; vt: string | null; explicit_end: boolean; fl: string | null; superseded: boolean }>`
    select person_id, category, source, valid_from::text as vf, valid_to::text as vt, explicit_end, first_listed::text as fl, superseded_at is not null as superseded
    from spell`.execute(k);
  const spellText = (s: (typeof spellRows.rows)[number]) => [who(s.person_id), s.category, s.source, s.vf, s.vt ?? '', s.explicit_end, s.fl ?? ''].join('|');
  const spells = spellRows.rows.filter((s) => !s.superseded).map(spellText).sort();
  const supersededSpells = spellRows.rows.filter((s) => s.superseded).map(spellText).sort();

  const entitlements = (
    await sql<{ settlement_id: string; person_id: number | null; file: string; row_no: number; sd: string; year: number; med_type: string | null; category: string | null; base: number; entitled: number; paid: number; assessed: boolean; calc: string }>`
      select e.settlement_id, e.person_id, d.file, e.row_no, e.service_date::text as sd, e.year, e.med_type, e.category, e.base, e.entitled, e.paid, e.assessed, e.calc::text as calc
      from entitlement e join delivery d on d.id = e.delivery_id`.execute(k)
  ).rows
    .map((e) => [e.settlement_id, who(e.person_id), `${e.file}#${e.row_no}`, e.sd, e.year, e.med_type ?? '', e.category ?? '', e.base, e.entitled, e.paid, e.assessed, e.calc].join('|'))
    .sort();

  const flagRows = await sql<{ id: number; scope: string; settlement_id: string | null; person_id: number | null; year: number | null; flag: string; reason: string | null; entitled: number | null; paid: number | null; amount: number | null; withdrawn: boolean; withdrawn_reason: string | null }>`
    select id, scope, settlement_id, person_id, year, flag, reason, entitled, paid, amount, withdrawn_at is not null as withdrawn, withdrawn_reason
    from flag`.execute(k);
  const flagKey = new Map<number, string>();
  for (const f of flagRows.rows) flagKey.set(f.id, [f.scope, f.scope === 'settlement' ? f.settlement_id : `${who(f.person_id)}/${f.year}`, f.flag].join('|'));
  const flags = flagRows.rows
    .map((f) => [flagKey.get(f.id), who(f.person_id), f.reason ?? '', f.entitled ?? '', f.paid ?? '', f.amount ?? '', f.withdrawn ? `withdrawn:${f.withdrawn_reason ?? ''}` : 'open'].join('|'))
    .sort();

  const cases = (
    await sql<{ flag_id: number; status: string; amount: number; closed_by: string | null }>`select flag_id, status, amount, closed_by from outreach_case`.execute(k)
  ).rows
    .map((c) => [flagKey.get(c.flag_id), c.status, c.amount, c.closed_by ?? ''].join('|'))
    .sort();

  return { deliveries, rows, persons, review: review.sort(), golden, spells, supersededSpells, entitlements, flags, cases };
}

/**
 * The state without its history: open flags, cases not closed, spells in force.
 * Two different sequences of syncs (files one by one, in another order) end in the
 * same state, but not with the same flags raised and withdrawn on the way.
 */
export function currentState(fp: StateFingerprint): StateFingerprint {
  return {
    ...fp,
    supersededSpells: [],
    flags: fp.flags.filter((f) => f.endsWith('|open')),
    cases: fp.cases.filter((c) => !c.endsWith('|staff') && !c.endsWith('|data')),
  };
}

/** A short account of a fingerprint, for the log of a scenario. */
export function summary(fp: StateFingerprint): { deliveries: number; rows: number; persons: number; review: number; spells: number; entitlements: number; openFlags: number; withdrawnFlags: number } {
  return {
    deliveries: fp.deliveries.length,
    rows: Object.values(fp.rows).reduce((n, r) => n + r.rows, 0),
    persons: fp.persons.length,
    review: fp.review.length,
    spells: fp.spells.length,
    entitlements: fp.entitlements.length,
    openFlags: fp.flags.filter((f) => f.endsWith('|open')).length,
    withdrawnFlags: fp.flags.filter((f) => !f.endsWith('|open')).length,
  };
}
