/**
 * The `aidlink` command as an operator runs it: a real process, on PostgreSQL and
 * on the embedded database, with the output formats the issue names.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTestDb, type TestDb } from './helpers/db.js';
import { readTruth, SAMPLE_INBOX } from './helpers/sample.js';

const BIN = fileURLToPath(new URL('../bin/aidlink.mjs', import.meta.url));

function aidlink(args: string[], env: Record<string, string | undefined>) {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: 'warn', CI: 'true', ...env },
    timeout: 120_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const truth = readTruth('files.csv');
const expectedCsv = (rows: Record<string, string>[]) =>
  rows.map((t) => `${t.file},${t.source},${t.as_of},${t.expected === 'accept' ? 'accepted' : 'quarantined'},${t.rows}`).sort();

describe('aidlink on PostgreSQL', () => {
  let db: TestDb;
  beforeAll(async () => {
    db = await createTestDb();
  });
  afterAll(() => db?.drop());

  it('ingests the inbox and lists every delivery as file,source,as_of,status,rows,rejected_rows,warnings', () => {
    const env = { DATABASE_URL: db.url };
    const ingest = aidlink(['ingest', SAMPLE_INBOX], env);
    expect(ingest.code, ingest.err).toBe(0);
    expect(ingest.out).toContain('55 file(s): 54 accepted, 1 quarantined, 0 rejected, 0 already delivered');

    const files = aidlink(['files', '--format', 'csv'], env);
    expect(files.code).toBe(0);
    const [header, ...lines] = files.out.trim().split('\n');
    expect(header).toBe('file,source,as_of,status,rows,rejected_rows,warnings');
    expect(lines.map((l) => l.split(',').slice(0, 5).join(',')).sort()).toEqual(expectedCsv(truth));
  });

  it('releases a quarantined snapshot and records who did', () => {
    const env = { DATABASE_URL: db.url };
    const held = truth.find((t) => t.expected === 'quarantine')!.file!;
    expect(aidlink(['quarantine', 'list'], env).out).toContain(held);
    const release = aidlink(['quarantine', 'release', held, '--by', '张科长'], env);
    expect(release.code, release.err).toBe(0);
    expect(release.out.trim()).toBe(`${held}: accepted`);
    expect(aidlink(['quarantine', 'list'], env).out).toContain('no quarantined deliveries');
  });

  it('explains problems by row and column, and fails clearly on a delivery that does not exist', () => {
    const env = { DATABASE_URL: db.url };
    const problems = aidlink(['problems', 'rural/防返贫监测和脱贫人口信息_2025年第1季度.xlsx', '--format', 'csv'], env);
    expect(problems.code).toBe(0);
    expect(problems.out.split('\n')[0]).toBe('file,sheet,row,severity,code,column,message');
    expect(problems.out).toContain('id_spreadsheet_damaged');
    const missing = aidlink(['problems', 'civil/nope.csv'], env);
    expect(missing.code).toBe(1);
    expect(missing.err).toBe('aidlink: no delivery civil/nope.csv; see `aidlink files`\n');
  });

  it('refuses bad configuration and bad arguments with a message and exit code 2', () => {
    const bad = aidlink(['files'], { DATABASE_URL: 'mysql://nope' });
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('DATABASE_URL: must start with postgres:// or postgresql://');
    const mappingFile = join(mkdtempSync(join(tmpdir(), 'aidlink-map-')), 'county.yaml');
    writeFileSync(mappingFile, 'sources:\n  civil:\n    fields:\n      nickname: [昵称]\n');
    const badMapping = aidlink(['files'], { DATABASE_URL: db.url, AIDLINK_MAPPING: mappingFile });
    expect(badMapping.code).toBe(2);
    expect(badMapping.err).toContain(`mapping file ${mappingFile}: sources.civil.fields: unknown field "nickname"`);
    const arg = aidlink(['ingest', SAMPLE_INBOX, '--source', 'housing'], { DATABASE_URL: db.url });
    expect(arg.code).not.toBe(0);
    expect(arg.err).toContain('must be one of civil, rural, disability, settlement');
  });
});

describe('aidlink on the embedded database', () => {
  it('ingests the sample with no DATABASE_URL, and a second run changes nothing', () => {
    const env = { AIDLINK_DATA_DIR: mkdtempSync(join(tmpdir(), 'aidlink-embedded-')) };
    const first = aidlink(['ingest', SAMPLE_INBOX], env);
    expect(first.code, first.err).toBe(0);
    const again = aidlink(['ingest', SAMPLE_INBOX], env);
    expect(again.out).toContain('55 file(s): 0 accepted, 0 quarantined, 0 rejected, 55 already delivered');
    const files = aidlink(['files', '--format', 'csv'], env);
    const lines = files.out.trim().split('\n').slice(1);
    expect(lines.map((l) => l.split(',').slice(0, 5).join(',')).sort()).toEqual(expectedCsv(truth));
  });
});
