/**
 * One streaming pass over a delivered file before anything is parsed: its content
 * hash (a delivery's identity), its size, what kind of file it really is (by its
 * bytes, not its name), and for text its encoding, checked over the whole file.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { isUtf8 } from 'node:buffer';
import { TextDecoder } from 'node:util';

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

/** Bytes at the end of `b` that may start a UTF-8 sequence continuing in the next chunk. */
function incompleteTail(b: Buffer): number {
  for (let back = 1; back <= Math.min(3, b.length); back++) {
    const c = b[b.length - back]!;
    if ((c & 0xc0) === 0x80) continue; // continuation byte: keep looking for the lead
    const need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
    return need > back ? back : 0;
  }
  return 0;
}

export async function inspectFile(path: string): Promise<Inspection> {
  const hash = createHash('sha256');
  let size = 0;
  let head: Buffer | undefined;
  let text = true;
  let utf8 = true;
  let carry: Buffer | undefined;
  let sawNul = false;

  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    size += chunk.length;
    if (!head) {
      head = Buffer.from(chunk.subarray(0, 8));
      if (isZip(head) || isPdf(head) || isOle(head)) text = false; // only the hash is needed
    }
    if (!text) continue;
    if (!sawNul && chunk.includes(0)) sawNul = true;
    if (utf8) {
      const bytes = carry ? Buffer.concat([carry, chunk]) : chunk;
      const tail = incompleteTail(bytes);
      utf8 = isUtf8(bytes.subarray(0, bytes.length - tail));
      carry = tail ? Buffer.from(bytes.subarray(bytes.length - tail)) : undefined;
    }
  }
  const digest = hash.digest('hex');
  const result = (kind: FileKind): Inspection => ({ hash: digest, size, kind });

  if (size === 0 || !head) return result({ format: 'unsupported', reason: 'empty' });
  if (isZip(head)) return result({ format: 'xlsx' }); // the XLSX reader says if it is not a workbook
  if (isPdf(head)) return result({ format: 'unsupported', reason: 'pdf' });
  if (isOle(head)) return result({ format: 'unsupported', reason: 'xls' });
  if (sawNul) return result({ format: 'unsupported', reason: 'binary' });
  if (carry) utf8 = false; // a sequence cut off at the very end
  const bom = UTF8_BOM.every((b, i) => head![i] === b);
  if (utf8) return result({ format: 'csv', encoding: 'utf-8', bom });
  if (bom) return result({ format: 'unsupported', reason: 'encoding' }); // says UTF-8, is not
  if (await isGb18030(path)) return result({ format: 'csv', encoding: 'gb18030', bom: false });
  return result({ format: 'unsupported', reason: 'encoding' });
}

/** A second pass, only for files that are not UTF-8 (GBK and GB18030 exports). */
async function isGb18030(path: string): Promise<boolean> {
  const decoder = new TextDecoder('gb18030', { fatal: true });
  try {
    for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) decoder.decode(chunk, { stream: true });
    decoder.decode();
    return true;
  } catch {
    return false;
  }
}

const isZip = (b: Buffer) => b[0] === 0x50 && b[1] === 0x4b && (b[2] === 3 || b[2] === 5) && (b[3] === 4 || b[3] === 6);
const isPdf = (b: Buffer) => b.subarray(0, 5).toString('latin1') === '%PDF-';
const isOle = (b: Buffer) => b.length >= 8 && b.readUInt32BE(0) === 0xd0cf11e0 && b.readUInt32BE(4) === 0xa1b11ae1;
