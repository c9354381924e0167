/**
 * A matching run, in one transaction (nobody sees half-updated links):
 *
 *   1. every source row gets a row_link; new rows get their name's comparison forms
 *   2. anchors: the deterministic keys (anchors.ts)
 *   3. staff decisions: merges, splits, confirms, rejects (decisions.ts) → link_key
 *   4. weights, estimated from anchored rows as labels (weights.ts)
 *   5. every row without a key is scored against the persons its block keys find,
 *      and linked, sent to review, or left to found a person of its own (cluster.ts)
 *   6. links, persons and golden records are written where they changed
 *
 * Under the model version of the latest run, step 5 scores only the rows whose
 * candidates changed and keeps the latest run's decision for the rest (affected.ts),
 * so a run after each delivery and one run over everything end in exactly the same
 * links. Anchors, staff decisions and person blocks (steps 2–3) are kept between runs,
 * and a run computes them again only for the rows that could have changed (anchor-state.ts).
 */
import { sql } from 'kysely';
import { analyze, setRunMemory, vacuumAnalyze, type Store, type Tx } from '../db/store.js';
import { copyLine } from '../db/copy.js';
import { workTable, type WorkRow } from '../db/work-table.js';
import { ANCHOR_KEY, anchoredMethod, insuranceIds } from './anchors.js';
import { dropScored, updateAnchorState, type AnchorUpdate } from './anchor-state.js';
import { createNameTools, type NameTools } from './chinese.js';
import { clusterUnclaimed } from './cluster.js';
import { compareAll, compareContext, idEdits, type Probe, type Profile } from './compare.js';
import { rowId, type ActiveDecisions } from './decisions.js';
import { blockKeys, extendPersonBlocks, findCandidates, loadFloating, loadLeaveOneOutProfiles, loadPlaces, loadProfiles, loadPseudoSample, loadStaffLabels, MAX_BLOCK_SIZE, MAX_CANDIDATES, type EarlierOutcome, type ProbeRow } from './data.js';
import { affectedRows, blockId, MAX_CHANGED_SHARE, widen, type AffectedRows } from './affected.js';
import { assignedJointly, housemateClaims, householdOnRoster } from './household.js';
import { livePersons, refreshPersons } from './persons.js';
import { againstCandidate, pooledProbe } from './pool.js';
import { estimateWeights, posteriors, score, type Evidence, type Labelled, type NameFrequency, type Weights } from './weights.js';
import { DEFAULT_MODEL_POLICY, finishModel, latestModel, loadModel, modelFrequency, reestimateReason, startModel, type ModelPolicy, type ModelReason } from './model.js';

/** Link when the best candidate is this likely to be the one. */
export const LINK_PROBABILITY = 0.99;
/** Below this, and with no candidate this likely, a row founds a person of its own; between, it waits for review. */
export const REVIEW_PROBABILITY = 0.05;
/** Anchored roster rows hidden and re-found to estimate the weights. */
export const PSEUDO_SAMPLE = 3000;

export type MatchScope = { kind: 'new' } | { kind: 'all' } | { kind: 'person'; personId: number } | { kind: 'file'; file: string };

export interface MatchStats {
  /** the model version the run scored with, and why it estimated a new one (null: reused) */
  model: { id: number; reason: ModelReason | null };
  rows: number;
  newRows: number;
  anchored: number;
  /** floating rows scored in this run (the others kept the latest run's decision) */
  scored: number;
  /** floating rows that kept the latest run's decision; why none did, when every row was scored */
  kept: number;
  everyRow: string | null;
  linked: number;
  review: number;
  unclaimed: number;
  /** rows that alone would wait for review, decided with their cluster's pooled evidence (pool.ts) */
  pooled: number;
  changed: number;
  /** rows whose person or review state changed (match_change) */
  relinked: number;
  persons: number;
  /** whether the kept anchored state was updated for the rows that could have changed, or rebuilt, and why (anchor-state.ts) */
  anchors: { mode: AnchorUpdate['mode']; reason: string | null; moved: number };
  seconds: { features: number; anchors: number; weights: number; scoring: number; write: number; total: number };
  /** of the scoring: finding candidates, loading their profiles, comparing and deciding, joining linked rows to their persons */
  scoringSeconds: ScoringSeconds;
}

interface ScoringSeconds {
  candidates: number;
  profiles: number;
  compare: number;
  join: number;
}

/** Adds the seconds `work` takes to `into[part]`. */
async function timed<T>(into: ScoringSeconds, part: keyof ScoringSeconds, work: () => Promise<T> | T): Promise<T> {
  const t = performance.now();
  try {
    return await work();
  } finally {
    into[part] = Math.round((into[part] + (performance.now() - t) / 1000) * 1000) / 1000;
  }
}

export interface MatchResult {
  runId: number;
  stats: MatchStats;
  weights: Weights;
}

export interface MatchOptions {
  scope?: MatchScope;
  /** estimate a new model version even if the current one is young and the rows have not grown */
  reestimate?: boolean;
  /** when a run estimates a new version by itself */
  modelPolicy?: ModelPolicy;
  /** score with exactly this version (tests: equality under one version) */
  modelId?: number;
  /** above this share of persons with changed anchored rows, score every row (affected.ts; tests set 1) */
  maxChangedShare?: number;
  nameTools?: NameTools;
  onProgress?: (step: string) => void;
}

const linkScore = Math.log2(LINK_PROBABILITY / (1 - LINK_PROBABILITY));

interface FloatDecision {
  /** an unclaimed row not scored again: only its person (from clustering) is written */
  keep?: boolean;
  /** the pass that linked the row by score */
  pass?: number | null;
  /** no person claimed the row: it is clustered with the other unclaimed rows */
  unclaimed?: boolean;
  /** alone the row waited for review; its cluster's pooled evidence linked it (pool.ts) */
  pooled?: boolean;
  personKey: string | null;
  state: 'linked' | 'review';
  method: 'scored' | 'new' | 'staff';
  score: number | null;
  evidence: { total: number; probability: number; prior: number; evidence: Evidence[] } | null;
  /** the best three; a review's carry each one's evidence, for staff to compare side by side */
  candidates: { key: string; score: number; probability: number; evidence?: Evidence[] }[] | null;
}

/** A row's name in its comparison forms: for the rows new to matching, and again after the name-variant files change. */
const NAME_FORM_COLUMNS = { delivery_id: 'int', row_no: 'int', fold: 'text', sound: 'text' } as const;
const NEW_ROW = workTable('new_row', NAME_FORM_COLUMNS);
const NAME_FORM = workTable('name_form', NAME_FORM_COLUMNS);

function nameForms(r: { delivery_id: number; row_no: number; name_norm: string | null }, tools: NameTools): WorkRow<typeof NAME_FORM_COLUMNS> {
  return { delivery_id: r.delivery_id, row_no: r.row_no, fold: r.name_norm ? tools.fold(r.name_norm) : null, sound: r.name_norm ? tools.soundKey(r.name_norm) : null };
}

/**
 * The rows no run has seen get their row_link in one insert, with their name's
 * comparison forms and their anchor key: every later write of a row leaves a dead
 * version behind (autovacuum may be off), so a new row is written once here and once
 * more when it is linked. Returns how many rows were new.
 */
async function insertNewRows(tx: Tx, tools: NameTools): Promise<number> {
  const fresh = await sql<{ delivery_id: number; row_no: number; name_norm: string | null }>`
    select s.delivery_id, s.row_no, s.name_norm
    from source_row s join delivery d on d.id = s.delivery_id
    where d.status <> 'staged'
      and not exists (select 1 from row_link l where l.delivery_id = s.delivery_id and l.row_no = s.row_no)`.execute(tx.k);
  if (fresh.rows.length === 0) return 0;
  await NEW_ROW.fill(tx, fresh.rows.map((r) => NEW_ROW.line(nameForms(r, tools))));
  // the map's entries for the new rows' 人员编号 only: the others' rows get no key here
  const ins = sql`s.insurance_no in (select s2.insurance_no from new_row n join source_row s2 on s2.delivery_id = n.delivery_id and s2.row_no = n.row_no)`;
  await sql`
    with ins_ids as (${insuranceIds(ins)})
    insert into row_link (delivery_id, row_no, name_fold, name_sound, anchor_key, state, method)
    select n.delivery_id, n.row_no, n.fold, n.sound, ${ANCHOR_KEY}, 'review', 'pending'
    from new_row n
    join source_row s on s.delivery_id = n.delivery_id and s.row_no = n.row_no
    left join ins_ids i on i.insurance_no = s.insurance_no`.execute(tx.k);
  return fresh.rows.length;
}

/**
 * Comparison forms of names computed again for the rows of a rematch's scope (after a
 * change of the name-variant files, say); rows new in this run ('pending') have just had theirs.
 */
async function recomputeNameForms(tx: Tx, tools: NameTools, scope: Exclude<MatchScope, { kind: 'new' }>): Promise<number> {
  const filter =
    scope.kind === 'all'
      ? sql`true`
      : scope.kind === 'file'
        ? sql`l.delivery_id in (select id from delivery where file = ${scope.file})`
        : sql`l.person_id = ${scope.personId}`;
  const rows = await sql<{ delivery_id: number; row_no: number; name_norm: string | null }>`
    select l.delivery_id, l.row_no, s.name_norm
    from row_link l join source_row s on s.delivery_id = l.delivery_id and s.row_no = l.row_no
    where ${filter} and l.method <> 'pending'`.execute(tx.k);
  if (rows.rows.length === 0) return 0;
  await NAME_FORM.fill(tx, rows.rows.map((r) => NAME_FORM.line(nameForms(r, tools))));
  await sql`
    update row_link l set name_fold = f.fold, name_sound = f.sound
    from name_form f
    where l.delivery_id = f.delivery_id and l.row_no = f.row_no
      and (l.name_fold is distinct from f.fold or l.name_sound is distinct from f.sound)`.execute(tx.k);
  return rows.rows.length;
}

/** Pseudo-probes: an anchored row with its id hidden in each way real rows lose it. */
function hideId(p: ProbeRow): ProbeRow[] {
  const id = p.idValue!;
  // a mistyped digit at a position fixed by the number itself
  let h = 0;
  for (let i = 0; i < id.length; i++) h = (h * 31 + id.charCodeAt(i)) >>> 0;
  const at = h % 17;
  const typo = id.slice(0, at) + String((Number(id[at]) + 1 + (h % 9)) % 10) + id.slice(at + 1);
  return [
    { ...p, idStatus: 'missing', idValue: null },
    { ...p, idStatus: 'spreadsheet_damaged', idValue: id.slice(0, 15) },
    { ...p, idStatus: 'masked', idValue: id.slice(0, 6) + '********' + id.slice(14) },
    { ...p, idStatus: 'checksum_failed', idValue: typo },
  ];
}

/** Non-matching persons drawn per probe and context level, to estimate u from. */
const SAMPLE_PER_LEVEL = { household: 20, village: 6, township: 4, elsewhere: 6 };

/**
 * Estimates the weights (weights.ts). Non-matches are drawn per context level, each
 * without regard to names, so that name agreement among them is what chance gives:
 * the probe's household (its head-of-household id, 户编号, phone), random persons of
 * its village, of its township, and of the county.
 */
async function estimate(tx: Tx, tools: NameTools, places: Awaited<ReturnType<typeof loadPlaces>>, frequency: NameFrequency): Promise<Weights> {
  const sample = await loadPseudoSample(tx, places, PSEUDO_SAMPLE);
  const base = sample.probes;
  await sql`create temp table pseudo_base (probe_id int, person_key text, township text, village text) on commit drop`.execute(tx.k);
  await sql`create temp table pseudo_hkey (probe_id int, kind text, value text) on commit drop`.execute(tx.k);
  const baseLines: string[] = [];
  const keyLines: string[] = [];
  base.forEach((p, i) => {
    baseLines.push(copyLine([i, p.trueKey ?? null, p.township, p.village]));
    for (const [kind, value] of blockKeys(p, null)) if (kind === 'head' || kind === 'household' || kind === 'phone') keyLines.push(copyLine([i, kind, value]));
  });
  if (baseLines.length) await tx.copyIn('pseudo_base', ['probe_id', 'person_key', 'township', 'village'], baseLines.join(''));
  if (keyLines.length) await tx.copyIn('pseudo_hkey', ['probe_id', 'kind', 'value'], keyLines.join(''));
  await analyze(tx, 'pseudo_base');
  await analyze(tx, 'pseudo_hkey');
  await sql`
    create temp table person_place on commit drop as
    select distinct k.person_key, s.township, coalesce(s.village, '') as village
    from link_key k join source_row s on s.delivery_id = k.delivery_id and s.row_no = k.row_no
    where s.township is not null`.execute(tx.k);
  await sql`create index person_place_at on person_place (township, village)`.execute(tx.k);
  await analyze(tx, 'person_place');

  const drawn = await sql<{ probe_id: number; person_key: string }>`
    with household as (
      select h.probe_id, pb.person_key, row_number() over (partition by h.probe_id order by hashtextextended(pb.person_key, h.probe_id)) as n
      from pseudo_hkey h
      join person_block pb on pb.kind = h.kind and pb.value = h.value
      join pseudo_base b on b.probe_id = h.probe_id
      where pb.person_key <> b.person_key
      group by h.probe_id, pb.person_key
    )
    select probe_id, person_key from household where n <= ${SAMPLE_PER_LEVEL.household}
    union
    select b.probe_id, v.person_key
    from pseudo_base b
    cross join lateral (
      select pp.person_key from person_place pp
      where pp.township = b.township and pp.village = coalesce(b.village, '') and pp.person_key <> b.person_key
      order by hashtextextended(pp.person_key, b.probe_id) limit ${SAMPLE_PER_LEVEL.village}
    ) v
    where b.township is not null
    union
    select b.probe_id, t.person_key
    from pseudo_base b
    cross join lateral (
      select pp.person_key from person_place pp
      where pp.township = b.township and pp.village <> coalesce(b.village, '') and pp.person_key <> b.person_key
      order by hashtextextended(pp.person_key, b.probe_id) limit ${SAMPLE_PER_LEVEL.township}
    ) t
    where b.township is not null`.execute(tx.k);

  // the whole county, in an order fixed by the keys, to draw persons from anywhere
  const everyone = (await sql<{ person_key: string }>`
    select distinct person_key from link_key order by person_key`.execute(tx.k)).rows.map((r) => r.person_key);
  const persons = everyone.length;
  const draws = new Map<number, Set<string>>();
  for (const r of drawn.rows) (draws.get(r.probe_id) ?? draws.set(r.probe_id, new Set()).get(r.probe_id)!).add(r.person_key);
  base.forEach((p, i) => {
    const set = draws.get(i) ?? draws.set(i, new Set()).get(i)!;
    for (let j = 0; j < SAMPLE_PER_LEVEL.elsewhere && persons > 1; j++) {
      const k = everyone[(i * 7919 + j * 104_729 + 13) % persons]!;
      if (k !== p.trueKey) set.add(k);
    }
  });

  // how many persons stand at each context level relative to the probes, in the whole county
  const counts = await sql<{ household: number; village: number; township: number; probes: number }>`
    with h as (
      select h.probe_id, count(distinct pb.person_key) as n
      from pseudo_hkey h join person_block pb on pb.kind = h.kind and pb.value = h.value
      join pseudo_base b on b.probe_id = h.probe_id
      where pb.person_key <> b.person_key
      group by h.probe_id
    ),
    v as (select township, village, count(distinct person_key) as n from person_place group by township, village),
    t as (select township, count(distinct person_key) as n from person_place group by township)
    select coalesce(avg(coalesce(h.n, 0)), 0)::float8 as household,
           coalesce(avg(greatest(coalesce(v.n, 0) - 1 - coalesce(h.n, 0), 0)), 0)::float8 as village,
           coalesce(avg(greatest(coalesce(t.n, 0) - coalesce(v.n, 0), 0)), 0)::float8 as township,
           count(*)::int as probes
    from pseudo_base b
    left join h on h.probe_id = b.probe_id
    left join v on v.township = b.township and v.village = coalesce(b.village, '')
    left join t on t.township = b.township
    where b.township is not null`.execute(tx.k);
  const c = counts.rows[0]!;
  const others = Math.max(persons - 1, 1);
  const share = { household: c.household / others, village: c.village / others, township: c.township / others, elsewhere: 0 };
  share.elsewhere = Math.max(1 / others, 1 - share.household - share.village - share.township);

  // staff decisions are labels too: the rows a person had to decide, compared as they are
  const staff = await loadStaffLabels(tx, places);
  const staffProfiles = await loadLeaveOneOutProfiles(tx, staff.probes);
  const own = await loadLeaveOneOutProfiles(tx, base);
  const keys = new Set<string>();
  for (const set of draws.values()) for (const k of set) keys.add(k);
  const profiles = await loadProfiles(tx, [...keys]);
  function* pairs(): Generator<Labelled> {
    for (const [i, p] of base.entries()) {
      const mine = own.get(i);
      for (const v of hideId(p)) {
        if (mine) yield { probe: v, profile: mine, match: true };
        for (const k of draws.get(i) ?? []) {
          const q = profiles.get(k);
          if (q) yield { probe: v, profile: q, match: false };
        }
      }
    }
    for (const [i, p] of staff.probes.entries()) {
      const q = staffProfiles.get(i);
      if (q) yield { probe: p, profile: q, match: staff.match[i]!, staff: true };
    }
  }
  return estimateWeights(pairs(), share, persons, tools, frequency);
}

/**
 * What a row (or a pooled cluster) is, from its candidates' probabilities, best first: the
 * best one's at LINK_PROBABILITY; a question for staff when some candidate is likely enough
 * (REVIEW_PROBABILITY) or all of them together are as likely as not; else nobody known.
 */
function verdictOf(probs: readonly number[]): 'link' | 'review' | 'new' {
  const best = probs[0];
  if (best === undefined) return 'new';
  if (best >= LINK_PROBABILITY) return 'link';
  return best >= REVIEW_PROBABILITY || probs.reduce((a, b) => a + b, 0) >= 0.5 ? 'review' : 'new';
}

function decideFloating(
  probes: readonly ProbeRow[],
  candidates: Map<number, string[]>,
  profiles: Map<string, Profile>,
  weights: Weights,
  tools: NameTools,
  frequency: NameFrequency,
  decisions: ActiveDecisions,
): FloatDecision[] {
  const scoreRow = (p: ProbeRow, i: number) => {
    const excluded = decisions.rejects.get(rowId(p.deliveryId, p.rowNo));
    return (candidates.get(i) ?? [])
      .filter((k) => !excluded?.has(k))
      .map((k) => {
        const q = profiles.get(k)!;
        return { key: k, ...score(weights, compareContext(p, q), compareAll(p, q, tools), p.fold, frequency) };
      })
      .sort((a, b) => b.total - a.total || (a.key < b.key ? -1 : 1));
  };
  // one row per person within a household on a roster: persons a housemate took are not this row's.
  // Only those rows' weights are held for it, without their evidence: a row's candidates with their
  // evidence are held while it is decided, never all rows' at once (memory grows with the county)
  const joint = assignedJointly(probes);
  const claimed = housemateClaims(
    probes,
    probes.map((p, i) => (joint[i] ? scoreRow(p, i).map((s) => ({ key: s.key, total: s.total })) : [])),
    LINK_PROBABILITY,
  );
  return probes.map((p, i) => {
    const all = scoreRow(p, i);
    const taken = claimed[i];
    const open = taken ? all.filter((s) => !taken.has(s.key)) : all;
    const probs = posteriors(open.map((s) => s.total));
    const best = open[0];
    const explain = (k: number) => ({ total: open[k]!.total, probability: probs[k]!, prior: weights.prior, evidence: open[k]!.evidence });
    const top = (withEvidence: boolean) =>
      open.slice(0, 3).map((s, k) => ({ key: s.key, score: s.total, probability: Math.round(probs[k]! * 1e6) / 1e6, ...(withEvidence ? { evidence: s.evidence } : {}) }));
    const verdict = verdictOf(probs);
    if (best && verdict === 'link') {
      return { personKey: best.key, state: 'linked', method: 'scored', score: best.total, evidence: explain(0), candidates: null };
    }
    if (best && verdict === 'review') {
      return { personKey: null, state: 'review', method: 'scored', score: best.total, evidence: explain(0), candidates: top(true) };
    }
    return { personKey: null, state: 'linked', method: 'new', score: best?.total ?? null, evidence: best ? explain(0) : null, candidates: open.length ? top(false) : null };
  });
}

/** Scoring passes at most: each lets the rows linked by the one before tell more about their persons. */
export const MAX_PASSES = 4;

/**
 * Scores the floating rows in passes. A row linked in one pass joins its person for
 * the next (its head-of-household id, 户编号, village and phone become the person's
 * too), and the rows still undecided are scored again: a child known to the insurance
 * system only by its settlements is tied to its household by the one roster row that
 * shows its birth date, and then its other roster rows follow.
 *
 * Only the rows `affected` says must be are scored; the others keep the latest run's
 * decision, pass by pass (affected.ts). `decided[i]` is undefined for a row kept as it was.
 */
async function scoreInPasses(
  tx: Tx,
  floating: { probes: readonly ProbeRow[]; sounds: readonly (string | null)[]; earlier: readonly EarlierOutcome[] },
  weights: Weights,
  tools: NameTools,
  frequency: NameFrequency,
  decisions: ActiveDecisions,
  affected: AffectedRows,
  modelId: number,
  spent: ScoringSeconds,
): Promise<Scored> {
  const { probes, sounds, earlier } = floating;
  const decided: (FloatDecision | undefined)[] = new Array(probes.length);
  // once scored in a pass, a row is scored in every later pass too
  const scoring = probes.map((p, i) => affected.all || earlier[i]!.modelId !== modelId || affected.named.has(rowId(p.deliveryId, p.rowNo)));
  const households = affected.all ? [] : probes.map(householdOnRoster);
  const blockIds = affected.all ? [] : probes.map((p, i) => blockKeys(p, sounds[i] ?? null).map(([kind, value]) => blockId(kind, value)));
  // candidates' profiles, loaded once and again only for the persons a pass gave rows
  const profiles = new Map<string, Profile>();
  // persons that gained rows by score in this run: their profiles are read from all their rows
  const scoredKeys = new Set<string>();
  let open = probes.map((_, i) => i);
  for (let pass = 1; pass <= MAX_PASSES && open.length > 0; pass++) {
    if (!affected.all) {
      for (const i of open) if (!scoring[i] && blockIds[i]!.some((k) => affected.dirty.has(k))) scoring[i] = true;
      // a household on a roster is assigned as a whole (household.ts): one row scored, all of it scored
      const scoredHouseholds = new Set(open.filter((i) => scoring[i] && households[i]).map((i) => households[i]));
      for (const i of open) if (!scoring[i] && households[i] && scoredHouseholds.has(households[i])) scoring[i] = true;
    }
    const batchIdx = open.filter((i) => scoring[i]);
    if (batchIdx.length > 0) {
      const batch = batchIdx.map((i) => probes[i]!);
      const candidates = await timed(spent, 'candidates', () => findCandidates(tx, batch, batchIdx.map((i) => sounds[i] ?? null)));
      const missing = new Set<string>();
      for (const list of candidates.values()) for (const k of list) if (!profiles.has(k)) missing.add(k);
      for (const [k, q] of await timed(spent, 'profiles', () => loadProfiles(tx, [...missing], scoredKeys))) profiles.set(k, q);
      const decisionsNow = await timed(spent, 'compare', () => decideFloating(batch, candidates, profiles, weights, tools, frequency, decisions));
      decisionsNow.forEach((d, j) => {
        decided[batchIdx[j]!] = { ...d, pass: d.state === 'linked' && d.personKey ? pass : null };
      });
    }
    // linked in this pass: by this run's score, or kept as the latest run linked it in this pass
    const linkedKey = (i: number): string | null =>
      scoring[i] ? (decided[i]!.pass === pass ? decided[i]!.personKey : null) : earlier[i]!.pass === pass ? earlier[i]!.key : null;
    const linked = open.filter((i) => linkedKey(i) !== null);
    // the rows whose link in this pass differs from the latest run's, and their persons
    const moved: [number, number][] = [];
    const persons = new Set<string>();
    if (!affected.all) {
      for (const i of batchIdx) {
        const was = earlier[i]!.modelId === modelId && earlier[i]!.pass === pass ? earlier[i]!.key : null;
        const now = linkedKey(i);
        if (was === now) continue;
        moved.push([probes[i]!.deliveryId, probes[i]!.rowNo]);
        if (was) persons.add(was);
        if (now) persons.add(now);
      }
    }
    if (linked.length === 0 || pass === MAX_PASSES) break;
    await timed(spent, 'join', async () => {
      await joinPersons(tx, linked.map((i) => ({ probe: probes[i]!, key: linkedKey(i)! })));
      await widen(tx, affected, moved, [...persons]);
    });
    for (const i of linked) {
      profiles.delete(linkedKey(i)!);
      scoredKeys.add(linkedKey(i)!);
    }
    const done = new Set(linked);
    open = open.filter((i) => !done.has(i));
  }
  // rows no person claimed in the latest run, and not scored again, are clustered again with the rest
  probes.forEach((_, i) => {
    if (!scoring[i] && earlier[i]!.unclaimed) decided[i] = { keep: true, pass: null, personKey: null, state: 'linked', method: 'new', score: null, evidence: null, candidates: null };
  });
  return { decided, profiles, scoredKeys };
}

/** What the passes decided, with the candidates' profiles as the passes left them (for pool.ts). */
interface Scored {
  decided: (FloatDecision | undefined)[];
  profiles: Map<string, Profile>;
  /** persons that gained rows by score in this run: their profiles are read from all their rows */
  scoredKeys: Set<string>;
}

/**
 * The rows no known person claimed and the rows in review, clustered (cluster.ts). A
 * cluster of unclaimed rows founds a person. A cluster holding rows in review is scored
 * as one pooled probe (pool.ts): a known person at LINK_PROBABILITY takes every row of
 * it, nobody known makes it one new person, anything else leaves each row as it decided
 * alone. Runs over every such row each run, kept or scored, as the clustering always did:
 * its verdicts follow from the rows' own decisions, which equal a full rematch's.
 * Returns how many rows in review their cluster decided.
 */
async function decideClusters(
  tx: Tx,
  floating: { probes: readonly ProbeRow[]; sounds: readonly (string | null)[]; earlier: readonly EarlierOutcome[] },
  scored: Scored,
  model: { weights: Weights; frequency: NameFrequency },
  tools: NameTools,
  decisions: ActiveDecisions,
  spent: ScoringSeconds,
): Promise<number> {
  const { probes, sounds, earlier } = floating;
  const { decided, profiles, scoredKeys } = scored;
  const { weights, frequency } = model;
  const inReview = (i: number) => (decided[i] ? decided[i]!.state === 'review' : earlier[i]!.review);
  const members = probes.flatMap((_, i) => (decided[i]?.method === 'new' || inReview(i) ? [i] : []));
  // a row kept as it was is written again only where its cluster's verdict may differ from the latest run's
  const kept = (i: number): FloatDecision =>
    decided[i] ?? { keep: true, pass: null, personKey: null, state: 'review', method: 'scored', score: null, evidence: null, candidates: null };
  const found = (group: readonly number[]) => {
    const first = probes[group[0]!]!;
    const key = `row:${first.deliveryId}:${first.rowNo}`;
    group.forEach((i, n) => {
      const review = inReview(i);
      decided[i] = { ...kept(i), personKey: key, state: 'linked', method: n === 0 ? 'new' : 'scored', unclaimed: !review, pooled: review };
    });
  };
  const groups = clusterUnclaimed(members, probes, sounds, tools, weights, frequency, linkScore);
  const mixed: number[][] = [];
  for (const g of groups) {
    if (g.some(inReview)) mixed.push(g);
    else found(g);
  }

  const pooled = mixed.map((g) => pooledProbe(g.map((i) => probes[i]!)));
  const asked = mixed.flatMap((_, j) => (pooled[j] ? [j] : []));
  const candidates = await timed(spent, 'candidates', () => findCandidates(tx, asked.map((j) => pooled[j]!), asked.map((j) => sounds[mixed[j]![0]!] ?? null)));
  const missing = new Set<string>();
  for (const list of candidates.values()) for (const k of list) if (!profiles.has(k)) missing.add(k);
  for (const [k, q] of await timed(spent, 'profiles', () => loadProfiles(tx, [...missing], scoredKeys))) profiles.set(k, q);

  let decidedTogether = 0;
  await timed(spent, 'compare', () => {
    asked.forEach((j, n) => {
      const group = mixed[j]!;
      const probe = pooled[j]!;
      // a person staff rejected for any row of the cluster is not the cluster's
      const rejected = new Set(group.flatMap((i) => [...(decisions.rejects.get(rowId(probes[i]!.deliveryId, probes[i]!.rowNo)) ?? [])]));
      const totals = (candidates.get(n) ?? [])
        .filter((k) => !rejected.has(k))
        .map((k) => {
          const q = profiles.get(k)!;
          const p = againstCandidate(probe, q.rosters);
          return { key: k, total: score(weights, compareContext(p, q), compareAll(p, q, tools), p.fold, frequency).total };
        })
        .sort((a, b) => b.total - a.total || (a.key < b.key ? -1 : 1));
      const verdict = verdictOf(posteriors(totals.map((t) => t.total)));
      if (verdict === 'link') {
        for (const i of group) decided[i] = { ...kept(i), personKey: totals[0]!.key, state: 'linked', method: 'scored', unclaimed: false, pooled: true };
      } else if (verdict === 'new') {
        found(group);
      } else return;
      decidedTogether += group.filter(inReview).length;
      mixed[j] = [];
    });
  });
  // undecided together: each row as it decided alone, the unclaimed ones clustered among themselves
  for (const group of mixed) {
    for (const i of group) if (inReview(i)) decided[i] = { ...kept(i), personKey: null, state: 'review', method: 'scored', unclaimed: false, pooled: false };
    for (const g of clusterUnclaimed(group.filter((i) => !inReview(i)), probes, sounds, tools, weights, frequency, linkScore)) found(g);
  }
  return decidedTogether;
}

/** Rows linked by scoring become part of their persons for the passes that follow. */
async function joinPersons(tx: Tx, rows: { probe: ProbeRow; key: string }[]): Promise<void> {
  await sql`create temp table if not exists scored_key (delivery_id int, row_no int, person_key text) on commit drop`.execute(tx.k);
  await sql`truncate scored_key`.execute(tx.k);
  await tx.copyIn('scored_key', ['delivery_id', 'row_no', 'person_key'], rows.map((r) => copyLine([r.probe.deliveryId, r.probe.rowNo, r.key])).join(''));
  await analyze(tx, 'scored_key');
  // removed again before the run commits (anchor-state.ts, dropScored)
  await sql`insert into link_key (delivery_id, row_no, person_key, scored) select delivery_id, row_no, person_key, true from scored_key`.execute(tx.k);
  await extendPersonBlocks(tx);
}

export async function runMatch(store: Store, opts: MatchOptions = {}): Promise<MatchResult> {
  const scope = opts.scope ?? { kind: 'new' };
  const tools = opts.nameTools ?? createNameTools();
  const progress = opts.onProgress ?? (() => undefined);
  const t0 = performance.now();
  const seconds = { features: 0, anchors: 0, weights: 0, scoring: 0, write: 0, total: 0 };
  const lap = (() => {
    let t = performance.now();
    return () => {
      const now = performance.now();
      const s = (now - t) / 1000;
      t = now;
      return Math.round(s * 1000) / 1000;
    };
  })();

  const result = await store.transaction(async (tx) => {
    await sql`select pg_advisory_xact_lock(hashtextextended('aidlink:match', 0))`.execute(tx.k);
    // a run sorts and hashes millions of block keys
    await setRunMemory(store, tx);
    const run = await tx.k.insertInto('match_run').values({ kind: scope.kind, params: null, stats: null }).returning('id').executeTakeFirstOrThrow();

    progress('reading new rows');
    // what ingest bulk-filled since the last run: statistics first, or every plan below guesses
    await analyze(tx, 'source_row');
    await analyze(tx, 'disability_row');
    const newRows = await insertNewRows(tx, tools);
    if (scope.kind !== 'new') await recomputeNameForms(tx, tools, scope);
    seconds.features = lap();

    progress('deterministic links');
    // new rows came with their keys; an earlier row's key changes when its 人员编号 is now seen with an id
    const anchors = await updateAnchorState(tx, { rebuild: scope.kind !== 'new', runId: run.id });
    const decisions = anchors.decisions;
    seconds.anchors = lap();

    progress('the match model');
    const places = await loadPlaces(tx);
    const rowCount = (await sql<{ n: number }>`select count(*)::int as n from row_link`.execute(tx.k)).rows[0]!.n;
    const latest = await latestModel(tx);
    const reason = opts.modelId !== undefined ? undefined : reestimateReason(latest, rowCount, { asked: opts.reestimate === true, policy: opts.modelPolicy ?? DEFAULT_MODEL_POLICY });
    let modelId = opts.modelId ?? latest?.id;
    if (reason) {
      progress('estimating weights');
      modelId = await startModel(tx, run.id, reason, rowCount);
      await finishModel(tx, modelId, await estimate(tx, tools, places, await modelFrequency(tx, modelId)));
    }
    // read back as stored, so that the run that estimates a version scores exactly as later runs do
    const model = await loadModel(tx, modelId!);
    const { weights, frequency } = model;
    seconds.weights = lap();

    progress('scoring rows without an id');
    const params = { LINK_PROBABILITY, REVIEW_PROBABILITY, MAX_PASSES, MAX_BLOCK_SIZE, MAX_CANDIDATES, places: places.signature };
    const affected = await affectedRows(tx, { full: scope.kind !== 'new', modelId: model.id, params, maxChangedShare: opts.maxChangedShare ?? MAX_CHANGED_SHARE, anchorsMoved: anchors.mode === 'updated' ? 'anchor_moved' : null });
    const floating = await loadFloating(tx, places);
    const scoringSeconds: ScoringSeconds = { candidates: 0, profiles: 0, compare: 0, join: 0 };
    const passes = await scoreInPasses(tx, floating, weights, tools, frequency, decisions, affected, model.id, scoringSeconds);
    const decided = passes.decided;
    const unclaimed = decided.filter((d) => d?.method === 'new').length;
    // rows nobody claims, and rows in review, decided with the rows of their person (pool.ts)
    const pooled = await decideClusters(tx, floating, passes, model, tools, decisions, scoringSeconds);
    seconds.scoring = lap();

    progress('writing links');
    const { changed, relinked } = await writeLinks(tx, run.id, model.id, floating.probes, decided, anchors);
    await refreshPersons(tx, run.id, anchors.mode === 'updated' ? 'changed' : 'check all');
    await dropScored(tx);
    const persons = await livePersons(tx);
    seconds.write = lap();
    seconds.total = Math.round((performance.now() - t0) / 10) / 100;

    const counts = await sql<{ rows: number; anchored: number; review: number; linked: number }>`
      select count(*)::int as rows, (select count(*)::int from link_key where not scored) as anchored,
             count(*) filter (where state = 'review')::int as review,
             count(*) filter (where scored_pass is not null)::int as linked
      from row_link`.execute(tx.k);
    const c = counts.rows[0]!;
    const scored = decided.filter((d) => d !== undefined && !d.keep).length;
    const stats: MatchStats = {
      model: { id: model.id, reason: reason ?? null },
      rows: c.rows,
      newRows,
      anchored: c.anchored,
      scored,
      kept: floating.probes.length - scored,
      everyRow: affected.all ? affected.reason : null,
      linked: c.linked,
      review: c.review,
      unclaimed,
      pooled,
      changed,
      relinked,
      persons,
      anchors: { mode: anchors.mode, reason: anchors.reason, moved: anchors.moved },
      seconds,
      scoringSeconds,
    };
    await tx.k
      .updateTable('match_run')
      .set({ finished_at: new Date(), model_id: model.id, stats: JSON.stringify(stats), params: JSON.stringify(params) })
      .where('id', '=', run.id)
      .execute();
    return { runId: run.id, stats, weights };
  });
  // a run rewrites many links and persons: reclaim the old versions and count them for the next run's plans
  await vacuumAnalyze(store, ['row_link', 'person', 'link_key', 'person_block', 'big_block', 'person_profile']);
  return result;
}

/** The scored rows' decisions, before they are written where they changed. */
const FLOAT_LINK = workTable('float_link', {
  delivery_id: 'int', row_no: 'int', keep: 'boolean', person_key: 'text', state: 'text', method: 'text', score: 'real',
  evidence: 'jsonb', candidates: 'jsonb', scored_pass: 'smallint', unclaimed: 'boolean', pooled: 'boolean',
});

/**
 * Writes the links that changed, stamped with the model version that scored them (a
 * new version restamps every scored row); records the rows whose person or state
 * changed. Returns how many rows changed in any way, and how many changed person or state.
 */
async function writeLinks(
  tx: Tx,
  runId: number,
  modelId: number,
  probes: readonly ProbeRow[],
  decided: readonly (FloatDecision | undefined)[],
  anchors: AnchorUpdate,
): Promise<{ changed: number; relinked: number }> {
  // anchored rows whose key did not change since the latest run are written as they are
  const anchoredRows =
    anchors.mode === 'updated' ? sql`exists (select 1 from anchor_delta a where a.delivery_id = k.delivery_id and a.row_no = k.row_no)` : sql`true`;
  // every person key in use has a person
  const lines: string[] = [];
  decided.forEach((d, i) => {
    if (!d) return;
    const p = probes[i]!;
    lines.push(FLOAT_LINK.line({
      delivery_id: p.deliveryId, row_no: p.rowNo, keep: d.keep === true, person_key: d.personKey, state: d.state, method: d.method, score: d.score,
      evidence: d.evidence ? JSON.stringify(d.evidence) : null, candidates: d.candidates ? JSON.stringify(d.candidates) : null,
      scored_pass: d.pass ?? null, unclaimed: d.unclaimed === true, pooled: d.pooled === true,
    }));
  });
  await FLOAT_LINK.fill(tx, lines);
  await sql`
    insert into person (person_key)
    select distinct person_key from (select person_key from link_key k where not scored and ${anchoredRows} union all select person_key from float_link) k
    where person_key is not null
    on conflict (person_key) do nothing`.execute(tx.k);
  await analyze(tx, 'person');
  // review candidates name persons by id, like everything staff see (every candidate key has a person: see above)
  await sql`
    update float_link f set candidates = m.candidates
    from (
      select f2.delivery_id, f2.row_no,
             jsonb_agg(jsonb_strip_nulls(jsonb_build_object('person_id', p.id, 'score', (x.c->>'score')::real, 'probability', (x.c->>'probability')::real, 'evidence', x.c->'evidence')) order by x.ord) as candidates
      from float_link f2
      cross join lateral jsonb_array_elements(f2.candidates) with ordinality as x(c, ord)
      join person p on p.person_key = x.c->>'key'
      where f2.candidates is not null
      group by f2.delivery_id, f2.row_no
    ) m
    where f.delivery_id = m.delivery_id and f.row_no = m.row_no`.execute(tx.k);

  await sql`
    create temp table desired on commit drop as
    select k.delivery_id, k.row_no, p.id as person_id, 'linked'::text as state, ${anchoredMethod('k')} as method,
           null::real as score, null::jsonb as evidence, null::jsonb as candidates, null::int as model_id,
           null::smallint as scored_pass, false as unclaimed, false as pooled
    from link_key k
    join person p on p.person_key = k.person_key
    join source_row s on s.delivery_id = k.delivery_id and s.row_no = k.row_no
    where not k.scored and ${anchoredRows}
    union all
    -- a row kept as it was (unclaimed, or in review and pooled again) keeps its score and candidates; only its cluster's verdict is new
    select f.delivery_id, f.row_no, p.id, f.state, f.method,
           case when f.keep then l.score else f.score end, case when f.keep then l.evidence else f.evidence end,
           case when f.keep then l.candidates else f.candidates end, ${modelId}::int, f.scored_pass, f.unclaimed, f.pooled
    from float_link f
    join row_link l on l.delivery_id = f.delivery_id and l.row_no = f.row_no
    left join person p on p.person_key = f.person_key`.execute(tx.k);
  await analyze(tx, 'desired');
  // rows new to matching ('pending') have no earlier link to change
  const relinked = await sql`
    insert into match_change (run_id, delivery_id, row_no, from_person_id, to_person_id, from_state, to_state)
    select ${runId}, l.delivery_id, l.row_no, l.person_id, d.person_id, l.state, d.state
    from row_link l join desired d on d.delivery_id = l.delivery_id and d.row_no = l.row_no
    where l.method <> 'pending' and (l.person_id is distinct from d.person_id or l.state is distinct from d.state)`.execute(tx.k);
  const r = await sql`
    update row_link l
    set person_id = d.person_id, state = d.state, method = d.method, score = d.score, evidence = d.evidence,
        candidates = d.candidates, run_id = ${runId}, model_id = d.model_id, scored_pass = d.scored_pass, unclaimed = d.unclaimed,
        pooled = d.pooled
    from desired d
    where l.delivery_id = d.delivery_id and l.row_no = d.row_no
      and (l.person_id is distinct from d.person_id or l.state is distinct from d.state or l.method is distinct from d.method
           or l.score is distinct from d.score or l.candidates is distinct from d.candidates or l.evidence is distinct from d.evidence
           or l.model_id is distinct from d.model_id or l.scored_pass is distinct from d.scored_pass or l.unclaimed is distinct from d.unclaimed
           or l.pooled is distinct from d.pooled)`.execute(tx.k);
  return { changed: Number(r.numAffectedRows ?? 0), relinked: Number(relinked.numAffectedRows ?? 0) };
}

export { idEdits };
export type { Probe };
