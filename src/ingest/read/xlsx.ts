/**
 * Streaming XLSX (spec §3): the first worksheet, row numbers as Excel shows them,
 * cells as text. Shared strings, inline strings and rich text are read; a number
 * formatted as a date is given as the date Excel shows (2017-10-03), any other
 * number as stored, and marked numeric (an id number stored as a number has lost
 * its last digits). The sheet is parsed as it is unzipped: memory holds the
 * shared-string table and one chunk of rows, never the sheet.
 */
import { TextDecoder } from 'node:util';
import yauzl, { type Entry, type ZipFile } from 'yauzl';
import { SaxesParser, type SaxesTagPlain } from 'saxes';
import type { Readable } from 'node:stream';
import { posix } from 'node:path';
import { excelSerialToDate } from '../normalise/date.js';
import { UnreadableFileError, type SheetReader, type SheetRow } from './rows.js';

const CHUNK_ROWS = 2000;

/**
 * Guards against zip bombs: an entry larger than maxEntryBytes, or over 10 MB and
 * inflating more than maxRatio times, is refused before it is inflated (by the sizes the
 * zip declares; yauzl stops an entry that inflates past its declared size). The parts
 * read whole into memory (shared strings, styles, the workbook) have a lower limit of
 * their own: the sheet is streamed, they are not.
 */
export interface XlsxLimits {
  maxEntryBytes: number;
  maxRatio: number;
  /** default DEFAULT_XLSX_LIMITS.maxHeldBytes */
  maxHeldBytes?: number;
}
export const DEFAULT_XLSX_LIMITS = { maxEntryBytes: 4 * 1024 ** 3, maxRatio: 400, maxHeldBytes: 512 * 1024 ** 2 } as const satisfies Required<XlsxLimits>;

/**
 * The most text the XML parser may hold between two tags. An Excel cell holds at most
 * 32,767 characters; a run of markup far longer without a tag is one text node the
 * parser would keep whole in memory, however large.
 */
export const MAX_UNTAGGED_CHARS = 1_000_000;

export async function xlsxReader(path: string, limits: XlsxLimits = DEFAULT_XLSX_LIMITS): Promise<SheetReader> {
  const book = await openWorkbook(path, limits);
  return {
    format: 'xlsx',
    encoding: null,
    delimiter: null,
    sheet: book.sheetName,
    chunks: (maxRows?: number) => readRows(path, book, limits, maxRows ?? Infinity),
  };
}

interface Workbook {
  sheetName: string;
  sheetPath: string;
  sharedStrings: string[];
  /** per cell style index: does its number format show a date? */
  dateStyles: boolean[];
}

const corrupt = (detail: string) =>
  new UnreadableFileError('xlsx_corrupt', `文件不是有效的 XLSX 工作簿（${detail}）。请用 Excel/WPS 打开后另存为 .xlsx 或 .csv 再提交。`);

/** A library's own words, after ours: for whoever looks into it. */
const firstLine = (err: unknown) => (err instanceof Error ? err.message : String(err)).split('\n')[0];

/** Feeds the XML parser (`null`: the end); its errors mean the part is not well-formed XML. */
function feedXml(parser: SaxesParser, part: string, text: string | null): void {
  try {
    if (text === null) parser.close();
    else parser.write(text);
  } catch (err) {
    if (err instanceof UnreadableFileError) throw err;
    throw corrupt(`${part} 的内容不是有效的 XML：${firstLine(err)}`);
  }
}

/** An error while inflating a part: its data is damaged, or larger than the zip says. */
const damagedPart = (part: string, err: unknown) =>
  err instanceof UnreadableFileError ? err : corrupt(`${part} 的压缩数据已损坏，或解压后的大小与记录的不符：${firstLine(err)}`);

function openZip(path: string): Promise<ZipFile> {
  return new Promise((res, rej) =>
    yauzl.open(path, { lazyEntries: true, autoClose: false, validateEntrySizes: true }, (err, zip) =>
      err || !zip ? rej(corrupt(`压缩包不完整或已损坏，可能在传输中被截断：${firstLine(err)}`)) : res(zip),
    ),
  );
}

async function listEntries(zip: ZipFile): Promise<Map<string, Entry>> {
  const entries = new Map<string, Entry>();
  await new Promise<void>((res, rej) => {
    zip.on('entry', (e: Entry) => {
      entries.set(e.fileName.replace(/^\//, ''), e);
      zip.readEntry();
    });
    zip.on('end', res);
    zip.on('error', (e: Error) => rej(corrupt(`压缩包的文件目录已损坏：${firstLine(e)}`)));
    zip.readEntry();
  });
  return entries;
}

function checkLimits(e: Entry, limits: XlsxLimits, held: boolean): void {
  const ratio = e.compressedSize > 0 ? e.uncompressedSize / e.compressedSize : Infinity;
  const max = held ? Math.min(limits.maxEntryBytes, limits.maxHeldBytes ?? DEFAULT_XLSX_LIMITS.maxHeldBytes) : limits.maxEntryBytes;
  if (e.uncompressedSize > max || (e.uncompressedSize > 10 * 1024 ** 2 && ratio > limits.maxRatio)) {
    throw new UnreadableFileError(
      'xlsx_too_large',
      `XLSX 文件中的 ${e.fileName} 解压后为 ${Math.round(e.uncompressedSize / 1024 ** 2)} MB（压缩比 ${Math.round(ratio)}），超出处理上限，疑似异常文件，已拒收。`,
    );
  }
}

/**
 * Counts the text fed to an XML parser since its last tag (`tag()` from the parser's
 * tag handlers); refuses a part with more than MAX_UNTAGGED_CHARS of it.
 */
class UntaggedRun {
  private run = 0;
  private tagged = false;

  constructor(private readonly part: string) {}

  tag(): void {
    this.tagged = true;
  }

  /** After the parser was given `chars` characters. */
  fed(chars: number): void {
    this.run = this.tagged ? 0 : this.run + chars; // a tag in this piece: what follows it is less than the piece
    this.tagged = false;
    if (this.run > MAX_UNTAGGED_CHARS) {
      throw new UnreadableFileError(
        'xlsx_cell_too_long',
        `XLSX 文件中的 ${this.part} 有一段超过 ${MAX_UNTAGGED_CHARS / 10_000} 万个字符的内容（Excel 单元格最多 32767 个字符），不是正常导出的工作簿，疑似异常文件，已拒收。`,
      );
    }
  }
}

function entryStream(zip: ZipFile, e: Entry, limits: XlsxLimits, held = false): Promise<Readable> {
  checkLimits(e, limits, held);
  return new Promise((res, rej) => zip.openReadStream(e, (err, s) => (err || !s ? rej(corrupt(`${e.fileName} 无法解压：${firstLine(err)}`)) : res(s))));
}

/** Parses a whole (small) XML entry with the given handlers. */
async function parseEntry(
  zip: ZipFile,
  e: Entry,
  limits: XlsxLimits,
  on: { open?: (t: SaxesTagPlain) => void; close?: (t: SaxesTagPlain) => void; text?: (t: string) => void },
): Promise<void> {
  const parser = new SaxesParser();
  const run = new UntaggedRun(e.fileName);
  parser.on('opentag', (t) => (run.tag(), on.open?.(t)));
  parser.on('closetag', (t) => (run.tag(), on.close?.(t)));
  if (on.text) parser.on('text', on.text);
  const decoder = new TextDecoder('utf-8');
  try {
    for await (const chunk of (await entryStream(zip, e, limits, true)) as AsyncIterable<Buffer>) {
      const text = decoder.decode(chunk, { stream: true });
      feedXml(parser, e.fileName, text);
      run.fed(text.length);
    }
    feedXml(parser, e.fileName, null);
  } catch (err) {
    throw damagedPart(e.fileName, err);
  }
}

async function openWorkbook(path: string, limits: XlsxLimits): Promise<Workbook> {
  const zip = await openZip(path);
  try {
    const entries = await listEntries(zip);
    const wb = entries.get('xl/workbook.xml');
    if (!wb) throw corrupt('缺少 xl/workbook.xml');

    let first: { name: string; rid: string } | undefined;
    await parseEntry(zip, wb, limits, {
      open: (t) => {
        if (!first && t.name === 'sheet') {
          const rid = Object.entries(t.attributes).find(([k]) => k === 'r:id' || k.endsWith(':id'))?.[1];
          first = { name: String(t.attributes.name ?? 'Sheet1'), rid: String(rid ?? '') };
        }
      },
    });
    if (!first) throw corrupt('工作簿中没有工作表');

    let target: string | undefined;
    const rels = entries.get('xl/_rels/workbook.xml.rels');
    if (rels) {
      await parseEntry(zip, rels, limits, {
        open: (t) => {
          if (t.name === 'Relationship' && t.attributes.Id === first!.rid) target = String(t.attributes.Target);
        },
      });
    }
    const sheetPath = target
      ? target.startsWith('/') ? target.slice(1) : posix.normalize(posix.join('xl', target))
      : 'xl/worksheets/sheet1.xml';
    if (!entries.has(sheetPath)) throw corrupt(`缺少工作表 ${sheetPath}`);

    const sharedStrings: string[] = [];
    const sst = entries.get('xl/sharedStrings.xml');
    if (sst) {
      let inSi = false;
      let inT = false;
      let phonetic = 0; // <rPh> holds a reading aid, not cell text
      let current = '';
      await parseEntry(zip, sst, limits, {
        open: (t) => {
          if (t.name === 'si') (inSi = true), (current = '');
          else if (t.name === 'rPh') phonetic++;
          else if (t.name === 't' && inSi && phonetic === 0) inT = true;
        },
        close: (t) => {
          if (t.name === 'si') (inSi = false), sharedStrings.push(current);
          else if (t.name === 'rPh') phonetic--;
          else if (t.name === 't') inT = false;
        },
        text: (s) => {
          if (inT) current += s;
        },
      });
    }

    const dateStyles: boolean[] = [];
    const styles = entries.get('xl/styles.xml');
    if (styles) {
      const customDate = new Map<number, boolean>();
      let inCellXfs = false;
      await parseEntry(zip, styles, limits, {
        open: (t) => {
          if (t.name === 'numFmt') customDate.set(Number(t.attributes.numFmtId), isDateFormat(String(t.attributes.formatCode ?? '')));
          else if (t.name === 'cellXfs') inCellXfs = true;
          else if (t.name === 'xf' && inCellXfs) {
            const id = Number(t.attributes.numFmtId ?? 0);
            dateStyles.push(customDate.get(id) ?? BUILTIN_DATE_FORMATS.has(id));
          }
        },
        close: (t) => {
          if (t.name === 'cellXfs') inCellXfs = false;
        },
      });
    }
    return { sheetName: first.name, sheetPath, sharedStrings, dateStyles };
  } finally {
    zip.close();
  }
}

/** Built-in number formats that show dates (ECMA-376 §18.8.30, with the CJK ones). */
const BUILTIN_DATE_FORMATS = new Set([14, 15, 16, 17, 18, 19, 20, 21, 22, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 45, 46, 47, 50, 51, 52, 53, 54, 55, 56, 57, 58]);

function isDateFormat(code: string): boolean {
  // drop quoted literals, escapes and [colour]/[locale] sections before looking for date tokens
  const bare = code.replace(/"[^"]*"|\\.|\[[^\]]*\]/g, '');
  return /[ymdhs年月日]/i.test(bare) && !/^general$/i.test(bare);
}

function columnIndex(ref: string): number {
  let n = 0;
  for (let i = 0; i < ref.length; i++) {
    const c = ref.charCodeAt(i);
    if (c < 65 || c > 90) break;
    n = n * 26 + (c - 64);
  }
  return n - 1;
}

function serialToText(v: string): string {
  const serial = Number(v);
  const date = excelSerialToDate(serial);
  if (!date) return v;
  const seconds = Math.round((serial - Math.floor(serial)) * 86400);
  if (seconds === 0) return date;
  const hh = String(Math.floor(seconds / 3600)).padStart(2, '0');
  const mm = String(Math.floor((seconds % 3600) / 60)).padStart(2, '0');
  const ss = String(seconds % 60).padStart(2, '0');
  return `${date} ${hh}:${mm}:${ss}`;
}

async function* readRows(path: string, book: Workbook, limits: XlsxLimits, maxRows: number): AsyncGenerator<SheetRow[]> {
  const zip = await openZip(path);
  try {
    const entries = await listEntries(zip);
    const stream = await entryStream(zip, entries.get(book.sheetPath)!, limits);

    const parser = new SaxesParser();
    const run = new UntaggedRun(book.sheetPath);
    let out: SheetRow[] = [];
    let rowNo = 0;
    let cells: string[] = [];
    let numeric: Set<number> | undefined;
    let col = -1;
    let type = 'n';
    let style = 0;
    let value = '';
    let inValue = false; // inside <v>, or <t> of an inline string
    let inPhonetic = 0;

    parser.on('opentag', (t) => {
      run.tag();
      switch (t.name) {
        case 'row': {
          const r = t.attributes.r;
          rowNo = r ? Number(r) : rowNo + 1;
          cells = [];
          numeric = undefined;
          col = -1;
          break;
        }
        case 'c': {
          const r = t.attributes.r;
          col = r ? columnIndex(String(r)) : col + 1;
          type = String(t.attributes.t ?? 'n');
          style = Number(t.attributes.s ?? 0);
          value = '';
          break;
        }
        case 'v':
          inValue = true;
          break;
        case 't':
          if (type === 'inlineStr' && inPhonetic === 0) inValue = true;
          break;
        case 'rPh':
          inPhonetic++;
          break;
      }
    });
    parser.on('text', (s) => {
      if (inValue) value += s;
    });
    parser.on('closetag', (t) => {
      run.tag();
      switch (t.name) {
        case 'v':
        case 't':
          inValue = false;
          break;
        case 'rPh':
          inPhonetic--;
          break;
        case 'c': {
          let text = value;
          if (type === 's') text = book.sharedStrings[Number(value)] ?? '';
          else if (type === 'b') text = value === '1' ? 'TRUE' : 'FALSE';
          else if (type === 'n' && value !== '') {
            if (book.dateStyles[style]) text = serialToText(value);
            else (numeric ??= new Set()).add(col);
          }
          while (cells.length < col) cells.push('');
          cells[col] = text;
          break;
        }
        case 'row':
          out.push(numeric ? { rowNo, cells, numeric } : { rowNo, cells });
          break;
      }
    });

    const decoder = new TextDecoder('utf-8');
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        const text = decoder.decode(chunk, { stream: true });
        feedXml(parser, book.sheetPath, text);
        run.fed(text.length);
        // the header search stops here, without inflating the rest of the sheet
        if (out.length >= maxRows) {
          yield out.slice(0, maxRows);
          return;
        }
        if (out.length >= CHUNK_ROWS) {
          const rows = out;
          out = [];
          yield rows;
        }
      }
      feedXml(parser, book.sheetPath, null);
    } catch (err) {
      throw damagedPart(book.sheetPath, err);
    }
    if (out.length) yield out.slice(0, maxRows);
  } finally {
    zip.close();
  }
}
