/**
 * One streaming pass over a delivered file before anything is parsed: its content
 * hash (a delivery's identity), its size, what kind of file it really is (by its
 * bytes, not its name), and for text its encoding, checked over the whole file.
 */
import { TextDecoder } from 'node:util';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

export type TextEncoding = 'utf-8' | 'gb18030';

export type FileKind =
  | { format: 'csv'; encoding: TextEncoding; bom: boolean }
  | { format: 'xlsx' }
  | { format: 'unsupported'; reason: UnsupportedReason };

export type UnsupportedReason = 'empty' | 'pdf' | 'xls' | 'zip_not_xlsx' | 'binary' | 'encoding';

export interface Inspection {
  hash: string;
  size: number;
  kind: FileKind;
}

const UTF8_BOM = [0xef, 0xbb, 0xbf];

export async function inspectFile(path: string): Promise<Inspection> {
  const hash = createHash('sha256');
  let size = 0;
  let head: Buffer | undefined;
  let utf8: TextDecoder | undefined = new TextDecoder('utf-8', { fatal: true });
  let gb: TextDecoder | undefined = new TextDecoder('gb18030', { fatal: true });
  let sawNul = false;

  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    size += chunk.length;
    if (!head) {
      head = chunk.subarray(0, 8);
      if (isZip(head) || isPdf(head) || isOle(head)) utf8 = gb = undefined; // not text: only the hash is needed
    }
    if (!sawNul && (utf8 || gb) && chunk.includes(0)) sawNul = true;
    if (utf8) {
      try {
        utf8.decode(chunk, { stream: true });
      } catch {
        utf8 = undefined;
      }
    }
    // GB18030 is only needed when UTF-8 fails; keep checking until it does
    if (gb) {
      try {
        gb.decode(chunk, { stream: true });
      } catch {
        gb = undefined;
      }
    }
  }
  const digest = hash.digest('hex');
  const result = (kind: FileKind): Inspection => ({ hash: digest, size, kind });

  if (size === 0 || !head) return result({ format: 'unsupported', reason: 'empty' });
  if (isZip(head)) return result({ format: 'xlsx' }); // the XLSX reader says if it is not a workbook
  if (isPdf(head)) return result({ format: 'unsupported', reason: 'pdf' });
  if (isOle(head)) return result({ format: 'unsupported', reason: 'xls' });
  if (sawNul) return result({ format: 'unsupported', reason: 'binary' });
  try {
    utf8?.decode();
  } catch {
    utf8 = undefined; // truncated sequence at the very end
  }
  const bom = UTF8_BOM.every((b, i) => head![i] === b);
  if (utf8) return result({ format: 'csv', encoding: 'utf-8', bom });
  if (bom) return result({ format: 'unsupported', reason: 'encoding' }); // says UTF-8, is not
  if (gb) return result({ format: 'csv', encoding: 'gb18030', bom: false });
  return result({ format: 'unsupported', reason: 'encoding' });
}

const isZip = (b: Buffer) => b[0] === 0x50 && b[1] === 0x4b && (b[2] === 3 || b[2] === 5) && (b[3] === 4 || b[3] === 6);
const isPdf = (b: Buffer) => b.subarray(0, 5).toString('latin1') === '%PDF-';
const isOle = (b: Buffer) => b.readUInt32BE(0) === 0xd0cf11e0 && b.readUInt32BE(4) === 0xa1b11ae1;
