/**
 * The truth a correct system derives from the generated inbox, in the sample's
 * formats (../shared/samples/README.md):
 *   files.csv    file, source, as_of, kind, rows, expected
 *   rows.csv     file, row, pid — every data row, duplicates included
 *   persons.csv  the people as they really are
 * and one file the sample does not have:
 *   damage.csv   file, row, field, form — every damage form written (damage.ts):
 *                per cell or row; once per file, with no row, for the forms of
 *                unit `file` (styles) and `run`
 * rows.csv and damage.csv are streamed: they grow with the inbox.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DeliveryKind, SourceKey } from '../../src/db/schema.js';
import { isoDay, type Day } from './calendar.js';
import { CsvWriter, csvField, type CsvFormat } from './csv.js';
import type { DamageForm } from './damage.js';
import type { County } from './people.js';

export type Expectation = 'accept' | 'quarantine';

export interface FileTruth {
  /** relative to the inbox root: civil/civil_20250131.csv */
  readonly file: string;
  readonly source: SourceKey;
  readonly asOf: Day;
  readonly kind: DeliveryKind;
  /** data rows: not title, header, footer or blank lines; duplicates counted */
  readonly rows: number;
  readonly expected: Expectation;
}

const TRUTH_CSV: CsvFormat = { encoding: 'utf-8', eol: '\n', delimiter: ',' };

function line(cells: readonly (string | number)[]): string {
  return cells.map((c) => csvField(String(c))).join(',') + '\n';
}

export class TruthWriter {
  readonly files: FileTruth[] = [];

  private constructor(
    private readonly dir: string,
    private readonly rowsCsv: CsvWriter,
    private readonly damageCsv: CsvWriter,
  ) {}

  static async open(dir: string): Promise<TruthWriter> {
    await mkdir(dir, { recursive: true });
    const rows = await CsvWriter.open(join(dir, 'rows.csv'), TRUTH_CSV);
    await rows.writeRow(['file', 'row', 'pid']);
    const damage = await CsvWriter.open(join(dir, 'damage.csv'), TRUTH_CSV);
    await damage.writeRow(['file', 'row', 'field', 'form']);
    return new TruthWriter(dir, rows, damage);
  }

  async row(file: string, row: number, pid: number): Promise<void> {
    await this.rowsCsv.writeRow([file, String(row), String(pid)]);
  }

  async damage(file: string, row: number | null, field: string, form: DamageForm): Promise<void> {
    await this.damageCsv.writeRow([file, row === null ? '' : String(row), field, form]);
  }

  addFile(entry: FileTruth): void {
    this.files.push(entry);
  }

  /** Finishes rows.csv and damage.csv and writes files.csv and persons.csv. */
  async close(county: County): Promise<void> {
    await this.rowsCsv.close();
    await this.damageCsv.close();
    const files = [line(['file', 'source', 'as_of', 'kind', 'rows', 'expected'])];
    for (const f of this.files) files.push(line([f.file, f.source, isoDay(f.asOf), f.kind, f.rows, f.expected]));
    await writeFile(join(this.dir, 'files.csv'), files.join(''));

    const persons = await CsvWriter.open(join(this.dir, 'persons.csv'), TRUTH_CSV);
    await persons.writeRow(['pid', 'name', 'id_number', 'gender', 'birth_date', 'household', 'relation', 'township', 'village', 'phone', 'insurance_person_no']);
    for (const p of county.persons) {
      const h = county.households[p.hid]!;
      await persons.writeRow([
        String(p.pid), p.name, p.id, p.gender, isoDay(p.birth), String(p.hid), p.relation, h.township, h.village,
        h.phone?.digits ?? '', p.insuranceNo,
      ]);
    }
    await persons.close();
  }
}
