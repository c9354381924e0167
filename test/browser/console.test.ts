/**
 * The console in a real browser (headless Chromium driven by playwright-core), as a
 * caseworker uses it: sign in, upload a file and see its problems, review a link,
 * update a case, re-run matching and follow its progress, download a report. Every
 * main page is saved as a screenshot in test-results/screenshots/.
 *
 * Started by test/helpers/browser.ts (skipped without Chromium, except in CI).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { sql } from 'kysely';
import type { TestDb } from '../helpers/db.js';
import { browserRig, haveChromium, type BrowserRig } from '../helpers/browser.js';
import { PASSWORD } from '../helpers/console.js';
import { SAMPLE_INBOX } from '../helpers/sample.js';

const SHOTS = fileURLToPath(new URL('../../test-results/screenshots/', import.meta.url));

describe.skipIf(!haveChromium)('the console in a browser', () => {
  let rig: BrowserRig;
  let db: TestDb;
  let page: Page;
  let base: string;

  const shot = async (name: string) => {
    await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  };

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    rig = await browserRig();
    ({ db, base } = rig);
    page = await (await rig.newContext()).newPage();
    // irreversible buttons ask first: the caseworker agrees
    page.on('dialog', (d) => void d.accept());
  }, 240_000);

  afterAll(async () => {
    await rig?.close();
  });

  it('signs in', async () => {
    await page.goto(`${base}/`);
    expect(page.url()).toContain('/login');
    await shot('01-login');
    await page.fill('#username', 'caseworker1');
    await page.fill('#password', 'wrong-password');
    await page.click('button[type=submit]');
    await expect(page.locator('.notice.error').textContent()).resolves.toContain('用户名或密码不正确');
    await page.fill('#password', PASSWORD.caseworker);
    await page.click('button[type=submit]');
    await page.waitForURL(`${base}/`);
    expect(await page.locator('nav .user').textContent()).toContain('caseworker1（经办）');
    await shot('02-home');
  });

  it('uploads a file and shows its problems by row and column', async () => {
    // a settlement file with two damaged id numbers
    const original = readFileSync(join(SAMPLE_INBOX, 'settlement', '医保结算明细_202610.csv'), 'utf8').split('\n');
    const damaged = original.map((line, i) => (i === 2 || i === 5 ? line.replace(/,(\d{17})[\dX],/, ',$1Z,') : line));
    const file = join(mkdtempSync(join(tmpdir(), 'aidlink-upload-')), '医保结算明细_202611.csv');
    writeFileSync(file, damaged.join('\n'));

    await page.goto(`${base}/deliveries`);
    await shot('03-deliveries');
    await page.selectOption('#source', 'settlement');
    await page.setInputFiles('#file', file);
    await page.click('form.upload button[type=submit]');
    // the ingest job's page follows it, then opens the delivery
    await page.waitForURL(/\/deliveries\/\d+$/, { timeout: 60_000 });
    expect(await page.locator('h1').textContent()).toBe('医保结算明细_202611.csv');
    const problems = page.locator('table').filter({ hasText: '严重程度' }).locator('tbody tr');
    expect(await problems.count()).toBeGreaterThanOrEqual(2);
    expect(await problems.first().textContent()).toMatch(/证件号码/);
    await shot('04-delivery');
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('a[href$="quality.xlsx"]')]);
    expect(download.suggestedFilename()).toBe('数据质量_医保结算明细_202611.xlsx');
  });

  it('reviews a link: two records side by side, confirmed as the same person', async () => {
    await page.goto(`${base}/review`);
    await shot('05-review');
    await page.locator('main table tbody tr a[href^="/review/"]').first().click();
    await page.waitForURL(/\/review\/\d+\/\d+/);
    await shot('06-review-row');
    await page.locator('form[action$="/confirm"] button').first().click();
    await page.waitForURL(/\/review\?done=confirmed/);
    expect(await page.locator('.notice.ok').textContent()).toContain('已确认为同一人');
    const decisions = await db.store.k.selectFrom('match_decision').select(['kind', 'actor']).execute();
    expect(decisions).toEqual([expect.objectContaining({ actor: 'console:caseworker1' })]);
  });

  it('updates an outreach case and shows it in the history', async () => {
    await page.goto(`${base}/worklist`);
    await shot('07-worklist');
    await page.locator('main table tbody tr a[href^="/cases/"]').first().click();
    await page.waitForURL(/\/cases\/\d+$/);
    const caseId = Number(/\/cases\/(\d+)$/.exec(page.url())![1]);
    await page.selectOption('select[name=to]', 'dispatched');
    await page.fill('textarea[name=note]', '已通过乡镇下放');
    await page.locator('form[action$="/cases/' + caseId + '"] button[type=submit]').click();
    await page.waitForURL(new RegExp(`/cases/${caseId}\\?done=case`));
    expect(await page.locator('main').textContent()).toContain('已通过乡镇下放');
    await shot('08-case');
    const c = await db.store.k.selectFrom('outreach_case').select('status').where('id', '=', caseId).executeTakeFirstOrThrow();
    expect(c.status).toBe('dispatched');
  });

  it('re-runs matching from the console and follows its progress to the end', async () => {
    await page.goto(`${base}/runs`);
    await page.click('form[action="/runs/rematch"] button');
    await page.waitForURL(/\/runs\/assess\/rematch-/);
    await shot('09-run-progress');
    await page.locator('.badge', { hasText: '已完成' }).first().waitFor({ timeout: 90_000 });
    await shot('10-run-done');
    const runs = await sql<{ n: number }>`select count(*)::int as n from match_run`.execute(db.store.k);
    expect(runs.rows[0]!.n).toBeGreaterThanOrEqual(2);
  });

  it('downloads the report of newly eligible people as Excel', async () => {
    await page.goto(`${base}/reports`);
    await shot('11-reports');
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('a[href$=".xlsx"]').first().click()]);
    const path = await download.path();
    expect(readFileSync(path).subarray(0, 2).toString()).toBe('PK');
    expect(download.suggestedFilename()).toMatch(/^新增应救助人员_\d{8}-\d{6}_\d+\.xlsx$/);
    const audited = await db.store.k.selectFrom('audit_log').select('action').where('actor', '=', 'caseworker1').where('action', '=', 'download').execute();
    expect(audited.length).toBeGreaterThanOrEqual(1);
  });

  it('shows a person, the statistics and (to a supervisor) the audit log', async () => {
    const person = await sql<{ id: number }>`select person_id as id from flag where withdrawn_at is null and flag = 'unclaimed' order by id limit 1`.execute(db.store.k);
    await page.goto(`${base}/persons/${person.rows[0]!.id}`);
    expect(await page.locator('svg').count()).toBeGreaterThan(0);
    await shot('12-person');
    await page.goto(`${base}/stats`);
    await shot('13-metrics');
    await page.click('nav form[action="/logout"] button');
    await page.waitForURL(/\/login/);
    await page.fill('#username', 'supervisor1');
    await page.fill('#password', PASSWORD.supervisor);
    await page.click('button[type=submit]');
    await page.waitForURL(`${base}/`);
    await page.goto(`${base}/audit`);
    expect(await page.locator('main table tbody tr').count()).toBeGreaterThan(5);
    await shot('14-audit');
  });
});
