/** The spec's synthetic sample county (a copy kept in test/fixtures), and its truth. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const SAMPLE_DIR = fileURLToPath(new URL('../fixtures/county-small/', import.meta.url));
export const SAMPLE_INBOX = SAMPLE_DIR + 'inbox';
/** The shared original the copy is taken from, when this checkout sits beside it. */
export const SHARED_SAMPLE_DIR = fileURLToPath(new URL('../../../shared/samples/county-small/', import.meta.url));

/** A small CSV reader for truth files (plain, unquoted, UTF-8). */
export function readTruth(name: string): Record<string, string>[] {
  const [head, ...lines] = readFileSync(SAMPLE_DIR + 'truth/' + name, 'utf8').trim().split(/\r?\n/);
  const cols = head!.split(',');
  return lines.map((l) => {
    const cells = l.split(',');
    return Object.fromEntries(cols.map((c, i) => [c, cells[i] ?? '']));
  });
}
