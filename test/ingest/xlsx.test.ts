import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ExcelJS from 'exceljs';
import { xlsxReader } from '../../src/ingest/read/xlsx.js';
import { UnreadableFileError, type SheetRow } from '../../src/ingest/read/rows.js';
import { workbook, zip } from '../helpers/zip.js';

const dir = mkdtempSync(join(tmpdir(), 'aidlink-xlsx-'));

async function readAll(path: string): Promise<SheetRow[]> {
  const rows: SheetRow[] = [];
  for await (const chunk of (await xlsxReader(path)).chunks()) rows.push(...chunk);
  return rows;
}

describe('XLSX written by a spreadsheet library (shared strings, styles)', () => {
  it('reads rows as Excel numbers them, dates as shown, numbers marked numeric', async () => {
    const wb = new ExcelJS.Workbook();
    const ws = wb.addWorksheet('名册');
    ws.getCell('A1').value = '六枝特区城乡低保特困等救助对象名册';
    ws.mergeCells('A1:D1');
    ws.getCell('A2').value = '截至日期:2025年3月31日';
    ws.getRow(3).values = ['姓名', '身份证号', '认定日期', '金额'];
    ws.getRow(4).values = ['贾鹏平', '520203193802021256', new Date(Date.UTC(2017, 9, 3)), 12.5];
    ws.getCell('C4').numFmt = 'yyyy-mm-dd';
    ws.getRow(5).values = ['王雨欣', 520203198501010000, 45662, { richText: [{ text: '1,2' }, { text: '34.00' }] }];
    ws.getRow(7).values = ['制表人:'];
    const path = join(dir, 'exceljs.xlsx');
    await wb.xlsx.writeFile(path);

    const reader = await xlsxReader(path);
    expect(reader.sheet).toBe('名册');
    const rows = await readAll(path);
    expect(rows.map((r) => r.rowNo)).toEqual([1, 2, 3, 4, 5, 7]);
    expect(rows[0]!.cells[0]).toBe('六枝特区城乡低保特困等救助对象名册');
    expect(rows[3]!.cells).toEqual(['贾鹏平', '520203193802021256', '2017-10-03', '12.5']);
    expect(rows[3]!.numeric).toEqual(new Set([3]));
    expect(rows[4]!.cells).toEqual(['王雨欣', '520203198501010000', '45662', '1,234.00']);
    expect(rows[4]!.numeric).toEqual(new Set([1, 2]));
  });
});

describe('XLSX as other programs write it', () => {
  it('reads inline strings, cells and rows without references, phonetic runs, and a renamed sheet part', async () => {
    const sheet =
      '<row><c t="inlineStr"><is><t>姓名</t></is></c><c t="s"><v>0</v></c><c t="inlineStr"><is><r><t>认定</t></r><r><t>日期</t></r></is></c></row>' +
      '<row r="3"><c r="B3" t="str"><v>52020319380202125X</v></c><c s="1"><v>43011</v></c></row>' +
      '<row><c t="b"><v>1</v></c><c t="e"><v>#N/A</v></c></row>';
    const files = workbook(sheet, {
      'xl/sharedStrings.xml':
        '<?xml version="1.0"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>身份证号</t><rPh sb="0" eb="1"><t>ふりがな</t></rPh></si></sst>',
      'xl/styles.xml':
        '<?xml version="1.0"?><styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><numFmts count="1"><numFmt numFmtId="180" formatCode="yyyy&quot;年&quot;m&quot;月&quot;d&quot;日&quot;"/></numFmts><cellXfs count="2"><xf numFmtId="0"/><xf numFmtId="180"/></cellXfs></styleSheet>',
    }, 'worksheets/data.xml');
    const path = join(dir, 'handmade.xlsx');
    writeFileSync(path, zip(files, { deflate: true }));
    const rows = await readAll(path);
    expect(rows.map((r) => [r.rowNo, r.cells])).toEqual([
      [1, ['姓名', '身份证号', '认定日期']],
      [3, ['', '52020319380202125X', '2017-10-03']],
      [4, ['TRUE', '#N/A']],
    ]);
    expect(rows[1]!.numeric).toBeUndefined(); // a date-formatted number is a date, not a damaged number
  });

  it('refuses a zip that is not a workbook, and corrupt XML, with a message staff can act on', async () => {
    const notBook = join(dir, 'not-book.xlsx');
    writeFileSync(notBook, zip({ 'readme.txt': 'hello' }));
    await expect(xlsxReader(notBook)).rejects.toMatchObject({ code: 'xlsx_corrupt' });

    const broken = join(dir, 'broken.xlsx');
    writeFileSync(broken, zip(workbook('<row><c><v>1</v></row>')));
    const err = await readAll(broken).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnreadableFileError);
    expect((err as UnreadableFileError).message).toMatch(/另存为/);

    const garbage = join(dir, 'garbage.xlsx');
    writeFileSync(garbage, Buffer.concat([Buffer.from('PK\x03\x04'), Buffer.alloc(200, 7)]));
    await expect(xlsxReader(garbage)).rejects.toMatchObject({ code: 'xlsx_corrupt' });
  });

  it('refuses a zip bomb before inflating it', async () => {
    const huge = '<row><c><v>0</v></c></row>'.repeat(2_000_000); // ~50 MB of repetition, a few hundred KB packed
    const path = join(dir, 'bomb.xlsx');
    writeFileSync(path, zip(workbook(huge), { deflate: true }));
    const err = await readAll(path).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'xlsx_too_large' });
  });
});

describe('XLSX top rows (the header search)', () => {
  it('gives the first rows, the same as a full read, and stops there', async () => {
    const wb = new ExcelJS.Workbook();
    const ws = wb.addWorksheet('名册');
    ws.getRow(1).values = ['姓名', '身份证号'];
    for (let r = 2; r <= 5000; r++) ws.getRow(r).values = [`姓名${r}`, `5202031938020${String(r).padStart(5, '0')}`];
    const path = join(dir, 'top.xlsx');
    await wb.xlsx.writeFile(path);
    const all = await readAll(path);
    const top: SheetRow[] = [];
    const chunks: number[] = [];
    for await (const chunk of (await xlsxReader(path)).chunks(50)) {
      top.push(...chunk);
      chunks.push(chunk.length);
    }
    expect(chunks).toEqual([50]);
    expect(top).toEqual(all.slice(0, 50));
  });
});
