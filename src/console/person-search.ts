/**
 * 人员查询's one search box: what was typed, read as a name, a phone, the end of an id
 * number or a person number, and the persons it finds, best first.
 *
 * A name is compared folded (match/chinese.ts: simplified, look-alikes replaced), with
 * the folded names of every row linked to a person (row_link.name_fold), so that 陳小明
 * or a row's variant spelling finds the person whose golden record says 陈小明. Phones and
 * id numbers are compared with every linked row's, from their end. The golden record is
 * made of linked rows' values, so it is searched too; a retired person (no rows left) is
 * found by number only. The indexes are migration 20261212T1200_person_search.
 */
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { DB } from '../db/schema.js';
import { parseIdNumber } from '../ingest/normalise/id-number.js';
import { parseName } from '../ingest/normalise/name.js';
import { removeSpaces, toHalfWidth } from '../ingest/normalise/text.js';
import type { NameTools } from '../match/chinese.js';

export const MAX_RESULTS = 50;
/** person.id is an int4: larger numbers cannot be a person (and would make PostgreSQL fail). */
export const MAX_PERSON_ID = 2_147_483_647;
export const MIN_NAME_CHARS = 2;
export const MIN_TAIL_DIGITS = 4;
const MAX_NAME_CHARS = 50;

export interface SearchQuery {
  /** the person number, when what was typed can be one */
  personId?: number;
  /** the folded name, or part of it (at least 2 characters) */
  name?: string;
  /** a phone, whole or its last digits */
  phoneTail?: string;
  /** an id number, whole (15 digits become 18) or its last characters */
  idTail?: string;
  /** what was searched for, for the page: a name as typed, a long number by its last 4 digits only */
  shown: string;
}

export type ReadSearch = { query: SearchQuery; note?: string } | { error: string } | { empty: true };

export const TOO_SHORT = `请输入至少 ${MIN_NAME_CHARS} 个字的姓名，或电话、身份证号的最后 ${MIN_TAIL_DIGITS} 位以上`;

/** What staff typed in the box, read as the query it is; a query too short to narrow the county is refused. */
export function readSearch(typed: string, names: NameTools): ReadSearch {
  // a number as people write it: 139-1234-5678, (0831) 1234567, +86 139…
  const text = removeSpaces(toHalfWidth(typed)).replace(/[-()]/g, '').replace(/^(?:\+86|0086)(?=1[3-9]\d{9}$)/, '');
  if (text === '') return { empty: true };
  if (/^\d+$/.test(text)) {
    const asPersonId = text.length <= 10 && Number(text) >= 1 && Number(text) <= MAX_PERSON_ID ? Number(text) : undefined;
    if (text.length < MIN_TAIL_DIGITS) {
      // a person number may be short; phones and id numbers are not looked up by fewer digits
      if (asPersonId === undefined) return { error: '人员编号应为正整数' };
      return { query: { personId: asPersonId, shown: `人员编号 ${asPersonId}` }, note: `电话、身份证号请至少输入最后 ${MIN_TAIL_DIGITS} 位；以下只按人员编号查找。` };
    }
    if (text.length > 18) return { error: '号码过长：请输入电话、身份证号（或其最后几位）或人员编号' };
    return {
      query: {
        ...(asPersonId !== undefined ? { personId: asPersonId } : {}),
        ...(text.length <= 12 ? { phoneTail: text } : {}),
        idTail: wholeId(text),
        shown: text.length <= 6 ? `号码 ${text}` : `号码尾号 ${text.slice(-4)}`,
      },
    };
  }
  if (/^\d+[Xx]$/.test(text)) {
    if (text.length < MIN_TAIL_DIGITS) return { error: TOO_SHORT };
    if (text.length > 18) return { error: '号码过长：请输入电话、身份证号（或其最后几位）或人员编号' };
    const id = wholeId(text.toUpperCase());
    return { query: { idTail: id, shown: id.length <= 6 ? `身份证号尾号 ${id}` : `身份证号尾号 ${id.slice(-4)}` } };
  }
  // the same normal form as the rows' names (spaces, annotations and dots dropped)
  const norm = parseName(typed)?.norm ?? '';
  const chars = [...norm].length;
  if (chars < MIN_NAME_CHARS) return { error: TOO_SHORT };
  if (chars > MAX_NAME_CHARS) return { error: `姓名不超过 ${MAX_NAME_CHARS} 个字` };
  if (/\d/.test(norm)) return { error: '请只输入姓名，或只输入号码' };
  return { query: { name: names.fold(norm), shown: `姓名 ${norm}` } };
}

/** A whole id number in the form rows keep it (a 15-digit one as 18); anything else as typed, a tail. */
function wholeId(text: string): string {
  if (text.length !== 15 && text.length !== 18) return text;
  const p = parseIdNumber(text);
  return (p.status === 'valid' || p.status === 'legacy15') && p.value ? p.value : text;
}

export type MatchKind = 'person_no' | 'name' | 'phone' | 'id_number';

export interface Found {
  id: number;
  name: string | null;
  gender: string | null;
  birth_date: string | null;
  township: string | null;
  village: string | null;
  id_number: string | null;
  phone: string | null;
  retired_at: Date | null;
  /** 0 the whole name or number, 1 its start or end, 2 inside a name */
  rank: number;
  kinds: MatchKind[];
  /** the row's name that matched, when it is spelled otherwise than the person's */
  matched: string | null;
}

const likeEscape = (s: string): string => s.replace(/[\\%_]/g, (c) => `\\${c}`);
const reversed = (s: string): string => [...s].reverse().join('');

/**
 * Persons the query finds, best first (the whole name or number before a part of it, then
 * by number), at most MAX_RESULTS, and how many there are in all.
 */
export async function findPersons(k: Kysely<DB>, q: SearchQuery): Promise<{ total: number; rows: Found[] }> {
  const linked = (where: RawBuilder<unknown>, rank: RawBuilder<unknown>, kind: MatchKind, matched: RawBuilder<unknown>) => sql`
    select l.person_id, ${rank} as rank, ${kind}::text as kind, ${matched} as matched
    from source_row s join row_link l on l.delivery_id = s.delivery_id and l.row_no = s.row_no
    where l.person_id is not null and ${where}`;
  const hits: RawBuilder<unknown>[] = [];
  if (q.personId !== undefined) hits.push(sql`select id as person_id, 0 as rank, 'person_no'::text as kind, null::text as matched from person where id = ${q.personId}`);
  if (q.name !== undefined) {
    const e = likeEscape(q.name);
    // two characters: the start or end of a name (a trigram index serves both); three or more: anywhere in it
    const where = [...q.name].length >= 3 ? sql`l.name_fold like ${`%${e}%`}` : sql`(l.name_fold like ${`${e}%`} or l.name_fold like ${`%${e}`})`;
    hits.push(linked(where, sql`case when l.name_fold = ${q.name} then 0 when l.name_fold like ${`${e}%`} then 1 else 2 end`, 'name', sql`s.name_norm`));
  }
  // by the reversed value, so that the btree index on reverse(…) serves a search by the end
  if (q.phoneTail !== undefined) {
    hits.push(linked(sql`s.phone is not null and reverse(s.phone) like ${`${reversed(q.phoneTail)}%`}`, sql`case when s.phone = ${q.phoneTail} then 0 else 1 end`, 'phone', sql`null::text`));
  }
  if (q.idTail !== undefined) {
    hits.push(linked(sql`s.id_number is not null and reverse(s.id_number) like ${`${reversed(q.idTail)}%`}`, sql`case when s.id_number = ${q.idTail} then 0 else 1 end`, 'id_number', sql`null::text`));
  }
  if (hits.length === 0) return { total: 0, rows: [] };

  // the page of persons is chosen before person is read: joined after the limit, by its key, person is never read in full
  const r = await sql<Found & { total: number }>`
    with hit as (${sql.join(hits, sql` union all `)}),
    best as (
      select person_id, min(rank) as rank, array_agg(distinct kind order by kind) as kinds,
             (array_agg(matched order by rank, matched) filter (where matched is not null))[1] as matched,
             count(*) over ()::int as total
      from hit group by person_id
      order by min(rank), person_id
      limit ${MAX_RESULTS})
    select p.id, p.name, p.gender, p.birth_date, p.township, p.village, p.id_number, p.golden -> 'phone' ->> 'value' as phone, p.retired_at,
           b.rank, b.kinds, nullif(b.matched, p.name) as matched, b.total
    from best b join person p on p.id = b.person_id
    order by b.rank, p.id`.execute(k);
  return { total: r.rows[0]?.total ?? 0, rows: r.rows.map(({ total: _total, ...row }) => row) };
}
