import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import iconv from 'iconv-lite';
import { CsvTokenizer, csvReader } from '../../src/ingest/read/csv.js';
import { inspectFile } from '../../src/ingest/read/inspect.js';

function tokenize(text: string, delimiter = ',', pieces = 1) {
  const t = new CsvTokenizer(delimiter);
  const out = [];
  const size = Math.ceil(text.length / pieces);
  for (let i = 0; i < text.length; i += size) out.push(...t.push(text.slice(i, i + size)));
  out.push(...t.end());
  return out.map((r) => [r.rowNo, r.cells]);
}

/** The records as text blocks (what a parse worker is handed), each tokenized where it lands. */
function viaBlocks(text: string, maxRecords: number, pieces = 1) {
  const t = new CsvTokenizer(',');
  const blocks = [];
  const size = Math.ceil(text.length / pieces) || 1;
  for (let i = 0; i < text.length; i += size) blocks.push(...t.blocks(text.slice(i, i + size), maxRecords, false));
  blocks.push(...t.blocks('', maxRecords, true));
  expect(blocks.every((b) => b.records <= maxRecords)).toBe(true);
  return blocks.flatMap((b) => {
    const w = new CsvTokenizer(',', undefined, b.firstLine);
    return [...w.push(b.text), ...w.end()].map((r) => [r.rowNo, r.cells]);
  });
}

describe('CsvTokenizer', () => {
  it('splits text into blocks of whole records that tokenize to the same rows, numbers included', () => {
    const texts = [
      'a,b\r\nc,d\r\n',
      'a,b\nc,d',
      'a\n\nb\n',
      'id,amount,note\n1,"12,345.67","say ""hi"""\n2,"1","two\nlines"\n3,4,5\n',
      'a,"b\r\nc",d\r\n"x""y",z\r\n1,2,3\r\nab"c,d\n"unterminated,x\ny',
    ];
    for (const text of texts) {
      for (const pieces of [1, 3, text.length]) {
        for (const max of [1, 2, 1000]) expect(viaBlocks(text, max, pieces)).toEqual(tokenize(text));
      }
    }
  });
  it('numbers records by editor line, LF and CRLF alike', () => {
    expect(tokenize('a,b\r\nc,d\r\n')).toEqual([[1, ['a', 'b']], [2, ['c', 'd']]]);
    expect(tokenize('a,b\nc,d')).toEqual([[1, ['a', 'b']], [2, ['c', 'd']]]);
  });

  it('keeps blank lines as records so that numbers stay right', () => {
    expect(tokenize('a\n\nb\n')).toEqual([[1, ['a']], [2, ['']], [3, ['b']]]);
  });

  it('reads quoted cells: delimiters, doubled quotes, line breaks inside', () => {
    const text = 'id,amount,note\n1,"12,345.67","say ""hi"""\n2,"1","two\nlines"\n3,4,5\n';
    expect(tokenize(text)).toEqual([
      [1, ['id', 'amount', 'note']],
      [2, ['1', '12,345.67', 'say "hi"']],
      [3, ['2', '1', 'two\nlines']],
      [5, ['3', '4', '5']], // the quoted line break moved this record to line 5
    ]);
  });

  it('gives the same records whatever the chunk boundaries', () => {
    const text = 'a,"b\r\nc",d\r\n"x""y",z\r\n1,2,3\r\n';
    const whole = tokenize(text);
    for (const pieces of [2, 3, 5, 7, 11, text.length]) expect(tokenize(text, ',', pieces)).toEqual(whole);
  });

  it('splits on tabs when told to, leaving commas alone', () => {
    expect(tokenize('a\tb,c\n', '\t')).toEqual([[1, ['a', 'b,c']]]);
  });
});

describe('reading CSV files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'aidlink-csv-'));
  const text = '标题\n姓名,身份证号\n王伟,1\n';

  const rare = text.replace('王伟', '王䶮'); // 䶮 takes four bytes in GB18030 and does not exist in GBK
  it.each([
    ['UTF-8', text, Buffer.from(text, 'utf8'), 'utf-8'],
    ['UTF-8 with BOM', text, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text, 'utf8')]), 'utf-8'],
    ['GBK', text, iconv.encode(text, 'gbk'), 'gb18030'],
    ['GB18030 with a four-byte character', rare, iconv.encode(rare, 'gb18030'), 'gb18030'],
  ] as const)('%s is detected and decoded', async (_name, original, bytes, encoding) => {
    const path = join(dir, `${encoding}-${bytes.length}.csv`);
    writeFileSync(path, bytes);
    const inspection = await inspectFile(path);
    expect(inspection.kind).toMatchObject({ format: 'csv', encoding });
    const rows = [];
    for await (const chunk of csvReader(path, { encoding, delimiter: ',' }).chunks()) rows.push(...chunk);
    expect(rows.map((r) => r.cells.join(',')).join('\n') + '\n').toBe(original); // and no BOM left in the first cell
  });

  it('refuses text that is neither UTF-8 nor GB18030, and a BOM over other bytes', async () => {
    const bad = join(dir, 'bad.csv');
    writeFileSync(bad, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), iconv.encode('姓名,身份证号\n', 'gbk')]));
    expect((await inspectFile(bad)).kind).toEqual({ format: 'unsupported', reason: 'encoding' });
  });

  it('knows binary, PDF, old XLS and empty files by their bytes', async () => {
    const cases: [string, Buffer, string][] = [
      ['empty.csv', Buffer.alloc(0), 'empty'],
      ['x.xlsx', Buffer.from('%PDF-1.7\n...'), 'pdf'],
      ['x.xls', Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1, 0, 0]), 'xls'],
      ['x.csv', Buffer.from([0x41, 0x00, 0x42, 0x0a]), 'binary'],
    ];
    for (const [name, bytes, reason] of cases) {
      const p = join(dir, name);
      writeFileSync(p, bytes);
      expect((await inspectFile(p)).kind, name).toEqual({ format: 'unsupported', reason });
    }
  });
});

describe('CSV top rows (the header search)', () => {
  it('gives the first rows, the same as a full read', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'aidlink-csv-top-'));
    const path = join(dir, 'top.csv');
    const lines = ['姓名,身份证号'];
    for (let r = 2; r <= 20_000; r++) lines.push(`姓名${r},"5202031938020${String(r).padStart(5, '0')}"`);
    writeFileSync(path, lines.join('\r\n') + '\r\n');
    const read = async (max?: number) => {
      const rows = [];
      for await (const chunk of csvReader(path, { encoding: 'utf-8', delimiter: ',' }).chunks(max)) rows.push(...chunk);
      return rows;
    };
    const all = await read();
    expect(all).toHaveLength(20_000);
    expect(await read(50)).toEqual(all.slice(0, 50));
  });
});
