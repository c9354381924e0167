/**
 * What the scored phase reads and how it finds candidates, in SQL:
 *
 *   link_key      anchored row → person key (anchors.ts, decisions.ts; kept: anchor-state.ts)
 *   person_block  person key → block keys (name forms, parts of its id, household, phone)
 *   big_block     block keys shared by more than MAX_BLOCK_SIZE persons
 *   probe_key     probe → the same kinds of block keys, computed in JS (blockKeys)
 *
 * A probe's candidates are the persons sharing at least one block key with it;
 * cost grows with the rows, not with their square. A block key shared by very many
 * persons (a phone number of a village office) says nothing and is dropped.
 */
import { createHash } from 'node:crypto';
import { sql, type RawBuilder } from 'kysely';
import type { IdStatus, PersonProfileTable, SourceKey } from '../db/schema.js';
import { analyze, type Tx } from '../db/store.js';
import { copyLine } from '../db/copy.js';
import { relationKind, SELF_RELATIONS, type Probe, type Profile } from './compare.js';
import { USABLE_ID } from './anchors.js';

/** A block key shared by more persons than this is dropped. */
export const MAX_BLOCK_SIZE = 200;
/** At most this many candidates per probe, those sharing most block keys first. */
export const MAX_CANDIDATES = 100;

export interface ProbeRow extends Probe {
  deliveryId: number;
  rowNo: number;
  file: string;
  source: SourceKey;
  /** pseudo-probes: the person the row really belongs to */
  trueKey?: string;
}

type BlockKind = 'fold' | 'sound' | 'id14' | 'id_at' | 'id_tail' | 'head' | 'household' | 'phone';

/** Block keys of a probe: the same kinds person_block holds, from what survives of its id too. */
export function blockKeys(p: Probe, sound: string | null): [BlockKind, string][] {
  const keys: [BlockKind, string][] = [];
  if (p.fold) keys.push(['fold', p.fold]);
  if (sound) keys.push(['sound', sound]);
  const v = p.idValue;
  if (v) {
    if (p.idStatus === 'spreadsheet_damaged' && v.length >= 14) keys.push(['id14', v.slice(0, 14)]);
    if (p.idStatus === 'masked' && v.length === 18) {
      const at = v.slice(0, 6) + v.slice(14);
      if (!at.includes('*')) keys.push(['id_at', at]);
      if (!v.slice(0, 14).includes('*')) keys.push(['id14', v.slice(0, 14)]);
    }
    if ((p.idStatus === 'checksum_failed' || p.idStatus === 'malformed') && v.length === 18) {
      // one typing error leaves at least one of these three intact
      keys.push(['id14', v.slice(0, 14)], ['id_at', v.slice(0, 6) + v.slice(14)], ['id_tail', v.slice(6)]);
    }
  }
  if (p.headId) keys.push(['head', p.headId]);
  if (p.household) keys.push(['household', p.household]);
  if (p.phone) keys.push(['phone', p.phone]);
  return keys;
}

/** The block keys of the rows in `keys` (link_key, or scored_key: row → person key), those `where` selects. */
export const BLOCKS_OF = (where: RawBuilder<unknown>, keys = 'link_key') => sql`
  select distinct k.person_key, b.kind, b.value
  from ${sql.table(keys)} k
  join source_row s on s.delivery_id = k.delivery_id and s.row_no = k.row_no
  join row_link l on l.delivery_id = k.delivery_id and l.row_no = k.row_no
  cross join lateral (values
    ('fold', l.name_fold),
    ('sound', l.name_sound),
    ('id14', case when ${USABLE_ID} then left(s.id_number, 14) end),
    ('id_at', case when ${USABLE_ID} then left(s.id_number, 6) || right(s.id_number, 4) end),
    ('id_tail', case when ${USABLE_ID} then right(s.id_number, 12) end),
    ('head', case when s.head_id_status in ('valid', 'legacy15') then s.head_id_number end),
    ('head', case when ${USABLE_ID} then s.id_number end),
    ('household', s.household_no),
    ('phone', s.phone)
  ) as b(kind, value)
  where b.value is not null and ${where}`;

/**
 * Adds the block keys of the rows scoring has just joined to their persons (scored_key:
 * row → person key, see run.ts), marked `scored`, where the person lacks them; a key that
 * thereby comes to be shared by too many persons joins big_block for the rest of the run.
 */
export async function extendPersonBlocks(tx: Tx): Promise<void> {
  await sql`create temp table if not exists grown_block (kind text, value text) on commit drop`.execute(tx.k);
  await sql`truncate grown_block`.execute(tx.k);
  // read from scored_key itself, not link_key filtered by it: the new rows only, whatever the plan
  await sql`
    with added as (
      insert into person_block (person_key, kind, value, scored)
      select distinct person_key, kind, value, true from (${BLOCKS_OF(sql`true`, 'scored_key')}) n
      on conflict do nothing
      returning kind, value
    )
    insert into grown_block select distinct kind, value from added`.execute(tx.k);
  await analyze(tx, 'grown_block');
  // only a key that gained persons can have grown too big: counting every key again took seconds a pass
  await sql`
    insert into big_block (kind, value, scored)
    select pb.kind, pb.value, true
    from grown_block g
    join person_block pb on pb.kind = g.kind and pb.value = g.value
    group by pb.kind, pb.value having count(*) > ${MAX_BLOCK_SIZE}
    on conflict do nothing`.execute(tx.k);
}

/** Candidate persons per probe (index into `probes`). */
export async function findCandidates(tx: Tx, probes: readonly ProbeRow[], sounds: readonly (string | null)[]): Promise<Map<number, string[]>> {
  await sql`drop table if exists probe_key`.execute(tx.k);
  await sql`create temp table probe_key (probe_id int not null, kind text not null, value text not null) on commit drop`.execute(tx.k);
  const lines: string[] = [];
  probes.forEach((p, i) => {
    for (const [kind, value] of blockKeys(p, sounds[i] ?? null)) lines.push(copyLine([i, kind, value]));
  });
  if (lines.length > 0) await tx.copyIn('probe_key', ['probe_id', 'kind', 'value'], lines.join(''));
  // a key shared by very many persons says nothing
  await sql`delete from probe_key p using big_block b where b.kind = p.kind and b.value = p.value`.execute(tx.k);
  await analyze(tx, 'probe_key');
  const rows = await sql<{ probe_id: number; person_key: string }>`
    select probe_id, person_key from (
      select pk.probe_id, pb.person_key,
             row_number() over (partition by pk.probe_id order by count(*) desc, pb.person_key) as rank
      from probe_key pk
      join person_block pb on pb.kind = pk.kind and pb.value = pk.value
      group by pk.probe_id, pb.person_key
    ) c
    where rank <= ${MAX_CANDIDATES}
    order by probe_id, rank`.execute(tx.k);
  const out = new Map<number, string[]>();
  for (const r of rows.rows) (out.get(r.probe_id) ?? out.set(r.probe_id, []).get(r.probe_id)!).push(r.person_key);
  return out;
}

/** The aggregate that turns a person's rows into a profile. */
export const PROFILE_COLUMNS = sql`
  max(case when ${USABLE_ID} then s.id_number end) as id18,
  array_remove(array_agg(distinct case when s.id_status in ('spreadsheet_damaged', 'masked', 'checksum_failed', 'malformed') then s.id_number end), null) as partials,
  array_remove(array_agg(distinct s.name_norm), null) as names,
  array_remove(array_agg(distinct l.name_fold), null) as folds,
  array_remove(array_agg(distinct s.birth_date::text), null) as births,
  array_remove(array_agg(distinct s.gender::text), null) as genders,
  array_remove(array_agg(distinct case when s.head_id_status in ('valid', 'legacy15') then s.head_id_number end), null) as head_ids,
  bool_or(s.relation = any(${[...SELF_RELATIONS]})) as is_self,
  array_remove(array_agg(distinct s.relation), null) as relations,
  array_remove(array_agg(distinct case when s.source <> 'settlement' then s.delivery_id end), null) as rosters,
  array_remove(array_agg(distinct s.household_no), null) as households,
  array_remove(array_agg(distinct case when s.township is not null then s.township || '|' || coalesce(s.village, '') end), null) as places,
  array_remove(array_agg(distinct s.phone), null) as phones`;

/** A profile as PROFILE_COLUMNS aggregates it, and as person_profile keeps it. */
type ProfileRow = Omit<PersonProfileTable, 'person_key'>;

function toProfile(key: string, r: ProfileRow): Profile {
  const headIds = [...r.head_ids];
  if (r.is_self && r.id18 && !headIds.includes(r.id18)) headIds.push(r.id18);
  return {
    key,
    id18: r.id18,
    partials: r.partials,
    names: r.names,
    folds: r.folds,
    births: r.births,
    genders: r.genders.map((g) => g.trim()),
    headIds,
    households: r.households,
    places: r.places,
    phones: r.phones,
    relations: [...new Set(r.relations.map(relationKind).filter((k): k is string => k !== null))],
    rosters: r.rosters,
  };
}

/**
 * The profiles of the persons `keys` names. A person's profile from its anchored rows is
 * kept between runs in person_profile, a cache that anchor-state.ts empties with the
 * anchored state and clears for every person whose anchored rows change; a person that
 * gained rows by score in this run (`scoredKeys`) is read from all its rows and not kept.
 */
export async function loadProfiles(tx: Tx, keys: readonly string[], scoredKeys: ReadonlySet<string> = new Set()): Promise<Map<string, Profile>> {
  const out = new Map<string, Profile>();
  const aggregate = (part: readonly string[]) => sql`
    select k.person_key, ${PROFILE_COLUMNS}
    from link_key k
    join source_row s on s.delivery_id = k.delivery_id and s.row_no = k.row_no
    join row_link l on l.delivery_id = k.delivery_id and l.row_no = k.row_no
    where k.person_key = any(${part})
    group by k.person_key`;
  const cacheable = keys.filter((k) => !scoredKeys.has(k));
  for (let i = 0; i < cacheable.length; i += 5000) {
    const part = cacheable.slice(i, i + 5000);
    const kept = await sql<ProfileRow & { person_key: string }>`select * from person_profile where person_key = any(${part})`.execute(tx.k);
    for (const r of kept.rows) out.set(r.person_key, toProfile(r.person_key, r));
    const missing = part.filter((k) => !out.has(k));
    if (missing.length === 0) continue;
    const made = await sql<ProfileRow & { person_key: string }>`
      insert into person_profile (person_key, id18, partials, names, folds, births, genders, head_ids, is_self, relations, rosters, households, places, phones)
      ${aggregate(missing)}
      returning *`.execute(tx.k);
    for (const r of made.rows) out.set(r.person_key, toProfile(r.person_key, r));
  }
  const fresh = keys.filter((k) => scoredKeys.has(k));
  for (let i = 0; i < fresh.length; i += 5000) {
    const rows = await sql<ProfileRow & { person_key: string }>`${aggregate(fresh.slice(i, i + 5000))}`.execute(tx.k);
    for (const r of rows.rows) out.set(r.person_key, toProfile(r.person_key, r));
  }
  return out;
}

/** For pseudo-probes: the true person's profile without the probe's own row. */
export async function loadLeaveOneOutProfiles(tx: Tx, probes: readonly ProbeRow[]): Promise<Map<number, Profile>> {
  await sql`drop table if exists pseudo`.execute(tx.k);
  await sql`create temp table pseudo (probe_id int, delivery_id int, row_no int, person_key text) on commit drop`.execute(tx.k);
  const lines = probes.map((p, i) => copyLine([i, p.deliveryId, p.rowNo, p.trueKey ?? null])).join('');
  if (lines) await tx.copyIn('pseudo', ['probe_id', 'delivery_id', 'row_no', 'person_key'], lines);
  await analyze(tx, 'pseudo');
  const rows = await sql<ProfileRow & { probe_id: number; person_key: string }>`
    select p.probe_id, p.person_key, ${PROFILE_COLUMNS}
    from pseudo p
    join link_key k on k.person_key = p.person_key and not (k.delivery_id = p.delivery_id and k.row_no = p.row_no)
    join source_row s on s.delivery_id = k.delivery_id and s.row_no = k.row_no
    join row_link l on l.delivery_id = k.delivery_id and l.row_no = k.row_no
    group by p.probe_id, p.person_key`.execute(tx.k);
  return new Map(rows.rows.map((r) => [r.probe_id, toProfile(r.person_key, r)]));
}

interface ProbeSqlRow {
  delivery_id: number;
  row_no: number;
  file: string;
  source: SourceKey;
  name_norm: string | null;
  name_fold: string | null;
  name_sound: string | null;
  id_status: IdStatus | null;
  id_number: string | null;
  birth_date: string | null;
  gender: string | null;
  head_id: string | null;
  relation: string | null;
  household_no: string | null;
  township: string | null;
  village: string | null;
  address: string | null;
  phone: string | null;
  true_key?: string;
}

/**
 * A row's head of household: its head-of-household column (civil rosters), else, on a
 * rural roster (which has no such column), the id of the other row of the same roster and
 * 户编号 that says it is the head, when it carries a usable one (a household listing two
 * heads gives none). So a rural row and a civil row of one household share the household,
 * and a rural row's relation is checked against its head's age.
 */
const HEAD_ID = sql<string | null>`
  case
    when s.head_id_status in ('valid', 'legacy15') then s.head_id_number
    when s.household_no is not null and s.head_id_number is null then (
      select case when count(distinct h.id_number) = 1 then min(h.id_number) end
      from source_row h
      where h.household_no = s.household_no and h.delivery_id = s.delivery_id and h.row_no <> s.row_no
        and h.relation = any(${[...SELF_RELATIONS]}::text[]) and h.id_status in ('valid', 'legacy15'))
  end`;

const PROBE_COLUMNS = (forPseudo: boolean): RawBuilder<unknown> => sql`
  l.delivery_id, l.row_no, d.file, s.source, s.name_norm, l.name_fold, l.name_sound, s.id_status, s.id_number,
  ${forPseudo ? sql`case when d.column_map ? 'birth_date' then s.birth_date::text end` : sql`s.birth_date::text`} as birth_date,
  ${forPseudo ? sql`case when d.column_map ? 'gender' then s.gender::text end` : sql`s.gender::text`} as gender,
  ${HEAD_ID} as head_id,
  s.relation, s.household_no, s.township, s.village, dr.address, s.phone`;

function toProbe(r: ProbeSqlRow, places: PlaceIndex): ProbeRow {
  let township = r.township;
  let village = r.village;
  if (!township && r.address) ({ township, village } = places.parse(r.address));
  return {
    deliveryId: r.delivery_id,
    rowNo: r.row_no,
    file: r.file,
    source: r.source,
    name: r.name_norm,
    fold: r.name_fold,
    idStatus: r.id_status,
    idValue: r.id_number,
    birth: r.birth_date,
    gender: r.gender === 'M' || r.gender === 'F' ? r.gender : null,
    headId: r.head_id,
    isSelf: r.relation !== null && SELF_RELATIONS.includes(r.relation),
    relation: relationKind(r.relation),
    roster: r.source === 'settlement' ? null : r.delivery_id,
    household: r.household_no,
    township,
    village,
    phone: r.phone,
    ...(r.true_key ? { trueKey: r.true_key } : {}),
  };
}

/** What the latest run decided about a floating row, for a run that re-scores only what changed (affected.ts). */
export interface EarlierOutcome {
  /** the model version that scored it (null: not scored, or put in place by staff or an anchor) */
  modelId: number | null;
  /** the pass that linked it by score, and the person's key; null: not linked by score */
  pass: number | null;
  key: string | null;
  unclaimed: boolean;
  /** alone, the row waited for review (it may since be linked by its cluster: pool.ts) */
  review: boolean;
}

/** Rows without a person key: what the scored phase decides. In a stable order (file, row). */
export async function loadFloating(tx: Tx, places: PlaceIndex): Promise<{ probes: ProbeRow[]; sounds: (string | null)[]; earlier: EarlierOutcome[] }> {
  const rows = await sql<ProbeSqlRow & { model_id: number | null; method: string; scored_pass: number | null; unclaimed: boolean; review: boolean; person_key: string | null }>`
    select ${PROBE_COLUMNS(false)}, l.model_id, l.method, l.scored_pass, l.unclaimed, l.state = 'review' or l.pooled as review, p.person_key
    from row_link l
    join source_row s on s.delivery_id = l.delivery_id and s.row_no = l.row_no
    join delivery d on d.id = l.delivery_id
    left join disability_row dr on dr.delivery_id = l.delivery_id and dr.row_no = l.row_no
    left join person p on p.id = l.person_id
    where not exists (select 1 from link_key k where k.delivery_id = l.delivery_id and k.row_no = l.row_no)
    order by d.file, l.row_no`.execute(tx.k);
  return {
    probes: rows.rows.map((r) => toProbe(r, places)),
    sounds: rows.rows.map((r) => r.name_sound),
    earlier: rows.rows.map((r) => ({
      // only a decision of the scored phase (not a staff move, not a new row) is one a run can keep
      modelId: r.method === 'scored' || r.method === 'new' ? r.model_id : null,
      pass: r.scored_pass,
      key: r.scored_pass !== null ? r.person_key : null,
      unclaimed: r.unclaimed,
      review: r.review,
    })),
  };
}

/**
 * Anchored rows of persons with more than one row, from the rosters (the sources
 * whose rows arrive damaged), in an order fixed by their content: the labelled
 * sample that weights are estimated from.
 */
export async function loadPseudoSample(tx: Tx, places: PlaceIndex, size: number): Promise<{ probes: ProbeRow[]; sounds: (string | null)[] }> {
  const rows = await sql<ProbeSqlRow>`
    with multi as (select person_key from link_key group by person_key having count(*) >= 2)
    select ${PROBE_COLUMNS(true)}, k.person_key as true_key
    from link_key k
    join multi m on m.person_key = k.person_key
    join row_link l on l.delivery_id = k.delivery_id and l.row_no = k.row_no
    join source_row s on s.delivery_id = k.delivery_id and s.row_no = k.row_no
    join delivery d on d.id = k.delivery_id
    left join disability_row dr on dr.delivery_id = k.delivery_id and dr.row_no = k.row_no
    where s.source <> 'settlement' and ${USABLE_ID} and k.person_key like 'id:%'
    order by hashtextextended(d.file || '#' || s.row_no, 7), d.file, s.row_no
    limit ${size}`.execute(tx.k);
  return { probes: rows.rows.map((r) => toProbe(r, places)), sounds: rows.rows.map((r) => r.name_sound) };
}

/** At most this many staff decisions are used as labels (the latest first). */
export const STAFF_LABELS = 5000;

/**
 * Rows staff decided about, as labelled probes (the hard cases the anchored sample
 * lacks): a confirmation says the row is the person (`trueKey`), a rejection that it is
 * not. Decisions in effect only; a person merged away since is found by no profile.
 */
export async function loadStaffLabels(tx: Tx, places: PlaceIndex): Promise<{ probes: ProbeRow[]; match: boolean[] }> {
  const rows = await sql<ProbeSqlRow & { is_match: boolean }>`
    select ${PROBE_COLUMNS(false)}, m.person_key as true_key, m.kind = 'confirm' as is_match
    from (
      select distinct on (delivery_id, row_no, person_key) delivery_id, row_no, person_key, kind, id
      from match_decision
      where kind in ('confirm', 'reject') and revoked_at is null and person_key is not null
      order by delivery_id, row_no, person_key, id desc
    ) m
    join row_link l on l.delivery_id = m.delivery_id and l.row_no = m.row_no
    join source_row s on s.delivery_id = m.delivery_id and s.row_no = m.row_no
    join delivery d on d.id = m.delivery_id
    left join disability_row dr on dr.delivery_id = m.delivery_id and dr.row_no = m.row_no
    order by m.id desc
    limit ${STAFF_LABELS}`.execute(tx.k);
  return { probes: rows.rows.map((r) => toProbe(r, places)), match: rows.rows.map((r) => r.is_match) };
}

/** Townships and villages known from the rosters, to read them out of a disability address. */
export interface PlaceIndex {
  parse(address: string): { township: string | null; village: string | null };
  /** the places known, as one digest: another set reads addresses otherwise */
  signature: string;
}

export async function loadPlaces(tx: Tx): Promise<PlaceIndex> {
  const rows = await sql<{ township: string; village: string | null }>`
    select distinct township, village from source_row where township is not null`.execute(tx.k);
  const villages = new Map<string, string[]>();
  for (const r of rows.rows) {
    const list = villages.get(r.township) ?? villages.set(r.township, []).get(r.township)!;
    if (r.village && !list.includes(r.village)) list.push(r.village);
  }
  // longest names first, so that 新窑镇 is not read as 新窑
  const townships = [...villages.keys()].sort((a, b) => b.length - a.length || (a < b ? -1 : 1));
  for (const list of villages.values()) list.sort((a, b) => b.length - a.length || (a < b ? -1 : 1));
  const signature = createHash('sha1').update(townships.map((t) => `${t}:${villages.get(t)!.join(',')}`).sort().join('|')).digest('hex');
  return {
    signature,
    parse(address) {
      for (const t of townships) {
        const at = address.indexOf(t);
        if (at === -1) continue;
        const rest = address.slice(at + t.length);
        const v = villages.get(t)!.find((name) => rest.startsWith(name)) ?? null;
        return { township: t, village: v };
      }
      return { township: null, village: null };
    },
  };
}
