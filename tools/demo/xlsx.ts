/**
 * A minimal streaming XLSX writer: one worksheet of inline-string, number and date
 * cells, an optional merged title, nothing else. Written by hand rather than with
 * exceljs because the output must be byte-identical for a seed (exceljs stamps the
 * current time into the zip entries) and because the large rosters must stream.
 *
 * The worksheet is deflated as it is written (zip entries with a data descriptor);
 * the small parts are deflated whole. Zip timestamps are the file's as-of date.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { crc32, createDeflateRaw, deflateRawSync, type DeflateRaw } from 'node:zlib';
import { ymd, type Day } from './calendar.js';
import type { Cell, RowOptions, SheetWriter } from './sheet.js';

const DEFLATE_LEVEL = 6;
const FLUSH_CHARS = 1 << 18;

const SIG_LOCAL = 0x04034b50;
const SIG_DESCRIPTOR = 0x08074b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_END = 0x06054b50;
/** bit 3: sizes in a data descriptor; bit 11: names are UTF-8 */
const FLAG_DESCRIPTOR = 0x0008;
const FLAG_UTF8 = 0x0800;

interface CentralEntry {
  name: Buffer;
  flags: number;
  crc: number;
  compressed: number;
  size: number;
  offset: number;
}

class ZipWriter {
  private offset = 0;
  private readonly entries: CentralEntry[] = [];
  private failure: Error | undefined;
  private readonly dosTime: number;
  private readonly dosDate: number;

  constructor(
    private readonly out: WriteStream,
    stamp: Day,
  ) {
    out.on('error', (err) => (this.failure ??= err));
    const { y, m, d } = ymd(stamp);
    this.dosTime = (18 << 11) | (0 << 5); // 18:00:00, end of the working day
    this.dosDate = ((Math.max(1980, y) - 1980) << 9) | (m << 5) | d;
  }

  private async write(buf: Buffer): Promise<void> {
    if (this.failure) throw this.failure;
    this.offset += buf.length;
    if (!this.out.write(buf)) await once(this.out, 'drain');
  }

  private localHeader(name: Buffer, flags: number, crc: number, compressed: number, size: number): Buffer {
    const h = Buffer.alloc(30);
    h.writeUInt32LE(SIG_LOCAL, 0);
    h.writeUInt16LE(20, 4); // version needed
    h.writeUInt16LE(flags, 6);
    h.writeUInt16LE(8, 8); // deflate
    h.writeUInt16LE(this.dosTime, 10);
    h.writeUInt16LE(this.dosDate, 12);
    h.writeUInt32LE(crc, 14);
    h.writeUInt32LE(compressed, 18);
    h.writeUInt32LE(size, 22);
    h.writeUInt16LE(name.length, 26);
    h.writeUInt16LE(0, 28);
    return Buffer.concat([h, name]);
  }

  /** A small part, deflated in one go. */
  async addFile(path: string, content: string): Promise<void> {
    const name = Buffer.from(path, 'utf8');
    const data = Buffer.from(content, 'utf8');
    const packed = deflateRawSync(data, { level: DEFLATE_LEVEL });
    const entry: CentralEntry = { name, flags: FLAG_UTF8, crc: crc32(data), compressed: packed.length, size: data.length, offset: this.offset };
    this.entries.push(entry);
    await this.write(this.localHeader(name, entry.flags, entry.crc, entry.compressed, entry.size));
    await this.write(packed);
  }

  /** A part written piece by piece; its sizes follow in a data descriptor. */
  async openStream(path: string): Promise<ZipEntryStream> {
    const name = Buffer.from(path, 'utf8');
    const entry: CentralEntry = { name, flags: FLAG_UTF8 | FLAG_DESCRIPTOR, crc: 0, compressed: 0, size: 0, offset: this.offset };
    this.entries.push(entry);
    await this.write(this.localHeader(name, entry.flags, 0, 0, 0));
    return new ZipEntryStream(entry, this.out, (n) => (this.offset += n), async () => {
      const d = Buffer.alloc(16);
      d.writeUInt32LE(SIG_DESCRIPTOR, 0);
      d.writeUInt32LE(entry.crc, 4);
      d.writeUInt32LE(entry.compressed, 8);
      d.writeUInt32LE(entry.size, 12);
      await this.write(d);
    });
  }

  async close(): Promise<void> {
    const start = this.offset;
    for (const e of this.entries) {
      const c = Buffer.alloc(46);
      c.writeUInt32LE(SIG_CENTRAL, 0);
      c.writeUInt16LE(20, 4); // made by
      c.writeUInt16LE(20, 6); // needed
      c.writeUInt16LE(e.flags, 8);
      c.writeUInt16LE(8, 10);
      c.writeUInt16LE(this.dosTime, 12);
      c.writeUInt16LE(this.dosDate, 14);
      c.writeUInt32LE(e.crc, 16);
      c.writeUInt32LE(e.compressed, 20);
      c.writeUInt32LE(e.size, 24);
      c.writeUInt16LE(e.name.length, 28);
      // extra, comment, disk, internal and external attributes stay 0
      c.writeUInt32LE(e.offset, 42);
      await this.write(Buffer.concat([c, e.name]));
    }
    const end = Buffer.alloc(22);
    end.writeUInt32LE(SIG_END, 0);
    end.writeUInt16LE(this.entries.length, 8);
    end.writeUInt16LE(this.entries.length, 10);
    end.writeUInt32LE(this.offset - start, 12);
    end.writeUInt32LE(start, 16);
    await this.write(end);
    this.out.end();
    if (!this.out.closed) await once(this.out, 'close');
    if (this.failure) throw this.failure;
  }
}

class ZipEntryStream {
  private readonly deflate: DeflateRaw;
  private readonly ended: Promise<unknown>;

  constructor(
    private readonly entry: CentralEntry,
    out: WriteStream,
    advance: (bytes: number) => void,
    private readonly finish: () => Promise<void>,
  ) {
    this.deflate = createDeflateRaw({ level: DEFLATE_LEVEL });
    this.deflate.on('data', (chunk: Buffer) => {
      entry.compressed += chunk.length;
      advance(chunk.length);
      if (!out.write(chunk)) {
        this.deflate.pause();
        out.once('drain', () => this.deflate.resume());
      }
    });
    this.ended = once(this.deflate, 'end');
  }

  async write(text: string): Promise<void> {
    const data = Buffer.from(text, 'utf8');
    this.entry.crc = crc32(data, this.entry.crc);
    this.entry.size += data.length;
    if (!this.deflate.write(data)) await once(this.deflate, 'drain');
  }

  async end(): Promise<void> {
    this.deflate.end();
    await this.ended;
    await this.finish();
  }
}

// ── the workbook ────────────────────────────────────────────────────────────

const XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n';
const NS_MAIN = 'http://schemas.openxmlformats.org/spreadsheetml/2006/main';
const NS_REL = 'http://schemas.openxmlformats.org/officeDocument/2006/relationships';
const NS_PKG_REL = 'http://schemas.openxmlformats.org/package/2006/relationships';

const CONTENT_TYPES =
  XML_HEAD +
  '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">' +
  '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>' +
  '<Default Extension="xml" ContentType="application/xml"/>' +
  '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>' +
  '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>' +
  '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>' +
  '</Types>';

const ROOT_RELS =
  XML_HEAD +
  `<Relationships xmlns="${NS_PKG_REL}">` +
  `<Relationship Id="rId1" Type="${NS_REL}/officeDocument" Target="xl/workbook.xml"/>` +
  '</Relationships>';

const WORKBOOK_RELS =
  XML_HEAD +
  `<Relationships xmlns="${NS_PKG_REL}">` +
  `<Relationship Id="rId1" Type="${NS_REL}/worksheet" Target="worksheets/sheet1.xml"/>` +
  `<Relationship Id="rId2" Type="${NS_REL}/styles" Target="styles.xml"/>` +
  '</Relationships>';

/** Style 0: general; style 1: a date (yyyy-mm-dd). */
const STYLES =
  XML_HEAD +
  `<styleSheet xmlns="${NS_MAIN}">` +
  '<numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy-mm-dd"/></numFmts>' +
  '<fonts count="1"><font><sz val="11"/><name val="宋体"/><family val="2"/></font></fonts>' +
  '<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills>' +
  '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>' +
  '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>' +
  '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>' +
  '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs>' +
  '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>' +
  '</styleSheet>';

const DATE_STYLE = 1;

function workbookXml(sheetName: string): string {
  return (
    XML_HEAD +
    `<workbook xmlns="${NS_MAIN}" xmlns:r="${NS_REL}"><sheets>` +
    `<sheet name="${escapeXml(sheetName)}" sheetId="1" r:id="rId1"/></sheets></workbook>`
  );
}

function escapeXml(s: string): string {
  return s.replace(/[&<>"]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : '&quot;'));
}

/** A, B, …, Z, AA, … */
export function columnName(index: number): string {
  let n = index + 1;
  let s = '';
  while (n > 0) {
    const r = (n - 1) % 26;
    s = String.fromCharCode(65 + r) + s;
    n = Math.floor((n - 1) / 26);
  }
  return s;
}

/** Excel keeps 15 significant digits; it writes large numbers like 5.20203198008150E+17. */
function numberXml(n: number): string {
  return Math.abs(n) < 1e15 ? String(n) : n.toPrecision(15).replace(/e\+?/, 'E+');
}

export interface XlsxOptions {
  sheetName: string;
  /** zip timestamps (the as-of date, so the same county gives the same bytes) */
  stamp: Day;
}

export class XlsxWriter implements SheetWriter {
  private row = 1;
  private parts: string[] = [];
  private pending = 0;
  private readonly merges: string[] = [];

  private constructor(
    private readonly zip: ZipWriter,
    private readonly sheet: ZipEntryStream,
  ) {}

  static async open(path: string, options: XlsxOptions): Promise<XlsxWriter> {
    const out = createWriteStream(path);
    await once(out, 'open');
    const zip = new ZipWriter(out, options.stamp);
    await zip.addFile('[Content_Types].xml', CONTENT_TYPES);
    await zip.addFile('_rels/.rels', ROOT_RELS);
    await zip.addFile('xl/workbook.xml', workbookXml(options.sheetName));
    await zip.addFile('xl/_rels/workbook.xml.rels', WORKBOOK_RELS);
    await zip.addFile('xl/styles.xml', STYLES);
    const sheet = await zip.openStream('xl/worksheets/sheet1.xml');
    await sheet.write(`${XML_HEAD}<worksheet xmlns="${NS_MAIN}"><sheetData>`);
    return new XlsxWriter(zip, sheet);
  }

  get nextRow(): number {
    return this.row;
  }

  async writeRow(cells: readonly Cell[], options?: RowOptions): Promise<void> {
    const r = this.row++;
    let xml = `<row r="${r}">`;
    for (let i = 0; i < cells.length; i++) {
      const cell = cells[i]!;
      const ref = columnName(i) + r;
      if (typeof cell === 'string') {
        if (cell === '') continue; // Excel stores no empty cells
        const space = /[\s\u3000]/.test(cell) ? ' xml:space="preserve"' : '';
        xml += `<c r="${ref}" t="inlineStr"><is><t${space}>${escapeXml(cell)}</t></is></c>`;
      } else {
        xml += `<c r="${ref}"${cell.date ? ` s="${DATE_STYLE}"` : ''}><v>${numberXml(cell.n)}</v></c>`;
      }
    }
    xml += '</row>';
    if (options?.mergeAcross && options.mergeAcross > 1) this.merges.push(`A${r}:${columnName(options.mergeAcross - 1)}${r}`);
    await this.push(xml);
  }

  async blankRow(): Promise<void> {
    this.row++; // an empty row is simply absent from the sheet
  }

  private async push(xml: string): Promise<void> {
    this.parts.push(xml);
    this.pending += xml.length;
    if (this.pending >= FLUSH_CHARS) await this.flush();
  }

  private async flush(): Promise<void> {
    if (this.parts.length === 0) return;
    const text = this.parts.join('');
    this.parts = [];
    this.pending = 0;
    await this.sheet.write(text);
  }

  async close(): Promise<void> {
    let tail = '</sheetData>';
    if (this.merges.length > 0) {
      tail += `<mergeCells count="${this.merges.length}">${this.merges.map((m) => `<mergeCell ref="${m}"/>`).join('')}</mergeCells>`;
    }
    await this.push(tail + '</worksheet>');
    await this.flush();
    await this.sheet.end();
    await this.zip.close();
  }
}
