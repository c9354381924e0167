/**
 * Every way a value arrives damaged or in a non-canonical form (spec §5, plus the
 * layout accidents of §2 and §6), with its default rate: the one table to read or
 * tune. `DemoOptions.damageScale` multiplies every rate (capped at 1); 0 gives clean
 * files, in which every value is written in its canonical form (ISO dates in CSV and
 * date cells in XLSX, 男/女, plain yuan, plain phone numbers, ids exactly as issued).
 *
 * A rate is a probability per `unit`:
 * - `cell`   one value written in one row (only where the form can apply: lower-case x
 *            only for ids ending in X, numeric cells only in XLSX …);
 * - `record` one person's record in one source's database: drawn once per source and
 *            person, so it recurs in every file of that source, as it would in reality;
 * - `file`   one delivered file;
 * - `row`    one data row;
 * - `run`    one generated county.
 *
 * Where several forms of one group could apply to the same value (say, an id that is
 * masked or carries a typo), they are exclusive: at most one is drawn, each with its
 * rate. How each form is produced is in render.ts; truth/damage.csv records each
 * form where it shows: per cell or row, and once per file (without a row) for the
 * forms of unit `file` and `run` — except title_date_mismatch, recorded at its title line.
 */
import type { SourceKey } from '../../src/db/schema.js';
import type { Rng } from './random.js';

export type DamageUnit = 'cell' | 'record' | 'file' | 'row' | 'run';

export interface DamageSpec {
  readonly unit: DamageUnit;
  /** default probability per unit, before `damageScale` */
  readonly rate: number;
  /** the sources whose files can carry the form */
  readonly sources: readonly SourceKey[];
  /** what the damage looks like, on an impossible date (month 13, day 32): never a real person's number */
  readonly example: string;
  readonly description: string;
}

const ALL: readonly SourceKey[] = ['civil', 'rural', 'disability', 'settlement'];
const ROSTERS: readonly SourceKey[] = ['civil', 'rural', 'disability'];
/** sources whose people lists carry ids without a certificate suffix */
const ID_COLUMNS: readonly SourceKey[] = ['civil', 'rural'];
/** sources with title lines above the header */
const TITLED: readonly SourceKey[] = ['civil', 'rural'];

export const DAMAGE = {
  // ── id numbers ────────────────────────────────────────────────────────────
  id_space_inside: {
    unit: 'cell', rate: 0.003, sources: ROSTERS, example: '520203 19801332\t0870',
    description: 'a space, tab or ideographic space inside the number',
  },
  id_space_around: {
    unit: 'cell', rate: 0.006, sources: ROSTERS, example: ' 520203198013320870　',
    description: 'a space, tab or ideographic space before or after the number',
  },
  id_fullwidth: {
    unit: 'cell', rate: 0.002, sources: ROSTERS, example: '５２０２０３１９８０１３３２０８７０',
    description: 'full-width digits (and Ｘ)',
  },
  id_lowercase_x: {
    unit: 'cell', rate: 0.3, sources: ROSTERS, example: '52020319941332247x',
    description: 'a lower-case x as check character (only ids ending in X)',
  },
  id_missing_child: {
    unit: 'record', rate: 0.15, sources: ID_COLUMNS, example: '无',
    description: 'no number for a child under 16: empty, 无 or /',
  },
  id_masked: {
    unit: 'record', rate: 0.003, sources: ID_COLUMNS, example: '520203********0870',
    description: 'birth date and sequence masked with *',
  },
  id_sheet_000: {
    unit: 'cell', rate: 0.002, sources: ID_COLUMNS, example: '520203198013320000',
    description: 'CSV text of a number a spreadsheet stored as a number: the last three digits became 000',
  },
  id_sheet_scientific: {
    unit: 'cell', rate: 0.001, sources: ID_COLUMNS, example: '5.20203E+17',
    description: 'CSV text showing a spreadsheet number in scientific notation',
  },
  id_numeric_cell: {
    unit: 'cell', rate: 0.01, sources: ID_COLUMNS, example: '<v>5.20203198013320E+17</v>',
    description: 'an XLSX cell holding the id as a number (15 significant digits survive)',
  },
  id_typo_digit: {
    unit: 'record', rate: 0.002, sources: ROSTERS, example: '520203198013320970',
    description: 'one digit typed wrong (the check character usually fails)',
  },
  id_typo_swap: {
    unit: 'record', rate: 0.001, sources: ROSTERS, example: '520203198013230870',
    description: 'two neighbouring digits swapped',
  },
  id_legacy15: {
    unit: 'record', rate: 0.003, sources: ALL, example: '520203801332087',
    description: 'the legacy 15-digit number (people born in the 1900s only)',
  },
  // ── names ─────────────────────────────────────────────────────────────────
  name_space: {
    unit: 'cell', rate: 0.004, sources: ROSTERS, example: '刘　健',
    description: 'a half- or full-width space between or around the characters',
  },
  name_traditional: {
    unit: 'record', rate: 0.004, sources: ROSTERS, example: '陳建華',
    description: 'traditional characters (only names that have any)',
  },
  name_lookalike: {
    unit: 'record', rate: 0.3, sources: ROSTERS, example: '王哲 for 王喆',
    description: 'a look-alike or same-sound character typed for a rare one (only names with one)',
  },
  name_unknown_char: {
    unit: 'record', rate: 0.15, sources: ROSTERS, example: '王?',
    description: '`?` where an encoding had no rare character (only names with one)',
  },
  name_annotation: {
    unit: 'cell', rate: 0.004, sources: ROSTERS, example: '李旭(户主), 张秀英（已故）, 王伟*',
    description: 'an annotation: (户主) for a head, （已故） after death, or a trailing *',
  },
  name_dot_variant: {
    unit: 'record', rate: 0.6, sources: ROSTERS, example: '买买提•艾力, 买买提・艾力, 买买提.艾力, 买买提艾力',
    description: 'the separator dot of an ethnic-minority name written •, ・, . or left out (canonical ·)',
  },
  // ── dates: the style of the date columns of one file (canonical: ISO text in CSV, date cells in XLSX) ──
  date_slash: { unit: 'file', rate: 0.1, sources: ALL, example: '2025/1/5', description: 'slashes, no zero padding' },
  date_compact: { unit: 'file', rate: 0.1, sources: ALL, example: '20250105', description: 'eight digits' },
  date_dotted: { unit: 'file', rate: 0.05, sources: ALL, example: '2025.01.05', description: 'dots' },
  date_chinese: { unit: 'file', rate: 0.1, sources: ALL, example: '2025年1月5日', description: 'Chinese' },
  date_timestamp: { unit: 'file', rate: 0.05, sources: ALL, example: '2025-01-05 00:00:00', description: 'with a midnight time' },
  date_serial_number: {
    unit: 'file', rate: 0.03, sources: ALL, example: '45662',
    description: 'the Excel serial day number as a plain number (text in CSV, an unformatted number cell in XLSX)',
  },
  date_iso_text: {
    unit: 'file', rate: 0.05, sources: ['rural', 'civil'], example: '2025-01-05 (text cell)',
    description: 'XLSX only: ISO text instead of a date cell',
  },
  date_mixed_styles: {
    unit: 'file', rate: 0.05, sources: ALL, example: '2022/1/25 next to a date cell',
    description: 'every date cell in a style of its own (the styles that occur are recorded for the file too)',
  },
  // ── other values ─────────────────────────────────────────────────────────
  gender_digits: { unit: 'file', rate: 0.08, sources: ALL, example: '1 / 2', description: 'gender as 1 (male) / 2 (female)' },
  gender_letters: { unit: 'file', rate: 0.04, sources: ALL, example: 'M / F', description: 'gender as M / F' },
  gender_empty: { unit: 'cell', rate: 0.01, sources: ALL, example: '', description: 'gender left empty' },
  money_thousands: {
    unit: 'file', rate: 0.2, sources: ['settlement'], example: '"12,345.67"',
    description: 'amounts of 1,000 yuan or more with thousands separators (quoted in comma-separated CSV)',
  },
  phone_plus86: { unit: 'cell', rate: 0.01, sources: ROSTERS, example: '+86 13912345678', description: 'mobile with +86' },
  phone_dashes: { unit: 'cell', rate: 0.02, sources: ROSTERS, example: '139-1234-5678', description: 'mobile with dashes' },
  phone_spaces: { unit: 'cell', rate: 0.01, sources: ROSTERS, example: '139 1234 5678', description: 'mobile with spaces' },
  phone_missing: { unit: 'cell', rate: 0.03, sources: ROSTERS, example: '', description: 'a known phone left empty' },
  // ── rows, files and runs ─────────────────────────────────────────────────
  row_duplicate: { unit: 'row', rate: 0.002, sources: ALL, example: '', description: 'the same row written twice in a row' },
  cert_grade_stale: {
    unit: 'record', rate: 0.02, sources: ['disability'], example: '…4 with grade 三级',
    description: "the certificate number's grade digit disagrees with the grade column (the column is right)",
  },
  title_date_mismatch: {
    unit: 'file', rate: 0.03, sources: TITLED, example: 'civil_20250131.csv titled 导出日期:2025-02-03',
    description: 'the title line dates the export a few days after the date in the file name (the title wins)',
  },
  snapshot_truncated: {
    unit: 'run', rate: 1, sources: ['civil'], example: '160 rows after 363',
    description: 'one monthly civil roster cut off at 40–50% of its rows (expected: quarantine)',
  },
} as const satisfies Record<string, DamageSpec>;

export type DamageForm = keyof typeof DAMAGE;
export const DAMAGE_FORMS = Object.keys(DAMAGE) as DamageForm[];

/** The damage one cell, row or file carries, as recorded in truth/damage.csv. */
export interface DamageNote {
  /** the field (spec §4 field name), or '' for a whole row or file */
  readonly field: string;
  readonly form: DamageForm;
}

/** The rates of one run, scaled, and the draws against them. */
export class Damage {
  private readonly rates = new Map<DamageForm, Partial<Record<SourceKey, number>>>();

  /**
   * @param overrides base rates replacing a form's default (still multiplied by `scale`)
   */
  constructor(
    readonly scale: number = 1,
    overrides: Partial<Record<DamageForm, number>> = {},
  ) {
    if (!(scale >= 0) || !Number.isFinite(scale)) throw new RangeError(`damageScale must be a finite number ≥ 0, got ${scale}`);
    for (const [form, rate] of Object.entries(overrides)) {
      if (!(DAMAGE_FORMS as readonly string[]).includes(form)) throw new RangeError(`unknown damage form "${form}" (known: ${DAMAGE_FORMS.join(', ')})`);
      if (!(rate >= 0 && rate <= 1)) throw new RangeError(`the rate of ${form} must be between 0 and 1, got ${rate}`);
    }
    for (const form of DAMAGE_FORMS) {
      const spec: DamageSpec = DAMAGE[form];
      const base = overrides[form] ?? spec.rate;
      this.rates.set(form, Object.fromEntries(spec.sources.map((source) => [source, Math.min(1, base * scale)])));
    }
  }

  /** The scaled rate of a form for a source; 0 where the source cannot carry it. */
  rate(form: DamageForm, source: SourceKey): number {
    return this.rates.get(form)?.[source] ?? 0;
  }

  happens(rng: Rng, form: DamageForm, source: SourceKey): boolean {
    return rng.chance(this.rate(form, source));
  }

  /**
   * At most one of mutually exclusive forms, each with its rate; when the scaled rates
   * add up to more than 1 they are shared out in proportion.
   */
  choose<F extends DamageForm>(rng: Rng, forms: readonly F[], source: SourceKey): F | null {
    let total = 0;
    for (const f of forms) total += this.rate(f, source);
    if (total === 0) return null;
    const norm = Math.max(1, total);
    let u = rng.next() * norm;
    for (const f of forms) {
      u -= this.rate(f, source);
      if (u < 0) return f;
    }
    return null;
  }
}
