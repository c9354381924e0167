/**
 * What the rows of accepted snapshots state about category membership (spec §6),
 * per source, for linked rows only:
 *
 *   civil       category c recognised on r: member of c since r; with an exit date
 *               x on or before the as-of date: the closed spell [r, x). A row marked
 *               退出/停保 without an exit date states nothing (the person is out, the
 *               date unknown): the spell ends as if they were absent.
 *   rural       脱贫户, 脱贫不稳定户: member of `lifted` since 识别时间/建档立卡时间;
 *               脱贫不稳定户, 边缘易致贫户, 突发严重困难户: member of `monitored` since
 *               纳入监测时间, or the closed spell [start, c) when 风险消除 is 是 with date c.
 *   disability  grade 1–2, valid: member of `severe_disability` since 发证日期; cancelled
 *               with date c: the closed spell [发证日期, c), which also closes an open one;
 *               grade 3–4: closes an open spell at its own 发证日期 (a regrading).
 *
 * A start date the row does not give is taken as the snapshot's as-of date (the bureau
 * knew of the membership from then; an earlier start reported later wins).
 *
 * A source's streams (format profiles' `stream`: a 低保 list and a 特困 list) are
 * separate series of snapshots: absence from one stream's snapshot says nothing
 * about another's.
 */
import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import type { DB, SourceKey } from '../db/schema.js';
import { ofPersons } from '../db/scope.js';
import type { Snapshot, Statement } from './derive.js';

export type SnapshotSource = Exclude<SourceKey, 'settlement' | 'death'>;

/** The categories each snapshot source can state. */
export const SOURCE_CATEGORIES: Record<SnapshotSource, readonly string[]> = {
  // a mixed list (救助对象名单) read as civil carries rural and disability categories too
  civil: ['destitute', 'dibao', 'dibao_edge', 'orphan', 'de_facto_orphan', 'catastrophic', 'lifted', 'monitored', 'severe_disability'],
  rural: ['lifted', 'monitored'],
  disability: ['severe_disability'],
};

export interface PersonHistory {
  personId: number;
  source: SnapshotSource;
  /** the stream whose snapshots these are: each stream of a source is walked on its own */
  stream: string;
  category: string;
  snapshots: Snapshot[];
}

interface Row {
  person_id: number;
  stream: string;
  as_of: string;
  rejected: boolean;
  category: string | null;
  start: string | null;
  end_date: string | null;
  kind: 'member' | 'closed' | 'close' | null;
}

/** One statement (or none) per row, in SQL; lifted and monitored come from one rural row. */
function statementRows(k: Kysely<DB>, source: SnapshotSource, persons: readonly number[] | null) {
  const base = sql`
    from source_row s
    join row_link l on l.delivery_id = s.delivery_id and l.row_no = s.row_no and l.state = 'linked'
      ${ofPersons(sql`l.person_id`, persons)}
    join delivery d on d.id = s.delivery_id and d.status = 'accepted' and d.kind = 'snapshot'`;
  switch (source) {
    case 'civil':
      return sql<Row>`
        select l.person_id, coalesce(d.stream, d.source) as stream, d.as_of::text as as_of, s.rejected, c.category,
               coalesce(c.recognised_on, d.as_of)::text as start, c.exited_on::text as end_date,
               case when c.exited_on is not null and c.exited_on <= d.as_of then 'closed'
                    when c.exited_on is null and c.member_status in ('exited', 'suspended') then null
                    else 'member' end as kind
        ${base}
        join civil_row c on c.delivery_id = s.delivery_id and c.row_no = s.row_no
        where d.source = 'civil'`.execute(k);
    case 'rural':
      return sql<Row>`
        select l.person_id, coalesce(d.stream, d.source) as stream, d.as_of::text as as_of, s.rejected, x.category, x.start::text as start, x.end_date::text as end_date, x.kind
        ${base}
        join rural_row r on r.delivery_id = s.delivery_id and r.row_no = s.row_no
        cross join lateral (values
          ('lifted', coalesce(r.registered_on, d.as_of), null::date,
           case when r.household_type in ('lifted', 'lifted_unstable') then 'member' end),
          ('monitored', coalesce(r.monitored_since, d.as_of), r.risk_eliminated_on,
           case when r.household_type not in ('lifted_unstable', 'edge_of_poverty', 'sudden_hardship') then null
                when r.risk_eliminated and r.risk_eliminated_on is not null and r.risk_eliminated_on <= d.as_of then 'closed'
                else 'member' end)
        ) as x(category, start, end_date, kind)
        where d.source = 'rural' and (x.kind is not null or s.rejected)`.execute(k);
    case 'disability':
      return sql<Row>`
        select l.person_id, coalesce(d.stream, d.source) as stream, d.as_of::text as as_of, s.rejected, 'severe_disability' as category,
               r.issued_on::text as start,
               case when r.grade in (3, 4) then r.issued_on else r.cancelled_on end::text as end_date,
               case when r.grade in (3, 4) then 'close'
                    when r.grade in (1, 2) and r.cert_status = 'cancelled' and r.cancelled_on is not null then 'closed'
                    when r.grade in (1, 2) and r.cert_status = 'cancelled' then null
                    when r.grade in (1, 2) then 'member' end as kind
        ${base}
        join disability_row r on r.delivery_id = s.delivery_id and r.row_no = s.row_no
        where d.source = 'disability'`.execute(k);
  }
}

/** Accepted snapshots of the source, per stream, in as-of order. */
async function snapshotDates(k: Kysely<DB>, source: SnapshotSource): Promise<Map<string, string[]>> {
  const r = await sql<{ stream: string; as_of: string }>`
    select distinct coalesce(stream, source) as stream, as_of::text as as_of from delivery
    where source = ${source} and kind = 'snapshot' and status = 'accepted' order by 1, 2`.execute(k);
  const out = new Map<string, string[]>();
  for (const x of r.rows) (out.get(x.stream) ?? out.set(x.stream, []).get(x.stream)!).push(x.as_of);
  return out;
}

/** Every person's (or these persons') history in every category of the source, per stream, ready for deriveSpells. */
export async function loadHistories(k: Kysely<DB>, source: SnapshotSource, persons: readonly number[] | null = null): Promise<PersonHistory[]> {
  const dates = await snapshotDates(k, source);
  const rows = (await statementRows(k, source, persons)).rows;
  // stream and person → as-of → { statements per category, unreadable }
  type At = Map<string, { statements: Map<string, Statement[]>; unreadable: boolean }>;
  const byPerson = new Map<string, { personId: number; stream: string; at: At }>();
  for (const r of rows) {
    const key = `${r.stream}\u001f${r.person_id}`;
    const person = byPerson.get(key) ?? byPerson.set(key, { personId: r.person_id, stream: r.stream, at: new Map() }).get(key)!;
    const at = person.at.get(r.as_of) ?? person.at.set(r.as_of, { statements: new Map(), unreadable: false }).get(r.as_of)!;
    if (r.rejected) {
      at.unreadable = true;
      continue;
    }
    if (!r.kind || !r.category) continue;
    const statement: Statement =
      r.kind === 'member' ? { kind: 'member', start: r.start! } : r.kind === 'closed' ? { kind: 'closed', start: r.start!, end: r.end_date! } : { kind: 'close', end: r.end_date! };
    (at.statements.get(r.category) ?? at.statements.set(r.category, []).get(r.category)!).push(statement);
  }
  const out: PersonHistory[] = [];
  for (const { personId, stream, at } of byPerson.values()) {
    const categories = new Set<string>();
    for (const a of at.values()) for (const c of a.statements.keys()) categories.add(c);
    for (const category of [...categories].sort()) {
      out.push({
        personId,
        source,
        stream,
        category,
        snapshots: (dates.get(stream) ?? []).map((asOf) => ({
          asOf,
          statements: at.get(asOf)?.statements.get(category) ?? [],
          unreadable: at.get(asOf)?.unreadable ?? false,
        })),
      });
    }
  }
  return out;
}
