/**
 * npm run bench:ingest [-- --rows N] [--seed S]
 *
 * Generates one synthetic settlement CSV of N rows (default 500,000), then in the
 * same run measures
 *   1. `psql \copy` of the file into a plain table of text columns (the floor),
 *   2. aidlink's ingest of the same file (parse, normalise, COPY, finalise), in process,
 *   3. the `aidlink ingest` command under /usr/bin/time, for its wall time and peak RSS,
 * and prints rows per second for each and the ratio of 2 to 1. Timings are noisy on
 * a shared machine: compare ratios measured in one run, not numbers across runs.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { openStore } from '../src/db/store.js';
import { migrateToLatest } from '../src/db/migrate.js';
import { loadMapping } from '../src/ingest/mapping.js';
import { ingestFile } from '../src/ingest/ingest.js';
import { writeSettlementCsv } from '../tools/demo/generate.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const rows = arg('rows', 500_000);
const seed = arg('seed', 7);
const adminUrl = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

function dbUrl(name: string): string {
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return u.toString();
}

async function admin(sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: adminUrl });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

async function freshDatabase(name: string): Promise<string> {
  await admin(`drop database if exists ${name} with (force)`);
  await admin(`create database ${name}`);
  const store = await openStore({ databaseUrl: dbUrl(name), poolSize: 2 });
  await migrateToLatest(store);
  await store.close();
  return dbUrl(name);
}

const seconds = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e9;
const fmt = (n: number) => Math.round(n).toLocaleString('en');

async function main(): Promise<void> {
  const out = join(root, 'bench', 'out');
  mkdirSync(out, { recursive: true });
  const file = join(out, 'settlement', `医保结算明细_202601.csv`);
  mkdirSync(dirname(file), { recursive: true });
  let t0 = process.hrtime.bigint();
  await writeSettlementCsv(file, rows, seed);
  const size = readFileSync(file).length;
  console.log(`generated ${fmt(rows)} settlement rows (${(size / 1024 ** 2).toFixed(0)} MB) in ${seconds(t0).toFixed(1)} s`);

  // 1. the floor: psql \copy of the same bytes into a plain table of text columns
  const plainUrl = await freshDatabase('aidlink_bench_plain');
  const header = readFileSync(file, 'utf8').slice(0, 4096).replace(/^\ufeff/, '').split(/\r?\n/)[0]!.split(',');
  const cols = header.map((_, i) => `c${i + 1} text`).join(', ');
  spawnSync('psql', [plainUrl, '-qc', `create table plain_copy (${cols})`], { stdio: 'inherit' });
  t0 = process.hrtime.bigint();
  const copy = spawnSync('psql', [plainUrl, '-qc', `\\copy plain_copy from '${file}' with (format csv, header true)`], { encoding: 'utf8' });
  const copySeconds = seconds(t0);
  if (copy.status !== 0) throw new Error(`psql \\copy failed: ${copy.stderr}`);

  // 2. aidlink ingest, in process
  const ingestUrl = await freshDatabase('aidlink_bench_ingest');
  const store = await openStore({ databaseUrl: ingestUrl, poolSize: 2 });
  t0 = process.hrtime.bigint();
  const outcome = await ingestFile(store, loadMapping(), file, { inboxRoot: out });
  const ingestSeconds = seconds(t0);
  await store.close();
  if (outcome.outcome !== 'ingested' || outcome.delivery.row_count !== rows) {
    throw new Error(`ingest did not load every row: ${JSON.stringify(outcome.outcome === 'busy' ? outcome : outcome.delivery)}`);
  }

  // 3. the command, for wall time including start-up, and peak memory
  const cliUrl = await freshDatabase('aidlink_bench_cli');
  const timed = spawnSync('/usr/bin/time', ['-v', process.execPath, join(root, 'bin/aidlink.mjs'), 'ingest', file, '--inbox', out], {
    env: { ...process.env, DATABASE_URL: cliUrl, LOG_LEVEL: 'warn' },
    encoding: 'utf8',
  });
  const rssKb = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(timed.stderr)?.[1] ?? NaN);
  const wall = /Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)/.exec(timed.stderr)?.[1] ?? '?';

  const copyRate = rows / copySeconds;
  const ingestRate = rows / ingestSeconds;
  console.log('');
  console.log(`| measure | seconds | rows/s |`);
  console.log(`|---|---|---|`);
  console.log(`| psql \\copy into a plain table | ${copySeconds.toFixed(2)} | ${fmt(copyRate)} |`);
  console.log(`| aidlink ingest (in process) | ${ingestSeconds.toFixed(2)} | ${fmt(ingestRate)} |`);
  console.log(`| aidlink ingest (command, wall ${wall}) | | peak RSS ${(rssKb / 1024).toFixed(0)} MB |`);
  console.log('');
  console.log(`ratio aidlink / psql \\copy: ${(ingestRate / copyRate).toFixed(3)}`);

  for (const name of ['aidlink_bench_plain', 'aidlink_bench_ingest', 'aidlink_bench_cli']) await admin(`drop database if exists ${name} with (force)`);
  if (!process.argv.includes('--keep')) rmSync(file);
}

await main();
