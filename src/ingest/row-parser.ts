/**
 * One data row → typed, normalised fields and the problems found (spec §4–5).
 * A bad value rejects its row (error) or is reported and left empty (warning);
 * either way the row is kept with its raw cells, and the problem names the row
 * and the column. Nothing here touches the database.
 */
import type {
  CivilRowTable,
  DeathRowTable,
  DisabilityRowTable,
  IdStatus,
  RuralRowTable,
  SettlementRowTable,
  Severity,
  SourceKey,
  SourceRowTable,
} from '../db/schema.js';
import { lookupLabel, profileNamed, type Mapping } from './mapping.js';
import { parseDate, parseDateOrMonth, splitDateRange } from './normalise/date.js';
import { parseGender } from './normalise/gender.js';
import { parseIdNumber, type IdParse } from './normalise/id-number.js';
import { parseMoney } from './normalise/money.js';
import { parseName } from './normalise/name.js';
import { parsePhone } from './normalise/phone.js';
import { cleanText, removeSpaces, toHalfWidth } from './normalise/text.js';
import { cell, row as rowProblem, type CellRef, type Problem } from './problems.js';
import type { SheetRow } from './read/rows.js';
import type { ColumnMapping } from './layout.js';
import { VOCABULARY_CODE_PATTERN, type AnyField, type VocabularyName } from './sources.js';

/** The identity columns of source_row, without provenance. */
export type Identity = Omit<SourceRowTable, 'delivery_id' | 'row_no' | 'source' | 'raw' | 'raw_hash' | 'rejected'>;
type Detail<T> = Omit<T, 'delivery_id' | 'row_no'>;
export type CivilDetail = Detail<CivilRowTable>;
export type RuralDetail = Detail<RuralRowTable>;
export type DisabilityDetail = Detail<DisabilityRowTable>;
export type SettlementDetail = Detail<SettlementRowTable>;
export type DeathDetail = Detail<DeathRowTable>;

export type ParsedRow = {
  rowNo: number;
  raw: string[];
  rejected: boolean;
  identity: Identity;
  problems: Problem[];
} & (
  | { source: 'civil'; detail: CivilDetail }
  | { source: 'rural'; detail: RuralDetail }
  | { source: 'disability'; detail: DisabilityDetail }
  | { source: 'settlement'; detail: SettlementDetail }
  | { source: 'death'; detail: DeathDetail }
);

export interface RowContext {
  source: SourceKey;
  /** the format profile's name */
  profile: string;
  mapping: Mapping;
  headers: readonly string[];
  columnMap: Partial<Record<AnyField, number>>;
  /** amount fields read as the sum of several columns: their indexes */
  sums: Partial<Record<AnyField, number[]>>;
  /** date fields read from a column of two dates */
  ranges: ColumnMapping['ranges'];
}

/** A parser's context, with memos: a file repeats the same labels and dates on row after row. */
interface ParseContext extends RowContext {
  labels(vocab: VocabularyName, text: string): string | undefined;
  dates(text: string): string | null;
  /** dates of the fields the profile lets give only a month */
  monthDates: Partial<Record<AnyField, (text: string) => string | null>>;
}

const MEMO_LIMIT = 50_000;

function memo<V>(compute: (key: string) => V): (key: string) => V {
  let cache = new Map<string, V>();
  return (key) => {
    const hit = cache.get(key);
    if (hit !== undefined || cache.has(key)) return hit as V;
    const v = compute(key);
    if (cache.size >= MEMO_LIMIT) cache = new Map(); // bounded: memory must not grow with the file
    // a cell is a slice of the megabyte of text it was read from, and a kept slice keeps all of it:
    // store a copy of the key
    cache.set((' ' + key).slice(1), v);
    return v;
  };
}

/** Reads the cells of one row by field, collecting problems as it goes. */
class Cells {
  readonly problems: Problem[] = [];
  rejected = false;

  constructor(
    private readonly ctx: ParseContext,
    private readonly row: SheetRow,
  ) {}

  ref(field: AnyField, index = this.ctx.columnMap[field] ?? this.ctx.ranges[field]?.index): CellRef {
    const sum = index === undefined ? this.ctx.sums[field] : undefined;
    const column = index !== undefined ? (this.ctx.headers[index] ?? null) : sum ? sum.map((i) => this.ctx.headers[i]).join('+') : null;
    return { rowNo: this.row.rowNo, field, column };
  }

  /** Whether the file has the field's column (or, for a sum, one of its columns). */
  present(field: AnyField): boolean {
    return this.ctx.columnMap[field] !== undefined || this.ctx.sums[field] !== undefined || this.ctx.ranges[field] !== undefined;
  }

  report(p: Problem): void {
    this.problems.push(p);
    if (p.severity === 'error') this.rejected = true;
  }

  /** The trimmed cell, or null when empty or the column is absent; a date range's start or end. */
  text(field: AnyField): string | null {
    const i = this.ctx.columnMap[field];
    if (i !== undefined) return cleanText(this.row.cells[i]);
    const range = this.ctx.ranges[field];
    if (!range) return null;
    const t = cleanText(this.row.cells[range.index]);
    if (t === null) return null;
    const parts = splitDateRange(t);
    // one date alone is both ends (a stay of a day); text that is no range is reported as it is
    return parts ? parts[range.part === 'from' ? 0 : 1] : t;
  }

  isNumeric(field: AnyField): boolean {
    const i = this.ctx.columnMap[field];
    return i !== undefined && (this.row.numeric?.has(i) ?? false);
  }

  /** An identifier such as a settlement id: spaces dropped, width folded. */
  code(field: AnyField): string | null {
    const t = this.text(field);
    if (t === null) return null;
    const c = removeSpaces(toHalfWidth(t)).replace(/^'/, '');
    return c === '' ? null : c;
  }

  /** An empty cell where a value is needed. A column the file lacks is noted once, on the delivery (mapColumns). */
  required(field: AnyField, severity: Severity = 'error'): void {
    if (!this.present(field)) return;
    this.report(cell.missingValue(this.ref(field), severity));
  }

  name(field: AnyField, severity: Severity | null): { name: string; norm: string } | null {
    const parsed = parseName(this.text(field));
    if (!parsed || parsed.norm === null) {
      if (severity) this.required(field, severity);
      return null;
    }
    if (parsed.hasUnknownChar) this.report(cell.nameUnknownChar(this.ref(field)));
    return { name: parsed.name, norm: parsed.norm };
  }

  id(field: AnyField, reportMissing: boolean, text = this.text(field)): IdParse {
    const parsed = parseIdNumber(text, this.isNumeric(field));
    switch (parsed.status) {
      case 'valid':
        break;
      case 'legacy15':
        this.report(cell.idLegacy15(this.ref(field)));
        break;
      case 'checksum_failed':
        this.report(cell.idChecksumFailed(this.ref(field)));
        break;
      case 'masked':
        this.report(cell.idMasked(this.ref(field)));
        break;
      case 'spreadsheet_damaged':
        this.report(cell.idSpreadsheetDamaged(this.ref(field)));
        break;
      case 'malformed':
        this.report(cell.idMalformed(this.ref(field)));
        break;
      case 'missing':
        if (reportMissing) this.report(cell.idMissing(this.ref(field)));
        break;
    }
    return parsed;
  }

  date(field: AnyField, severity: Severity | null): string | null {
    const t = this.text(field);
    if (t === null) {
      if (severity === 'error') this.required(field);
      return null;
    }
    const d = (this.ctx.monthDates[field] ?? this.ctx.dates)(t);
    if (d === null) this.report(cell.invalidDate(this.ref(field), t, severity ?? 'warning'));
    return d;
  }

  /**
   * Required amounts that are empty count as 0.00, with a warning; unreadable ones reject
   * the row. A required amount whose column the file lacks is 0 (noted on the delivery).
   * An amount paid in several columns (a profile's sum) is their sum, an empty one 0.
   */
  money(field: AnyField, required: boolean): number | null {
    const sum = this.ctx.sums[field];
    if (sum) return this.moneySum(field, sum, required);
    if (!this.present(field)) return required ? 0 : null;
    const t = this.text(field);
    if (t === null) {
      if (!required) return null;
      this.report(cell.moneyEmpty(this.ref(field)));
      return 0;
    }
    return this.amount(field, t, required, this.ctx.columnMap[field]);
  }

  private amount(field: AnyField, text: string, required: boolean, index: number | undefined): number | null {
    const m = parseMoney(text);
    if (m === null) {
      this.report(cell.invalidMoney(this.ref(field, index), text, required ? 'error' : 'warning'));
      return null;
    }
    if (m.rounded) this.report(cell.moneyRounded(this.ref(field, index), text));
    return m.fen;
  }

  private moneySum(field: AnyField, columns: readonly number[], required: boolean): number | null {
    let total = 0;
    let any = false;
    for (const i of columns) {
      const t = cleanText(this.row.cells[i]);
      if (t === null) continue;
      any = true;
      const fen = this.amount(field, t, required, i);
      if (fen === null) return null;
      total += fen;
    }
    if (!any) {
      if (!required) return null;
      this.report(cell.moneyEmpty(this.ref(field)));
    }
    return total;
  }

  vocab(field: AnyField, vocab: VocabularyName, severity: Severity): string | null {
    const t = this.text(field);
    if (t === null) {
      if (severity === 'error') this.required(field);
      return null;
    }
    const code = this.ctx.labels(vocab, t);
    if (code !== undefined) return code;
    // open code lists (medical type, insurance type) take any code of the right shape
    const pattern = VOCABULARY_CODE_PATTERN[vocab];
    const bare = removeSpaces(toHalfWidth(t));
    if (pattern?.test(bare)) return bare;
    this.report(cell.unknownLabel(this.ref(field), t, severity));
    return null;
  }

  phone(field: AnyField): string | null {
    const p = parsePhone(this.text(field));
    if (p === null) return null;
    if (p.phone === null) this.report(cell.invalidPhone(this.ref(field)));
    return p.phone;
  }

  year(field: AnyField): number | null {
    const t = this.text(field);
    if (t === null) return null;
    const m = /^(\d{4})(?:年度?)?$/.exec(removeSpaces(toHalfWidth(t)));
    const y = m ? Number(m[1]) : NaN;
    if (y >= 1980 && y <= 2100) return y;
    this.report(cell.invalidYear(this.ref(field), t));
    return null;
  }

  extraCells(headerCount: number): void {
    const cells = this.row.cells;
    if (cells.length <= headerCount) return;
    for (let i = headerCount; i < cells.length; i++) {
      if (cleanText(cells[i]) !== null) {
        this.report(rowProblem.extraCells(this.row.rowNo, cells.length, headerCount));
        return;
      }
    }
  }
}

/**
 * Gender and birth date: the id number is authoritative (spec §5); a column that
 * disagrees with it is a warning, and a column alone is used when the id is unusable.
 */
function personFacts(c: Cells, ctx: ParseContext, id: IdParse): Pick<Identity, 'gender' | 'birth_date'> {
  let gender: 'M' | 'F' | null = null;
  const genderText = c.text('gender');
  const g = parseGender(ctx.mapping, genderText);
  if (g && !g.known) c.report(cell.invalidGender(c.ref('gender'), genderText ?? ''));
  if (id.gender) {
    if (g?.gender && g.gender !== id.gender) c.report(cell.genderMismatch(c.ref('gender')));
    gender = id.gender;
  } else gender = g?.gender ?? null;

  let birth: string | null = ctx.columnMap.birth_date === undefined ? null : c.date('birth_date', null);
  if (id.birthDate) {
    if (birth && birth !== id.birthDate) c.report(cell.birthDateMismatch(c.ref('birth_date')));
    birth = id.birthDate;
  }
  return { gender, birth_date: birth };
}

function emptyIdentity(): Identity {
  return {
    name: null, name_norm: null, id_number: null, id_status: null, gender: null, birth_date: null, phone: null,
    township: null, village: null, head_name: null, head_id_number: null, head_id_status: null, relation: null,
    household_no: null, insurance_no: null,
  };
}

function rosterIdentity(c: Cells, ctx: ParseContext): Identity {
  const name = c.name('name', 'error');
  const id = c.id('id_number', false);
  return {
    ...emptyIdentity(),
    name: name?.name ?? null,
    name_norm: name?.norm ?? null,
    id_number: id.value,
    id_status: id.status,
    ...personFacts(c, ctx, id),
    phone: c.phone('phone'),
    township: c.text('township'),
    village: c.text('village'),
    relation: c.text('relation'),
  };
}

function parseCivil(c: Cells, ctx: ParseContext): { identity: Identity; detail: CivilDetail } {
  const identity = rosterIdentity(c, ctx);
  const head = c.name('head_name', null);
  identity.head_name = head?.norm ?? null;
  if (ctx.columnMap.head_id_number !== undefined) {
    const headId = c.id('head_id_number', false);
    identity.head_id_number = headId.value;
    identity.head_id_status = headId.status;
  }
  const category = c.vocab('category', 'category', 'error');
  const recognised = c.date('recognised_on', 'error');
  const exited = c.date('exited_on', 'warning');
  const status = c.vocab('member_status', 'member_status', 'warning') as CivilDetail['member_status'];
  if ((status === 'exited' || status === 'suspended') && exited === null && c.text('exited_on') === null) {
    c.report(cell.exitWithoutDate(c.ref('exited_on')));
  }
  if (recognised && exited && exited < recognised) c.report(cell.datesOutOfOrder(c.ref('exited_on'), c.ref('recognised_on').column ?? '认定日期'));
  return { identity, detail: { category, recognised_on: recognised, exited_on: exited, member_status: status } };
}

function parseRural(c: Cells, ctx: ParseContext): { identity: Identity; detail: RuralDetail } {
  const identity = rosterIdentity(c, ctx);
  identity.household_no = c.code('household_no');
  const eliminated = c.vocab('risk_eliminated', 'yes_no', 'warning');
  return {
    identity,
    detail: {
      household_type: c.vocab('household_type', 'household_type', 'error'),
      registered_on: c.date('registered_on', 'warning'),
      year_lifted: c.year('year_lifted'),
      monitored_since: c.date('monitored_since', 'warning'),
      risk_eliminated: eliminated === null ? null : eliminated === 'yes',
      risk_eliminated_on: c.date('risk_eliminated_on', 'warning'),
    },
  };
}

/** 20 characters: the 18-character id number, the kind digit (1–7) and the grade digit (1–4); 17 with a legacy id. */
const CERT = /^([0-9X*]{18}|[0-9*]{15})([1-7])([1-4])$/;

function parseDisability(c: Cells, ctx: ParseContext): { identity: Identity; detail: DisabilityDetail } {
  const name = c.name('name', 'error');
  const certText = c.text('cert_no');
  const certNo = certText === null ? null : removeSpaces(toHalfWidth(certText)).toUpperCase();
  const m = certNo ? CERT.exec(certNo) : null;
  if (certNo === null) c.required('cert_no');
  else if (!m) c.report(cell.certMalformed(c.ref('cert_no'), 'error'));
  const id = m ? c.id('cert_no', false, m[1]!) : parseIdNumber(null);
  const certKind = m ? Number(m[2]) : null;
  const certGrade = m ? Number(m[3]) : null;

  // the grade column wins over the certificate's last digit (spec §4)
  let grade: number | null = null;
  const gradeText = c.text('grade');
  const gradeCode = gradeText === null ? undefined : ctx.labels('grade', gradeText);
  if (gradeCode !== undefined) {
    grade = Number(gradeCode);
    if (certGrade !== null && certGrade !== grade) c.report(cell.gradeMismatch(c.ref('grade'), grade, certGrade));
  } else if (certGrade !== null) {
    grade = certGrade;
    c.report(cell.gradeFromCert(c.ref('grade'), certGrade));
  } else if (gradeText === null) c.required('grade');
  else c.report(cell.unknownLabel(c.ref('grade'), gradeText, 'error'));

  const kindCode = c.vocab('disability_kind', 'disability_kind', 'warning');
  return {
    identity: {
      ...emptyIdentity(),
      name: name?.name ?? null,
      name_norm: name?.norm ?? null,
      id_number: id.value,
      id_status: id.status,
      ...personFacts(c, ctx, id),
      phone: c.phone('phone'),
    },
    detail: {
      cert_no: certNo,
      disability_kind: kindCode !== null ? Number(kindCode) : certKind,
      grade,
      issued_on: c.date('issued_on', 'error'),
      cert_status: c.vocab('cert_status', 'cert_status', 'warning') as DisabilityDetail['cert_status'],
      cancelled_on: c.date('cancelled_on', 'warning'),
      address: c.text('address'),
    },
  };
}

function parseSettlement(c: Cells, ctx: ParseContext): { identity: Identity; detail: SettlementDetail } {
  const settlementId = c.code('settlement_id');
  if (settlementId === null) c.required('settlement_id');
  const insuranceNo = c.code('insurance_no');
  const name = c.name('name', 'warning');
  const id = c.id('id_number', true);
  const idUsable = id.status === 'valid' || id.status === 'legacy15';
  // 人员编号 is the insurance system's stable number; without it and a usable id, nobody can be named
  // a file without the column is noted once on the delivery; its rows are named by their usable id
  if (insuranceNo === null && !idUsable) c.report(cell.noIdentity(c.ref('insurance_no')));
  else if (insuranceNo === null && c.present('insurance_no')) c.report(cell.missingValue(c.ref('insurance_no'), 'warning'));

  const began = c.date('began_on', 'warning');
  const ended = c.date('ended_on', 'error');
  const settled = c.date('settled_on', 'error');
  if (began && ended && ended < began) c.report(cell.datesOutOfOrder(c.ref('ended_on'), c.ref('began_on').column ?? '开始日期'));

  const level = c.vocab('institution_level', 'institution_level', 'warning');
  const detail: SettlementDetail = {
    settlement_id: settlementId,
    reversed_id: c.code('reversed_id'),
    insurance_type: c.vocab('insurance_type', 'insurance_type', 'warning'),
    med_type: c.vocab('med_type', 'med_type', 'error'),
    institution_code: c.code('institution_code'),
    institution_name: c.text('institution_name'),
    institution_level: level === null ? null : Number(level),
    place: c.vocab('place', 'place', 'warning') as SettlementDetail['place'],
    began_on: began,
    ended_on: ended,
    settled_on: settled,
    total: c.money('total', true),
    self_paid: c.money('self_paid', false),
    over_limit: c.money('over_limit', false),
    in_scope: c.money('in_scope', true),
    basic_paid: c.money('basic_paid', true),
    critical_paid: c.money('critical_paid', true),
    assistance_paid: c.money('assistance_paid', true),
    other_paid: c.money('other_paid', false),
    personal_burden: c.money('personal_burden', false),
    method: c.vocab('method', 'method', 'warning') as SettlementDetail['method'],
  };
  const negative = (detail.total ?? 0) < 0 || (detail.in_scope ?? 0) < 0;
  if (negative && detail.reversed_id === null) c.report(cell.reversalWithoutOriginal(c.ref('reversed_id')));
  return {
    identity: {
      ...emptyIdentity(),
      name: name?.name ?? null,
      name_norm: name?.norm ?? null,
      id_number: id.value,
      id_status: id.status,
      ...personFacts(c, ctx, id),
      insurance_no: insuranceNo,
    },
    detail,
  };
}

/** A death list's row: who died, and when (an unreadable date rejects the row: it would end nothing). */
function parseDeath(c: Cells, ctx: ParseContext): { identity: Identity; detail: DeathDetail } {
  const identity = rosterIdentity(c, ctx);
  return { identity, detail: { died_on: c.date('died_on', 'error') } };
}

export type RowParser = (row: SheetRow) => ParsedRow;

function monthParsers(months: Partial<Record<AnyField, 'start' | 'end'>>): ParseContext['monthDates'] {
  const out: ParseContext['monthDates'] = {};
  for (const [field, end] of Object.entries(months) as [AnyField, 'start' | 'end'][]) out[field] = memo((t) => parseDateOrMonth(t, end));
  return out;
}

export function createRowParser(rowContext: RowContext): RowParser {
  const profile = profileNamed(rowContext.mapping, rowContext.profile);
  const labelMemos = new Map<VocabularyName, (text: string) => string | undefined>();
  const ctx: ParseContext = {
    ...rowContext,
    labels(vocab, text) {
      let m = labelMemos.get(vocab);
      if (!m) labelMemos.set(vocab, (m = memo((t) => lookupLabel(rowContext.mapping, vocab, t, profile))));
      return m(text);
    },
    dates: memo(parseDate),
    monthDates: monthParsers(profile.months),
  };
  const headerCount = ctx.headers.length;
  return (row) => {
    const c = new Cells(ctx, row);
    c.extraCells(headerCount);
    const common = { rowNo: row.rowNo, raw: row.cells, rejected: false, problems: c.problems };
    let parsed: ParsedRow;
    switch (ctx.source) {
      case 'civil': {
        const { identity, detail } = parseCivil(c, ctx);
        parsed = { ...common, source: 'civil', identity, detail };
        break;
      }
      case 'rural': {
        const { identity, detail } = parseRural(c, ctx);
        parsed = { ...common, source: 'rural', identity, detail };
        break;
      }
      case 'disability': {
        const { identity, detail } = parseDisability(c, ctx);
        parsed = { ...common, source: 'disability', identity, detail };
        break;
      }
      case 'settlement': {
        const { identity, detail } = parseSettlement(c, ctx);
        parsed = { ...common, source: 'settlement', identity, detail };
        break;
      }
      case 'death': {
        const { identity, detail } = parseDeath(c, ctx);
        parsed = { ...common, source: 'death', identity, detail };
        break;
      }
    }
    parsed.rejected = c.rejected;
    return parsed;
  };
}
