/**
 * npm run bench:console [-- --section]   (LOG_LEVEL=warn to keep the server's request log out)
 *
 * The console at the worklist's scale (issue 19): a county of 50,000 open flags (30,000
 * persons; test/helpers/worklist-county.ts) on this machine's PostgreSQL. Measures the
 * server time of worklist pages (median of 5 after one to warm up), and of sending 1,000
 * cases down in one request, against the targets (300 ms a page, 1 s for 1,000
 * cases), as ratios. `--section` prints the markdown section `npm run bench` appends to
 * its report; without it, a plain table.
 */
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { migrateToLatest } from '../src/db/migrate.js';
import { openStore } from '../src/db/store.js';
import { BullRunner } from '../src/jobs/bull.js';
import { buildServer } from '../src/server/app.js';
import { addUser } from '../src/server/users.js';
import { testContext } from '../test/helpers/context.js';
import { dropQueues, queueEnv } from '../test/helpers/queues.js';
import { signIn, type ConsoleClient } from '../test/helpers/sign-in.js';
import { fillWorklistCounty, WORKLIST_COUNTY } from '../test/helpers/worklist-county.js';

const adminUrl = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const dbName = 'aidlink_bench_console';

const PAGE_TARGET_MS = 300;
const DISPATCH_TARGET_MS = 1000;

async function medianMs(c: ConsoleClient, url: string, times = 5): Promise<number> {
  const ms: number[] = [];
  for (let i = 0; i <= times; i++) {
    const t0 = performance.now();
    const r = await c.get(url);
    if (r.statusCode !== 200) throw new Error(`${url}: ${r.statusCode}`);
    if (i > 0) ms.push(performance.now() - t0);
  }
  return ms.sort((a, b) => a - b)[Math.floor(ms.length / 2)]!;
}

async function dispatchMs(server: FastifyInstance, c: ConsoleClient, persons: number): Promise<number> {
  const body = new URLSearchParams([['_csrf', c.csrf], ...Array.from({ length: persons }, (_, i): [string, string] => ['person', String(i + 1)])]).toString();
  const t0 = performance.now();
  const r = await server.inject({ method: 'POST', url: '/worklist/dispatch', payload: body, headers: { cookie: c.cookie, 'content-type': 'application/x-www-form-urlencoded' } });
  const ms = performance.now() - t0;
  if (r.statusCode !== 303 || !String(r.headers.location).includes(`moved=${persons}`)) throw new Error(`dispatch: ${r.statusCode} ${String(r.headers.location)}`);
  return ms;
}

// a database of its own, migrated, the county written into it; the server as the console runs it (fastify's inject)
const admin = new pg.Client({ connectionString: adminUrl });
await admin.connect();
await admin.query(`drop database if exists ${dbName} with (force)`);
await admin.query(`create database ${dbName}`);
const dbUrl = new URL(adminUrl);
dbUrl.pathname = `/${dbName}`;
const store = await openStore({ databaseUrl: dbUrl.toString(), poolSize: 8 });
await migrateToLatest(store);
const env = queueEnv({ AIDLINK_COOKIE_SECURE: 'false' });
const app = testContext(store, env);
const t0 = performance.now();
await fillWorklistCounty(app);
const filled = (performance.now() - t0) / 1000;
await addUser(store, 'caseworker1', 'caseworker-password-1', 'caseworker');
const runner = await BullRunner.connect(app.config);
const server = await buildServer(app, runner);
try {
  const caseworker = await signIn(server, 'caseworker1', 'caseworker-password-1');
  const pages: [string, string][] = [
    ['first page, by amount owed', '/worklist'],
    ['one township', '/worklist?township=%E9%95%873'],
    ['a category and a flag kind', '/worklist?category=dibao&kind=unclaimed'],
    ['the last page, oldest first', '/worklist?sort=oldest&page=600'],
  ];
  const rows: string[][] = [];
  for (const [what, url] of pages) {
    const ms = await medianMs(caseworker, url);
    rows.push([what, ms.toFixed(0), (ms / PAGE_TARGET_MS).toFixed(2)]);
  }
  const moved = await dispatchMs(server, caseworker, 1000);
  rows.push(['send 1,000 cases down (one request)', moved.toFixed(0), (moved / DISPATCH_TARGET_MS).toFixed(2), `${Math.round(1000 / (moved / 1000)).toLocaleString('en')} cases/s`]);

  const section = process.argv.includes('--section');
  const out = [
    section ? `## Console: the worklist at ${WORKLIST_COUNTY.cases.toLocaleString('en')} open flags (\`npm run bench:console\`)\n` : '',
    `${WORKLIST_COUNTY.persons.toLocaleString('en')} persons, ${WORKLIST_COUNTY.cases.toLocaleString('en')} open flags and cases in ${WORKLIST_COUNTY.townships} townships, written in ${filled.toFixed(1)} s; server time of the request (median of 5 after one to warm up; the dispatch once), and its ratio to the issue's target (300 ms a page, 1 s for 1,000 cases: below 1 is within it).\n`,
    '| request | ms | ÷ target | |',
    '|---|---:|---:|---|',
    ...rows.map((r) => `| ${r.join(' | ')}${r.length < 4 ? ' |' : ''} |`),
  ];
  process.stdout.write(out.join('\n') + '\n');
} finally {
  await server.close();
  await runner.close();
  await dropQueues(env.AIDLINK_QUEUE_PREFIX!);
  await store.close();
  await admin.query(`drop database if exists ${dbName} with (force)`);
  await admin.end();
}
