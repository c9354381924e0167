/**
 * A corpus of bad inputs, every one generated here (nothing large or binary is kept
 * in the repository): files that are not tables, damaged and hostile workbooks, a
 * 100 MB line, wrong encodings, a very wide table, formula payloads in names, and
 * hostile file names in console uploads. For each:
 *   (a) a clear outcome — a rejected delivery (or a row problem) whose message says in
 *       Chinese what is wrong, beside the file's name; for uploads a 400 page;
 *   (b) no crash and no unhandled rejection in the process;
 *   (c) every delivery already there is untouched: a good file is ingested first, and
 *       the database is fingerprinted before and after the bad input.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { once } from 'node:events';
import { constants as zlibConstants, crc32, deflateRawSync } from 'node:zlib';
import { sql } from 'kysely';
import ExcelJS from 'exceljs';
import iconv from 'iconv-lite';
import yauzl, { type Entry } from 'yauzl';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { CIVIL_HEADER, civilRow, csvBytes, makeId, SETTLEMENT_HEADER } from '../helpers/fixtures.js';
import { SAMPLE_INBOX } from '../helpers/sample.js';
import { consoleRig, type ConsoleClient, type ConsoleRig } from '../helpers/console.js';
import { testContext } from '../helpers/context.js';
import { workbook } from '../helpers/zip.js';
import { loadMapping } from '../../src/ingest/mapping.js';
import { ingestFile, type IngestOutcome } from '../../src/ingest/ingest.js';
import type { XlsxLimits } from '../../src/ingest/read/xlsx.js';
import { syncInProcess } from '../../src/jobs/local.js';
import { qualitySheet } from '../../src/report/quality.js';
import { writeQualityCsv, writeQualityXlsx } from '../../src/report/formats.js';
import { writeNewlyEligibleReport } from '../../src/report/newly-eligible.js';
import type { Delivery } from '../../src/db/schema.js';
import type { Store } from '../../src/db/store.js';
import { parseCsv } from '../helpers/csv.js';
import { filesUnder } from '../helpers/files.js';

const mapping = loadMapping();
const GOOD_CIVIL = join(SAMPLE_INBOX, 'civil', 'civil_20250131.csv');
const CJK = /[\u4e00-\u9fff]/;

// ---------------------------------------------------------------------------
// (b) nothing escapes: every unhandled rejection or exception of this process is collected

const crashes: unknown[] = [];
const onCrash = (e: unknown) => void crashes.push(e);
beforeAll(() => {
  process.on('unhandledRejection', onCrash);
  process.on('uncaughtException', onCrash);
});
afterAll(() => {
  process.off('unhandledRejection', onCrash);
  process.off('uncaughtException', onCrash);
});
afterEach(async () => {
  await new Promise((r) => setTimeout(r, 20)); // a rejection left behind surfaces on a later tick
  expect(crashes.map(String)).toEqual([]);
});

// ---------------------------------------------------------------------------
// (c) fingerprints: every delivery, its rows, details, problems and events

type Fingerprint = Map<number, string>;

async function fingerprint(store: Store): Promise<Fingerprint> {
  const r = await sql<{ id: number; print: string }>`
    select d.id, concat_ws('|', d.file, d.source, d.kind, d.status, d.status_reason, d.error, d.as_of::text, d.content_hash, d.size_bytes,
             d.format, d.encoding, d.header_row, d.row_count, d.rejected_rows, d.warning_count, d.loaded_through_row, d.superseded_by, d.decision,
             (select count(*) || ':' || md5(coalesce(string_agg(s.row_no || E'\x1e' || s.rejected || E'\x1e' || array_to_string(s.raw, E'\x1f', '~'), E'\x1d' order by s.row_no), ''))
                from source_row s where s.delivery_id = d.id),
             (select count(*) from civil_row c where c.delivery_id = d.id),
             (select count(*) from settlement_row c where c.delivery_id = d.id),
             (select count(*) || ':' || md5(coalesce(string_agg(coalesce(p.row_no::text, '-') || p.code || p.message, E'\x1d' order by p.id), ''))
                from row_problem p where p.delivery_id = d.id),
             (select count(*) from delivery_event e where e.delivery_id = d.id)) as print
    from delivery d order by d.id`.execute(store.k);
  return new Map(r.rows.map((x) => [x.id, x.print]));
}

function expectUntouched(before: Fingerprint, after: Fingerprint): void {
  expect(before.size).toBeGreaterThan(0);
  for (const [id, print] of before) expect(after.get(id), `delivery ${id}`).toBe(print);
}

const rowsOf = (store: Store, id: number) => store.k.selectFrom('source_row').selectAll().where('delivery_id', '=', id).orderBy('row_no').execute();
const problemsOf = (store: Store, id: number) => store.k.selectFrom('row_problem').selectAll().where('delivery_id', '=', id).orderBy('row_no').orderBy('id').execute();

function delivered(o: IngestOutcome): Delivery {
  if (o.outcome !== 'ingested' && o.outcome !== 'rejected') throw new Error(`unexpected outcome ${o.outcome}`);
  return o.delivery;
}

// ---------------------------------------------------------------------------
// Generated inputs

/** A minimal valid PDF: one empty A4 page, with a correct cross-reference table. */
function minimalPdf(): Buffer {
  const objects = ['<< /Type /Catalog /Pages 2 0 R >>', '<< /Type /Pages /Kids [3 0 R] /Count 1 >>', '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>'];
  let body = '%PDF-1.4\n%\xe2\xe3\xcf\xd3\n';
  const offsets: number[] = [];
  objects.forEach((o, i) => {
    offsets.push(body.length);
    body += `${i + 1} 0 obj\n${o}\nendobj\n`;
  });
  const xref = body.length;
  body += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n${offsets.map((o) => `${String(o).padStart(10, '0')} 00000 n \n`).join('')}`;
  body += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(body, 'latin1');
}

/** A civil roster as Excel would write it (shared strings, styles), `rows` data rows. */
async function civilWorkbook(rows: number): Promise<Buffer> {
  const wb = new ExcelJS.Workbook();
  const ws = wb.addWorksheet('Sheet1');
  ws.getCell('A1').value = '截至日期:2025年9月30日';
  ws.getRow(2).values = CIVIL_HEADER;
  for (let i = 0; i < rows; i++) ws.getRow(3 + i).values = civilRow(`测试${i}`, makeId('1980-01-01', (i % 900) + 1));
  return Buffer.from(await wb.xlsx.writeBuffer());
}

/** A row of inline-string cells, as hand-made workbooks hold them (no shared strings). */
function inlineRow(r: number, cells: readonly string[]): string {
  return `<row r="${r}">${cells.map((c) => `<c t="inlineStr"><is><t>${c}</t></is></c>`).join('')}</row>`;
}

/** The sheetData of a civil roster: the header in row 1, then `rows` rows. */
function inlineCivilSheet(rows: number): string {
  const out = [inlineRow(1, CIVIL_HEADER)];
  for (let i = 0; i < rows; i++) out.push(inlineRow(2 + i, civilRow(`测试${i}`, makeId('1980-01-01', (i % 900) + 1))));
  return out.join('');
}

/** A zip entry already packed, with the sizes and CRC it declares (which a hostile file may lie about). */
interface Packed {
  name: string;
  packed: Buffer;
  size: number;
  crc: number;
}

const deflated = (name: string, content: string | Buffer): Packed => {
  const data = Buffer.isBuffer(content) ? content : Buffer.from(content, 'utf8');
  return { name, packed: deflateRawSync(data), size: data.length, crc: crc32(data) };
};

/**
 * A deflate stream of `prefix`, `unit` `times` over, and `suffix`, built without
 * compressing the whole: each piece ends in a full flush (no back-references across
 * it), so one packed unit serves every repeat. CRC and size are the true ones.
 */
function repeated(name: string, prefix: string, unit: Buffer, times: number, suffix: string): Packed {
  const flushed = (b: Buffer) => deflateRawSync(b, { finishFlush: zlibConstants.Z_FULL_FLUSH });
  const head = Buffer.from(prefix, 'utf8');
  const tail = Buffer.from(suffix, 'utf8');
  const unitPacked = flushed(unit);
  let crc = crc32(head);
  for (let i = 0; i < times; i++) crc = crc32(unit, crc);
  crc = crc32(tail, crc);
  return { name, packed: Buffer.concat([flushed(head), ...Array<Buffer>(times).fill(unitPacked), deflateRawSync(tail)]), size: head.length + unit.length * times + tail.length, crc };
}

/** A zip of deflated entries, as helpers/zip.ts writes them, with the sizes and CRC given. */
function zipPacked(entries: readonly Packed[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0800, 6);
    local.writeUInt16LE(8, 8);
    local.writeUInt32LE(e.crc >>> 0, 14);
    local.writeUInt32LE(e.packed.length, 18);
    local.writeUInt32LE(e.size, 22);
    local.writeUInt16LE(name.length, 26);
    locals.push(local, name, e.packed);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(8, 10);
    central.writeUInt32LE(e.crc >>> 0, 16);
    central.writeUInt32LE(e.packed.length, 20);
    central.writeUInt32LE(e.size, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    centrals.push(central, name);
    offset += 30 + name.length + e.packed.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

/** The parts of a one-sheet workbook but its sheet (helpers/zip.ts's workbook), deflated. */
const bookParts = (extra: Record<string, string> = {}): Packed[] =>
  Object.entries({ ...workbook(''), ...extra }).filter(([n]) => n !== 'xl/worksheets/sheet1.xml').map(([n, c]) => deflated(n, c));

const SHEET_HEAD = `<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>`;
const SHEET_TAIL = '</sheetData></worksheet>';

/** Writes `head`, then `unit` `times` over, a piece at a time (never the whole file in memory). */
async function writeStreamed(path: string, head: string, unit: Buffer, times: number): Promise<void> {
  const out = createWriteStream(path);
  out.write(head);
  for (let i = 0; i < times; i++) if (!out.write(unit)) await once(out, 'drain');
  out.end();
  await once(out, 'finish');
}


/** The worksheet parts of an XLSX file, read independently of exceljs. */
function sheetParts(file: string): Promise<string[]> {
  return new Promise((res, rej) => {
    yauzl.open(file, { lazyEntries: true }, (err, z) => {
      if (err) return rej(err);
      const parts: string[] = [];
      z.on('error', rej);
      z.on('end', () => res(parts));
      z.on('entry', (e: Entry) => {
        if (!/^xl\/worksheets\/sheet\d+\.xml$/.test(e.fileName)) return z.readEntry();
        z.openReadStream(e, (e2, s) => {
          if (e2) return rej(e2);
          const chunks: Buffer[] = [];
          s.on('data', (c: Buffer) => chunks.push(c));
          s.on('end', () => (parts.push(Buffer.concat(chunks).toString('utf8')), z.readEntry()));
        });
      });
      z.readEntry();
    });
  });
}

// ---------------------------------------------------------------------------

describe('bad inputs to ingest', () => {
  let db: TestDb;
  let root: string;

  beforeAll(async () => {
    db = await createTestDb();
    root = mkdtempSync(join(tmpdir(), 'aidlink-bad-input-'));
    mkdirSync(join(root, 'civil'), { recursive: true });
    writeFileSync(join(root, 'civil', 'civil_20250131.csv'), readFileSync(GOOD_CIVIL));
    const good = delivered(await ingestFile(db.store, mapping, join(root, 'civil', 'civil_20250131.csv'), { inboxRoot: root }));
    expect(good).toMatchObject({ status: 'accepted', row_count: 360 });
  });
  afterAll(async () => {
    await db?.drop();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  /** Writes a file into the inbox, ingests it, and checks that nothing else changed. */
  async function ingestBad(rel: string, write: Buffer | ((path: string) => Promise<void>), opts: { xlsxLimits?: XlsxLimits; sameAs?: number } = {}) {
    const before = await fingerprint(db.store);
    if (opts.sameAs !== undefined) before.delete(opts.sameAs);
    const path = join(root, rel);
    mkdirSync(resolve(path, '..'), { recursive: true });
    if (Buffer.isBuffer(write)) writeFileSync(path, write);
    else await write(path);
    const started = Date.now();
    const outcome = await ingestFile(db.store, mapping, path, { inboxRoot: root, xlsxLimits: opts.xlsxLimits });
    expect(outcome.file).toBe(rel);
    const d = delivered(outcome);
    const ms = Date.now() - started;
    expectUntouched(before, await fingerprint(db.store));
    return { d, ms, path };
  }

  /** (a): rejected, named, in Chinese, with no rows kept. */
  async function expectRejected(d: Delivery, rel: string, code: string, message: RegExp) {
    expect(d).toMatchObject({ status: 'rejected', file: rel, row_count: 0, status_reason: code });
    expect(d.error).toMatch(CJK);
    expect(d.error).toMatch(message);
    expect(await rowsOf(db.store, d.id)).toEqual([]);
    const problems = await problemsOf(db.store, d.id);
    expect(problems.map((p) => [p.row_no, p.severity, p.code])).toEqual([[null, 'error', code]]);
  }

  describe('files that are not tables', () => {
    it('an empty .csv, then an empty .xlsx (0 bytes): the same content, so the same delivery', async () => {
      const { d } = await ingestBad('civil/empty_20250228.csv', Buffer.alloc(0));
      await expectRejected(d, 'civil/empty_20250228.csv', 'unsupported_empty', /^文件为空$/);
      // a delivery is its content (spec §2): the rejected one is retried in place, under the later name
      const { d: again } = await ingestBad('civil/empty_20250228.xlsx', Buffer.alloc(0), { sameAs: d.id });
      expect(again.id).toBe(d.id);
      await expectRejected(again, 'civil/empty_20250228.xlsx', 'unsupported_empty', /^文件为空$/);
    });

    it('random bytes named .csv', async () => {
      const rel = 'civil/garbage_20250228.csv';
      const { d } = await ingestBad(rel, randomBytes(256 * 1024));
      await expectRejected(d, rel, 'unsupported_binary', /不是文本表格/);
    });

    it('random bytes without a NUL byte named .csv: neither UTF-8 nor GB18030', async () => {
      const rel = 'civil/garbage2_20250228.csv';
      const bytes = randomBytes(64 * 1024).map((b) => (b === 0 ? 0xff : b));
      bytes[0] = 0xff; // no lucky signature
      const { d } = await ingestBad(rel, Buffer.from(bytes));
      await expectRejected(d, rel, 'unsupported_encoding', /编码无法识别/);
    });

    it('a PDF renamed .xlsx', async () => {
      const rel = 'civil/civil_20250228.xlsx';
      const { d } = await ingestBad(rel, minimalPdf());
      await expectRejected(d, rel, 'unsupported_pdf', /文件是 PDF/);
    });
  });

  describe('damaged and hostile workbooks', () => {
    it('a real XLSX cut off in the middle', async () => {
      const whole = await civilWorkbook(50);
      const rel = 'civil/truncated_20250930.xlsx';
      const { d } = await ingestBad(rel, whole.subarray(0, Math.floor(whole.length / 2)));
      await expectRejected(d, rel, 'xlsx_corrupt', /^文件不是有效的 XLSX 工作簿（压缩包不完整或已损坏，可能在传输中被截断：.*）。请用 Excel\/WPS 打开后另存为 .xlsx 或 .csv 再提交。$/);
    });

    it('a real XLSX whose central directory is damaged', async () => {
      const bytes = await civilWorkbook(50);
      const eocd = bytes.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
      const cdSize = bytes.readUInt32LE(eocd + 12);
      const cdOffset = bytes.readUInt32LE(eocd + 16);
      bytes.fill(0x5a, cdOffset + 10, cdOffset + Math.min(cdSize, 400));
      const rel = 'civil/damaged_cd_20250930.xlsx';
      const { d } = await ingestBad(rel, bytes);
      await expectRejected(d, rel, 'xlsx_corrupt', /^文件不是有效的 XLSX 工作簿（压缩包的文件目录已损坏：/);
    });

    it('a workbook whose sheet data is damaged far below the header (found only while loading)', async () => {
      // 6,000 rows: the header is found in the first chunk, the damage (70% in) only while loading
      const sheet = deflated('xl/worksheets/sheet1.xml', SHEET_HEAD + inlineCivilSheet(6000) + SHEET_TAIL);
      const at = Math.floor(sheet.packed.length * 0.7);
      sheet.packed.fill(0xff, at, at + 64);
      const rel = 'civil/damaged_sheet_20250930.xlsx';
      const { d } = await ingestBad(rel, zipPacked([...bookParts(), sheet]));
      await expectRejected(d, rel, 'xlsx_corrupt', /^文件不是有效的 XLSX 工作簿（xl\/worksheets\/sheet1.xml 的(内容不是有效的 XML|压缩数据已损坏)/);
      // nothing half-loaded is left behind: no staged delivery
      expect(await db.store.k.selectFrom('delivery').select('id').where('status', '=', 'staged').execute()).toEqual([]);
    });

    it('a zip bomb: a worksheet of 512 MB in a 0.5 MB file is refused before it is inflated', async () => {
      const sheet = repeated('xl/worksheets/sheet1.xml', `${SHEET_HEAD}${inlineRow(1, CIVIL_HEADER)}<row r="2"><c t="inlineStr"><is><t>`, Buffer.alloc(1024 ** 2, 'A'), 512, `</t></is></c></row>${SHEET_TAIL}`);
      const bytes = zipPacked([...bookParts(), sheet]);
      expect(bytes.length).toBeLessThan(1024 ** 2);
      const rss = process.memoryUsage.rss();
      const rel = 'civil/bomb_20250930.xlsx';
      const { d, ms } = await ingestBad(rel, bytes);
      await expectRejected(d, rel, 'xlsx_too_large', /^XLSX 文件中的 xl\/worksheets\/sheet1.xml 解压后为 512 MB（压缩比 10\d\d），超出处理上限，疑似异常文件，已拒收。$/);
      expect(ms).toBeLessThan(3_000);
      expect(process.memoryUsage.rss() - rss).toBeLessThan(100e6);
    });

    it('a zip bomb that lies about its size: inflating stops at the size it declares, and the rows read so far go', async () => {
      // declared 5 MB (under the 10 MB from which the ratio counts), really 100 MB of rows
      const row = inlineRow(2, civilRow('测试', makeId('1980-01-01', 1))).replace(' r="2"', '');
      const unit = Buffer.from(row.repeat(Math.floor(1024 ** 2 / Buffer.byteLength(row))), 'utf8');
      const sheet = repeated('xl/worksheets/sheet1.xml', SHEET_HEAD + inlineRow(1, CIVIL_HEADER), unit, 100, SHEET_TAIL);
      const rel = 'civil/lying_bomb_20250930.xlsx';
      const { d, ms } = await ingestBad(rel, zipPacked([...bookParts(), { ...sheet, size: 5 * 1024 ** 2 }]));
      await expectRejected(d, rel, 'xlsx_corrupt', /^文件不是有效的 XLSX 工作簿（xl\/worksheets\/sheet1.xml 的压缩数据已损坏，或解压后的大小与记录的不符：too many bytes in the stream/);
      // found while loading, after thousands of rows were written: none is kept, nothing is left staged
      expect(await db.store.k.selectFrom('delivery').select('id').where('status', '=', 'staged').execute()).toEqual([]);
      expect(ms).toBeLessThan(10_000);
    });

    it('an entry declared at 4 GiB with a few bytes behind it is refused by the ratio', async () => {
      const sheet = deflated('xl/worksheets/sheet1.xml', SHEET_HEAD + inlineCivilSheet(3) + SHEET_TAIL);
      const rel = 'civil/declared_4g_20250930.xlsx';
      const { d } = await ingestBad(rel, zipPacked([...bookParts(), { ...sheet, size: 0xffffffff }]));
      await expectRejected(d, rel, 'xlsx_too_large', /解压后为 4096 MB（压缩比 \d+），超出处理上限/);
    });

    it('shared strings, held in memory, have a lower limit of their own', async () => {
      const strings = Array.from({ length: 30_000 }, () => `<si><t>${randomBytes(48).toString('base64')}</t></si>`).join('');
      const sst = `<?xml version="1.0"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">${strings}</sst>`;
      const sheet = deflated('xl/worksheets/sheet1.xml', SHEET_HEAD + inlineCivilSheet(3) + SHEET_TAIL);
      const rel = 'civil/big_strings_20250930.xlsx';
      const { d } = await ingestBad(rel, zipPacked([...bookParts({ 'xl/sharedStrings.xml': sst }), sheet]), { xlsxLimits: { maxEntryBytes: 4 * 1024 ** 3, maxRatio: 400, maxHeldBytes: 1024 ** 2 } });
      await expectRejected(d, rel, 'xlsx_too_large', /^XLSX 文件中的 xl\/sharedStrings.xml 解压后为 2 MB/);
    });

    it('a cell of 2 million characters (a text the parser would hold whole) is refused', async () => {
      const huge = randomBytes(1_500_000).toString('base64'); // 2 MB, compresses poorly: no ratio limit applies
      const sheet = deflated('xl/worksheets/sheet1.xml', `${SHEET_HEAD}${inlineCivilSheet(3)}<row r="9"><c t="inlineStr"><is><t>${huge}</t></is></c></row>${SHEET_TAIL}`);
      const rel = 'civil/huge_cell_20250930.xlsx';
      const { d } = await ingestBad(rel, zipPacked([...bookParts(), sheet]));
      await expectRejected(d, rel, 'xlsx_cell_too_long', /^XLSX 文件中的 xl\/worksheets\/sheet1.xml 有一段超过 100 万个字符的内容/);
    });

    it('the entry size limit holds on its own (a lower limit, an entry that compresses poorly)', async () => {
      const noise = Array.from({ length: 40_000 }, (_, i) => `<row><c t="inlineStr"><is><t>${randomBytes(24).toString('base64')}</t></is></c></row>`).join('');
      const sheet = deflated('xl/worksheets/sheet1.xml', SHEET_HEAD + inlineRow(1, CIVIL_HEADER) + noise + SHEET_TAIL);
      const rel = 'civil/big_entry_20250930.xlsx';
      const { d } = await ingestBad(rel, zipPacked([...bookParts(), sheet]), { xlsxLimits: { maxEntryBytes: 1024 ** 2, maxRatio: 400 } });
      await expectRejected(d, rel, 'xlsx_too_large', /超出处理上限/);
    });
  });

  describe('text that is too long or in a wrong encoding', () => {
    it('a 100 MB single line is refused without holding it in memory', async () => {
      // a header's worth of names, then 100 MB more of the same "line": read whole, it would be a header of 35 million columns
      const rel = 'civil/one_line_20250930.csv';
      const rss = process.memoryUsage.rss();
      let peak = rss;
      const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 5);
      try {
        const { d, ms, path } = await ingestBad(rel, (p) => writeStreamed(p, `${CIVIL_HEADER.join(',')},`, Buffer.from('x1,'.repeat(350_000)), 100));
        peak = Math.max(peak, process.memoryUsage.rss());
        expect(statSync(path).size).toBeGreaterThan(100e6);
        await expectRejected(d, rel, 'csv_line_too_long', /^第 1 行超过 100 万个字符仍未结束（缺少换行符，或有引号未闭合），不是可读取的表格，已拒收/);
        expect(ms).toBeLessThan(15_000);
        rmSync(path);
      } finally {
        clearInterval(sampler);
      }
      expect(peak - rss, `RSS grew by ${Math.round((peak - rss) / 1e6)} MB`).toBeLessThan(300e6);
    });

    it('a quote that never closes, swallowing the other 20 MB of the file', async () => {
      const rel = 'civil/open_quote_20250930.csv';
      const head = `${CIVIL_HEADER.join(',')}\n"${civilRow('测试', makeId('1980-01-01', 1)).join(',')}\n`;
      const unit = Buffer.from(`${civilRow('测试', makeId('1980-01-01', 2)).join(',')}\n`.repeat(4000), 'utf8');
      const { d, ms, path } = await ingestBad(rel, (p) => writeStreamed(p, head, unit, 80));
      expect(statSync(path).size).toBeGreaterThan(20e6);
      await expectRejected(d, rel, 'csv_line_too_long', /^第 2 行超过 100 万个字符仍未结束/);
      expect(ms).toBeLessThan(15_000);
      rmSync(path);
    });

    it('a UTF-8 BOM over GBK bytes', async () => {
      const text = csvBytes({ title: ['导出日期:2025-09-30'], header: CIVIL_HEADER, rows: [civilRow('王伟', makeId('1970-12-17', 35))], encoding: 'gbk' });
      const rel = 'civil/bom_gbk_20250930.csv';
      const { d } = await ingestBad(rel, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), text]));
      await expectRejected(d, rel, 'unsupported_encoding', /声明为 UTF-8 却含有其他编码的内容/);
    });

    it('a GBK file whose name says UTF-8: the bytes decide, and it is read right', async () => {
      const rel = 'civil/民政名册_UTF-8编码_20270131.csv';
      const { d } = await ingestBad(rel, csvBytes({ header: CIVIL_HEADER, rows: [civilRow('王伟', makeId('1970-12-17', 35)), civilRow('李娜', makeId('1966-09-20', 202))], encoding: 'gbk' }));
      expect(d).toMatchObject({ file: rel, encoding: 'gb18030', row_count: 2, rejected_rows: 0, warning_count: 0 });
      expect(['accepted', 'quarantined']).toContain(d.status);
      const rows = await rowsOf(db.store, d.id);
      expect(rows.map((r) => [r.name, r.township])).toEqual([['王伟', '郎岱镇'], ['李娜', '郎岱镇']]);
    });

    it('a UTF-8 file with one GBK row in it', async () => {
      const utf8 = csvBytes({ title: ['导出日期:2025-09-30'], header: CIVIL_HEADER, rows: [civilRow('王伟', makeId('1970-12-17', 35))] });
      const gbkRow = iconv.encode(`${civilRow('李娜', makeId('1966-09-20', 202)).join(',')}\n`, 'gbk');
      const rel = 'civil/mixed_20250930.csv';
      const { d } = await ingestBad(rel, Buffer.concat([utf8, gbkRow]));
      await expectRejected(d, rel, 'unsupported_encoding', /既不是 UTF-8 也不是 GBK\/GB18030/);
    });
  });

  describe('a table 1,000 columns wide', () => {
    it('is ingested, every column kept, in reasonable time', async () => {
      const extra = Array.from({ length: 1000 - CIVIL_HEADER.length }, (_, i) => `备注${i + 1}`);
      const rows = Array.from({ length: 5 }, (_, r) => [...civilRow(`测试${r}`, makeId('1990-05-05', r + 11)), ...extra.map((_, i) => `值${r}-${i}`)]);
      const rel = 'civil/wide_20270228.csv';
      const { d, ms } = await ingestBad(rel, csvBytes({ title: ['导出日期:2027-02-28'], header: [...CIVIL_HEADER, ...extra], rows }));
      expect(d).toMatchObject({ file: rel, row_count: 5, rejected_rows: 0, header_row: 2 });
      expect(['accepted', 'quarantined']).toContain(d.status);
      expect(d.headers).toHaveLength(1000);
      const stored = await rowsOf(db.store, d.id);
      expect(stored.map((r) => r.raw.length)).toEqual([1000, 1000, 1000, 1000, 1000]);
      expect(stored[4]!.raw[999]).toBe(`值4-${1000 - CIVIL_HEADER.length - 1}`);
      expect(ms).toBeLessThan(10_000);
    });
  });

  describe('formula payloads in a civil roster', () => {
    // the last one has a "?" (a character the encoding lost), so that it reaches the data-quality sheet
    const HOSTILE = ["=cmd|' /C calc'!A0", '+1+1', '-2+3', '@SUM(1,1)', '\t=1+1', '\r=2+2', '=HYPERLINK("http://x","点我")', '\t-3+3?'];
    const QUALITY_VALUES = ['+1+1', '-2+3', '\t-3+3?', '=SUM(1,1)', '@SUM(1,1)'];
    const ids = HOSTILE.map((_, i) => makeId('1975-03-03', 101 + 2 * i));
    let rosterId = 0;

    it('are stored as given; bad values reject their row, naming row and column', async () => {
      const rows = [
        ...HOSTILE.map((name, i) => civilRow(name, ids[i]!, i === 0 ? { phone: '+1+1' } : i === 1 ? { gender: '-2+3' } : {})),
        civilRow('王伟', makeId('1975-03-03', 301), { category: '=SUM(1,1)' }),
        civilRow('李娜', makeId('1975-03-03', 302), { recognised: '@SUM(1,1)' }),
      ];
      const rel = 'civil/民政救助对象名册_20250115.csv';
      const { d } = await ingestBad(rel, csvBytes({ header: CIVIL_HEADER, rows }));
      rosterId = d.id;
      expect(d).toMatchObject({ status: 'accepted', file: rel, row_count: 10, rejected_rows: 2 });
      const stored = await rowsOf(db.store, d.id);
      expect(stored.map((r) => r.raw[0])).toEqual([...HOSTILE, '王伟', '李娜']);
      expect(stored.map((r) => r.name)).toEqual([...HOSTILE.map((n) => n.trim()), '王伟', '李娜']);
      const problems = await problemsOf(db.store, d.id);
      expect(problems.map((p) => [p.row_no, p.severity, p.code, p.column_name])).toEqual([
        [2, 'warning', 'invalid_phone', '联系电话'],
        [3, 'warning', 'invalid_gender', '性别'],
        [9, 'warning', 'name_unknown_char', '姓名'],
        [10, 'error', 'unknown_label', '保障类别'],
        [11, 'error', 'invalid_date', '认定日期'],
      ]);
      expect(problems[3]!.message).toBe('「保障类别」的值“=SUM(1,1)”不在可识别的取值中（可在映射文件中补充）');
      expect(problems[4]!.message).toBe('「认定日期」不是可识别的日期：“@SUM(1,1)”');
    });

    it('never become a formula in the data-quality sheet', async () => {
      const sheet = (await qualitySheet(db.store, rosterId))!;
      expect(sheet.problems.map((p) => p.value)).toEqual(QUALITY_VALUES);
      const dir = mkdtempSync(join(tmpdir(), 'aidlink-bad-quality-'));
      try {
        const xlsx = join(dir, 'q.xlsx');
        const csv = join(dir, 'q.csv');
        await writeQualityXlsx(sheet, xlsx);
        await writeQualityCsv(sheet, csv);
        for (const part of await sheetParts(xlsx)) expect(part).not.toMatch(/<f[\s>]/);
        const wb = new ExcelJS.Workbook();
        await wb.xlsx.readFile(xlsx);
        const values: unknown[] = [];
        wb.worksheets[0]!.eachRow((r) => r.eachCell((c) => (expect(c.type).not.toBe(ExcelJS.ValueType.Formula), values.push(c.value))));
        for (const v of QUALITY_VALUES) expect(values).toContain(v);
        const fields = parseCsv(readFileSync(csv, 'utf8').slice(1)).flat();
        for (const f of fields) expect(f).not.toMatch(/^[=+\-@\t\r]/);
        for (const v of QUALITY_VALUES) expect(fields).toContain(`'${v}`);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('never become a formula in the report of newly eligible people', async () => {
      // an inpatient settlement for each, nothing paid by assistance: each is an unclaimed flag
      const settlements = HOSTILE.map((name, i) => [
        `2025010000${String(9000 + i)}`, '', `5202030000000000${String(9000 + i)}`, name, ids[i]!, '21', '本地', '2025-01-05', '2025-01-10', '2025-01-12',
        '10000.00', '0', '10000.00', '5000.00', '0', '0', '一站式',
      ]);
      const inbox = mkdtempSync(join(tmpdir(), 'aidlink-bad-settle-'));
      const ctx = testContext(db.store);
      const before = await fingerprint(db.store);
      try {
        mkdirSync(join(inbox, 'settlement'));
        writeFileSync(join(inbox, 'settlement', '医保结算明细_20250115.csv'), csvBytes({ header: SETTLEMENT_HEADER, rows: settlements, encoding: 'utf-8-bom' }));
        await syncInProcess(ctx, { inbox, requestedBy: 'test' });
        expectUntouched(before, await fingerprint(db.store));
        const run = await writeNewlyEligibleReport(db.store, { dir: ctx.config.AIDLINK_DATA_DIR, requestedBy: 'test', now: new Date('2025-02-01T00:00:00Z') });
        expect(run.flags).toBeGreaterThanOrEqual(HOSTILE.length);
        for (const part of await sheetParts(run.files.xlsx)) expect(part).not.toMatch(/<f[\s>]/);
        const wb = new ExcelJS.Workbook();
        await wb.xlsx.readFile(run.files.xlsx);
        const names: unknown[] = [];
        for (const ws of wb.worksheets) ws.eachRow((r) => r.eachCell((c) => (expect(c.type).not.toBe(ExcelJS.ValueType.Formula), names.push(c.value))));
        // a person's name is the normal form of the roster's (spaces and annotations dropped): still a formula's start
        const norms = (await rowsOf(db.store, rosterId)).slice(0, HOSTILE.length).map((r) => r.name_norm!);
        expect(norms).toEqual(["=cmd|'/Ccalc'!A0", '+1+1', '-2+3', '@SUM', '=1+1', '=2+2', '=HYPERLINK', '-3+3?']);
        for (const n of norms) expect(names).toContain(n);
        const fields = parseCsv(readFileSync(run.files.csv, 'utf8').slice(1)).flat();
        for (const f of fields) expect(f).not.toMatch(/^[=+\-@\t\r]/);
        for (const n of norms) expect(fields).toContain(`'${n}`);
      } finally {
        rmSync(inbox, { recursive: true, force: true });
        rmSync(ctx.config.AIDLINK_DATA_DIR, { recursive: true, force: true });
      }
    });
  });
});

// ---------------------------------------------------------------------------

describe('hostile file names in console uploads', () => {
  let rig: ConsoleRig;
  let caseworker: ConsoleClient;
  let sandbox: string;
  let inboxDir: string;
  let month = 0;

  /** A small civil roster with its own as-of date (a title line), so no upload supersedes another. */
  function roster(): Buffer {
    month++;
    const asOf = `2027-${String(month).padStart(2, '0')}-28`;
    return csvBytes({ title: [`导出日期:${asOf}`], header: CIVIL_HEADER, rows: [civilRow('王伟', makeId('1970-12-17', 35)), civilRow(`测试${month}`, makeId('1988-08-08', 100 + month))] });
  }

  /** A multipart form as a browser sends it; `disposition` is the file part's Content-Disposition parameters. */
  function upload(disposition: string, bytes: Buffer, source = 'civil') {
    const boundary = `----aidlink${randomBytes(8).toString('hex')}`;
    const field = (name: string, value: string) => Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`);
    const payload = Buffer.concat([
      field('_csrf', caseworker.csrf),
      field('source', source),
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; ${disposition}\r\nContent-Type: text/csv\r\n\r\n`, 'utf8'),
      bytes,
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);
    return rig.server.inject({ method: 'POST', url: '/deliveries/upload', payload, headers: { cookie: caseworker.cookie, 'content-type': `multipart/form-data; boundary=${boundary}` } });
  }

  beforeAll(async () => {
    sandbox = mkdtempSync(join(tmpdir(), 'aidlink-bad-upload-'));
    inboxDir = join(sandbox, 'inbox');
    rig = await consoleRig({ env: { AIDLINK_INBOX: inboxDir, AIDLINK_DATA_DIR: join(sandbox, 'data') } });
    caseworker = await rig.as('caseworker');
    // the good file, uploaded and ingested as the job would
    const r = await upload('filename="civil_20250131.csv"', readFileSync(GOOD_CIVIL));
    expect(r.statusCode).toBe(303);
    const d = delivered(await ingestFile(rig.db.store, mapping, join(inboxDir, 'civil', 'civil_20250131.csv'), { inboxRoot: inboxDir }));
    expect(d).toMatchObject({ status: 'accepted', row_count: 360 });
  }, 120_000);
  afterAll(async () => {
    await rig?.close();
    if (sandbox) rmSync(sandbox, { recursive: true, force: true });
  });

  const LONG = 'x'.repeat(300) + '.csv';
  const LONG_CJK = '六枝特区城乡低保特困等救助对象名册'.repeat(6) + '.csv';
  it.each([
    ['a relative path up the tree', 'filename="../../etc/passwd.csv"', 'passwd.csv'],
    ['Windows separators', 'filename="..\\\\..\\\\x.csv"', 'x.csv'],
    ['an absolute path', 'filename="/etc/abs.csv"', 'abs.csv'],
    ['an encoded path up the tree', "filename*=UTF-8''..%2F..%2F..%2Fy.csv", 'y.csv'],
    ['a NUL in the name', "filename*=UTF-8''civil%00.csv", 'civil_.csv'],
    ['a very long name', `filename="${LONG}"`, /文件名过长/],
    ['a very long Chinese name', `filename*=UTF-8''${encodeURIComponent(LONG_CJK)}`, /文件名过长/],
    ['an empty file', 'filename="civil_20250228.csv"', /文件是空的/],
  ])('%s', async (what, disposition, landed) => {
    const before = await fingerprint(rig.db.store);
    const filesBefore = filesUnder(sandbox);
    const r = await upload(disposition, what === 'an empty file' ? Buffer.alloc(0) : roster());
    const added = filesUnder(sandbox).filter((f) => !filesBefore.includes(f));
    // nothing outside the inbox, and never where the name pointed
    for (const f of added) expect(f.startsWith('inbox/civil/'), f).toBe(true);
    for (const p of ['/etc/passwd.csv', '/etc/abs.csv', join(sandbox, 'etc'), join(inboxDir, '..', 'x.csv'), join(inboxDir, '..', '..', 'y.csv')]) expect(existsSync(p), p).toBe(false);
    expect(filesUnder(join(sandbox, 'data', 'uploads'))).toEqual([]); // no temporary file left behind
    if (landed instanceof RegExp) {
      expect(r.statusCode).toBe(400);
      const notice = /class="notice error">([^<]*)</.exec(r.body)?.[1];
      expect(notice).toMatch(landed);
      expect(added).toEqual([]);
    } else {
      expect(r.statusCode, r.body.slice(0, 300)).toBe(303);
      expect(added).toEqual([`inbox/civil/${landed}`]);
      const job = decodeURIComponent(/^\/runs\/([^?]+)/.exec(String(r.headers.location))![1]!);
      expect((await rig.runner.get(job))?.about).toBe(`civil/${landed}`);
      const d = delivered(await ingestFile(rig.db.store, mapping, join(inboxDir, 'civil', landed), { inboxRoot: inboxDir }));
      expect(d.file).toBe(`civil/${landed}`);
    }
    expectUntouched(before, await fingerprint(rig.db.store));
  });
});
