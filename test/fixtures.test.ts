import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { relative } from 'node:path';
import { listFiles } from '../src/ingest/inbox.js';
import { SAMPLE_DIR, SHARED_SAMPLE_DIR } from './helpers/sample.js';

const digest = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');

async function manifest(dir: string): Promise<Record<string, string>> {
  return Object.fromEntries((await listFiles(dir)).map((p) => [relative(dir, p), digest(p)]));
}

describe('the vendored sample county', () => {
  it('holds the 55 deliveries and the truth files', async () => {
    const files = Object.keys(await manifest(SAMPLE_DIR));
    expect(files.filter((f) => f.startsWith('inbox/'))).toHaveLength(55);
    expect(files).toEqual(expect.arrayContaining(['truth/files.csv', 'truth/rows.csv', 'truth/spells.csv', 'truth/persons.csv']));
  });

  it.skipIf(!existsSync(SHARED_SAMPLE_DIR))('is identical to the shared original', async () => {
    expect(await manifest(SAMPLE_DIR)).toEqual(await manifest(SHARED_SAMPLE_DIR));
  });
});
