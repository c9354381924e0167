/**
 * 医保 settlement details (source `settlement`): one delta file a month. The
 * simulator draws each person's settlements month by month (older people and
 * people holding a category more often), with consistent amounts in fen (in-scope
 * ≤ total, funds ≤ in-scope), reversals (新结算ID with 原结算ID and negated amounts)
 * in the same or a later month, corrected re-settlements under new ids, and
 * settlements delivered again in the next month's file. Only one month (and the
 * few reversals waiting for a later one) is ever held in memory.
 *
 * What the medical-assistance fund paid is simulated from the categories the
 * generator knows, with the sample county's policy (../shared/spec/policy.md §2) and
 * the ways one-stop settlement really misses: out-of-area and manual claims pay
 * nothing, categories the bureau learnt of late pay nothing, and a few payments are
 * wrong.
 */
import type { AnyField } from '../../src/ingest/sources.js';
import { ageOn, compactMonth, monthEnd, monthStart, ymd, type Day, type Month } from './calendar.js';
import { CsvWriter, type CsvFormat } from './csv.js';
import type { Damage } from './damage.js';
import { chooseHeaders, Delivery, labelsOf, pickMostlyFirst, type GenerationContext } from './delivery.js';
import type { AssistCategory, Holdings } from './holdings.js';
import type { Mapping } from '../../src/ingest/mapping.js';
import { aliveOn, type County, type Person } from './people.js';
import { Rng } from './random.js';
import { CellRenderer, RecordDamage } from './render.js';
import type { Cell } from './sheet.js';
import type { FileTruth } from './truth.js';

type Place = 'local' | 'in_province' | 'cross_province';
type Method = 'one_stop' | 'direct_out_of_area' | 'manual_claim';
type MedType = '11' | '14' | '21' | '22' | '23' | '24' | '92';

interface Institution {
  readonly code: string;
  readonly name: string;
  readonly level: 1 | 2 | 3;
  readonly place: Place;
}

const COUNTY_HOSPITALS: readonly Institution[] = [
  { code: 'H52020301', name: '六枝特区人民医院', level: 2, place: 'local' },
  { code: 'H52020302', name: '六枝特区中医院', level: 2, place: 'local' },
  { code: 'H52020303', name: '六枝特区妇幼保健院', level: 2, place: 'local' },
];
/** the prefecture's hospitals: municipal pooling makes them local */
const PREFECTURE_HOSPITALS: readonly Institution[] = [
  { code: 'H52020101', name: '六盘水市人民医院', level: 3, place: 'local' },
  { code: 'H52020102', name: '六盘水市第三人民医院', level: 3, place: 'local' },
];
const PROVINCE_HOSPITALS: readonly Institution[] = [
  { code: 'H52010201', name: '贵州省人民医院', level: 3, place: 'in_province' },
  { code: 'H52010202', name: '贵州医科大学附属医院', level: 3, place: 'in_province' },
  { code: 'H52030201', name: '遵义医科大学附属医院', level: 3, place: 'in_province' },
];
const OTHER_PROVINCE_HOSPITALS: readonly Institution[] = [
  { code: 'H53010201', name: '昆明医科大学第一附属医院', level: 3, place: 'cross_province' },
  { code: 'H50010301', name: '重庆医科大学附属第一医院', level: 3, place: 'cross_province' },
  { code: 'H44010401', name: '中山大学附属第一医院', level: 3, place: 'cross_province' },
];

function townshipCentre(township: string, index: number): Institution {
  const central = index % 3 === 0;
  return { code: `H520203${10 + index}`, name: `${township}${central ? '中心' : ''}卫生院`, level: 1, place: 'local' };
}

const INPATIENT: ReadonlySet<MedType> = new Set(['21', '22', '23', '24', '92']);
const ASSISTED: ReadonlySet<MedType> = new Set(['14', '21', '22', '23', '24', '92']);

export interface Amounts {
  readonly total: number;
  readonly selfPaid: number;
  readonly overLimit: number;
  readonly inScope: number;
  readonly basic: number;
  readonly critical: number;
  readonly assistance: number;
  readonly other: number;
  readonly personal: number;
}

export interface Settlement {
  /** assigned when its month's file is put together */
  id: string;
  readonly reversedId: string | null;
  readonly person: Person;
  readonly insuranceType: '390' | '310';
  readonly medType: MedType;
  readonly institution: Institution;
  readonly method: Method;
  readonly began: Day;
  readonly ended: Day;
  readonly settled: Day;
  readonly amounts: Amounts;
}

// ── the sample policy, to simulate the assistance paid ─────────────────────

interface AssistanceRule {
  /** deductible per year, fen */
  readonly deductible: number;
  /** ratio by year; years after the last listed use the last */
  readonly ratio: Readonly<Record<2025 | 2026, number>>;
}

const ASSISTANCE: Readonly<Record<AssistCategory, AssistanceRule>> = {
  destitute: { deductible: 0, ratio: { 2025: 1, 2026: 1 } },
  orphan: { deductible: 0, ratio: { 2025: 1, 2026: 1 } },
  de_facto_orphan: { deductible: 0, ratio: { 2025: 1, 2026: 1 } },
  dibao: { deductible: 0, ratio: { 2025: 0.7, 2026: 0.75 } },
  monitored: { deductible: 100_000, ratio: { 2025: 0.6, 2026: 0.65 } },
  dibao_edge: { deductible: 150_000, ratio: { 2025: 0.6, 2026: 0.6 } },
  severe_disability: { deductible: 100_000, ratio: { 2025: 0.6, 2026: 0.6 } },
  catastrophic: { deductible: 400_000, ratio: { 2025: 0.5, 2026: 0.55 } },
  lifted: { deductible: 100_000, ratio: { 2025: 0.5, 2026: 0 } },
};
const ANNUAL_CAP: Readonly<Record<2025 | 2026, number>> = { 2025: 6_000_000, 2026: 8_000_000 };
const policyYear = (year: number): 2025 | 2026 => (year <= 2025 ? 2025 : 2026);

/** 大病保险: 60% of the year's in-scope burden above 10,000 yuan. */
const CRITICAL_THRESHOLD = 1_000_000;
const CRITICAL_RATIO = 0.6;

interface PersonYear {
  year: number;
  deductibleUsed: number;
  granted: number;
  burden: number;
}

/** Chances per new settlement. */
const REVERSAL_RATE = 0.018;
const CORRECTION_AFTER_REVERSAL = 0.6;
const REDELIVERY_RATE = 0.01;

export interface SimulatorOptions {
  /** settlements per person and year, on average */
  readonly perPersonYear: number;
}

export class SettlementSimulator {
  private readonly weight: Float64Array;
  private readonly employee: Uint8Array;
  private readonly centreOf = new Map<string, Institution>();
  private readonly years = new Map<number, PersonYear>();
  /** reversals, corrections and redeliveries due in a later month */
  private readonly due = new Map<Month, Settlement[]>();

  constructor(
    private readonly rng: Rng,
    private readonly county: County,
    private readonly holdings: Holdings,
    private readonly options: SimulatorOptions,
    referenceDay: Day,
  ) {
    const n = county.persons.length;
    this.weight = new Float64Array(n);
    this.employee = new Uint8Array(n);
    let sum = 0;
    for (const p of county.persons) {
      const age = Math.max(0, ageOn(p.birth, referenceDay));
      let w = age < 6 ? 1 : age < 18 ? 0.5 : age < 45 ? 0.6 : age < 60 ? 1 : age < 75 ? 1.6 : 2;
      if (holdings.has(p.pid)) w *= 1.5;
      this.weight[p.pid] = w;
      sum += w;
      this.employee[p.pid] = age >= 18 && age < 60 && rng.chance(0.08) ? 1 : 0;
    }
    const mean = sum / Math.max(1, n);
    for (let i = 0; i < n; i++) this.weight[i] = this.weight[i]! / mean;
    [...county.villages.keys()].forEach((t, i) => this.centreOf.set(t, townshipCentre(t, i + 1)));
  }

  /** The rows of one month's file, in order of settlement date. */
  month(month: Month): Settlement[] {
    const rng = this.rng;
    const start = monthStart(month);
    const end = monthEnd(month);
    const perMonth = this.options.perPersonYear / 12;
    const fresh: Settlement[] = [];
    for (const person of this.county.persons) {
      const mean = perMonth * this.weight[person.pid]!;
      // Poisson by inversion from one uniform: most people have nothing this month
      const u = rng.next();
      let p = Math.exp(-mean);
      let cdf = p;
      for (let k = 1; u >= cdf && k < 50; k++) {
        const s = this.draw(person, start, end);
        if (s) fresh.push(s);
        p *= mean / k;
        cdf += p;
      }
    }
    fresh.sort((a, b) => a.settled - b.settled || a.person.pid - b.person.pid);
    const prefix = compactMonth(month);
    let seq = 0;
    const nextId = (kind: '0' | '9') => `${prefix}${kind}${String(++seq).padStart(7, '0')}`;
    for (const s of fresh) s.id = nextId('0');

    const later = this.due.get(month) ?? [];
    this.due.delete(month);
    for (const s of fresh) {
      if (rng.chance(REVERSAL_RATE)) this.scheduleReversal(s, month);
      else if (rng.chance(REDELIVERY_RATE)) this.schedule(month + 1, s);
    }
    const reversals = [...later, ...(this.due.get(month) ?? [])];
    this.due.delete(month);
    for (const s of reversals) if (s.id === '') s.id = nextId(s.reversedId ? '9' : '0');
    return [...fresh, ...reversals].sort((a, b) => a.settled - b.settled || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  private schedule(month: Month, s: Settlement): void {
    const list = this.due.get(month);
    if (list) list.push(s);
    else this.due.set(month, [s]);
  }

  private scheduleReversal(original: Settlement, month: Month): void {
    const rng = this.rng;
    const when = month + rng.weighted<number>([[0, 6], [1, 3], [2, 1]]);
    const settled = when === month ? rng.int(original.settled, monthEnd(month)) : rng.int(monthStart(when), monthEnd(when));
    const a = original.amounts;
    const negated: Amounts = {
      total: -a.total, selfPaid: -a.selfPaid, overLimit: -a.overLimit, inScope: -a.inScope, basic: -a.basic,
      critical: -a.critical, assistance: -a.assistance, other: -a.other, personal: -a.personal,
    };
    this.schedule(when, { ...original, id: '', reversedId: original.id, settled, amounts: negated });
    if (rng.chance(CORRECTION_AFTER_REVERSAL)) {
      const corrected = scaleAmounts(a, rng.next() * 0.2 + 0.85);
      this.schedule(when, { ...original, id: '', reversedId: null, settled: Math.min(monthEnd(when), settled + rng.int(0, 3)), amounts: corrected });
    }
  }

  /** One new settlement of a person, or null when the person was not alive on its service date. */
  private draw(person: Person, start: Day, end: Day): Settlement | null {
    const rng = this.rng;
    const settled = rng.int(start, end);
    const age = ageOn(person.birth, settled);
    const medType = rng.weighted<MedType>(
      age >= 60
        ? [['11', 38], ['14', 40], ['21', 17], ['22', 2], ['23', 1], ['24', 1], ['92', 1]]
        : [['11', 60], ['14', 18], ['21', 16], ['22', 3], ['23', 1], ['24', 1], ['92', 1]],
    );
    const institution = this.institution(person, medType);
    const local = institution.place === 'local';
    const method: Method = local ? (rng.chance(0.97) ? 'one_stop' : 'manual_claim') : rng.chance(0.85) ? 'direct_out_of_area' : 'manual_claim';
    const lag = method === 'manual_claim' ? rng.int(15, 90) : method === 'direct_out_of_area' ? rng.int(0, 10) : rng.int(0, 3);
    const ended = settled - lag;
    if (!aliveOn(person, ended)) return null;
    const stay = INPATIENT.has(medType) ? 1 + Math.round(rng.logNormal(5, 0.6)) : 0;
    const began = Math.max(person.birth, ended - stay);
    const insuranceType = this.employee[person.pid] ? '310' : '390';
    const amounts = this.amounts(person, medType, institution, method, insuranceType, ended, settled);
    return { id: '', reversedId: null, person, insuranceType, medType, institution, method, began, ended, settled, amounts };
  }

  private institution(person: Person, medType: MedType): Institution {
    const rng = this.rng;
    const centre = this.centreOf.get(this.county.households[person.hid]!.township)!;
    const where =
      medType === '11'
        ? rng.weighted<string>([['centre', 75], ['county', 25]])
        : medType === '14'
          ? rng.weighted<string>([['centre', 40], ['county', 55], ['prefecture', 5]])
          : rng.weighted<string>([['centre', 30], ['county', 45], ['prefecture', 13], ['province', 8], ['other', 4]]);
    switch (where) {
      case 'centre':
        return centre;
      case 'county':
        return rng.pick(COUNTY_HOSPITALS);
      case 'prefecture':
        return rng.pick(PREFECTURE_HOSPITALS);
      case 'province':
        return rng.pick(PROVINCE_HOSPITALS);
      default:
        return rng.pick(OTHER_PROVINCE_HOSPITALS);
    }
  }

  private personYear(pid: number, year: number): PersonYear {
    let py = this.years.get(pid);
    if (!py || py.year !== year) {
      py = { year, deductibleUsed: 0, granted: 0, burden: 0 };
      this.years.set(pid, py);
    }
    return py;
  }

  private amounts(person: Person, medType: MedType, inst: Institution, method: Method, insuranceType: string, ended: Day, settled: Day): Amounts {
    const rng = this.rng;
    const outOfArea = inst.place !== 'local';
    let yuan: number;
    if (medType === '11') yuan = clamp(rng.logNormal(150, 0.7), 10, 5_000);
    else if (medType === '14') yuan = clamp(rng.logNormal(450, 0.6), 50, 20_000);
    else {
      const median = inst.level === 1 ? 2_500 : inst.level === 2 ? 6_000 : 16_000;
      const factor = medType === '22' ? 1.2 : medType === '23' ? 1.5 : 1;
      yuan = clamp(rng.logNormal(median * factor, 0.75), 300, 500_000);
    }
    const total = Math.round(yuan * 100);
    const selfPaid = Math.round(total * rng.next() * 0.1);
    const overLimit = Math.round(total * rng.next() * 0.02);
    const inScope = total - selfPaid - overLimit;

    let basic: number;
    const bonus = insuranceType === '310' ? 0.05 : 0;
    if (medType === '11') basic = Math.round(inScope * (0.5 + bonus));
    else if (medType === '14') basic = Math.round(inScope * (0.65 + bonus));
    else {
      const deductible = (inst.level === 1 ? 20_000 : inst.level === 2 ? 50_000 : 80_000) * (outOfArea ? 1.5 : 1);
      const ratio = (inst.level === 1 ? 0.9 : inst.level === 2 ? 0.8 : 0.65) - (outOfArea ? 0.1 : 0) + bonus;
      basic = Math.round(Math.max(0, inScope - deductible) * ratio);
    }

    const year = ymd(ended).y;
    const py = this.personYear(person.pid, year);
    let critical = 0;
    if (medType !== '11') {
      const before = py.burden;
      py.burden += inScope - basic;
      critical = Math.round(CRITICAL_RATIO * (Math.max(0, py.burden - CRITICAL_THRESHOLD) - Math.max(0, before - CRITICAL_THRESHOLD)));
    }
    let other = 0;
    if (INPATIENT.has(medType) && rng.chance(0.015)) other = Math.round(Math.max(0, inScope - basic - critical) * (0.02 + rng.next() * 0.06));
    const base = Math.max(0, inScope - basic - critical - other);
    const assistance = ASSISTED.has(medType) ? this.assistancePaid(person, base, py, method === 'one_stop' && !outOfArea, ended, settled) : 0;
    return { total, selfPaid, overLimit, inScope, basic, critical, assistance, other, personal: total - basic - critical - assistance - other };
  }

  /** What the one-stop settlement paid from the assistance fund (spec policy §3, simulated). */
  private assistancePaid(person: Person, base: number, py: PersonYear, oneStop: boolean, ended: Day, settled: Day): number {
    const held = this.holdings.on(person.pid, ended);
    if (held.length === 0 || base === 0) return 0;
    const year = policyYear(py.year);
    let best: { amount: number; used: number; knownFrom: number } | null = null;
    for (const h of held) {
      const rule = ASSISTANCE[h.category];
      const ratio = rule.ratio[year];
      if (ratio === 0) continue;
      const remaining = Math.max(0, rule.deductible - py.deductibleUsed);
      const amount = Math.round(Math.max(0, base - remaining) * ratio);
      if (!best || amount > best.amount) best = { amount, used: Math.min(base, remaining), knownFrom: h.knownFrom };
    }
    if (!best) return 0;
    py.deductibleUsed += best.used;
    const entitled = Math.min(best.amount, Math.max(0, ANNUAL_CAP[year] - py.granted));
    py.granted += entitled;
    if (!oneStop || best.knownFrom > settled) return 0;
    const rng = this.rng;
    const u = rng.next();
    if (u < 0.93) return entitled;
    if (u < 0.96) return 0; // missed at the bedside
    if (u < 0.985) return Math.round(entitled * (0.4 + rng.next() * 0.5));
    return Math.min(base, Math.round(entitled * (1.1 + rng.next() * 0.5)) + 1_000);
  }
}

function clamp(x: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, x));
}

function scaleAmounts(a: Amounts, factor: number): Amounts {
  const total = Math.round(a.total * factor);
  const selfPaid = Math.round(a.selfPaid * factor);
  const overLimit = Math.round(a.overLimit * factor);
  const inScope = total - selfPaid - overLimit;
  const shrink = a.inScope > 0 ? Math.min(1, inScope / a.inScope) : 0;
  const basic = Math.round(a.basic * shrink);
  const critical = Math.round(a.critical * shrink);
  const assistance = Math.round(a.assistance * shrink);
  const other = Math.round(a.other * shrink);
  return { total, selfPaid, overLimit, inScope, basic, critical, assistance, other, personal: total - basic - critical - assistance - other };
}

// ── the files ───────────────────────────────────────────────────────────────

const SETTLEMENT_FIELDS = [
  'settlement_id', 'reversed_id', 'insurance_no', 'name', 'id_number', 'gender', 'birth_date', 'insurance_type', 'med_type',
  'institution_code', 'institution_name', 'institution_level', 'place', 'began_on', 'ended_on', 'settled_on', 'total',
  'self_paid', 'over_limit', 'in_scope', 'basic_paid', 'critical_paid', 'assistance_paid', 'other_paid', 'personal_burden',
  'method',
] as const satisfies readonly AnyField[];
type SettlementField = (typeof SETTLEMENT_FIELDS)[number];

const OPTIONAL_PRESENCE: Partial<Record<SettlementField, number>> = {
  gender: 0.9, birth_date: 0.45, insurance_type: 0.9, institution_code: 0.95, institution_level: 0.9, began_on: 0.95,
  self_paid: 0.9, over_limit: 0.9, other_paid: 0.85, personal_burden: 0.9,
};

const PLACE_CODE: Record<Place, string> = { local: 'local', in_province: 'in_province', cross_province: 'cross_province' };
const LEVEL_LABEL = ['', '一级', '二级', '三级'];

/** The choices that shape one settlement file. */
export interface SettlementLayout {
  readonly fields: readonly SettlementField[];
  readonly headers: readonly string[];
  readonly csv: CsvFormat;
  readonly medTypeAsLabel: boolean;
  readonly insuranceTypeAsLabel: boolean;
}

export function settlementLayout(rng: Rng, mapping: Mapping, encoding?: CsvFormat['encoding']): SettlementLayout {
  const fields = SETTLEMENT_FIELDS.filter((f) => !(f in OPTIONAL_PRESENCE) || rng.chance(OPTIONAL_PRESENCE[f]!));
  return {
    fields,
    headers: chooseHeaders(rng, mapping, 'settlement', fields),
    csv: { encoding: encoding ?? (rng.chance(0.7) ? 'utf-8-bom' : 'gbk'), eol: rng.chance(0.7) ? '\r\n' : '\n', delimiter: ',' },
    medTypeAsLabel: rng.chance(0.4),
    insuranceTypeAsLabel: rng.chance(0.2),
  };
}

/** Labels of the settlement vocabularies, looked up once. */
class SettlementLabels {
  private readonly cache = new Map<string, string[]>();
  constructor(private readonly mapping: Mapping) {}

  of(vocabulary: 'med_type' | 'place' | 'method' | 'insurance_type', code: string): string[] {
    const key = `${vocabulary}:${code}`;
    let labels = this.cache.get(key);
    if (!labels) this.cache.set(key, (labels = labelsOf(this.mapping, vocabulary, code).filter((l) => !/^\d+$/.test(l))));
    return labels;
  }
}

function settlementCells(c: CellRenderer, rng: Rng, labels: SettlementLabels, layout: SettlementLayout, s: Settlement): Cell[] {
  const a = s.amounts;
  return layout.fields.map((field): Cell => {
    switch (field) {
      case 'settlement_id':
        return s.id;
      case 'reversed_id':
        return s.reversedId ?? '';
      case 'insurance_no':
        return s.person.insuranceNo;
      case 'name':
        return c.name(s.person, field);
      case 'id_number':
        return c.id(s.person, field);
      case 'gender':
        return c.gender(s.person.gender, field);
      case 'birth_date':
        return c.date(s.person.birth, field);
      case 'insurance_type':
        return layout.insuranceTypeAsLabel ? labels.of('insurance_type', s.insuranceType)[0]! : s.insuranceType;
      case 'med_type':
        return layout.medTypeAsLabel ? pickMostlyFirst(rng, labels.of('med_type', s.medType), 0.7) : s.medType;
      case 'institution_code':
        return s.institution.code;
      case 'institution_name':
        return s.institution.name;
      case 'institution_level':
        return LEVEL_LABEL[s.institution.level]!;
      case 'place':
        return labels.of('place', PLACE_CODE[s.institution.place])[0]!;
      case 'began_on':
        return c.date(s.began, field);
      case 'ended_on':
        return c.date(s.ended, field);
      case 'settled_on':
        return c.date(s.settled, field);
      case 'total':
        return c.money(a.total, field);
      case 'self_paid':
        return c.money(a.selfPaid, field);
      case 'over_limit':
        return c.money(a.overLimit, field);
      case 'in_scope':
        return c.money(a.inScope, field);
      case 'basic_paid':
        return c.money(a.basic, field);
      case 'critical_paid':
        return c.money(a.critical, field);
      case 'assistance_paid':
        return c.money(a.assistance, field);
      case 'other_paid':
        return c.money(a.other, field);
      case 'personal_burden':
        return c.money(a.personal, field);
      case 'method':
        return labels.of('method', s.method)[0]!;
    }
  });
}

/** One file a month, written as the simulator produces it. */
export async function writeSettlements(ctx: GenerationContext, holdings: Holdings, perPersonYear: number): Promise<FileTruth[]> {
  const sim = new SettlementSimulator(new Rng(ctx.seed, 'settlements'), ctx.county, holdings, { perPersonYear }, ctx.period.start);
  const layoutRng = new Rng(ctx.seed, 'settlement files');
  const labels = new SettlementLabels(ctx.mapping);
  const files: FileTruth[] = [];
  for (let month = ctx.fromMonth; month <= ctx.toMonth; month++) {
    const layout = settlementLayout(layoutRng, ctx.mapping);
    const d = await Delivery.open(ctx, {
      source: 'settlement',
      kind: 'delta',
      name: `医保结算明细_${compactMonth(month)}.csv`,
      asOf: monthEnd(month),
      layout: { format: 'csv', csv: layout.csv },
    });
    await d.line(layout.headers);
    for (const s of sim.month(month)) await d.data(settlementCells(d.cells, d.rng, labels, layout, s), s.person.pid);
    const truth = await d.close('accept');
    files.push(truth);
    ctx.progress(`settlement ${truth.file}: ${truth.rows} rows`);
  }
  return files;
}

/** Rows per month in a benchmark file: bounded, so memory does not grow with the file. */
const BENCHMARK_ROWS_PER_MONTH = 40_000;

/**
 * One large settlement file of exactly `rows` data rows, month after month of a
 * fixed synthetic population; no truth. Only one month is in memory at a time.
 */
export async function writeSettlementFile(
  path: string,
  rows: number,
  seed: number,
  setup: { county: County; holdings: Holdings; mapping: Mapping; damage: Damage; startMonth: Month; encoding: CsvFormat['encoding'] },
): Promise<void> {
  const { county, holdings, mapping, damage } = setup;
  const rng = new Rng(seed, 'settlement file');
  const perMonth = Math.min(rows, BENCHMARK_ROWS_PER_MONTH);
  // a little above the target: some draws fall before a birth or after a death
  const perPersonYear = ((perMonth * 12) / county.persons.length) * 1.05;
  const sim = new SettlementSimulator(rng.derive('simulator'), county, holdings, { perPersonYear }, monthStart(setup.startMonth));
  const layout = settlementLayout(rng.derive('layout'), mapping, setup.encoding);
  const labels = new SettlementLabels(mapping);
  const out = await CsvWriter.open(path, layout.csv);
  await out.writeRow(layout.headers);
  const cells = new CellRenderer({
    source: 'settlement',
    format: 'csv',
    asOf: monthEnd(setup.startMonth),
    rng: rng.derive('cells'),
    damage,
    records: new RecordDamage(seed, 'settlement', damage),
  });
  let written = 0;
  for (let month = setup.startMonth; written < rows; month++) {
    for (const s of sim.month(month)) {
      if (written >= rows) break;
      await out.writeRow(settlementCells(cells, cells.rng, labels, layout, s));
      cells.takeNotes();
      written++;
    }
  }
  await out.close();
}
