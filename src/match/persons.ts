/**
 * Persons and their golden records. A golden field is taken from the row best
 * placed to know it, and says which row that was (source, file, row, as-of date):
 *
 *   id number, gender, birth date   a row with a usable id number (the number says the rest), latest first
 *   name                            a row with a usable id number, without a lost character (?), latest first
 *   township, village               the latest roster row that names them, else the latest
 *                                   disability row whose 户籍地址 reads as county…乡镇…村
 *   household                       the latest civil row's head-of-household id, else the latest 户编号
 *   phone                           the latest row with one
 *
 * Only persons whose rows changed in the run are refreshed; a person left without
 * rows is retired (kept, so that references to it stay valid), and revived if rows
 * come back to it.
 *
 * Each field is the best of the person's rows by an order of its own, so a person that
 * only gained rows (a new monthly roster) needs only the rows that were best so far
 * (`person.golden_basis`) and the new ones: its other rows cannot win. A person that lost
 * a row, one without a basis yet, and every person a staff decision names are read in full.
 */
import { sql } from 'kysely';
import { analyze, type Tx } from '../db/store.js';

/**
 * The township and village in a 户籍地址 such as 贵州省六盘水市六枝特区木岗镇河边村3组: the
 * 乡/镇/街道 right after the county-level part, and the 村/社区 right after that. An
 * address that does not read so (a township name holding 市 or 区, say) gives none.
 */
const ADDRESS_TOWNSHIP = '(?:特区|自治县|县|区|旗|市)([^省市县区旗镇乡]{1,8}(?:镇|乡|街道))';
const ADDRESS_VILLAGE = '(?:特区|自治县|县|区|旗|市)[^省市县区旗镇乡]{1,8}(?:镇|乡|街道)([^镇乡村]{1,10}(?:村|社区))';

/**
 * Refreshes counts, retirement and golden records of the persons a run touched: those
 * `persons` names (a staff decision knows them); else the persons of the rows the run
 * wrote and those the rows it moved left ('changed': every change of a row's person is
 * one of those), and with 'check all' also every person whose row count no longer fits.
 */
export async function refreshPersons(tx: Tx, runId: number, persons: readonly number[] | 'changed' | 'check all'): Promise<void> {
  // touched: the persons to refresh; whole: whether all their rows are read (see above)
  // the rows the run wrote, with statistics: the planner cannot know how many rows carry this run's id,
  // and guessing one joined them to the touched persons row by row (minutes at 200,000 persons)
  // (a staff decision names its persons, all read in full: no scan of the links for it)
  await sql`
    create temp table run_row on commit drop as
    select person_id, delivery_id, row_no from row_link
    where ${typeof persons === 'string' ? sql`run_id = ${runId}` : sql`false`} and person_id is not null and state = 'linked'`.execute(tx.k);
  await analyze(tx, 'run_row');
  if (typeof persons !== 'string') {
    await sql`create temp table touched on commit drop as select distinct unnest(${[...persons]}::int[]) as id, true as whole`.execute(tx.k);
  } else {
    await sql`
      create temp table touched on commit drop as
      select id, bool_or(whole) as whole from (
        select person_id as id, false as whole from run_row
        union all
        select from_person_id, true from match_change where run_id = ${runId} and from_person_id is not null
        ${persons === 'check all'
          ? sql`union all
        select p.id, true from person p
        left join (select person_id, count(*)::int as n from row_link where person_id is not null group by person_id) c on c.person_id = p.id
        where p.row_count is distinct from coalesce(c.n, 0) or (p.retired_at is null) = (c.n is null)`
          : sql``}
      ) t group by id`.execute(tx.k);
  }
  await sql`update touched t set whole = true from person p where p.id = t.id and not t.whole and p.golden_basis is null`.execute(tx.k);
  await analyze(tx, 'touched');

  await sql`
    update person p
    set row_count = coalesce(c.n, 0),
        retired_at = case when c.n is null then coalesce(p.retired_at, now()) end,
        updated_at = now()
    from touched t
    left join lateral (select count(*)::int as n from row_link l where l.person_id = t.id having count(*) > 0) c on true
    where p.id = t.id`.execute(tx.k);

  // the rows that can give a touched person's golden fields
  await sql`
    create temp table golden_row on commit drop as
    select l.person_id, l.delivery_id, l.row_no
    from touched t join row_link l on l.person_id = t.id
    where t.whole and l.state = 'linked'
    union
    select r.person_id, r.delivery_id, r.row_no
    from run_row r join touched t on t.id = r.person_id
    where not t.whole
    union
    -- the rows that were best, while they are still the person's (a retired person's are not)
    select p.id, l.delivery_id, l.row_no
    from touched t join person p on p.id = t.id
    cross join lateral jsonb_array_elements(p.golden_basis) b(r)
    join row_link l on l.delivery_id = (b.r->>0)::int and l.row_no = (b.r->>1)::int
    where not t.whole and jsonb_typeof(b.r) = 'array' and l.person_id = p.id and l.state = 'linked'`.execute(tx.k);
  await analyze(tx, 'golden_row');

  await sql`
    with r as (
      select g.person_id, s.delivery_id, s.source, d.file, s.row_no, d.as_of::text as as_of,
             case when s.id_status in ('valid', 'legacy15') then s.id_number end as id18,
             s.name_norm, s.gender::text as gender, s.birth_date::text as birth_date, s.phone,
             -- a roster's own columns first; a disability row has only its address
             coalesce(s.township, substring(a.address from ${ADDRESS_TOWNSHIP})) as township,
             case when s.township is not null then s.village else substring(a.address from ${ADDRESS_VILLAGE}) end as village,
             s.township is null as place_from_address,
             case when s.head_id_status in ('valid', 'legacy15') then s.head_id_number end as head_id, s.household_no
      from golden_row g
      join source_row s on s.delivery_id = g.delivery_id and s.row_no = g.row_no
      join delivery d on d.id = g.delivery_id
      left join disability_row a on a.delivery_id = g.delivery_id and a.row_no = g.row_no
    ),
    id_row as (
      select distinct on (person_id) * from r
      order by person_id, (id18 is not null) desc, as_of desc, file desc, row_no desc
    ),
    name_row as (
      select distinct on (person_id) * from r where name_norm is not null
      order by person_id, (id18 is not null) desc, (position('?' in name_norm) = 0) desc, as_of desc, file desc, row_no desc
    ),
    place_row as (
      select distinct on (person_id) * from r where township is not null
      order by person_id, place_from_address, as_of desc, file desc, row_no desc
    ),
    phone_row as (
      select distinct on (person_id) * from r where phone is not null
      order by person_id, as_of desc, file desc, row_no desc
    ),
    household_row as (
      select distinct on (person_id) person_id, delivery_id, source, file, row_no, as_of,
             coalesce(case when head_id is not null then 'head:' || head_id end, 'no:' || household_no) as household
      from r where head_id is not null or household_no is not null
      order by person_id, (head_id is not null) desc, as_of desc, file desc, row_no desc
    ),
    golden as (
      select t.id,
        jsonb_strip_nulls(jsonb_build_object(
          'id_number', case when i.id18 is not null then jsonb_build_object('value', i.id18, 'source', i.source, 'file', i.file, 'row', i.row_no, 'as_of', i.as_of) end,
          'gender', case when i.gender is not null then jsonb_build_object('value', trim(i.gender), 'source', i.source, 'file', i.file, 'row', i.row_no, 'as_of', i.as_of) end,
          'birth_date', case when i.birth_date is not null then jsonb_build_object('value', i.birth_date, 'source', i.source, 'file', i.file, 'row', i.row_no, 'as_of', i.as_of) end,
          'name', case when n.name_norm is not null then jsonb_build_object('value', n.name_norm, 'source', n.source, 'file', n.file, 'row', n.row_no, 'as_of', n.as_of) end,
          'township', case when pl.township is not null then jsonb_build_object('value', pl.township, 'source', pl.source, 'file', pl.file, 'row', pl.row_no, 'as_of', pl.as_of) end,
          'village', case when pl.village is not null then jsonb_build_object('value', pl.village, 'source', pl.source, 'file', pl.file, 'row', pl.row_no, 'as_of', pl.as_of) end,
          'phone', case when ph.phone is not null then jsonb_build_object('value', ph.phone, 'source', ph.source, 'file', ph.file, 'row', ph.row_no, 'as_of', ph.as_of) end,
          'household', case when h.household is not null then jsonb_build_object('value', h.household, 'source', h.source, 'file', h.file, 'row', h.row_no, 'as_of', h.as_of) end
        )) as golden,
        i.id18, n.name_norm, trim(i.gender) as gender, i.birth_date, pl.township, pl.village,
        -- the row each field came from, in this order: id_row, name_row, place_row, phone_row, household_row
        jsonb_build_array(case when i.delivery_id is not null then jsonb_build_array(i.delivery_id, i.row_no) end, case when n.delivery_id is not null then jsonb_build_array(n.delivery_id, n.row_no) end, case when pl.delivery_id is not null then jsonb_build_array(pl.delivery_id, pl.row_no) end,
                          case when ph.delivery_id is not null then jsonb_build_array(ph.delivery_id, ph.row_no) end, case when h.delivery_id is not null then jsonb_build_array(h.delivery_id, h.row_no) end) as basis
      from touched t
      left join id_row i on i.person_id = t.id
      left join name_row n on n.person_id = t.id
      left join place_row pl on pl.person_id = t.id
      left join phone_row ph on ph.person_id = t.id
      left join household_row h on h.person_id = t.id
    )
    update person p
    set golden = g.golden, golden_basis = g.basis, id_number = g.id18, name = g.name_norm, gender = g.gender, birth_date = g.birth_date::date,
        township = g.township, village = g.village
    from golden g
    where p.id = g.id and p.retired_at is null`.execute(tx.k);
}

/** How many persons have rows. */
export async function livePersons(tx: Tx): Promise<number> {
  const live = await sql<{ n: number }>`select count(*)::int as n from person where retired_at is null`.execute(tx.k);
  return live.rows[0]!.n;
}
