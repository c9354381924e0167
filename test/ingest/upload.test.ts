/** Where an uploaded file goes in the inbox, and under which name (src/ingest/upload.ts). */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MAX_NAME_BYTES, placeUpload, safeFileName } from '../../src/ingest/upload.js';

const dir = mkdtempSync(join(tmpdir(), 'aidlink-upload-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const inbox = join(dir, 'inbox');
let n = 0;
/** A temporary upload holding `text`. */
const tmpWith = (text: string) => {
  const p = join(dir, `tmp-${n++}`);
  writeFileSync(p, text);
  return p;
};

describe('safeFileName', () => {
  it('keeps the name alone, without folders or characters a file system refuses', () => {
    expect(safeFileName('C:\\Users\\x\\civil_20261031.csv')).toEqual({ ok: true, name: 'civil_20261031.csv' });
    expect(safeFileName('../../etc/民政_20261031.xlsx')).toEqual({ ok: true, name: '民政_20261031.xlsx' });
    expect(safeFileName('a<b>:c|d?.csv')).toEqual({ ok: true, name: 'a_b__c_d_.csv' });
  });

  it('refuses other kinds of file, and names too long to keep', () => {
    for (const name of ['report.pdf', 'old.xls', '..', '', 'noext']) expect(safeFileName(name).ok, name).toBe(false);
    expect(safeFileName(`${'民'.repeat(Math.floor(MAX_NAME_BYTES / 3))}.csv`).ok).toBe(false);
    expect(safeFileName(`${'a'.repeat(MAX_NAME_BYTES - 4)}.csv`).ok).toBe(true);
  });
});

describe('placeUpload', () => {
  it('moves the file into inbox/<source>/ under its name', async () => {
    const tmp = tmpWith('姓名,身份证号\n张三,1\n');
    const p = await placeUpload({ inbox, source: 'civil', tmp, filename: 'civil_20261031.csv' });
    expect(p).toMatchObject({ ok: true, file: 'civil/civil_20261031.csv', path: join(inbox, 'civil', 'civil_20261031.csv') });
    expect(p.ok && p.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(existsSync(tmp)).toBe(false);
    expect(readFileSync(join(inbox, 'civil', 'civil_20261031.csv'), 'utf8')).toContain('张三');
  });

  it('keeps the same file in its place, and a different one of the same name beside it', async () => {
    const again = await placeUpload({ inbox, source: 'civil', tmp: tmpWith('姓名,身份证号\n张三,1\n'), filename: 'civil_20261031.csv' });
    expect(again).toMatchObject({ ok: true, file: 'civil/civil_20261031.csv' });
    const other = await placeUpload({ inbox, source: 'civil', tmp: tmpWith('姓名,身份证号\n李四,2\n'), filename: 'civil_20261031.csv' });
    expect(other).toMatchObject({ ok: true, file: 'civil/civil_20261031（2）.csv' });
    const third = await placeUpload({ inbox, source: 'civil', tmp: tmpWith('姓名,身份证号\n王五,3\n'), filename: 'civil_20261031.csv' });
    expect(third).toMatchObject({ ok: true, file: 'civil/civil_20261031（3）.csv' });
    expect(readdirSync(join(inbox, 'civil')).sort()).toEqual(['civil_20261031.csv', 'civil_20261031（2）.csv', 'civil_20261031（3）.csv']);
  });

  it('refuses an unknown source, a wrong kind of file and an empty file, moving nothing', async () => {
    const tmp = tmpWith('x\n');
    expect(await placeUpload({ inbox, source: 'police', tmp, filename: 'a.csv' })).toEqual({ ok: false, message: '请选择数据来源' });
    expect(await placeUpload({ inbox, source: 'rural', tmp, filename: 'a.pdf' })).toMatchObject({ ok: false, message: expect.stringContaining('只接受 CSV 或 XLSX') });
    expect(await placeUpload({ inbox, source: 'rural', tmp: tmpWith(''), filename: 'a.csv' })).toEqual({ ok: false, message: '文件是空的' });
    expect(existsSync(tmp)).toBe(true);
    expect(existsSync(join(inbox, 'police'))).toBe(false);
    expect(existsSync(join(inbox, 'rural'))).toBe(false);
  });
});
