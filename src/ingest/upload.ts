/**
 * A file uploaded in the console goes where a sync would have found it: `inbox/<source>/`
 * under its own name, made safe. A different file of the same name is kept beside it
 * (名称（2）.csv); the same file again keeps its place, so ingest recognises it by its hash.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { copyFile, rename, stat } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { inspectFile } from './read/inspect.js';
import { isSourceKey } from './sources.js';

/**
 * The longest file name kept, in UTF-8 bytes: file systems allow 255, and a name kept
 * beside another of the same name gets a suffix such as （2）.
 */
export const MAX_NAME_BYTES = 200;

/** A file name safe to keep in the inbox: its own name, no folders, no control characters, not too long. */
export function safeFileName(name: string): { ok: true; name: string } | { ok: false; message: string } {
  const base = basename(name.replace(/\\/g, '/')).replace(/[\u0000-\u001f\u007f<>:"|?*]/g, '_').trim();
  if (!base || base === '.' || base === '..' || !['.csv', '.txt', '.xlsx'].includes(extname(base).toLowerCase())) {
    return { ok: false, message: '只接受 CSV 或 XLSX 文件（文件名以 .csv、.txt 或 .xlsx 结尾）' };
  }
  if (Buffer.byteLength(base, 'utf8') > MAX_NAME_BYTES) {
    return { ok: false, message: `文件名过长（最多约 ${Math.floor(MAX_NAME_BYTES / 3)} 个汉字或 ${MAX_NAME_BYTES} 个字母），请改短文件名（保留数据截至日期）后再上传` };
  }
  return { ok: true, name: base };
}

export interface Upload {
  /** the inbox root */
  inbox: string;
  /** the source the uploader chose (a SourceKey, unchecked) */
  source: string;
  /** the uploaded bytes, in a temporary file */
  tmp: string;
  /** the name the browser sent */
  filename: string;
}

/** Placed: the delivery's name relative to the inbox (`civil/civil_20261031.csv`) and its content hash. Refused: why, for staff. */
export type Placement = { ok: true; file: string; path: string; hash: string } | { ok: false; message: string };

/**
 * Checks an upload and moves it into the inbox. On a refusal nothing is moved: the caller
 * removes the temporary file.
 */
export async function placeUpload(u: Upload): Promise<Placement> {
  if (!isSourceKey(u.source)) return { ok: false, message: '请选择数据来源' };
  const safe = safeFileName(u.filename);
  if (!safe.ok) return safe;
  const name = safe.name;
  if ((await stat(u.tmp)).size === 0) return { ok: false, message: '文件是空的' };

  const { hash } = await inspectFile(u.tmp);
  const folder = join(u.inbox, u.source);
  mkdirSync(folder, { recursive: true });
  let dest = join(folder, name);
  for (let i = 2; existsSync(dest) && (await inspectFile(dest)).hash !== hash; i++) dest = join(folder, `${name.slice(0, -extname(name).length)}（${i}）${extname(name)}`);
  if (dirname(resolve(dest)) !== resolve(folder)) return { ok: false, message: '文件名不合法，请改名后再上传' };
  // the inbox may be on another file system
  await rename(u.tmp, dest).catch(() => copyFile(u.tmp, dest));
  return { ok: true, file: `${u.source}/${basename(dest)}`, path: dest, hash };
}
