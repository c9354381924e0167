/**
 * The console in a real browser, for the browser tests: the sample county synced into a
 * fresh database, a user of each role (`<role>1`, passwords as in console.ts), job workers,
 * the server on a port of its own and headless Chromium (playwright-core).
 *
 * Needs /usr/bin/chromium (apt-get install -y chromium), or CHROMIUM_PATH. Without it the
 * browser tests are skipped on a developer machine and fail in CI.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../../src/context.js';
import type { UserRole } from '../../src/db/schema.js';
import { syncInProcess } from '../../src/jobs/local.js';
import { BullRunner, startWorkers, type RunningWorkers } from '../../src/jobs/bull.js';
import { buildServer } from '../../src/server/app.js';
import { addUser, ROLES } from '../../src/server/users.js';
import { PASSWORD } from './console.js';
import { createTestDb, type TestDb } from './db.js';
import { testContext } from './context.js';
import { dropQueues, queueEnv } from './queues.js';
import { SAMPLE_INBOX } from './sample.js';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && process.env.CI) throw new Error(`Chromium is required in CI for the browser tests: apt-get install -y chromium (looked for ${CHROMIUM})`);

export interface BrowserRig {
  db: TestDb;
  app: AppContext;
  server: FastifyInstance;
  browser: Browser;
  /** http://localhost:<port> */
  base: string;
  /** a fresh browser profile (no cookies) at this width, Chinese locale, downloads allowed */
  newContext(viewport?: { width: number; height: number }): Promise<BrowserContext>;
  /** signs in on the login form as the user of this role and waits for the home page */
  signIn(page: Page, role: UserRole): Promise<void>;
  close(): Promise<void>;
}

export const usernameOf = (role: UserRole): string => `${role}1`;

export async function browserRig(): Promise<BrowserRig> {
  const env = queueEnv({ AIDLINK_INBOX: mkdtempSync(join(tmpdir(), 'aidlink-browser-inbox-')) });
  const db = await createTestDb({ poolSize: 30 });
  const app = testContext(db.store, env);
  // as the nightly sync would have brought the county in
  await syncInProcess(app, { inbox: SAMPLE_INBOX, requestedBy: 'schedule', report: true });
  for (const role of ROLES) await addUser(db.store, usernameOf(role), PASSWORD[role], role);
  const runner = await BullRunner.connect(app.config);
  const workers: RunningWorkers = await startWorkers(app, { concurrency: 1 });
  const server = await buildServer(app, runner);
  const address = await server.listen({ host: '127.0.0.1', port: 0 });
  // localhost: a secure context, where the Secure session cookie is kept over plain HTTP
  const base = address.replace('127.0.0.1', 'localhost');
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    // the browser's own words (a date field's 年/月/日) in Chinese, as on the staff's computers: on
    // Linux from LANGUAGE, with the Debian package chromium-l10n. Not LANG: a zh_CN locale this
    // machine lacks leaves Chinese file names of uploads and downloads unreadable to Chromium
    env: { ...Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined)), LANGUAGE: 'zh_CN' },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  return {
    db,
    app,
    server,
    browser,
    base,
    newContext: (viewport = { width: 1360, height: 900 }) => browser.newContext({ acceptDownloads: true, locale: 'zh-CN', viewport }),
    async signIn(page, role) {
      await page.goto(`${base}/login`);
      await page.fill('#username', usernameOf(role));
      await page.fill('#password', PASSWORD[role]);
      await page.click('button[type=submit]');
      await page.waitForURL(`${base}/`);
    },
    async close() {
      await browser.close();
      await server.close();
      await workers.stop(5_000);
      await runner.close();
      await dropQueues(env.AIDLINK_QUEUE_PREFIX!);
      await db.drop();
    },
  };
}
