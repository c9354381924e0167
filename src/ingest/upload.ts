/**
 * A file uploaded in the console goes where a sync would have found it: `inbox/<source>/`
 * under its own name, made safe. Before it goes there it is checked as ingest would read
 * it: a file received before (its content hash) is not taken again, and the source is
 * the one the uploader chose or, asked to, the one the header shows — never a guess. A
 * file whose header does not fit the source is refused, saying which source it does fit,
 * and nothing is left in the inbox. A different file of the same name is kept beside
 * it (名称（2）.csv); the same file again keeps its place (a rejected delivery, retried).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { copyFile, mkdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve } from 'node:path';
import type { Kysely } from 'kysely';
import type { DB, SourceKey } from '../db/schema.js';
import { countyTime } from '../util/time.js';
import { findTable, NOT_RECEIVED } from './ingest.js';
import { mapColumns, recognisedCount } from './layout.js';
import type { Mapping } from './mapping.js';
import type { Problem } from './problems.js';
import { inspectFile, type Inspection } from './read/inspect.js';
import { FIELD_LABEL, isSourceKey, SOURCE_LABEL, SOURCES } from './sources.js';

/**
 * The longest file name kept, in UTF-8 bytes: file systems allow 255, and a name kept
 * beside another of the same name gets a suffix such as （2）.
 */
export const MAX_NAME_BYTES = 200;

/** The form's choice to take the source from the header. */
export const AUTO_SOURCE = 'auto';

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

/** A delivery already received: its number and when. */
export interface Received {
  id: number;
  receivedAt: Date;
}

/** The delivery this content was received as (deliveries are one per content hash; ingest.ts NOT_RECEIVED). */
export async function receivedBefore(k: Kysely<DB>, hash: string): Promise<Received | undefined> {
  const d = await k
    .selectFrom('delivery')
    .select(['id', 'received_at'])
    .where('content_hash', '=', hash)
    .where('status', 'not in', NOT_RECEIVED)
    .executeTakeFirst();
  return d && { id: d.id, receivedAt: d.received_at };
}

/** 这个文件已经收到过（2026年12月8日 08:46，第 12 批）: the batch is the delivery's number, as in /deliveries/12. */
export function receivedMessage(r: Received): string {
  const [y, m, d, hh, mm] = countyTime(r.receivedAt).split(/[- :]/);
  return `这个文件已经收到过（${y}年${Number(m)}月${Number(d)}日 ${hh}:${mm}，第 ${r.id} 批），不再重复导入`;
}

export interface Upload {
  /** the inbox root */
  inbox: string;
  /** the source the uploader chose (a SourceKey, unchecked), or AUTO_SOURCE */
  source: string;
  /** the uploaded bytes, in a temporary file */
  tmp: string;
  /** the name the browser sent */
  filename: string;
  mapping: Mapping;
  /** the delivery the content was received as, if any (receivedBefore) */
  received: (hash: string) => Promise<Received | undefined>;
  /** how the form names each source, to say which to choose (default: the sources' names) */
  choiceLabel?: Readonly<Record<SourceKey, string>> | undefined;
}

/**
 * Placed: the delivery's name relative to the inbox (`civil/civil_20261031.csv`), its source
 * and content hash. Refused: why, for staff, and the delivery when it was received before.
 */
export type Placement =
  | { ok: true; file: string; path: string; hash: string; source: SourceKey }
  | { ok: false; message: string; received?: Received };

/** How well a header fits one source, as ingest would read the file as that source. */
export interface SourceFit {
  source: SourceKey;
  /** every required column is there: ingest would take the file as this source */
  fits: boolean;
  /** header cells the source's best format knows; 0 when no header row was found */
  recognised: number;
  /** the required columns missing, by their Chinese names */
  missing: string[];
  /** why it cannot be read as this source otherwise (a file that cannot be read, formats that tie) */
  problem?: Problem;
}

/** Problems of the header, not of the file's bytes: the file is readable. */
const HEADER_CODES = new Set(['missing_required_column', 'header_not_found', 'profile_ambiguous', 'source_unknown']);

/**
 * Reads the header as each source would (findTable, the code ingest reads with: the same
 * column aliases and formats), best fitting first. A file that cannot be read at all gives
 * one entry with its problem.
 */
export async function recogniseSource(mapping: Mapping, path: string, inspection: Inspection): Promise<SourceFit[]> {
  const fits: SourceFit[] = [];
  for (const source of SOURCES) {
    const fit = await fitAs(mapping, path, inspection, source);
    if (fit.problem && !HEADER_CODES.has(fit.problem.code)) return [fit];
    fits.push(fit);
  }
  return fits.sort((a, b) => Number(b.fits) - Number(a.fits) || b.recognised - a.recognised || a.missing.length - b.missing.length);
}

/** How the header fits one source. */
async function fitAs(mapping: Mapping, path: string, inspection: Inspection, source: SourceKey): Promise<SourceFit> {
  const found = await findTable(path, inspection.kind, mapping, source, undefined);
  if (found.ok) return { source, fits: true, recognised: recognisedCount(found.table.headers, found.table.profile), missing: [] };
  if (found.header) {
    const { headers, profile } = found.header;
    return { source, fits: false, recognised: recognisedCount(headers, profile), missing: mapColumns(headers, profile).missing.map((m) => FIELD_LABEL[m.field]) };
  }
  return { source, fits: false, recognised: 0, missing: [], ...(found.problem.code === 'header_not_found' ? {} : { problem: found.problem }) };
}

/** The source to read the file as, or why none: from the choice and how the header fits each source. */
export function chooseSource(chosen: SourceKey | typeof AUTO_SOURCE, fits: readonly SourceFit[], choiceLabel: Readonly<Record<SourceKey, string>> = SOURCE_LABEL): { ok: true; source: SourceKey } | { ok: false; message: string } {
  const unreadable = fits.length === 1 && fits[0]!.problem && !HEADER_CODES.has(fits[0]!.problem.code) ? fits[0]!.problem : undefined;
  if (unreadable) return { ok: false, message: unreadable.message };
  const choose = (s: SourceKey) => `「${choiceLabel[s]}」`;
  const fitting = fits.filter((f) => f.fits);
  const noHeader = '前几十行中没有找到表头（表头行须含至少 3 个规定的列名）';
  const lacks = (f: SourceFit) => (f.recognised === 0 ? noHeader : `缺少必需列${f.missing.map((m) => `「${m}」`).join('、')}`);
  const misfit = (f: SourceFit) => `${choose(f.source)}${lacks(f)}`;
  // the closest sources that do not fit, and what each lacks
  const closest = (except?: SourceKey) => fits.filter((f) => !f.fits && f.recognised > 0 && f.source !== except).slice(0, 2);

  if (chosen !== AUTO_SOURCE) {
    const own = fits.find((f) => f.source === chosen)!;
    if (own.fits) return { ok: true, source: chosen };
    if (own.problem) return { ok: false, message: own.problem.message };
    if (fitting.length === 1) return { ok: false, message: `这个文件的表头像是${SOURCE_LABEL[fitting[0]!.source]}，请选择${choose(fitting[0]!.source)}重新上传` };
    if (fitting.length > 1) return { ok: false, message: `这个文件的表头不符合${choose(chosen)}（${lacks(own)}），而同时符合${fitting.map((f) => choose(f.source)).join('、')}，请选择正确的来源重新上传` };
    const others = closest(chosen);
    return {
      ok: false,
      message: `这个文件的表头不符合${choose(chosen)}：${lacks(own)}。` +
        (others.length ? `与其他来源也不符：${others.map(misfit).join('；')}。` : '') +
        '请核对文件的列名和来源后重新上传',
    };
  }
  if (fitting.length === 1) return { ok: true, source: fitting[0]!.source };
  if (fitting.length > 1) return { ok: false, message: `这个文件的表头同时符合${fitting.map((f) => choose(f.source)).join('、')}，无法自动识别，请选择来源后重新上传` };
  const near = closest();
  return {
    ok: false,
    message: near.length
      ? `无法按表头识别来源，最接近的是：${near.map(misfit).join('；')}。请核对文件的列名，或选择来源后重新上传`
      : `无法按表头识别来源：任何一种来源都${noHeader}。请确认文件内容后重新上传`,
  };
}

/**
 * Checks an upload and moves it into the inbox. The temporary file is read under its own
 * name (a format may be chosen by file name) in a folder of its own, removed on a refusal;
 * the caller removes the temporary file whatever happens.
 */
export async function placeUpload(u: Upload): Promise<Placement> {
  if (u.source !== AUTO_SOURCE && !isSourceKey(u.source)) return { ok: false, message: '请选择数据来源' };
  const chosen = u.source;
  const safe = safeFileName(u.filename);
  if (!safe.ok) return safe;
  const name = safe.name;
  if ((await stat(u.tmp)).size === 0) return { ok: false, message: '文件是空的' };

  const inspection = await inspectFile(u.tmp);
  const { hash } = inspection;
  const received = await u.received(hash);
  if (received) return { ok: false, message: receivedMessage(received), received };

  const folder = `${u.tmp}.d`;
  const named = join(folder, name);
  let placed = false;
  try {
    await mkdir(folder, { recursive: true });
    await rename(u.tmp, named);
    // a chosen source that fits needs no other read (a workbook is opened once per source tried)
    const own = chosen === AUTO_SOURCE ? undefined : await fitAs(u.mapping, named, inspection, chosen);
    const fits = own?.fits ? [own] : await recogniseSource(u.mapping, named, inspection);
    const choice = chooseSource(chosen, fits, u.choiceLabel);
    if (!choice.ok) return choice;
    const source = choice.source;

    const into = join(u.inbox, source);
    mkdirSync(into, { recursive: true });
    let dest = join(into, name);
    for (let i = 2; existsSync(dest) && (await inspectFile(dest)).hash !== hash; i++) dest = join(into, `${name.slice(0, -extname(name).length)}（${i}）${extname(name)}`);
    if (dirname(resolve(dest)) !== resolve(into)) return { ok: false, message: '文件名不合法，请改名后再上传' };
    // the inbox may be on another file system
    await rename(named, dest).catch(() => copyFile(named, dest));
    placed = true;
    return { ok: true, file: `${source}/${basename(dest)}`, path: dest, hash, source };
  } finally {
    await rm(folder, { recursive: true, force: true });
    if (!placed) await rm(u.tmp, { force: true });
  }
}
