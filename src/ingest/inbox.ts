/** Ingesting a file or a whole inbox folder (`inbox/<source>/<file>`). */
import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { Store } from '../db/store.js';
import { ingestFile, type IngestOptions, type IngestOutcome } from './ingest.js';
import type { Mapping } from './mapping.js';
import { isSourceKey } from './sources.js';
import { createParsePool } from './parse-pool.js';

/** Lock files, hidden files and editor back-ups are never deliveries. */
function isCandidate(name: string): boolean {
  return !name.startsWith('.') && !name.startsWith('~$') && !name.endsWith('~') && name !== 'Thumbs.db' && name !== 'desktop.ini';
}

/** Every candidate file under `dir`, in path order. */
export async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    const entries = await readdir(d, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      if (!isCandidate(e.name)) continue;
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) out.push(p);
    }
  };
  await walk(dir);
  return out;
}

/**
 * The inbox root for a path given on the command line: the folder itself, or its
 * parent when the folder is a source folder (`inbox/civil`), so that delivery
 * names always read `civil/<file>`.
 */
export function inboxRootFor(path: string, isDir: boolean): string {
  const dir = isDir ? resolve(path) : dirname(resolve(path));
  if (isSourceKey(basename(dir))) return dirname(dir);
  return isDir ? dir : dirname(dir);
}

/** Ingests a file, or every file in a folder one after another; one outcome per file. */
export async function ingestPath(
  store: Store,
  mapping: Mapping,
  path: string,
  opts: IngestOptions & { onFile?: (file: string, index: number, total: number) => void; onOutcome?: (o: IngestOutcome) => void } = {},
): Promise<IngestOutcome[]> {
  const st = await stat(path);
  const files = st.isDirectory() ? await listFiles(path) : [path];
  const inboxRoot = opts.inboxRoot ?? inboxRootFor(path, st.isDirectory());
  // one parse pool for every file: workers start once
  const pool = opts.pool ?? createParsePool(mapping, opts.parseWorkers ?? 0);
  const outcomes: IngestOutcome[] = [];
  try {
    for (const [i, f] of files.entries()) {
      opts.onFile?.(f, i, files.length);
      const o = await ingestFile(store, mapping, f, { ...opts, inboxRoot, pool });
      opts.onOutcome?.(o);
      outcomes.push(o);
    }
  } finally {
    if (!opts.pool) await pool.close();
  }
  return outcomes;
}
