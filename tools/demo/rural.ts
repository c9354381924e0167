/**
 * 乡村振兴 registers (source `rural`): households lifted out of poverty (脱贫户,
 * 脱贫不稳定户, registered 建档立卡 in 2014–2016) and households monitored for
 * relapse (脱贫不稳定户, 边缘易致贫户, 突发严重困难户), some entering monitoring during
 * the period, some with their risk eliminated (风险消除 是 + date), a few dropped
 * from the register. One XLSX full snapshot per quarter.
 */
import type { AnyField } from '../../src/ingest/sources.js';
import { chineseDay, dayOf, isoDay, isQuarterEnd, monthEnd, monthYear, quarterOf, type Day, type Month } from './calendar.js';
import { chooseHeaders, Delivery, labelsOf, SnapshotSeries, type GenerationContext } from './delivery.js';
import type { Holding } from './holdings.js';
import { aliveOn, COUNTY_AREA_CODE, COUNTY_NAME, type County } from './people.js';
import { Rng } from './random.js';
import type { Cell } from './sheet.js';
import type { FileTruth } from './truth.js';

export type RuralType = 'lifted' | 'lifted_unstable' | 'edge_of_poverty' | 'sudden_hardship';

export interface RuralHousehold {
  readonly hid: number;
  readonly type: RuralType;
  /** 户编号 */
  readonly householdNo: string;
  /** 识别时间/建档立卡时间 (lifted types) */
  readonly registeredOn: Day | null;
  readonly yearLifted: number | null;
  /** 纳入监测时间 (monitored types) */
  readonly monitoredSince: Day | null;
  /** 风险消除时间 */
  readonly eliminatedOn: Day | null;
  /** first listed in the snapshot on or after this day */
  readonly listedFrom: Day;
  /** no longer in the register from this day (an implicit end) */
  readonly droppedOn: Day | null;
  /** members who moved away, and when */
  readonly movedOut: ReadonlyMap<number, Day>;
}

export interface RuralPlan {
  readonly households: readonly RuralHousehold[];
}

const MONITORING_BEGAN = dayOf(2021, 1, 1);
/** Yearly chance that a monitored household's risk is declared eliminated. */
const ELIMINATION_PER_DAY = 0.25 / 365;

function monitoredTimeline(rng: Rng, type: RuralType, start: Day, end: Day): { since: Day; eliminatedOn: Day | null; listedFrom: Day } {
  const earliest = type === 'sudden_hardship' ? dayOf(2022, 1, 1) : MONITORING_BEGAN;
  const before = rng.chance(0.75) && earliest < start - 90;
  const since = before ? rng.int(earliest, start - 90) : rng.int(start, Math.max(start, end - 30));
  const listedFrom = before ? since : since + rng.int(0, 45);
  const eliminatedOn = since + 120 + rng.waitingDays(ELIMINATION_PER_DAY);
  return { since, eliminatedOn: eliminatedOn <= end ? eliminatedOn : null, listedFrom };
}

/** Which households are registered, as what, and when. */
export function planRural(rng: Rng, county: County, start: Day, end: Day, poorer: ReadonlySet<number>): RuralPlan {
  const households: RuralHousehold[] = [];
  for (const h of county.households) {
    if (!rng.chance(poorer.has(h.hid) ? 0.35 : 0.145)) continue;
    const type = rng.weighted<RuralType>([['lifted', 58], ['lifted_unstable', 10], ['edge_of_poverty', 22], ['sudden_hardship', 10]]);
    const lifted = type === 'lifted' || type === 'lifted_unstable';
    const registeredOn = lifted ? rng.int(dayOf(2014, 1, 1), dayOf(2016, 12, 31)) : null;
    const monitored = type === 'lifted' ? null : monitoredTimeline(rng, type, start, end);
    const movedOut = new Map<number, Day>();
    for (const pid of h.members.slice(1)) if (rng.chance(0.005)) movedOut.set(pid, rng.int(start, end));
    households.push({
      hid: h.hid,
      type,
      householdNo: COUNTY_AREA_CODE + String(h.hid + 1).padStart(9, '0'),
      registeredOn,
      yearLifted: lifted ? rng.int(2016, 2020) : null,
      monitoredSince: monitored?.since ?? null,
      eliminatedOn: monitored?.eliminatedOn ?? null,
      listedFrom: registeredOn ?? monitored!.listedFrom,
      droppedOn: !lifted && monitored?.eliminatedOn === null && rng.chance(0.05) ? rng.int(start, end) : null,
      movedOut,
    });
  }
  return { households };
}

const RURAL_FIELDS = [
  'household_no', 'name', 'id_number', 'gender', 'relation', 'township', 'village', 'phone', 'household_type',
  'registered_on', 'year_lifted', 'monitored_since', 'risk_eliminated', 'risk_eliminated_on',
] as const satisfies readonly AnyField[];
type RuralField = (typeof RURAL_FIELDS)[number];

const OPTIONAL_PRESENCE: Partial<Record<RuralField, number>> = {
  household_no: 0.9, gender: 0.9, relation: 0.9, phone: 0.8, year_lifted: 0.9,
};

export async function writeRural(ctx: GenerationContext, plan: RuralPlan): Promise<FileTruth[]> {
  const rng = new Rng(ctx.seed, 'rural files');
  const series = new SnapshotSeries();
  const files: FileTruth[] = [];
  for (let month: Month = ctx.fromMonth; month <= ctx.toMonth; month++) {
    if (!isQuarterEnd(month)) continue;
    const y = monthYear(month);
    const q = quarterOf(month);
    const nominal = monthEnd(month);
    const asOf = ctx.damage.happens(rng, 'title_date_mismatch', 'rural') ? nominal + rng.int(1, 5) : nominal;
    const d = await Delivery.open(ctx, {
      source: 'rural',
      kind: 'snapshot',
      name: `防返贫监测和脱贫人口信息_${y}年第${q}季度.xlsx`,
      asOf,
      layout: { format: 'xlsx', sheetName: rng.pick(['Sheet1', '监测对象和脱贫人口']) },
    });
    const fields = RURAL_FIELDS.filter((f) => !(f in OPTIONAL_PRESENCE) || d.rng.chance(OPTIONAL_PRESENCE[f]!));
    const headers = chooseHeaders(d.rng, ctx.mapping, 'rural', fields);
    await d.line([`${COUNTY_NAME}脱贫人口和防返贫监测对象信息表(${y}年第${q}季度)`], headers.length);
    await d.line([`填报单位:${COUNTY_NAME}   截至日期:${chineseDay(asOf)}`]);
    if (asOf !== nominal) await d.noteFile(2, '', 'title_date_mismatch');
    await d.line(headers);
    await writeRegister(ctx, d, plan, fields);
    await d.blank();
    await d.line(['制表人:', '', '', `制表日期:${isoDay(asOf)}`]);
    const truth = await d.close(series.expectation(d.rows));
    files.push(truth);
    ctx.progress(`rural ${truth.file}: ${truth.rows} rows`);
  }
  return files;
}

async function writeRegister(ctx: GenerationContext, d: Delivery, plan: RuralPlan, fields: readonly RuralField[]): Promise<void> {
  const { county, mapping } = ctx;
  const asOf = d.asOf;
  const yearAsNumber = d.rng.chance(0.4);
  const typeLabel = new Map<RuralType, string>();
  for (const t of ['lifted', 'lifted_unstable', 'edge_of_poverty', 'sudden_hardship'] as const) {
    typeLabel.set(t, labelsOf(mapping, 'household_type', t)[0]!);
  }
  const c = d.cells;
  for (const rh of plan.households) {
    if (rh.listedFrom > asOf || (rh.droppedOn !== null && rh.droppedOn <= asOf)) continue;
    const household = county.households[rh.hid]!;
    const monitored = rh.type !== 'lifted';
    const eliminated = rh.eliminatedOn !== null && rh.eliminatedOn <= asOf;
    for (const pid of household.members) {
      const person = county.persons[pid]!;
      // newborns appear once registered; the dead and those who moved away drop out
      if (!aliveOn(person, asOf) || person.birth + 60 > asOf) continue;
      const moved = rh.movedOut.get(pid);
      if (moved !== undefined && moved <= asOf) continue;
      const cells = fields.map((field): Cell => {
        switch (field) {
          case 'household_no':
            return rh.householdNo;
          case 'name':
            return c.name(person, field, person.relation === '户主');
          case 'id_number':
            return c.id(person, field);
          case 'gender':
            return c.gender(person.gender, field);
          case 'relation':
            return person.relation;
          case 'township':
            return household.township;
          case 'village':
            return household.village;
          case 'phone':
            return c.phone(household.phone, field);
          case 'household_type':
            return typeLabel.get(rh.type)!;
          case 'registered_on':
            return c.date(rh.registeredOn, field);
          case 'year_lifted':
            return rh.yearLifted === null ? '' : yearAsNumber ? { n: rh.yearLifted } : String(rh.yearLifted);
          case 'monitored_since':
            return c.date(rh.monitoredSince, field);
          case 'risk_eliminated':
            return monitored ? (eliminated ? '是' : '否') : '';
          case 'risk_eliminated_on':
            return eliminated ? c.date(rh.eliminatedOn, field) : '';
        }
      });
      await d.data(cells, pid);
    }
  }
}

/** The spells the generator knows each person holds (for the settlements' assistance). */
export function ruralHoldings(plan: RuralPlan, county: County): Holding[] {
  const out: Holding[] = [];
  for (const rh of plan.households) {
    for (const pid of county.households[rh.hid]!.members) {
      if (rh.registeredOn !== null) out.push({ pid, category: 'lifted', from: rh.registeredOn, to: null, knownFrom: rh.listedFrom });
      if (rh.monitoredSince !== null) {
        out.push({ pid, category: 'monitored', from: rh.monitoredSince, to: rh.eliminatedOn ?? rh.droppedOn, knownFrom: rh.listedFrom });
      }
    }
  }
  return out;
}
