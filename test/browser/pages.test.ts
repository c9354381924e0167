/**
 * Every console page in a real browser, as every role, at a desk (1360 px) and on a phone
 * (390 px): no sideways scrolling on the phone, no script error, no Content-Security-Policy
 * violation, no request to another host, and no English word in what staff read. The
 * worklist, a case and the runs page are saved as screenshots: to docs/screenshots/ (shown in
 * docs/console.md) with AIDLINK_UPDATE_SCREENSHOTS=1, else to test-results/screenshots/pages/.
 *
 * Started by test/helpers/browser.ts (skipped without Chromium, except in CI).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import type { Page } from 'playwright-core';
import type { UserRole } from '../../src/db/schema.js';
import { CONSOLE_CSP } from '../../src/server/headers.js';
import { may, ROLES, type Permission } from '../../src/server/users.js';
import { browserRig, haveChromium, usernameOf, type BrowserRig } from '../helpers/browser.js';

const WIDTHS = [1360, 390] as const;
const PHONE = 390;
// the docs' copies change only when asked: each run's pages differ (times), and the PNGs are committed
const SHOTS = fileURLToPath(new URL(process.env.AIDLINK_UPDATE_SCREENSHOTS === '1' ? '../../docs/screenshots/' : '../../test-results/screenshots/pages/', import.meta.url));

/**
 * Latin words staff may read, compared in upper case (a file name ends in .xlsx): the kinds of
 * file they download, Excel being what they call a spreadsheet; ID; units of size; the
 * encodings a file page names (UTF-8, GBK, GB18030).
 */
const ALLOWED_WORDS = new Set(['XLSX', 'CSV', 'PDF', 'EXCEL', 'ID', 'KB', 'MB', 'GB', 'UTF', 'GBK']);

type Check = 'load' | 'overflow' | 'console' | 'csp' | 'host' | 'english';

/**
 * Failures in pages this test may not change (other work is under way in them), skipped by
 * the assertion: to be fixed in the page itself, then removed from here. `page` is a visit's
 * name; `words`, for the English check, are the only words skipped; no `width`: both widths.
 */
const KNOWN_ISSUES: { page: string; check: Check; words?: string[]; width?: number; reason: string }[] = [
];

// Run in the page, so written as text: the project is compiled without the DOM's types.
/** a violation is reported to the page, not always to the console */
const LISTEN_FOR_CSP = `
  window.cspViolations = [];
  document.addEventListener('securitypolicyviolation', (e) => window.cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));`;
interface Seen {
  scrollWidth: number;
  text: string;
  csp: string[];
}
/** What staff may see: folded parts opened, and the words of placeholders, tooltips and labels; a command shown as code is for copying as it is. */
const SEEN = `(() => {
  for (const d of document.querySelectorAll('details')) d.open = true;
  const said = Array.from(document.querySelectorAll('[placeholder], [title], [aria-label], img[alt]'), (el) => ['placeholder', 'title', 'aria-label', 'alt'].map((a) => el.getAttribute(a) || '').join('\\n'));
  const code = Array.from(document.querySelectorAll('code'), (el) => el.innerText).filter((c) => c.trim());
  let text = document.body.innerText + '\\n' + said.join('\\n');
  for (const c of code) text = text.split(c).join(' ');
  return { scrollWidth: document.documentElement.scrollWidth, text, csp: window.cspViolations || [] };
})()`;
const WIDEST = `(() => {
  const limit = document.documentElement.clientWidth;
  const name = (el) => el.tagName.toLowerCase() + (typeof el.className === 'string' && el.className.trim() ? '.' + el.className.trim().split(/\\s+/).join('.') : '');
  const out = Array.from(document.body.querySelectorAll('*')).filter((el) => el.getBoundingClientRect().right > limit + 0.5 && el.parentElement && el.parentElement.getBoundingClientRect().right <= limit + 0.5);
  return out.slice(0, 3).map((el) => name(el.parentElement) + ' > ' + name(el) + ' to ' + Math.round(el.getBoundingClientRect().right) + ' px').join('; ');
})()`;

interface Visit {
  /** a short name, for failures and KNOWN_ISSUES */
  name: string;
  path: string;
  permission: Permission;
  /** after the page has loaded (a form to submit, say) */
  then?: (page: Page) => Promise<void>;
}

interface Found {
  check: Check;
  detail: string;
  /** the English check: the word found */
  word?: string;
}

describe.skipIf(!haveChromium)('every console page, as every role, at a desk and on a phone', () => {
  let rig: BrowserRig;
  let visits: Visit[] = [];

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    rig = await browserRig();
    const k = rig.db.store.k;
    const person = await sql<{ id: number; name: string }>`
      select p.id, p.name from flag f join person p on p.id = f.person_id
      where f.withdrawn_at is null and p.name is not null order by f.id limit 1`.execute(k);
    const outreachCase = await k.selectFrom('outreach_case').select('id').orderBy('id').executeTakeFirstOrThrow();
    const delivery = await k.selectFrom('delivery').select('id').where('status', '=', 'accepted').orderBy('id').executeTakeFirstOrThrow();
    // and the file with the most problems: the delivery page at its fullest
    const worst = await k.selectFrom('row_problem').select('delivery_id as id').groupBy('delivery_id').orderBy((eb) => eb.fn.countAll(), 'desc').orderBy('delivery_id').executeTakeFirstOrThrow();
    // a review row and a run as their lists link them (their addresses are the pages' own)
    const context = await rig.newContext();
    const page = await context.newPage();
    await rig.signIn(page, 'viewer');
    await page.goto(`${rig.base}/review`);
    const reviewRow = await page.locator('main a[href^="/review/"]').first().getAttribute('href');
    await page.goto(`${rig.base}/runs`);
    const run = await page.locator('main a[href^="/runs/"]').first().getAttribute('href');
    await context.close();
    const { id: personId, name } = person.rows[0]!;
    if (!reviewRow || !run) throw new Error('the sample county has no review row or no run to visit');

    visits = [
      { name: '首页', path: '/', permission: 'view' },
      { name: '外展工作台', path: '/worklist', permission: 'view' },
      { name: '人员', path: `/persons/${personId}`, permission: 'view' },
      { name: '个案', path: `/cases/${outreachCase.id}`, permission: 'view' },
      { name: '身份核对', path: '/review', permission: 'view' },
      { name: '核对一条', path: reviewRow, permission: 'view' },
      { name: '数据文件', path: '/deliveries', permission: 'view' },
      { name: '一个文件', path: `/deliveries/${delivery.id}`, permission: 'view' },
      { name: '问题最多的文件', path: `/deliveries/${worst.id}`, permission: 'view' },
      { name: '报告', path: '/reports', permission: 'view' },
      { name: '作业', path: '/runs', permission: 'view' },
      { name: '一个作业', path: run, permission: 'view' },
      { name: '审计日志', path: '/audit', permission: 'audit' },
      { name: '统计', path: '/stats', permission: 'view' },
      {
        name: '人员查询',
        path: '/persons',
        permission: 'view',
        // a search with a result: the name of a flagged person
        then: async (p) => {
          await p.fill('#q', name);
          await Promise.all([p.waitForURL(/\/persons\/search$/), p.locator('form.search button[type=submit]').click()]);
          await p.locator(`main a[href="/persons/${personId}"]`).first().waitFor();
        },
      },
    ];
  }, 240_000);

  afterAll(async () => {
    await rig?.close();
  });

  /** Loads `path` (and does `then`) in `page`, and returns what is wrong on the page. */
  async function inspect(page: Page, width: number, visit: Pick<Visit, 'path' | 'then'>): Promise<Found[]> {
    const found: Found[] = [];
    const host = new URL(rig.base).host;
    const onConsole = (m: { type(): string; text(): string }) => {
      if (/Content[- ]Security[- ]Policy/i.test(m.text())) found.push({ check: 'csp', detail: m.text() });
      else if (m.type() === 'error') found.push({ check: 'console', detail: m.text() });
    };
    const onError = (e: Error) => found.push({ check: 'console', detail: e.message });
    const onRequest = (r: { url(): string }) => {
      const url = new URL(r.url());
      // data: and blob: URLs stay in the page
      if ((url.protocol === 'http:' || url.protocol === 'https:') && url.host !== host) found.push({ check: 'host', detail: r.url() });
    };
    page.on('console', onConsole);
    page.on('pageerror', onError);
    page.on('request', onRequest);
    try {
      const response = await page.goto(`${rig.base}${visit.path}`, { waitUntil: 'load' });
      // a page that did not load would pass every check below
      const h1 = await page.locator('main h1').count();
      if (response?.status() !== 200 || h1 !== 1) return [...found, { check: 'load', detail: `${visit.path}: HTTP ${response?.status()}, ${h1} h1` }];
      await visit.then?.(page);
      const seen = await page.evaluate<Seen>(SEEN);
      if (width === PHONE && seen.scrollWidth > PHONE) found.push({ check: 'overflow', detail: `${seen.scrollWidth} px wide: ${await widest(page)}` });
      for (const v of seen.csp) found.push({ check: 'csp', detail: v });
      for (const [word, where] of englishWords(seen.text)) found.push({ check: 'english', word, detail: `${word} (in “${where}”)` });
    } finally {
      page.off('console', onConsole);
      page.off('pageerror', onError);
      page.off('request', onRequest);
    }
    return found;
  }

  /** Latin words of two letters or more that are not allowed, once each, with a little of the line they stand in. */
  function englishWords(text: string): [string, string][] {
    // the test users' names are data staff chose, not the console's words
    const users = new Set(ROLES.map(usernameOf));
    const found = new Map<string, string>();
    // a file's own name and its sheets' are as the bureau named them (civil_20250131.csv, Sheet1);
    // the folder before it is the console's
    const data = text.replace(/[^\s/（）()“”：:，,]+\.(?:csv|xlsx|xls)\b/gi, '〔文件名〕').replace(/\bSheet\d+\b/g, '〔工作表〕');
    for (const line of data.split('\n')) {
      for (const m of line.matchAll(/[A-Za-z][A-Za-z0-9]*/g)) {
        const w = m[0];
        if (!/[A-Za-z]{2}/.test(w) || ALLOWED_WORDS.has(w.replace(/\d+$/, '').toUpperCase()) || users.has(w) || found.has(w)) continue;
        found.set(w, line.slice(Math.max(0, m.index - 12), m.index + w.length + 12).trim());
      }
    }
    return [...found];
  }

  // which known issues were met, and in how many page tests: one fixed is to be taken off the list
  const met = new Set<(typeof KNOWN_ISSUES)[number]>();
  let pageTests = 0;
  const isKnown = (visit: string, width: number, f: Found) => {
    const k = KNOWN_ISSUES.find((k) => k.page === visit && k.check === f.check && (k.width === undefined || k.width === width) && (!k.words || (f.word !== undefined && k.words.includes(f.word))));
    if (k) met.add(k);
    return k !== undefined;
  };

  for (const width of WIDTHS) {
    const roles: (UserRole | 'signed out')[] = ['signed out', ...ROLES];
    for (const role of roles) {
      it(`${width} px, ${role}`, async () => {
        const context = await rig.newContext({ width, height: 900 });
        // a violation is reported to the page, not always to the console
        await context.addInitScript(LISTEN_FOR_CSP);
        const page = await context.newPage();
        const failures: string[] = [];
        const record = (name: string, found: Found[]) => {
          for (const f of found) if (!isKnown(name, width, f)) failures.push(`${name} (${width} px, ${role}) ${f.check}: ${f.detail}`);
        };
        try {
          if (role === 'signed out') {
            record('登录', await inspect(page, width, { path: '/login' }));
          } else {
            await rig.signIn(page, role);
            const mine = visits.filter((v) => may(role, v.permission));
            expect(mine.length).toBeGreaterThan(10);
            for (const visit of mine) record(visit.name, await inspect(page, width, visit));
          }
        } finally {
          await context.close();
        }
        pageTests++;
        expect(failures).toEqual([]);
      });
    }
  }

  it('skips only known issues that are still there', () => {
    if (pageTests === 0) return; // the page tests were not run (vitest -t)
    const fixed = KNOWN_ISSUES.filter((k) => !met.has(k)).map((k) => `${k.page} ${k.check} ${k.words?.join(',') ?? ''}: fixed? take it off KNOWN_ISSUES`);
    expect(fixed).toEqual([]);
  });

  it('finds each fault it looks for, on a page made to have them', async () => {
    const context = await rig.newContext({ width: PHONE, height: 900 });
    await context.addInitScript(LISTEN_FOR_CSP);
    const page = await context.newPage();
    const probe = (body: string, csp?: string) => (route: { fulfill(r: { status: number; contentType: string; headers: Record<string, string>; body: string }): Promise<void> }) =>
      route.fulfill({ status: 200, contentType: 'text/html; charset=utf-8', headers: csp ? { 'content-security-policy': csp } : {}, body: `<!doctype html><body><main><h1>探针</h1>${body}</main></body>` });
    // served at the test server's own address; the other host is never reached
    await page.route('http://other.invalid/**', (route) => route.abort());
    await page.route(`${rig.base}/probe-csp`, probe('<script>document.title = "x"</script>', CONSOLE_CSP));
    await page.route(`${rig.base}/probe`, probe(`<pre>${'宽'.repeat(60)}</pre><p>Hello 世界 ID XLSX</p><details><summary>更多</summary>Folded</details><input placeholder="Search" /><code>aidlink explain-link</code><img src="http://other.invalid/x.png" /><script>console.error("错误"); throw new Error("出错")</script>`));
    const checks = async (path: string) => (await inspect(page, PHONE, { path })).map((f) => `${f.check}: ${f.detail.slice(0, 30)}`);
    // reported twice, to the console and to the page: each is enough
    const csp = await checks('/probe-csp');
    expect(csp).toContain('csp: script-src-elem inline');
    expect(csp.filter((f) => !f.startsWith('csp: '))).toEqual([]);
    const found = await checks('/probe');
    expect(found.map((f) => f.split(':')[0]).sort()).toEqual(['console', 'console', 'console', 'english', 'english', 'english', 'host', 'overflow']);
    // in the text, folded away, in a placeholder; not the allowed words, nor a command shown as code
    expect(found.filter((f) => f.startsWith('english')).map((f) => f.split(' ')[1])).toEqual(['Hello', 'Folded', 'Search']);
    expect(found).toContainEqual('english: Hello (in “Hello 世界 ID XLSX”)');
    await context.close();
  });

  it('saves the worklist, a case and the runs page at both widths as screenshots', async () => {
    const shots: [string, string][] = [
      ['worklist', '/worklist'],
      ['case', visits.find((v) => v.name === '个案')!.path],
      ['runs', '/runs'],
    ];
    for (const width of WIDTHS) {
      const context = await rig.newContext({ width, height: 900 });
      const page = await context.newPage();
      await rig.signIn(page, 'caseworker');
      for (const [name, path] of shots) {
        await page.goto(`${rig.base}${path}`);
        const file = join(SHOTS, `${name}-${width}.png`);
        // the worklist's first screen only: the whole list would make a large file
        await page.screenshot({ path: file, fullPage: name !== 'worklist' });
        // a PNG as wide as the window (the width is bytes 16–19 of its header)
        expect(readFileSync(file).readUInt32BE(16), file).toBe(width);
      }
      await context.close();
    }
  });
});

/** The outermost elements that stick out to the right (their parent does not), to say what overflows. */
const widest = (page: Page): Promise<string> => page.evaluate<string>(WIDEST);
