/** Where an uploaded file goes in the inbox, and under which name (src/ingest/upload.ts). */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadMapping } from '../../src/ingest/mapping.js';
import { UNSUPPORTED_MESSAGE } from '../../src/ingest/problems.js';
import { AUTO_SOURCE, chooseSource, MAX_NAME_BYTES, placeUpload, receivedMessage, safeFileName, type SourceFit, type Upload } from '../../src/ingest/upload.js';
import { CIVIL_HEADER, civilRow, csvText, makeId, SETTLEMENT_HEADER } from '../helpers/fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'aidlink-upload-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const inbox = join(dir, 'inbox');
const mapping = loadMapping();
let n = 0;
/** A temporary upload holding `text`. */
const tmpWith = (text: string) => {
  const p = join(dir, `tmp-${n++}`);
  writeFileSync(p, text);
  return p;
};
/** A civil roster with one person. */
const roster = (name: string, seq: number) => csvText({ header: CIVIL_HEADER, rows: [civilRow(name, makeId('1980-01-01', seq))] });
const upload = (u: Pick<Upload, 'source' | 'tmp' | 'filename'>) => placeUpload({ inbox, mapping, received: async () => undefined, ...u });

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
    const tmp = tmpWith(roster('张三', 1));
    const p = await upload({ source: 'civil', tmp, filename: 'civil_20261031.csv' });
    expect(p).toMatchObject({ ok: true, file: 'civil/civil_20261031.csv', source: 'civil', path: join(inbox, 'civil', 'civil_20261031.csv') });
    expect(p.ok && p.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(existsSync(tmp)).toBe(false);
    expect(readFileSync(join(inbox, 'civil', 'civil_20261031.csv'), 'utf8')).toContain('张三');
  });

  it('keeps the same file in its place, and a different one of the same name beside it', async () => {
    const again = await upload({ source: 'civil', tmp: tmpWith(roster('张三', 1)), filename: 'civil_20261031.csv' });
    expect(again).toMatchObject({ ok: true, file: 'civil/civil_20261031.csv' });
    const other = await upload({ source: 'civil', tmp: tmpWith(roster('李四', 2)), filename: 'civil_20261031.csv' });
    expect(other).toMatchObject({ ok: true, file: 'civil/civil_20261031（2）.csv' });
    const third = await upload({ source: 'civil', tmp: tmpWith(roster('王五', 3)), filename: 'civil_20261031.csv' });
    expect(third).toMatchObject({ ok: true, file: 'civil/civil_20261031（3）.csv' });
    expect(readdirSync(join(inbox, 'civil')).sort()).toEqual(['civil_20261031.csv', 'civil_20261031（2）.csv', 'civil_20261031（3）.csv']);
  });

  it('refuses an unknown source, a wrong kind of file and an empty file, moving nothing', async () => {
    const tmp = tmpWith('x\n');
    expect(await upload({ source: 'police', tmp, filename: 'a.csv' })).toEqual({ ok: false, message: '请选择数据来源' });
    expect(await upload({ source: 'rural', tmp, filename: 'a.pdf' })).toMatchObject({ ok: false, message: expect.stringContaining('只接受 CSV 或 XLSX') });
    expect(await upload({ source: 'rural', tmp: tmpWith(''), filename: 'a.csv' })).toEqual({ ok: false, message: '文件是空的' });
    expect(existsSync(tmp)).toBe(true);
    expect(existsSync(join(inbox, 'police'))).toBe(false);
    expect(existsSync(join(inbox, 'rural'))).toBe(false);
  });

  it('refuses a file whose header fits no source, leaving nothing behind', async () => {
    const tmp = tmpWith('甲,乙,丙\n1,2,3\n');
    const p = await upload({ source: AUTO_SOURCE, tmp, filename: 'unknown_20261031.csv' });
    expect(p).toMatchObject({ ok: false, message: expect.stringContaining('无法按表头识别来源') });
    expect(existsSync(tmp)).toBe(false);
    expect(readdirSync(dir).filter((f) => f.endsWith('.d'))).toEqual([]);
    expect(existsSync(join(inbox, 'settlement'))).toBe(false);
  });

  it('refuses a file that is not a table with the reason ingest gives, whatever the source chosen', async () => {
    for (const source of [AUTO_SOURCE, 'civil']) {
      const tmp = tmpWith('%PDF-1.4\n%âãÏÓ\n1 0 obj\n');
      expect(await upload({ source, tmp, filename: 'civil_20261031.csv' })).toEqual({ ok: false, message: UNSUPPORTED_MESSAGE.pdf });
      expect(existsSync(tmp)).toBe(false);
    }
  });

  it('reads a settlement file as one, by its header, and says a file received before was', async () => {
    const text = csvText({ header: SETTLEMENT_HEADER, rows: [] });
    const p = await upload({ source: AUTO_SOURCE, tmp: tmpWith(text), filename: '结算_202610.csv' });
    expect(p).toMatchObject({ ok: true, source: 'settlement', file: 'settlement/结算_202610.csv' });
    const received = { id: 7, receivedAt: new Date('2026-11-02T01:30:00Z') };
    const again = await placeUpload({ inbox, mapping, received: async () => received, source: AUTO_SOURCE, tmp: tmpWith(text), filename: '结算_202610.csv' });
    expect(again).toEqual({ ok: false, message: '这个文件已经收到过（2026年11月2日 09:30，第 7 批），不再重复导入', received });
    expect(receivedMessage(received)).toContain('第 7 批');
  });
});

describe('chooseSource', () => {
  const fit = (source: SourceFit['source'], fits: boolean, recognised: number, missing: string[] = []): SourceFit => ({ source, fits, recognised, missing });

  it('takes the chosen source when it fits, even if another fits too', () => {
    expect(chooseSource('civil', [fit('civil', true, 5), fit('death', true, 3)])).toEqual({ ok: true, source: 'civil' });
  });

  it('names the one source that fits when the chosen one does not', () => {
    const r = chooseSource('civil', [fit('settlement', true, 12), fit('civil', false, 3, ['救助类别', '认定日期'])], { civil: '民政', rural: '乡村振兴', disability: '残联', settlement: '医保结算明细', death: '卫健' });
    expect(r).toEqual({ ok: false, message: '这个文件的表头像是医保结算明细，请选择「医保结算明细」重新上传' });
  });

  it('asks for a choice when several fit, and names the closest and what each lacks when none does', () => {
    const several = chooseSource(AUTO_SOURCE, [fit('civil', true, 4), fit('death', true, 3)]);
    expect(several).toMatchObject({ ok: false, message: expect.stringMatching(/同时符合「民政救助对象名册」、「死亡人员名单」.*请选择来源/) });
    const none = chooseSource(AUTO_SOURCE, [fit('civil', false, 3, ['救助类别']), fit('death', false, 2, ['死亡时间']), fit('rural', false, 0)]);
    expect(none).toEqual({ ok: false, message: '无法按表头识别来源，最接近的是：「民政救助对象名册」缺少必需列「救助类别」；「死亡人员名单」缺少必需列「死亡时间」。请核对文件的列名，或选择来源后重新上传' });
  });
});
