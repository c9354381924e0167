/**
 * One generated file, from opening to its line in truth/files.csv: the sheet writer
 * (CSV or XLSX), the cell renderer with its damage, the row numbers and the truth
 * rows for every data row, and the duplicated rows of damage form `row_duplicate`.
 * Also what every source's generator shares: the generation context, the choice of
 * column names, the quarantine expectation of a series of snapshots.
 */
import { join } from 'node:path';
import type { DeliveryKind, SourceKey } from '../../src/db/schema.js';
import { sourceProfile, type Mapping } from '../../src/ingest/mapping.js';
import type { AnyField } from '../../src/ingest/sources.js';
import type { Day, Month } from './calendar.js';
import { CsvWriter, type CsvFormat } from './csv.js';
import type { Damage, DamageForm } from './damage.js';
import type { County, CountyPeriod } from './people.js';
import { Rng } from './random.js';
import { CellRenderer, type RecordDamage } from './render.js';
import type { Cell, SheetWriter } from './sheet.js';
import type { Expectation, FileTruth, TruthWriter } from './truth.js';
import { XlsxWriter } from './xlsx.js';

export interface GenerationContext {
  readonly seed: number;
  readonly county: County;
  readonly mapping: Mapping;
  readonly damage: Damage;
  readonly records: Readonly<Record<SourceKey, RecordDamage>>;
  readonly truth: TruthWriter;
  /** <out>/inbox */
  readonly inbox: string;
  readonly period: CountyPeriod;
  readonly fromMonth: Month;
  readonly toMonth: Month;
  progress(message: string): void;
}

export type FileLayout = { readonly format: 'csv'; readonly csv: CsvFormat } | { readonly format: 'xlsx'; readonly sheetName: string };

export interface DeliverySpec {
  readonly source: SourceKey;
  readonly kind: DeliveryKind;
  /** the file's name inside inbox/<source>/ */
  readonly name: string;
  readonly asOf: Day;
  readonly layout: FileLayout;
}

export class Delivery {
  readonly file: string;
  readonly cells: CellRenderer;
  readonly rng: Rng;
  private dataRows = 0;

  private constructor(
    private readonly ctx: GenerationContext,
    private readonly spec: DeliverySpec,
    private readonly sheet: SheetWriter,
  ) {
    this.file = `${spec.source}/${spec.name}`;
    this.rng = new Rng(ctx.seed, 'file', this.file);
    this.cells = new CellRenderer({
      source: spec.source,
      format: spec.layout.format,
      asOf: spec.asOf,
      rng: this.rng,
      damage: ctx.damage,
      records: ctx.records[spec.source],
      gbk: spec.layout.format === 'csv' && spec.layout.csv.encoding === 'gbk',
    });
  }

  static async open(ctx: GenerationContext, spec: DeliverySpec): Promise<Delivery> {
    const path = join(ctx.inbox, spec.source, spec.name);
    const sheet =
      spec.layout.format === 'csv'
        ? await CsvWriter.open(path, spec.layout.csv)
        : await XlsxWriter.open(path, { sheetName: spec.layout.sheetName, stamp: spec.asOf });
    return new Delivery(ctx, spec, sheet);
  }

  get rows(): number {
    return this.dataRows;
  }

  get asOf(): Day {
    return this.spec.asOf;
  }

  get nextRow(): number {
    return this.sheet.nextRow;
  }

  /** A title line (or header, footer): not data. `mergeAcross` merges it over the table in XLSX. */
  async line(cells: readonly Cell[], mergeAcross?: number): Promise<void> {
    await this.sheet.writeRow(cells, mergeAcross ? { mergeAcross } : undefined);
  }

  async blank(): Promise<void> {
    await this.sheet.blankRow();
  }

  /** A data row of person `pid`, with the damage its cells were rendered with; sometimes written twice. */
  async data(cells: readonly Cell[], pid: number): Promise<void> {
    const notes = this.cells.takeNotes();
    const copies = this.ctx.damage.happens(this.rng, 'row_duplicate', this.spec.source) ? 2 : 1;
    for (let copy = 0; copy < copies; copy++) {
      const row = this.sheet.nextRow;
      await this.sheet.writeRow(cells);
      this.dataRows++;
      await this.ctx.truth.row(this.file, row, pid);
      for (const n of notes) await this.ctx.truth.damage(this.file, row, n.field, n.form);
      if (copy > 0) await this.ctx.truth.damage(this.file, row, '', 'row_duplicate');
    }
  }

  /** Damage of the whole file that no cell records (a truncated export, a title date). */
  async noteFile(row: number | null, field: string, form: DamageForm): Promise<void> {
    await this.ctx.truth.damage(this.file, row, field, form);
  }

  async close(expected: Expectation): Promise<FileTruth> {
    await this.sheet.close();
    for (const n of this.cells.fileNotes) await this.ctx.truth.damage(this.file, null, n.field, n.form);
    const entry: FileTruth = {
      file: this.file,
      source: this.spec.source,
      asOf: this.spec.asOf,
      kind: this.spec.kind,
      rows: this.dataRows,
      expected,
    };
    this.ctx.truth.addFile(entry);
    return entry;
  }
}

/**
 * Column names for one file: per field one of the mapping's aliases (the first one
 * most often), half-width brackets sometimes written full-width.
 */
export function chooseHeaders(rng: Rng, mapping: Mapping, source: SourceKey, fields: readonly AnyField[]): string[] {
  return fields.map((field) => {
    const aliases = sourceProfile(mapping, source).aliases[field];
    if (!aliases || aliases.length === 0) throw new Error(`mapping has no column name for ${source}.${field}`);
    const alias = aliases.length === 1 || rng.chance(0.5) ? aliases[0]! : rng.pick(aliases.slice(1));
    return alias.includes('(') && rng.chance(0.4) ? alias.replace('(', '（').replace(')', '）') : alias;
  });
}

/** The labels of a vocabulary code, as the mapping lists them. */
export function labelsOf(mapping: Mapping, vocabulary: keyof Mapping['vocabularies'], code: string): string[] {
  const labels: string[] = [];
  for (const [label, c] of mapping.vocabularies[vocabulary]) if (c === code) labels.push(label);
  if (labels.length === 0) throw new Error(`mapping has no label for ${vocabulary} ${code}`);
  return labels;
}

/** Spec §6: a snapshot with fewer rows than 80% of the previous accepted one is held. */
export class SnapshotSeries {
  private lastAccepted: number | null = null;

  expectation(rows: number): Expectation {
    if (this.lastAccepted !== null && rows < 0.8 * this.lastAccepted) return 'quarantine';
    this.lastAccepted = rows;
    return 'accept';
  }
}

/** One of the items, the first with probability `firstWeight`, the others evenly. */
export function pickMostlyFirst<T>(rng: Rng, items: readonly T[], firstWeight = 0.6): T {
  if (items.length === 1 || rng.chance(firstWeight)) return items[0]!;
  return rng.pick(items.slice(1));
}
