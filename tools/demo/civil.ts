/**
 * 民政 rosters (source `civil`): who holds which assistance category when, and the
 * monthly full snapshots that report it — a historical roster as of the day before
 * the period (exited members included, with 退出日期), then one roster a month,
 * alternating two file-name styles, XLSX at every quarter's end.
 *
 * The timeline mirrors what spec §6 must cope with: households recognised before and
 * during the period, members born into and leaving them, exits that are only an
 * absence (implicit) and exits reported with 退出日期 (explicit), reappearance after a
 * gap (with the old 认定日期, closing the gap, or a new one), category changes,
 * annual reviews that report a later 认定日期, recognitions that reach the roster
 * months late, and one truncated export.
 */
import type { AnyField } from '../../src/ingest/sources.js';
import {
  addYears, ageOn, chineseDay, compactDay, dayOf, isoDay, isQuarterEnd, monthEnd, monthNumber, monthYear, ymd,
  type Day, type Month,
} from './calendar.js';
import { chooseHeaders, Delivery, labelsOf, pickMostlyFirst, SnapshotSeries, type FileLayout, type GenerationContext } from './delivery.js';
import type { Holding } from './holdings.js';
import { COUNTY_NAME, type County } from './people.js';
import { Rng } from './random.js';
import type { Cell } from './sheet.js';
import type { FileTruth } from './truth.js';

export type CivilCategory = 'destitute' | 'dibao' | 'dibao_edge' | 'orphan' | 'de_facto_orphan' | 'catastrophic';

/** One person's listing in one category, from its first roster to its end. */
export interface CivilEntry {
  readonly pid: number;
  readonly hid: number;
  /** position in the household, for the roster's row order */
  readonly order: number;
  readonly category: CivilCategory;
  /** 认定日期 as first reported */
  readonly recognisedOn: Day;
  /** the roster lists the entry from the first as-of date on or after this day */
  readonly listedFrom: Day;
  /** membership ends on this day (exclusive); null: still a member at the end of the period */
  readonly endOn: Day | null;
  /** the first roster after the end lists the row with 退出日期 (otherwise the person is just absent) */
  readonly explicitExit: boolean;
  readonly exitStatus: '退出' | '停保';
  /** an annual review: rosters from `from` on report `recognisedOn` as 认定日期 */
  readonly review: { readonly from: Day; readonly recognisedOn: Day } | null;
}

export interface CivilPlan {
  readonly entries: readonly CivilEntry[];
}

interface Episode {
  category: CivilCategory;
  recognisedOn: Day;
  listedFrom: Day;
  endOn: Day | null;
  explicitExit: boolean;
}

/** The daily hazard of leaving (0.75% a month). */
const EXIT_PER_DAY = 0.0075 / 30;
const EARLIEST_RECOGNITION = dayOf(2012, 1, 1);

function unitCategory(rng: Rng, county: County, members: readonly number[], start: Day): CivilCategory {
  const head = county.persons[members[0]!]!;
  if (members.length === 1 && ageOn(head.birth, start) >= 60 && rng.chance(0.6)) return 'destitute';
  return rng.weighted<CivilCategory>([['dibao', 58], ['dibao_edge', 34], ['catastrophic', 8]]);
}

function otherCategory(rng: Rng, c: CivilCategory, single: boolean): CivilCategory {
  if (c === 'dibao') return single && rng.chance(0.4) ? 'destitute' : 'dibao_edge';
  if (c === 'dibao_edge') return 'dibao';
  return c;
}

/** A unit's episodes: recognised, perhaps leaving, perhaps coming back. */
function episodesOf(rng: Rng, category: CivilCategory, single: boolean, start: Day, end: Day): Episode[] {
  const episodes: Episode[] = [];
  const preExisting = rng.chance(0.82);
  let recognisedOn = preExisting ? rng.int(EARLIEST_RECOGNITION, start - 60) : rng.int(start, Math.max(start, end - 20));
  // some recognitions reach the roster only a month or two later (backdated 认定日期)
  let listedFrom = recognisedOn + (rng.chance(0.2) ? rng.int(20, 80) : 0);
  if (preExisting && rng.chance(0.07)) {
    const earliestExit = Math.max(listedFrom + 120, start - 700);
    if (earliestExit < start - 1) {
      episodes.push({ category, recognisedOn, listedFrom, endOn: rng.int(earliestExit, start - 1), explicitExit: true });
      return episodes;
    }
  }
  for (let n = 0; n < 3; n++) {
    const endOn = Math.max(listedFrom, start) + 1 + rng.waitingDays(EXIT_PER_DAY);
    if (endOn > end) {
      episodes.push({ category, recognisedOn, listedFrom, endOn: null, explicitExit: false });
      break;
    }
    if (rng.chance(0.1) && (category === 'dibao' || category === 'dibao_edge')) {
      // a category change: the old listing stops, the new one starts the next day
      episodes.push({ category, recognisedOn, listedFrom, endOn, explicitExit: false });
      category = otherCategory(rng, category, single);
      recognisedOn = endOn;
      listedFrom = endOn;
      continue;
    }
    const explicitExit = rng.chance(0.4);
    episodes.push({ category, recognisedOn, listedFrom, endOn, explicitExit });
    if (!rng.chance(0.25)) break;
    const back = endOn + rng.int(35, 120);
    if (back > end) break;
    // after an implicit exit the old 认定日期 may come back (the gap closes); otherwise a new one
    if (explicitExit || rng.chance(0.5)) recognisedOn = back - rng.int(0, 10);
    listedFrom = back;
  }
  return episodes;
}

/** Who is on the civil rosters, and when. */
export function planCivil(rng: Rng, county: County, start: Day, end: Day): CivilPlan {
  const entries: CivilEntry[] = [];
  const years: number[] = [];
  for (let y = ymd(start).y; y <= ymd(end).y; y++) years.push(y);

  const addUnit = (members: readonly number[], category: CivilCategory) => {
    // when each member leaves for good: death, or moving (marrying) out
    const gone = members.map((pid) => {
      const person = county.persons[pid]!;
      let day = person.diedOn;
      let explicit = rng.chance(0.5);
      if (members.length > 1 && rng.chance(0.01)) {
        const leaves = rng.int(start, end);
        if (day === null || leaves < day) {
          day = leaves;
          explicit = rng.chance(0.3);
        }
      }
      return { day, explicit };
    });
    for (const ep of episodesOf(rng, category, members.length === 1, start, end)) {
      const review = years
        .map((y) => dayOf(y, 3, 1))
        .find((day) => day > ep.listedFrom && (ep.endOn === null || day < ep.endOn) && ep.recognisedOn < day - 365);
      const reported = review !== undefined && rng.chance(0.08) ? { from: review, recognisedOn: review - rng.int(5, 40) } : null;
      for (const [i, pid] of members.entries()) {
        const person = county.persons[pid]!;
        const leaves = gone[i]!;
        const listedFrom = Math.max(ep.listedFrom, person.birth + rng.int(30, 90)); // newborns join once registered
        let endOn = ep.endOn;
        let explicitExit = ep.explicitExit;
        if (leaves.day !== null && (endOn === null || leaves.day < endOn)) {
          endOn = leaves.day;
          explicitExit = leaves.explicit;
        }
        if (endOn !== null && endOn <= listedFrom) continue;
        entries.push({
          pid,
          hid: person.hid,
          order: county.households[person.hid]!.members.indexOf(pid),
          category: ep.category,
          recognisedOn: ep.recognisedOn,
          listedFrom,
          endOn,
          explicitExit,
          exitStatus: rng.chance(0.2) ? '停保' : '退出',
          review: reported,
        });
      }
    }
  };

  for (const household of county.households) {
    const members = household.members;
    if (rng.chance(0.1)) {
      const category = unitCategory(rng, county, members, start);
      if (category === 'destitute' || category === 'catastrophic') {
        const adults = members.filter((pid) => ageOn(county.persons[pid]!.birth, start) >= 18);
        addUnit([adults.length > 0 ? rng.pick(adults) : members[0]!], category);
      } else {
        addUnit(members, category);
      }
      continue;
    }
    for (const pid of members) {
      const child = county.persons[pid]!;
      const age = ageOn(child.birth, start);
      if (age >= 0 && age < 16 && rng.chance(0.003)) addUnit([pid], rng.chance(0.6) ? 'orphan' : 'de_facto_orphan');
    }
  }
  entries.sort((a, b) => a.hid - b.hid || a.order - b.order || a.listedFrom - b.listedFrom);
  return { entries };
}

// ── the roster files ────────────────────────────────────────────────────────

const CIVIL_FIELDS = [
  'name', 'id_number', 'gender', 'birth_date', 'head_name', 'head_id_number', 'relation', 'township', 'village', 'phone',
  'category', 'recognised_on', 'exited_on', 'member_status',
] as const satisfies readonly AnyField[];
type CivilField = (typeof CIVIL_FIELDS)[number];

/** How often an optional column is present in a monthly roster. */
const OPTIONAL_PRESENCE: Partial<Record<CivilField, number>> = {
  gender: 0.95, birth_date: 0.4, head_name: 0.9, head_id_number: 0.85, relation: 0.9, township: 0.97, village: 0.97,
  phone: 0.9, exited_on: 0.5, member_status: 0.9,
};

interface RosterRow {
  entry: CivilEntry;
  exited: boolean;
}

function rosterRows(plan: CivilPlan, asOf: Day, previousAsOf: Day | null, exitColumn: boolean, history: boolean): RosterRow[] {
  const rows: RosterRow[] = [];
  for (const entry of plan.entries) {
    if (entry.listedFrom > asOf) continue;
    if (entry.endOn === null || entry.endOn > asOf) rows.push({ entry, exited: false });
    else if (history) {
      // the historical export lists who left in the last two years, with 退出日期
      if (entry.endOn > addYears(asOf, -2)) rows.push({ entry, exited: true });
    } else if (exitColumn && entry.explicitExit && previousAsOf !== null && entry.endOn > previousAsOf && entry.listedFrom <= previousAsOf) {
      rows.push({ entry, exited: true });
    }
  }
  return rows;
}

interface RosterFile {
  name: string;
  title: string;
  asOf: Day;
  nominalAsOf: Day;
  layout: FileLayout;
  fields: CivilField[];
  history: boolean;
  truncated: boolean;
}

function csvLayout(rng: Rng): FileLayout {
  return {
    format: 'csv',
    csv: {
      encoding: rng.weighted([['utf-8', 60], ['utf-8-bom', 15], ['gbk', 25]] as const),
      eol: rng.chance(0.5) ? '\r\n' : '\n',
      delimiter: ',',
    },
  };
}

export async function writeCivil(ctx: GenerationContext, plan: CivilPlan): Promise<FileTruth[]> {
  const rng = new Rng(ctx.seed, 'civil files');
  const files: FileTruth[] = [];
  const series = new SnapshotSeries();
  const months: Month[] = [];
  for (let m = ctx.fromMonth; m <= ctx.toMonth; m++) months.push(m);
  const truncatedIndex = rng.chance(ctx.damage.rate('snapshot_truncated', 'civil'))
    ? Math.min(months.length - 1, Math.max(0, Math.floor(months.length * 0.6)))
    : -1;

  const historyAsOf = ctx.period.start - 1;
  const rosters: RosterFile[] = [
    {
      name: `民政救助对象历史名册_截至${chineseDay(historyAsOf)}.csv`,
      title: `${COUNTY_NAME}民政救助对象名册(含历史退出人员) 截至${chineseDay(historyAsOf)}`,
      asOf: historyAsOf,
      nominalAsOf: historyAsOf,
      layout: csvLayout(rng),
      fields: [...CIVIL_FIELDS].filter((f) => f !== 'birth_date'),
      history: true,
      truncated: false,
    },
  ];
  for (const [i, month] of months.entries()) {
    const nominal = monthEnd(month);
    const mismatch = ctx.damage.happens(rng, 'title_date_mismatch', 'civil');
    const xlsx = isQuarterEnd(month);
    const y = monthYear(month);
    const m = monthNumber(month);
    const base = i % 2 === 0 ? `civil_${compactDay(nominal)}` : `${COUNTY_NAME}城乡低保特困名册_${y}年${m}月`;
    rosters.push({
      name: `${base}.${xlsx ? 'xlsx' : 'csv'}`,
      title: `${COUNTY_NAME}城乡低保特困等救助对象名册 ${y}年${m}月`,
      asOf: mismatch ? nominal + rng.int(1, 5) : nominal,
      nominalAsOf: nominal,
      layout: xlsx ? { format: 'xlsx', sheetName: rng.pick(['名册', 'Sheet1', '救助对象']) } : csvLayout(rng),
      fields: CIVIL_FIELDS.filter((f) => !(f in OPTIONAL_PRESENCE) || rng.chance(OPTIONAL_PRESENCE[f]!)),
      history: false,
      truncated: i === truncatedIndex,
    });
  }

  let previousAsOf: Day | null = null;
  for (const roster of rosters) {
    const rows = rosterRows(plan, roster.asOf, previousAsOf, roster.fields.includes('exited_on'), roster.history);
    const limit = roster.truncated ? Math.floor((rows.length * rng.int(40, 50)) / 100) : rows.length;
    const truth = await writeRoster(ctx, roster, rows.slice(0, limit), series);
    files.push(truth);
    previousAsOf = roster.asOf;
    ctx.progress(`civil ${truth.file}: ${truth.rows} rows`);
  }
  return files;
}

async function writeRoster(ctx: GenerationContext, roster: RosterFile, rows: readonly RosterRow[], series: SnapshotSeries): Promise<FileTruth> {
  const d = await Delivery.open(ctx, { source: 'civil', kind: 'snapshot', name: roster.name, asOf: roster.asOf, layout: roster.layout });
  const { county, mapping } = ctx;
  const rng = d.rng;
  const headers = chooseHeaders(rng, mapping, 'civil', roster.fields);
  const categoryLabels = new Map<CivilCategory, string[]>();
  const labels = (c: CivilCategory) => {
    let l = categoryLabels.get(c);
    if (!l) categoryLabels.set(c, (l = labelsOf(mapping, 'category', c)));
    return l;
  };
  const selfLabel = rng.chance(0.7) ? '本人' : '户主';
  const xlsx = roster.layout.format === 'xlsx';

  if (xlsx) {
    await d.line([roster.title], headers.length);
    await d.line([`填报单位:${COUNTY_NAME}   截至日期:${chineseDay(roster.asOf)}`]);
  } else {
    await d.line([roster.title]);
    await d.line([`导出日期:${isoDay(roster.asOf)}`]);
  }
  if (roster.asOf !== roster.nominalAsOf) await d.noteFile(2, '', 'title_date_mismatch');
  if (roster.truncated) await d.noteFile(null, '', 'snapshot_truncated');
  await d.line(headers);

  const c = d.cells;
  for (const { entry, exited } of rows) {
    const person = county.persons[entry.pid]!;
    const household = county.households[person.hid]!;
    const head = county.persons[household.members[0]!]!;
    const reportedStart = entry.review && roster.asOf >= entry.review.from ? entry.review.recognisedOn : entry.recognisedOn;
    const cells: Cell[] = roster.fields.map((field): Cell => {
      switch (field) {
        case 'name':
          return c.name(person, field, person.pid === head.pid);
        case 'id_number':
          return c.id(person, field);
        case 'gender':
          return c.gender(person.gender, field);
        case 'birth_date':
          return c.date(person.birth, field);
        case 'head_name':
          return c.name(head, field, true);
        case 'head_id_number':
          return c.id(head, field);
        case 'relation':
          return person.relation === '户主' ? selfLabel : person.relation;
        case 'township':
          return household.township;
        case 'village':
          return household.village;
        case 'phone':
          return c.phone(household.phone, field);
        case 'category':
          return pickMostlyFirst(rng, labels(entry.category), 0.5);
        case 'recognised_on':
          return c.date(reportedStart, field);
        case 'exited_on':
          return exited ? c.date(entry.endOn, field) : '';
        case 'member_status':
          return exited ? entry.exitStatus : '在保';
      }
    });
    await d.data(cells, entry.pid);
  }

  if (xlsx) {
    await d.blank();
    await d.line(['制表人:', '', '', `制表日期:${isoDay(roster.asOf)}`]);
  } else {
    await d.line([`合计:${d.rows}人`]);
  }
  return d.close(series.expectation(d.rows));
}

/** What the roster says each person holds (for the settlements' assistance). */
export function civilHoldings(plan: CivilPlan): Holding[] {
  return plan.entries.map((e) => ({ pid: e.pid, category: e.category, from: e.recognisedOn, to: e.endOn, knownFrom: e.listedFrom }));
}

