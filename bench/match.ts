/**
 * npm run bench:match [-- --persons N] [--seed S]
 *
 * Generates a synthetic county (default 200,000 persons), ingests it into a fresh
 * PostgreSQL database, runs one full match, and reports rows linked per second for
 * the deterministic path (id numbers, 人员编号) and the scored path (rows without a
 * usable id), with pairwise precision and recall against the county's truth.
 */
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { generateCounty } from '../src/demo/generate.js';
import { openStore } from '../src/db/store.js';
import { migrateToLatest } from '../src/db/migrate.js';
import { loadMapping } from '../src/ingest/mapping.js';
import { ingestPath } from '../src/ingest/inbox.js';
import { defaultParseWorkers } from '../src/ingest/parse-pool.js';
import { runMatch } from '../src/match/run.js';
import { evaluatePairs } from '../src/match/evaluate.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const persons = arg('persons', 200_000);
const seed = arg('seed', 5);
const adminUrl = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const dbName = 'aidlink_bench_match';
const dbUrl = (() => {
  const u = new URL(adminUrl);
  u.pathname = `/${dbName}`;
  return u.toString();
})();
const fmt = (n: number) => Math.round(n).toLocaleString('en');
const since = (t: number) => (performance.now() - t) / 1000;

const out = join(root, 'bench', 'out', `county-${persons}`);
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
let t = performance.now();
const county = await generateCounty({ persons, seed, out });
console.log(`generated ${fmt(county.persons)} persons, ${fmt(county.rows)} rows in ${county.files} files (${since(t).toFixed(1)} s)`);

const admin = new pg.Client({ connectionString: adminUrl });
await admin.connect();
await admin.query(`drop database if exists ${dbName} with (force)`);
await admin.query(`create database ${dbName}`);
await admin.end();
const store = await openStore({ databaseUrl: dbUrl, poolSize: 4 });
await migrateToLatest(store);
t = performance.now();
await ingestPath(store, loadMapping(), join(out, 'inbox'), { parseWorkers: defaultParseWorkers() });
const ingestSeconds = since(t);
console.log(`ingested in ${ingestSeconds.toFixed(1)} s (${fmt(county.rows / ingestSeconds)} rows/s)`);

t = performance.now();
const { stats } = await runMatch(store, { scope: { kind: 'all' } });
const total = since(t);
const s = stats.seconds;
const deterministic = s.features + s.anchors + s.write;
const scored = s.weights + s.scoring;
console.log('');
console.log(`| path | rows | seconds | rows/s |`);
console.log(`|---|---|---|---|`);
console.log(`| deterministic (id number, 人员编号): name forms, keys, writing links and persons | ${fmt(stats.anchored)} | ${deterministic.toFixed(1)} | ${fmt(stats.anchored / deterministic)} |`);
console.log(`| scored (no usable id): weights, candidates, scoring | ${fmt(stats.scored)} | ${scored.toFixed(1)} | ${fmt(stats.scored / scored)} |`);
console.log(`| whole run | ${fmt(stats.rows)} | ${total.toFixed(1)} | ${fmt(stats.rows / total)} |`);
console.log(`\nsteps (s): ${JSON.stringify(s)}; ${fmt(stats.persons)} persons, ${fmt(stats.review)} rows in review`);

const truth = new Map(
  readFileSync(join(out, 'truth/rows.csv'), 'utf8').trim().split(/\r?\n/).slice(1).map((l) => {
    const [f, r, p] = l.split(',');
    return [`${f}#${r}`, p!] as const;
  }),
);
const links = await store.k.selectFrom('row_link').innerJoin('delivery', 'delivery.id', 'row_link.delivery_id').select(['delivery.file', 'row_link.row_no', 'row_link.person_id', 'row_link.state']).execute();
const e = evaluatePairs(truth, new Map(links.map((l) => [`${l.file}#${l.row_no}`, l.state === 'review' ? null : String(l.person_id)])));
console.log(`pairwise precision ${e.precision.toFixed(5)}, recall ${e.recall.toFixed(5)}, in review ${(100 * e.review / e.rows).toFixed(2)}% of rows`);
await store.close();
if (!process.argv.includes('--keep')) {
  rmSync(out, { recursive: true, force: true });
  const a = new pg.Client({ connectionString: adminUrl });
  await a.connect();
  await a.query(`drop database if exists ${dbName} with (force)`);
  await a.end();
}
