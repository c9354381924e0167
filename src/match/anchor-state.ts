/**
 * The anchored part of matching, kept between runs (migration 20261210T0900):
 *
 *   link_key       anchored row → person key, after staff decisions (anchors.ts, decisions.ts)
 *   person_block   person key → the block keys of its anchored rows (data.ts, BLOCKS_OF)
 *   big_block      block keys shared by more than MAX_BLOCK_SIZE persons: they find no candidates
 *   person_profile a cache of persons' profiles from their anchored rows (data.ts, loadProfiles)
 *
 * A run starts by bringing them up to date. A row's anchor key depends on the row and on
 * its 人员编号's entry in the county-wide map, and its person key on its anchor key and
 * the staff decisions alone; rows are only ever added. So only these rows can have
 * changed since the latest run: the new ones, those sharing a 人员编号 with a new one, and
 * those named by a confirm or reject made or revoked since. Their keys are computed
 * again, the rows whose key changed (`anchor_moved`) are moved, and the blocks and block
 * sizes of the persons they left or joined follow. A run over more than the new rows,
 * changed parameters, a merge or split made or revoked since, or a first run rebuilds
 * everything instead; both end in the same tables (test/match/sample.test.ts).
 *
 * A run's scoring passes add rows and blocks marked `scored`; `dropScored` removes them
 * before the run commits, so that what is kept is the anchored part only.
 */
import { sql } from 'kysely';
import { analyze, type Tx } from '../db/store.js';
import { computeAnchors, computeAnchorsOf } from './anchors.js';
import { applyDecisions, loadActiveDecisions, type ActiveDecision, type ActiveDecisions } from './decisions.js';
import { BLOCKS_OF, MAX_BLOCK_SIZE } from './data.js';
import { canonical } from './affected.js';

/** What the kept tables were built under: other values mean a rebuild. */
const PARAMS = { version: 1, maxBlockSize: MAX_BLOCK_SIZE };

export interface AnchorUpdate {
  /** 'rebuilt': every row's key and every block computed again; 'updated': only the rows that could have changed */
  mode: 'rebuilt' | 'updated';
  /** why everything was rebuilt */
  reason: string | null;
  /** rows whose person key changed (updated mode; the rows are in the temporary table `anchor_moved`) */
  moved: number;
  decisions: ActiveDecisions;
}

/** Brings link_key, person_block and big_block up to date with the rows and decisions; see above. */
export async function updateAnchorState(tx: Tx, opts: { rebuild: boolean; runId: number }): Promise<AnchorUpdate> {
  // read before the decisions in effect: a decision made in between is one the next run looks at
  const seen = (await sql<{ id: number }>`select coalesce(max(id), 0)::int as id from match_decision`.execute(tx.k)).rows[0]!.id;
  const decisions = await loadActiveDecisions(tx.k);
  const state = await tx.k.selectFrom('match_anchor_state').selectAll().where('id', '=', 1).executeTakeFirst();
  const changed = state ? await changedDecisions(tx, state, decisions) : [];
  const reason = opts.rebuild
    ? 'a rematch of more than the new rows'
    : !state
      ? 'no anchored state kept yet'
      : canonical(state.params) !== canonical(PARAMS)
        ? 'other parameters'
        : changed.some((d) => d.kind === 'merge' || d.kind === 'split')
          ? 'a merge or split made or revoked'
          : null;
  const update: AnchorUpdate = reason ? { mode: 'rebuilt', reason, moved: 0, decisions: await rebuild(tx, decisions) } : await updateChanged(tx, decisions, changed);
  const params = JSON.stringify(PARAMS);
  const values = { decisions: decisions.map((d) => d.id), seen_decision: seen, params, run_id: opts.runId };
  await tx.k
    .insertInto('match_anchor_state')
    .values({ id: 1, ...values })
    .onConflict((oc) => oc.column('id').doUpdateSet(values))
    .execute();
  return update;
}

/**
 * Decisions in effect now and not at the latest run, or then and not now, and those made
 * since and already revoked (a decision in effect at once, apply-now.ts, moved their rows
 * in row_link, and the run must move them back).
 */
async function changedDecisions(
  tx: Tx,
  then: { decisions: readonly number[]; seen_decision: number },
  now: readonly ActiveDecision[],
): Promise<Pick<ActiveDecision, 'id' | 'kind' | 'delivery_id' | 'row_no'>[]> {
  const before = new Set(then.decisions);
  const current = new Set(now.map((d) => d.id));
  const added = now.filter((d) => !before.has(d.id));
  const gone = then.decisions.filter((id) => !current.has(id));
  const revoked = await tx.k
    .selectFrom('match_decision')
    .select(['id', 'kind', 'delivery_id', 'row_no'])
    .where((eb) => eb.or([eb('id', 'in', gone.length ? gone : [-1]), eb.and([eb('id', '>', then.seen_decision), eb('revoked_at', 'is not', null)])]))
    .execute();
  return [...added, ...revoked];
}

async function rebuild(tx: Tx, decisions: readonly ActiveDecision[]): Promise<ActiveDecisions> {
  await computeAnchors(tx);
  await sql`truncate link_key, person_block, big_block, person_profile`.execute(tx.k);
  await sql`insert into link_key (delivery_id, row_no, person_key) select delivery_id, row_no, anchor_key from row_link where anchor_key is not null`.execute(tx.k);
  await analyze(tx, 'link_key');
  const active = await applyDecisions(tx, decisions, 'link_key');
  await sql`insert into person_block (person_key, kind, value) ${BLOCKS_OF(sql`true`)}`.execute(tx.k);
  await analyze(tx, 'person_block');
  await sql`
    insert into big_block (kind, value)
    select kind, value from person_block group by kind, value having count(*) > ${MAX_BLOCK_SIZE}`.execute(tx.k);
  await analyze(tx, 'big_block');
  return active;
}

async function updateChanged(tx: Tx, decisions: readonly ActiveDecision[], changed: readonly Pick<ActiveDecision, 'delivery_id' | 'row_no'>[]): Promise<AnchorUpdate> {
  // the rows that could have changed: new ones, those sharing a 人员编号 with them, those a decision names
  await sql`create temp table anchor_delta (delivery_id int, row_no int, primary key (delivery_id, row_no)) on commit drop`.execute(tx.k);
  await sql`insert into anchor_delta select delivery_id, row_no from row_link where method = 'pending'`.execute(tx.k);
  const named = changed.filter((d) => d.delivery_id !== null && d.row_no !== null).map((d) => [d.delivery_id, d.row_no]);
  if (named.length > 0) {
    await sql`
      insert into anchor_delta select (r->>0)::int, (r->>1)::int from jsonb_array_elements(${JSON.stringify(named)}::jsonb) r
      on conflict do nothing`.execute(tx.k);
  }
  await analyze(tx, 'anchor_delta');
  await computeAnchorsOf(tx, 'anchor_delta');
  await analyze(tx, 'anchor_delta');

  // their person keys now, and the rows whose key changed
  await sql`
    create temp table next_key (delivery_id int, row_no int, person_key text not null, scored boolean not null default false,
                                primary key (delivery_id, row_no)) on commit drop`.execute(tx.k);
  await sql`
    insert into next_key (delivery_id, row_no, person_key)
    select l.delivery_id, l.row_no, l.anchor_key from anchor_delta a
    join row_link l on l.delivery_id = a.delivery_id and l.row_no = a.row_no
    where l.anchor_key is not null`.execute(tx.k);
  const active = await applyDecisions(tx, decisions, 'next_key', 'anchor_delta');
  await sql`
    create temp table anchor_moved on commit drop as
    select k.person_key, k.delivery_id, k.row_no, false as gained
    from anchor_delta a
    join link_key k on k.delivery_id = a.delivery_id and k.row_no = a.row_no
    left join next_key n on n.delivery_id = a.delivery_id and n.row_no = a.row_no
    where n.person_key is distinct from k.person_key
    union all
    select n.person_key, n.delivery_id, n.row_no, true
    from next_key n
    left join link_key k on k.delivery_id = n.delivery_id and k.row_no = n.row_no
    where k.person_key is distinct from n.person_key`.execute(tx.k);
  await analyze(tx, 'anchor_moved');
  const moved = (await sql<{ n: number }>`select count(distinct (delivery_id, row_no))::int as n from anchor_moved`.execute(tx.k)).rows[0]!.n;

  await sql`delete from link_key k using anchor_moved m where m.delivery_id = k.delivery_id and m.row_no = k.row_no and not m.gained`.execute(tx.k);
  await sql`
    insert into link_key (delivery_id, row_no, person_key) select delivery_id, row_no, person_key from anchor_moved where gained
    on conflict (delivery_id, row_no) do update set person_key = excluded.person_key`.execute(tx.k);

  // the profiles kept of the persons whose anchored rows changed are stale
  await sql`delete from person_profile p using (select distinct person_key from anchor_moved) m where m.person_key = p.person_key`.execute(tx.k);

  // blocks: a person that lost a row has its blocks computed again, one that gained a row gains that row's
  await sql`create temp table touched_block (kind text, value text) on commit drop`.execute(tx.k);
  await sql`create temp table lost_person on commit drop as select distinct person_key from anchor_moved where not gained`.execute(tx.k);
  await sql`
    with gone as (delete from person_block b using lost_person p where b.person_key = p.person_key returning b.kind, b.value)
    insert into touched_block select kind, value from gone`.execute(tx.k);
  await sql`
    with added as (
      insert into person_block (person_key, kind, value)
      select person_key, kind, value from (${BLOCKS_OF(sql`k.person_key in (select person_key from lost_person)`)}) b
      union
      select person_key, kind, value from (${BLOCKS_OF(sql`k.gained`, 'anchor_moved')}) b
      on conflict do nothing
      returning kind, value
    )
    insert into touched_block select kind, value from added`.execute(tx.k);
  // block sizes: counted again for the keys that gained or lost persons
  await sql`create temp table touched_key on commit drop as select distinct kind, value from touched_block`.execute(tx.k);
  await analyze(tx, 'touched_key');
  await sql`delete from big_block b using touched_key t where b.kind = t.kind and b.value = t.value`.execute(tx.k);
  await sql`
    insert into big_block (kind, value)
    select pb.kind, pb.value from touched_key t join person_block pb on pb.kind = t.kind and pb.value = t.value
    group by pb.kind, pb.value having count(*) > ${MAX_BLOCK_SIZE}`.execute(tx.k);
  return { mode: 'updated', reason: null, moved, decisions: active };
}

/** Removes what the run's scoring passes added (rows, blocks, blocks grown too big), leaving the anchored part. */
export async function dropScored(tx: Tx): Promise<void> {
  await sql`delete from link_key where scored`.execute(tx.k);
  await sql`delete from person_block where scored`.execute(tx.k);
  await sql`delete from big_block where scored`.execute(tx.k);
}
