/**
 * How true values become cells, with the damage of damage.ts applied: one renderer
 * per file, which also remembers which damage each row carries (for
 * truth/damage.csv). Record-level damage comes from `RecordDamage`, drawn once per
 * source and person so that it recurs in every file of that source.
 */
import type { SourceKey } from '../../src/db/schema.js';
import { chineseDay, compactDay, excelSerial, isoDay, ymd, ageOn, type Day } from './calendar.js';
import type { Damage, DamageForm, DamageNote } from './damage.js';
import { RARE_CHARS, TRADITIONAL, type Gender, type Person, type Phone } from './people.js';
import { Rng } from './random.js';
import type { Cell } from './sheet.js';

export type FileFormat = 'csv' | 'xlsx';

/** Children under this age often have no id number in rosters (spec §5). */
const CHILD_AGE = 16;

// ── record-level damage ─────────────────────────────────────────────────────

interface IdRecord {
  /** the number as this source's database holds it */
  readonly text: string;
  readonly form: DamageForm | null;
  /** the database holds no number while the person is a child */
  readonly missingAsChild: boolean;
}

interface NameRecord {
  readonly text: string;
  readonly forms: readonly DamageForm[];
}

const ID_RECORD_FORMS = ['id_masked', 'id_typo_digit', 'id_typo_swap', 'id_legacy15'] as const satisfies readonly DamageForm[];
const DOT_VARIANTS = ['•', '・', '.', ''];

/** What one source's database holds wrong about a person, decided once per person. */
export class RecordDamage {
  private readonly ids = new Map<number, IdRecord>();
  private readonly names = new Map<number, NameRecord>();
  private readonly staleGrades = new Map<number, boolean>();

  constructor(
    private readonly seed: number,
    readonly source: SourceKey,
    private readonly damage: Damage,
  ) {}

  private rng(pid: number, what: string): Rng {
    return new Rng(this.seed, 'record', this.source, what, pid);
  }

  id(person: Person): IdRecord {
    let rec = this.ids.get(person.pid);
    if (rec) return rec;
    const rng = this.rng(person.pid, 'id');
    const missingAsChild = this.damage.happens(rng, 'id_missing_child', this.source);
    const applicable = ID_RECORD_FORMS.filter((f) => f !== 'id_legacy15' || person.legacyId !== null);
    const form = this.damage.choose(rng, applicable, this.source);
    rec = { text: form ? damagedId(rng, person, form) : person.id, form, missingAsChild };
    this.ids.set(person.pid, rec);
    return rec;
  }

  name(person: Person): NameRecord {
    let rec = this.names.get(person.pid);
    if (rec) return rec;
    const rng = this.rng(person.pid, 'name');
    const forms: DamageForm[] = [];
    let text = person.name;
    const applicable: DamageForm[] = [];
    if ([...text].some((c) => TRADITIONAL.has(c))) applicable.push('name_traditional');
    if (person.rareChar) applicable.push('name_lookalike', 'name_unknown_char');
    const form = this.damage.choose(rng, applicable, this.source);
    if (form === 'name_traditional') text = [...text].map((c) => TRADITIONAL.get(c) ?? c).join('');
    else if (form === 'name_lookalike' && person.rareChar) text = text.replace(person.rareChar, RARE_CHARS.get(person.rareChar) ?? '?');
    else if (form === 'name_unknown_char' && person.rareChar) text = text.replace(person.rareChar, '?');
    if (form) forms.push(form);
    if (person.dotted && this.damage.happens(rng, 'name_dot_variant', this.source)) {
      text = text.replace('·', rng.pick(DOT_VARIANTS));
      forms.push('name_dot_variant');
    }
    rec = { text, forms };
    this.names.set(person.pid, rec);
    return rec;
  }

  /** The certificate number's grade digit is stale (disability). */
  staleGrade(pid: number): boolean {
    let stale = this.staleGrades.get(pid);
    if (stale === undefined) {
      stale = this.damage.happens(this.rng(pid, 'grade'), 'cert_grade_stale', this.source);
      this.staleGrades.set(pid, stale);
    }
    return stale;
  }
}

function damagedId(rng: Rng, person: Person, form: DamageForm): string {
  const id = person.id;
  switch (form) {
    case 'id_masked':
      return `${id.slice(0, 6)}********${id.slice(14)}`;
    case 'id_typo_digit': {
      const at = rng.int(6, 16);
      const was = Number(id[at]);
      const now = (was + rng.int(1, 9)) % 10;
      return id.slice(0, at) + String(now) + id.slice(at + 1);
    }
    case 'id_typo_swap': {
      for (let tries = 0; tries < 20; tries++) {
        const at = rng.int(6, 15);
        if (id[at] !== id[at + 1]) return id.slice(0, at) + id[at + 1] + id[at] + id.slice(at + 2);
      }
      return id.slice(0, 6) + id[7] + id[6] + id.slice(8); // the birth year's first two digits always differ (19, 20)
    }
    case 'id_legacy15':
      return person.legacyId ?? id;
    default:
      return id;
  }
}

// ── cell-level rendering ───────────────────────────────────────────────────

type DateStyle = 'canonical' | 'slash' | 'compact' | 'dotted' | 'chinese' | 'timestamp' | 'serial' | 'iso_text';

const DATE_STYLE_OF = {
  date_slash: 'slash',
  date_compact: 'compact',
  date_dotted: 'dotted',
  date_chinese: 'chinese',
  date_timestamp: 'timestamp',
  date_serial_number: 'serial',
  date_iso_text: 'iso_text',
} as const satisfies Partial<Record<DamageForm, DateStyle>>;
type DateForm = keyof typeof DATE_STYLE_OF;
const FORM_OF_STYLE = Object.fromEntries(Object.entries(DATE_STYLE_OF).map(([f, s]) => [s, f])) as Record<DateStyle, DateForm | undefined>;

const ID_CELL_FORMS_CSV = ['id_space_inside', 'id_space_around', 'id_fullwidth', 'id_sheet_000', 'id_sheet_scientific'] as const satisfies readonly DamageForm[];
const ID_CELL_FORMS_XLSX = ['id_space_inside', 'id_space_around', 'id_fullwidth', 'id_numeric_cell'] as const satisfies readonly DamageForm[];
const ID_TEXT_FORMS = ['id_space_inside', 'id_space_around', 'id_fullwidth'] as const satisfies readonly DamageForm[];
const SPACES = [' ', '\t', '\u3000'];

export interface RenderScope {
  readonly source: SourceKey;
  readonly format: FileFormat;
  /** the file's as-of date: who counts as a child, who has died */
  readonly asOf: Day;
  /** this file's random stream */
  readonly rng: Rng;
  readonly damage: Damage;
  readonly records: RecordDamage;
  /** the file is GBK: characters outside it are written as `?`, as the agencies' exports do */
  readonly gbk?: boolean;
}

/** Characters the damage above can produce that GBK lacks. */
const NOT_IN_GBK = /[•・]/;
const NOT_IN_GBK_ALL = new RegExp(NOT_IN_GBK.source, 'g');

export class CellRenderer {
  private notes: DamageNote[] = [];
  /** damage of unit `file` (a style), recorded once per file without a row; keyed field/form */
  private readonly fileForms = new Map<string, DamageNote>();
  /** one style for every date column of the file, as an export tool would write them */
  private fileDateStyle: DateStyle | 'mixed' | undefined;
  private readonly genderForm: 'gender_digits' | 'gender_letters' | null;
  private readonly thousands: boolean;

  constructor(private readonly scope: RenderScope) {
    const { rng, damage, source } = scope;
    this.genderForm = damage.choose(rng, ['gender_digits', 'gender_letters'] as const, source);
    this.thousands = damage.happens(rng, 'money_thousands', source);
  }

  get rng(): Rng {
    return this.scope.rng;
  }

  /** The damage of the row rendered since the last call. */
  takeNotes(): DamageNote[] {
    const n = this.notes;
    this.notes = [];
    return n;
  }

  /** The file-level damage that showed in the file's cells. */
  get fileNotes(): DamageNote[] {
    return [...this.fileForms.values()];
  }

  private noteFile(field: string, form: DamageForm): void {
    const key = `${field}/${form}`;
    if (!this.fileForms.has(key)) this.fileForms.set(key, { field, form });
  }

  /** Records damage of the current row; public for damage a source applies itself (a stale certificate digit). */
  noteCell(field: string, form: DamageForm): void {
    this.notes.push({ field, form });
  }

  private happens(form: DamageForm): boolean {
    return this.scope.damage.happens(this.scope.rng, form, this.scope.source);
  }

  private choose<F extends DamageForm>(forms: readonly F[]): F | null {
    return this.scope.damage.choose(this.scope.rng, forms, this.scope.source);
  }

  /** An id number cell. */
  id(person: Person, field = 'id_number'): Cell {
    const rec = this.scope.records.id(person);
    if (rec.missingAsChild && ageOn(person.birth, this.scope.asOf) < CHILD_AGE) {
      this.noteCell(field, 'id_missing_child');
      return this.rng.pick(['', '', '无', '/']);
    }
    let text = rec.text;
    if (rec.form) this.noteCell(field, rec.form);
    text = this.lowercaseX(text, field);
    const allDigits = /^[0-9]{18}$/.test(text);
    const forms = allDigits ? (this.scope.format === 'csv' ? ID_CELL_FORMS_CSV : ID_CELL_FORMS_XLSX) : ID_TEXT_FORMS;
    const form = this.choose<DamageForm>(forms);
    if (!form) return text;
    this.noteCell(field, form);
    switch (form) {
      case 'id_sheet_000':
        return text.slice(0, 15) + '000';
      case 'id_sheet_scientific':
        return `${text[0]}.${text.slice(1, 6)}E+17`;
      case 'id_numeric_cell':
        return { n: Number(text.slice(0, 15) + '000') };
      default:
        return this.spacedOrWide(text, form);
    }
  }

  /** A disability certificate number: the id as the federation holds it, the kind digit and the grade digit. */
  certificate(person: Person, kind: number, gradeDigit: number, field = 'cert_no'): string {
    const rec = this.scope.records.id(person);
    if (rec.form) this.noteCell(field, rec.form);
    const text = this.lowercaseX(rec.text, field) + String(kind) + String(gradeDigit);
    const form = this.choose(ID_TEXT_FORMS);
    if (!form) return text;
    this.noteCell(field, form);
    return this.spacedOrWide(text, form);
  }

  private lowercaseX(text: string, field: string): string {
    if (text.endsWith('X') && this.happens('id_lowercase_x')) {
      this.noteCell(field, 'id_lowercase_x');
      return text.slice(0, -1) + 'x';
    }
    return text;
  }

  private spacedOrWide(text: string, form: DamageForm): string {
    const rng = this.rng;
    switch (form) {
      case 'id_space_inside': {
        const at = rng.pick([6, 14, rng.int(1, text.length - 1)]);
        return text.slice(0, at) + rng.pick(SPACES) + text.slice(at);
      }
      case 'id_space_around': {
        const space = rng.pick(SPACES);
        return rng.pick([space + text, text + space, space + text + space]);
      }
      case 'id_fullwidth':
        return text.replace(/[0-9Xx]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0));
      default:
        return text;
    }
  }

  /** A name cell; `head` allows the (户主) annotation. */
  name(person: Person, field = 'name', head = false): string {
    const rec = this.scope.records.name(person);
    for (const f of rec.forms) this.noteCell(field, f);
    let text = rec.text;
    const form = this.choose(['name_space', 'name_annotation'] as const);
    if (form === 'name_space') {
      const chars = [...text];
      const at = this.rng.int(0, chars.length);
      chars.splice(at, 0, this.rng.pick([' ', '\u3000']));
      text = chars.join('');
      this.noteCell(field, form);
    } else if (form === 'name_annotation') {
      const dead = person.diedOn !== null && person.diedOn <= this.scope.asOf;
      text += dead ? '（已故）' : head ? this.rng.pick(['(户主)', '（户主）']) : '*';
      this.noteCell(field, form);
    }
    if (this.scope.gbk && NOT_IN_GBK.test(text)) {
      text = text.replace(NOT_IN_GBK_ALL, '?');
      this.noteCell(field, 'name_unknown_char');
    }
    return text;
  }

  private dateStyle(): DateStyle | 'mixed' {
    if (this.fileDateStyle === undefined) {
      const forms = (Object.keys(DATE_STYLE_OF) as DateForm[]).filter((f) => f !== 'date_iso_text' || this.scope.format === 'xlsx');
      const form = this.choose<DamageForm>([...forms, 'date_mixed_styles']);
      if (form === 'date_mixed_styles') this.noteFile('', form);
      this.fileDateStyle = form === 'date_mixed_styles' ? 'mixed' : form ? DATE_STYLE_OF[form as DateForm] : 'canonical';
    }
    return this.fileDateStyle;
  }

  /** A date cell; empty for no date. */
  date(day: Day | null, field: string): Cell {
    if (day === null) return '';
    let style = this.dateStyle();
    if (style === 'mixed') {
      const styles: DateStyle[] = ['canonical', 'slash', 'compact', 'dotted', 'chinese', 'timestamp', 'serial'];
      if (this.scope.format === 'xlsx') styles.push('iso_text');
      style = this.rng.pick(styles);
    }
    const form = FORM_OF_STYLE[style];
    if (form) this.noteFile('', form);
    return formatDate(day, style, this.scope.format);
  }

  gender(gender: Gender, field = 'gender'): string {
    if (this.happens('gender_empty')) {
      this.noteCell(field, 'gender_empty');
      return '';
    }
    if (this.genderForm) this.noteFile(field, this.genderForm);
    if (this.genderForm === 'gender_digits') return gender === 'M' ? '1' : '2';
    if (this.genderForm === 'gender_letters') return gender;
    return gender === 'M' ? '男' : '女';
  }

  phone(phone: Phone | null, field = 'phone'): string {
    if (phone === null) return '';
    const forms = phone.kind === 'mobile' ? (['phone_missing', 'phone_plus86', 'phone_dashes', 'phone_spaces'] as const) : (['phone_missing'] as const);
    const form = this.choose<DamageForm>(forms);
    if (form) this.noteCell(field, form);
    const n = phone.text;
    switch (form) {
      case 'phone_missing':
        return '';
      case 'phone_plus86':
        return `+86 ${n}`;
      case 'phone_dashes':
        return `${n.slice(0, 3)}-${n.slice(3, 7)}-${n.slice(7)}`;
      case 'phone_spaces':
        return `${n.slice(0, 3)} ${n.slice(3, 7)} ${n.slice(7)}`;
      default:
        return n;
    }
  }

  /** Yuan with two decimals from integer fen. */
  money(fen: number, field: string): string {
    const text = formatYuan(fen, this.thousands && Math.abs(fen) >= 100_000);
    if (this.thousands && Math.abs(fen) >= 100_000) this.noteFile('', 'money_thousands');
    return text;
  }
}

export function formatDate(day: Day, style: DateStyle, format: FileFormat): Cell {
  const { y, m, d } = ymd(day);
  const pad = (n: number) => String(n).padStart(2, '0');
  switch (style) {
    case 'canonical':
      return format === 'xlsx' ? { n: excelSerial(day), date: true } : isoDay(day);
    case 'iso_text':
      return isoDay(day);
    case 'slash':
      return `${y}/${m}/${d}`;
    case 'compact':
      return compactDay(day);
    case 'dotted':
      return `${y}.${pad(m)}.${pad(d)}`;
    case 'chinese':
      return chineseDay(day);
    case 'timestamp':
      return `${isoDay(day)} 00:00:00`;
    case 'serial':
      return format === 'xlsx' ? { n: excelSerial(day) } : String(excelSerial(day));
  }
}

/** 1234567 fen → "12345.67" (or "12,345.67"). */
export function formatYuan(fen: number, thousands = false): string {
  const sign = fen < 0 ? '-' : '';
  const abs = Math.abs(fen);
  let whole = String(Math.floor(abs / 100));
  if (thousands) whole = whole.replace(/\B(?=(\d{3})+$)/g, ',');
  return `${sign}${whole}.${String(abs % 100).padStart(2, '0')}`;
}
