import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SourceKey } from '../../src/db/schema.js';
import { DAMAGE_FORMS } from '../../tools/demo/damage.js';
import { generateCounty, writeSettlementCsv, type DemoOptions, type DemoSummary } from '../../tools/demo/generate.js';
import { loadMapping } from '../../src/ingest/mapping.js';
import { checkChar } from '../../src/ingest/normalise/id-number.js';
import type { AnyField } from '../../src/ingest/sources.js';
import { cellOf, decodeCsv, hashTree, listFiles, readCsv, readSheet, readTruthCsv, table, type Table } from './read.js';

const mapping = loadMapping();
let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'aidlink-demo-'));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

interface Generated {
  out: string;
  summary: DemoSummary;
}

const generated = new Map<string, Promise<Generated>>();

/** Each county is generated once per run, whatever the tests that share it. */
function county(name: string, opts: Omit<DemoOptions, 'out'>): Promise<Generated> {
  let g = generated.get(name);
  if (!g) {
    const out = join(root, name);
    g = generateCounty({ ...opts, out }).then((summary) => ({ out, summary }));
    generated.set(name, g);
  }
  return g;
}

const base = () => county('base', { persons: 1500, seed: 11 });
const clean = () => county('clean', { persons: 1500, seed: 5, damageScale: 0 });
const heavy = () => county('heavy', { persons: 5000, seed: 3, damageScale: 5 });

function sourceOf(file: string): SourceKey {
  return file.split('/')[0] as SourceKey;
}

async function tableOf(out: string, file: string): Promise<Table> {
  return table(await readSheet(join(out, 'inbox', file)), mapping, sourceOf(file));
}

/** rows.csv grouped by file: row number → pid */
function rowsByFile(out: string): Map<string, Map<number, number>> {
  const byFile = new Map<string, Map<number, number>>();
  for (const r of readTruthCsv(join(out, 'truth', 'rows.csv'))) {
    let m = byFile.get(r.file!);
    if (!m) byFile.set(r.file!, (m = new Map()));
    expect(m.has(Number(r.row)), `${r.file} row ${r.row} listed twice`).toBe(false);
    m.set(Number(r.row), Number(r.pid));
  }
  return byFile;
}

describe('generateCounty', () => {
  it('is deterministic: the same seed gives byte-identical files, another seed other files', async () => {
    const opts = { persons: 400, from: '2025-11', to: '2026-07' };
    const a = join(root, 'det-a');
    const b = join(root, 'det-b');
    const c = join(root, 'det-c');
    await generateCounty({ ...opts, seed: 7, out: a });
    await generateCounty({ ...opts, seed: 7, out: b });
    await generateCounty({ ...opts, seed: 8, out: c });
    const [ha, hb, hc] = await Promise.all([hashTree(a), hashTree(b), hashTree(c)]);
    expect(ha.size).toBeGreaterThan(10);
    expect([...hb]).toEqual([...ha]);
    const differing = [...ha].filter(([f, h]) => hc.get(f) !== h);
    expect(differing.map(([f]) => f)).toContain('truth/persons.csv');
    expect(differing.length).toBeGreaterThan(ha.size / 2);
  });

  it('lists every file it wrote in truth/files.csv, with the data rows a reader counts', async () => {
    const { out, summary } = await base();
    const files = readTruthCsv(join(out, 'truth', 'files.csv'));
    const written = await listFiles(join(out, 'inbox'));
    expect(files.map((f) => f.file).sort()).toEqual(written);
    expect(files.length).toBe(summary.files);
    // the default range: a historical roster and 22 monthly ones, 7 quarters, 3 disability snapshots, 22 months
    expect(summary.bySource.civil.files).toBe(23);
    expect(summary.bySource.rural.files).toBe(7);
    expect(summary.bySource.disability.files).toBe(3);
    expect(summary.bySource.settlement.files).toBe(22);
    expect(files.reduce((n, f) => n + Number(f.rows), 0)).toBe(summary.rows);

    const rows = rowsByFile(out);
    for (const f of files) {
      const t = await tableOf(out, f.file!);
      expect(t.data.length, f.file).toBe(Number(f.rows));
      // rows.csv points at exactly the data lines
      expect([...(rows.get(f.file!)?.keys() ?? [])].sort((x, y) => x - y), f.file).toEqual(t.data.map((r) => r.row));
      expect(f.kind).toBe(f.source === 'settlement' ? 'delta' : 'snapshot');
      expect(f.as_of).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    }
    expect(Object.values(summary.bySource).every((s) => s.rows > 0)).toBe(true);
  });

  it('writes the sample layouts: title lines with the as-of date, footers, encodings', async () => {
    const { out } = await base();
    const civilCsv = readCsv(join(out, 'inbox/civil/civil_20250131.csv'));
    expect(civilCsv.rows[0]!.cells[0]).toContain('2025年1月');
    expect(civilCsv.rows[1]!.cells[0]).toMatch(/^导出日期:2025-0[12]-\d{2}$/);
    expect(civilCsv.rows[civilCsv.rows.length - 1]!.cells[0]).toMatch(/^合计:\d+人$/);
    const history = readCsv(join(out, 'inbox/civil/民政救助对象历史名册_截至2024年12月31日.csv'));
    const ht = table(history, mapping, 'civil');
    expect(ht.data.some((r) => cellOf(ht, r, 'member_status') === '退出' || cellOf(ht, r, 'member_status') === '停保')).toBe(true);

    const xlsx = await readSheet(join(out, 'inbox/civil/civil_20250331.xlsx'));
    expect(xlsx.rows[1]!.cells[0]).toMatch(/^填报单位:六枝特区 {3}截至日期:2025年[34]月\d+日$/);
    expect(xlsx.rows[xlsx.rows.length - 1]!.cells[0]).toBe('制表人:');

    for (const f of await listFiles(join(out, 'inbox/disability'))) {
      expect(decodeCsv(readFileSync(join(out, 'inbox/disability', f))).encoding).toBe('gbk');
    }
    for (const f of await listFiles(join(out, 'inbox/settlement'))) {
      expect(['utf-8-bom', 'gbk']).toContain(decodeCsv(readFileSync(join(out, 'inbox/settlement', f))).encoding);
      expect(f).toMatch(/^医保结算明细_\d{6}\.csv$/);
    }
  });

  it('writes one truncated civil roster, expected in quarantine', async () => {
    const { out } = await base();
    const civil = readTruthCsv(join(out, 'truth', 'files.csv')).filter((f) => f.source === 'civil');
    const held = civil.filter((f) => f.expected === 'quarantine');
    expect(held).toHaveLength(1);
    const at = civil.indexOf(held[0]!);
    expect(at).toBeGreaterThan(0);
    expect(Number(held[0]!.rows)).toBeLessThan(0.8 * Number(civil[at - 1]!.rows));
    const damage = readTruthCsv(join(out, 'truth', 'damage.csv'));
    expect(damage.filter((d) => d.form === 'snapshot_truncated').map((d) => d.file)).toEqual([held[0]!.file]);
  });

  it('writes settlements whose amounts add up, with reversals of earlier settlements', async () => {
    const { out } = await base();
    const yuan = (s: string | undefined) => (s === undefined || s === '' ? 0 : Math.round(Number(s.replace(/,/g, '')) * 100));
    const seen = new Map<string, number>();
    let reversals = 0;
    let redelivered = 0;
    for (const f of await listFiles(join(out, 'inbox/settlement'))) {
      const t = await tableOf(out, `settlement/${f}`);
      for (const r of t.data) {
        const get = (field: AnyField) => cellOf(t, r, field);
        const total = yuan(get('total'));
        const inScope = yuan(get('in_scope'));
        const funds = ['basic_paid', 'critical_paid', 'assistance_paid', 'other_paid'].map((x) => yuan(get(x as AnyField)));
        expect(Math.abs(inScope)).toBeLessThanOrEqual(Math.abs(total));
        expect(funds.reduce((a, b) => a + Math.abs(b), 0)).toBeLessThanOrEqual(Math.abs(inScope));
        expect(get('settlement_id')).toMatch(/^\d{14}$/);
        expect(get('insurance_no')).toMatch(/^\d{20}$/);
        const reversed = get('reversed_id');
        if (reversed) {
          reversals++;
          expect(seen.get(reversed), `${f}: reversal of unknown ${reversed}`).toBe(-total);
        }
        if (seen.has(get('settlement_id')!)) redelivered++;
        seen.set(get('settlement_id')!, total);
      }
    }
    expect(seen.size).toBeGreaterThan(2000);
    expect(reversals).toBeGreaterThan(0);
    expect(redelivered).toBeGreaterThan(0);
  });
});

describe('damage', () => {
  it('writes every damage form when the rates are high, and records where', async () => {
    const { out } = await heavy();
    const damage = readTruthCsv(join(out, 'truth', 'damage.csv'));
    const forms = new Set(damage.map((d) => d.form));
    expect(DAMAGE_FORMS.filter((f) => !forms.has(f))).toEqual([]);

    // every recorded row is a data row of its file (a title's date is in the title line)
    const rows = rowsByFile(out);
    for (const d of damage) {
      if (d.row === '' || d.form === 'title_date_mismatch') continue;
      expect(rows.get(d.file!)?.has(Number(d.row)), `${d.file} row ${d.row}`).toBe(true);
    }
    const mismatch = damage.find((d) => d.form === 'title_date_mismatch')!;
    const titled = await readSheet(join(out, 'inbox', mismatch.file!));
    expect(titled.rows.find((r) => r.row === Number(mismatch.row))!.cells[0]).toMatch(/日期/);

    // and the forms are really in the files, as a reader sees them
    let text = '';
    for (const f of await listFiles(join(out, 'inbox'))) if (f.endsWith('.csv')) text += decodeCsv(readFileSync(join(out, 'inbox', f))).text;
    for (const sign of ['E+17', '********', '\u3000', '５', '（已故）', '+86 ', '无', '年', '/']) expect(text, sign).toContain(sign);
    expect(text).toMatch(/"\d{1,3}(,\d{3})+\.\d{2}"/);
    expect(text).toMatch(/\d{17}x/);
    expect(text).toMatch(/\d{4}-\d{2}-\d{2} 00:00:00/);

    let numericIds = 0;
    let dateCells = 0;
    for (const f of await listFiles(join(out, 'inbox/rural'))) {
      const t = await tableOf(out, `rural/${f}`);
      const idCol = t.fields.indexOf('id_number');
      for (const r of t.data) {
        if (r.numeric[idCol]) numericIds++;
        if (r.date.some(Boolean)) dateCells++;
      }
    }
    expect(numericIds).toBeGreaterThan(0);
    expect(dateCells).toBeGreaterThan(0);
  });

  it('writes clean data when damageScale is 0: every value as the person really is', async () => {
    const { out } = await clean();
    expect(readTruthCsv(join(out, 'truth', 'damage.csv'))).toEqual([]);
    const files = readTruthCsv(join(out, 'truth', 'files.csv'));
    expect(files.every((f) => f.expected === 'accept')).toBe(true);
    const persons = readTruthCsv(join(out, 'truth', 'persons.csv'));
    const rows = rowsByFile(out);
    const isoDate = /^\d{4}-\d{2}-\d{2}$/;
    const dateFields: AnyField[] = ['birth_date', 'recognised_on', 'exited_on', 'issued_on', 'cancelled_on', 'began_on', 'ended_on',
      'settled_on', 'registered_on', 'monitored_since', 'risk_eliminated_on'];
    let checked = 0;
    for (const f of files) {
      const t = await tableOf(out, f.file!);
      const pids = rows.get(f.file!)!;
      const seenRows = new Set<string>();
      for (const r of t.data) {
        const person = persons[pids.get(r.row)!]!;
        const get = (field: AnyField) => cellOf(t, r, field);
        expect(get('name'), `${f.file} row ${r.row}`).toBe(person.name);
        if (f.source === 'disability') {
          expect(get('cert_no')!.slice(0, 18)).toBe(person.id_number);
          expect(get('cert_no')).toHaveLength(20);
        } else {
          expect(get('id_number'), `${f.file} row ${r.row}`).toBe(person.id_number);
        }
        const gender = get('gender');
        if (gender !== undefined) expect(gender).toBe(person.gender === 'M' ? '男' : '女');
        const phone = get('phone');
        if (phone !== undefined) expect(phone.replace('-', '')).toBe(person.phone);
        for (const field of dateFields) {
          const i = t.fields.indexOf(field);
          if (i < 0 || (r.cells[i] ?? '') === '') continue;
          if (t.sheet.format === 'xlsx') expect(r.date[i], `${f.file} row ${r.row} ${field}`).toBe(true);
          else expect(r.cells[i]).toMatch(isoDate);
        }
        const key = r.cells.join('\u0001');
        expect(seenRows.has(key), `${f.file}: duplicate row ${r.row}`).toBe(false);
        seenRows.add(key);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(3000);
    const text = (await listFiles(join(out, 'inbox/settlement'))).map((f) => decodeCsv(readFileSync(join(out, 'inbox/settlement', f))).text).join('');
    expect(text).not.toContain('"');
  });
});

describe('people', () => {
  it('gives everyone a valid id number, an insurance number and a household', async () => {
    const { out } = await base();
    const persons = readTruthCsv(join(out, 'truth', 'persons.csv'));
    expect(persons).toHaveLength(1500);
    const ids = new Set<string>();
    for (const p of persons) {
      expect(checkChar(p.id_number!.slice(0, 17))).toBe(p.id_number![17]);
      expect(p.birth_date!.replace(/-/g, '')).toBe(p.id_number!.slice(6, 14));
      expect(Number(p.id_number![16]) % 2 === 1 ? 'M' : 'F').toBe(p.gender);
      expect(p.insurance_person_no).toMatch(/^\d{20}$/);
      ids.add(p.id_number!);
    }
    expect(ids.size).toBe(persons.length);
    const heads = persons.filter((p) => p.relation === '户主');
    expect(new Set(persons.map((p) => p.household)).size).toBe(heads.length);
    // homonyms are common, as in real rosters
    const names = new Map<string, number>();
    for (const p of persons) names.set(p.name!, (names.get(p.name!) ?? 0) + 1);
    expect(Math.max(...names.values())).toBeGreaterThan(2);
  });
});

describe('options', () => {
  it('follows the period: a historical roster before it, quarters, 30 June snapshots and the last month', async () => {
    const out = join(root, 'range');
    const summary = await generateCounty({ persons: 300, seed: 1, out, from: '2025-11', to: '2026-02' });
    const files = (await listFiles(join(out, 'inbox'))).filter((f) => !f.startsWith('settlement/'));
    expect(files).toContain('civil/民政救助对象历史名册_截至2025年10月31日.csv');
    expect(files.filter((f) => f.startsWith('rural/'))).toEqual(['rural/防返贫监测和脱贫人口信息_2025年第4季度.xlsx']);
    expect(files.filter((f) => f.startsWith('disability/'))).toEqual(['disability/持证残疾人信息_20260228.csv']);
    expect(summary.bySource.civil.files).toBe(5);
    expect(summary.bySource.settlement.files).toBe(4);
  });

  it('refuses a directory that already holds a county', async () => {
    const { out } = await base();
    await expect(generateCounty({ persons: 10, seed: 1, out })).rejects.toThrow(/not empty/);
  });
});

describe('writeSettlementCsv', () => {
  it.each([
    ['utf-8-bom', 2500],
    ['gbk', 777],
    ['utf-8-bom', 0],
  ] as const)('writes exactly N data rows (%s, %i)', async (encoding, n) => {
    const path = join(root, `settlements-${encoding}-${n}.csv`);
    await writeSettlementCsv(path, n, 1, { encoding });
    const bytes = await readFile(path);
    expect(decodeCsv(bytes).encoding).toBe(encoding);
    const sheet = readCsv(path);
    const t = table(sheet, mapping, 'settlement');
    expect(t.header.row).toBe(1);
    expect(sheet.rows).toHaveLength(n + 1);
    expect(t.data).toHaveLength(n);
  });
});

describe('damage rates set per form', () => {
  it('replace the default before scaling, and refuse unknown forms or rates', async () => {
    const { Damage } = await import('../../tools/demo/damage.js');
    const d = new Damage(2, { id_masked: 0.1 });
    expect(d.rate('id_masked', 'civil')).toBeCloseTo(0.2);
    expect(d.rate('id_masked', 'settlement')).toBe(0); // settlement files never carry masks
    expect(() => new Damage(1, { nonsense: 0.1 } as never)).toThrow(/unknown damage form "nonsense"/);
    expect(() => new Damage(1, { id_masked: 2 })).toThrow(/between 0 and 1/);
  });
});
