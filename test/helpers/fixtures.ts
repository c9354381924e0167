/** Small delivery files written by tests, in every form the spec allows. */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import iconv from 'iconv-lite';
import { checkChar } from '../../src/ingest/normalise/id-number.js';

/** A synthetic id number with a valid check character: area 520203, the birth date, a sequence. */
export function makeId(birth: string, seq: number): string {
  const first17 = `520203${birth.replace(/-/g, '')}${String(seq).padStart(3, '0')}`;
  return first17 + checkChar(first17);
}

export interface CsvFixture {
  title?: string[];
  header: string[];
  rows: string[][];
  footer?: string[];
  delimiter?: ',' | '\t';
  encoding?: 'utf-8' | 'utf-8-bom' | 'gbk';
  eol?: '\n' | '\r\n';
}

function csvCell(v: string, delimiter: string): string {
  return v.includes(delimiter) || v.includes('"') || v.includes('\n') ? `"${v.replace(/"/g, '""')}"` : v;
}

export function csvText(f: CsvFixture): string {
  const d = f.delimiter ?? ',';
  const eol = f.eol ?? '\n';
  const lines = [...(f.title ?? []), f.header.join(d), ...f.rows.map((r) => r.map((c) => csvCell(c, d)).join(d)), ...(f.footer ?? [])];
  return lines.join(eol) + eol;
}

export function csvBytes(f: CsvFixture): Buffer {
  const text = csvText(f);
  switch (f.encoding ?? 'utf-8') {
    case 'utf-8':
      return Buffer.from(text, 'utf8');
    case 'utf-8-bom':
      return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text, 'utf8')]);
    case 'gbk':
      return iconv.encode(text, 'gbk');
  }
}

/** A fresh inbox folder; `put` writes a file under it and returns its path. */
export function inbox() {
  const root = mkdtempSync(join(tmpdir(), 'aidlink-inbox-'));
  return {
    root,
    put(relPath: string, content: Buffer | string | CsvFixture): string {
      const p = join(root, relPath);
      mkdirSync(dirname(p), { recursive: true });
      writeFileSync(p, typeof content === 'string' || Buffer.isBuffer(content) ? content : csvBytes(content));
      return p;
    },
  };
}

export const CIVIL_HEADER = ['姓名', '身份证号', '性别', '乡镇(街道)', '村(社区)', '联系电话', '保障类别', '认定日期', '保障状态'];

/** A civil roster row in CIVIL_HEADER order. */
export function civilRow(name: string, id: string, opts: Partial<Record<'gender' | 'phone' | 'category' | 'recognised' | 'status', string>> = {}): string[] {
  return [name, id, opts.gender ?? '', '郎岱镇', '沙坝村', opts.phone ?? '', opts.category ?? '低保对象', opts.recognised ?? '2020-01-15', opts.status ?? '在保'];
}

export const SETTLEMENT_HEADER = [
  '结算ID', '原结算ID', '人员编号', '姓名', '身份证号', '医疗类别', '就医地', '入院日期', '出院日期', '结算日期',
  '医疗费总额', '全自费金额', '符合政策范围金额', '统筹基金支付', '大病保险支付', '医疗救助支付', '结算方式',
];
