/**
 * A synthetic county (never real data) for demos, tests and benchmarks: the inbox
 * the four agencies would deliver over a period, in every form and with every kind
 * of damage of ../shared/spec/exports.md, and the truth a correct system derives
 * from it (truth.ts). The same seed and options give byte-identical files.
 *
 *   <out>/inbox/civil/…        a historical roster, then one roster a month
 *   <out>/inbox/rural/…        one register a quarter (XLSX)
 *   <out>/inbox/disability/…   every 30 June and at the end of the period (GBK CSV)
 *   <out>/inbox/settlement/…   one month of settlements per file
 *   <out>/truth/files.csv, rows.csv, persons.csv, damage.csv
 */
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { SourceKey } from '../../src/db/schema.js';
import { loadMapping } from '../../src/ingest/mapping.js';
import { dayOf, monthEnd, monthStart, parseMonth } from './calendar.js';
import { civilHoldings, planCivil, writeCivil } from './civil.js';
import { Damage, type DamageForm } from './damage.js';
import type { GenerationContext } from './delivery.js';
import { disabilityHoldings, planDisability, writeDisability } from './disability.js';
import { Holdings } from './holdings.js';
import { buildCounty } from './people.js';
import { Rng } from './random.js';
import { RecordDamage } from './render.js';
import { planRural, ruralHoldings, writeRural } from './rural.js';
import { writeSettlementFile, writeSettlements } from './settlement.js';
import { TruthWriter, type FileTruth } from './truth.js';

export interface DemoOptions {
  /** people in the county */
  persons: number;
  /** same seed + options => byte-identical output */
  seed: number;
  /** writes <out>/inbox/<source>/<file> and <out>/truth/*.csv; must not hold an earlier inbox or truth */
  out: string;
  /** multiplies every damage rate of damage.ts (default 1; 0 = clean data) */
  damageScale?: number;
  /** base rates replacing the defaults of damage.ts for some forms (still multiplied by damageScale) */
  damageRates?: Partial<Record<DamageForm, number>>;
  /** default tuned so 5,000 persons give ~9,000 settlement rows over the default range */
  settlementsPerPersonYear?: number;
  /** months 'YYYY-MM', default '2025-01'..'2026-10' (plus a historical civil roster as of the day before `from`) */
  from?: string;
  to?: string;
  onProgress?: (message: string) => void;
}

/** The spec's four sources, which the generator writes (no death lists yet). */
const GENERATED_SOURCES = ['civil', 'rural', 'disability', 'settlement'] as const satisfies readonly SourceKey[];
type GeneratedSource = (typeof GENERATED_SOURCES)[number];

export interface DemoSummary {
  persons: number;
  files: number;
  rows: number;
  bySource: Record<GeneratedSource, { files: number; rows: number }>;
}

export const DEFAULT_FROM = '2025-01';
export const DEFAULT_TO = '2026-10';
/** ≈ 9,000 rows (reversals and redeliveries included) for 5,000 persons over 22 months */
export const DEFAULT_SETTLEMENTS_PER_PERSON_YEAR = 0.97;

async function assertFresh(dir: string): Promise<void> {
  try {
    const entries = await readdir(dir);
    if (entries.length > 0) throw new Error(`${dir} is not empty: generate into a new directory, or remove the old county first`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

export async function generateCounty(opts: DemoOptions): Promise<DemoSummary> {
  const { persons, seed, out } = opts;
  if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be an integer, got ${seed}`);
  const fromMonth = parseMonth(opts.from ?? DEFAULT_FROM);
  const toMonth = parseMonth(opts.to ?? DEFAULT_TO);
  if (toMonth < fromMonth) throw new RangeError(`to (${opts.to}) is before from (${opts.from})`);
  const perPersonYear = opts.settlementsPerPersonYear ?? DEFAULT_SETTLEMENTS_PER_PERSON_YEAR;
  if (!(perPersonYear >= 0)) throw new RangeError(`settlementsPerPersonYear must be ≥ 0, got ${perPersonYear}`);
  const damage = new Damage(opts.damageScale ?? 1, opts.damageRates);
  const progress = opts.onProgress ?? (() => {});

  const inbox = join(out, 'inbox');
  const truthDir = join(out, 'truth');
  await assertFresh(inbox);
  await assertFresh(truthDir);
  for (const s of GENERATED_SOURCES) await mkdir(join(inbox, s), { recursive: true });

  const period = { start: monthStart(fromMonth), end: monthEnd(toMonth) };
  const root = new Rng(seed, 'county');
  const county = buildCounty(root.derive('people'), persons, period);
  progress(`${county.persons.length} persons in ${county.households.length} households`);

  const civil = planCivil(root.derive('civil'), county, period.start, period.end);
  const civilHouseholds = new Set(civil.entries.filter((e) => e.category === 'dibao' || e.category === 'dibao_edge').map((e) => e.hid));
  const rural = planRural(root.derive('rural'), county, period.start, period.end, civilHouseholds);
  const disability = planDisability(root.derive('disability'), county, period.start, period.end);
  const holdings = new Holdings().add(civilHoldings(civil)).add(ruralHoldings(rural, county)).add(disabilityHoldings(disability));

  const truth = await TruthWriter.open(truthDir);
  const ctx: GenerationContext = {
    seed,
    county,
    mapping: loadMapping(),
    damage,
    records: {
      civil: new RecordDamage(seed, 'civil', damage),
      rural: new RecordDamage(seed, 'rural', damage),
      disability: new RecordDamage(seed, 'disability', damage),
      settlement: new RecordDamage(seed, 'settlement', damage),
      death: new RecordDamage(seed, 'death', damage), // the generator writes no death lists yet
    },
    truth,
    inbox,
    period,
    fromMonth,
    toMonth,
    progress,
  };

  const files: FileTruth[] = [
    ...(await writeCivil(ctx, civil)),
    ...(await writeRural(ctx, rural)),
    ...(await writeDisability(ctx, disability)),
    ...(await writeSettlements(ctx, holdings, perPersonYear)),
  ];
  await truth.close(county);

  const bySource = Object.fromEntries(GENERATED_SOURCES.map((s) => [s, { files: 0, rows: 0 }])) as DemoSummary['bySource'];
  for (const f of files) {
    bySource[f.source as GeneratedSource].files++;
    bySource[f.source as GeneratedSource].rows += f.rows;
  }
  const summary: DemoSummary = {
    persons: county.persons.length,
    files: files.length,
    rows: files.reduce((n, f) => n + f.rows, 0),
    bySource,
  };
  progress(`${summary.files} files, ${summary.rows} rows`);
  return summary;
}

/** The synthetic population behind `writeSettlementCsv`; its size does not depend on the file's. */
const BENCHMARK_PERSONS = 20_000;

/** One big settlement CSV of exactly `rows` data rows (streamed; for memory/speed benchmarks). */
export async function writeSettlementCsv(
  path: string,
  rows: number,
  seed: number,
  opts?: { encoding?: 'utf-8-bom' | 'gbk' },
): Promise<void> {
  if (!Number.isSafeInteger(rows) || rows < 0) throw new RangeError(`rows must be a non-negative integer, got ${rows}`);
  const startMonth = parseMonth(DEFAULT_FROM);
  const root = new Rng(seed, 'benchmark');
  const period = { start: monthStart(startMonth), end: monthEnd(parseMonth(DEFAULT_TO)) };
  const county = buildCounty(root.derive('people'), BENCHMARK_PERSONS, period);
  // about one person in twelve holds a category, so some rows carry assistance
  const holdingsRng = root.derive('holdings');
  const holdings = new Holdings().add(
    county.persons
      .filter(() => holdingsRng.chance(0.08))
      .map((p) => ({ pid: p.pid, category: 'dibao' as const, from: dayOf(2015, 1, 1), to: null, knownFrom: dayOf(2015, 1, 1) })),
  );
  await writeSettlementFile(path, rows, seed, {
    county,
    holdings,
    mapping: loadMapping(),
    damage: new Damage(1),
    startMonth,
    encoding: opts?.encoding ?? 'utf-8-bom',
  });
}
