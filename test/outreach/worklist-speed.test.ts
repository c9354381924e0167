/**
 * The worklist at the scale (issue 19): a county with 50,000 open flags (30,000
 * persons, synthetic: helpers/worklist-county.ts) renders its worklist, sorted by
 * amount owed, filtered or not, on its first page or its last; sending 1,000 cases down in
 * one request moves, records and audits each. The server times are printed (the issue's
 * targets: 300 ms a page, 1 s for 1,000 cases), not asserted: a timer is no test on a
 * shared machine.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { consoleRig, type ConsoleClient, type ConsoleRig } from '../helpers/console.js';
import { listWorklist } from '../../src/outreach/worklist.js';
import { fillWorklistCounty, WORKLIST_COUNTY } from '../helpers/worklist-county.js';

const { persons: PERSONS, cases: CASES } = WORKLIST_COUNTY;

/** The server time of a request: the median of a few, after one to warm up. */
async function serverMs(c: ConsoleClient, url: string, times = 5): Promise<{ ms: number; body: string }> {
  let body = '';
  const ms: number[] = [];
  for (let i = 0; i <= times; i++) {
    const t0 = performance.now();
    const r = await c.get(url);
    const t = performance.now() - t0;
    expect(r.statusCode, r.body.slice(0, 200)).toBe(200);
    body = r.body;
    if (i > 0) ms.push(t);
  }
  ms.sort((a, b) => a - b);
  return { ms: ms[Math.floor(ms.length / 2)]!, body };
}

describe('the worklist at 50,000 open flags', () => {
  let rig: ConsoleRig;
  let caseworker: ConsoleClient;
  const k = () => rig.db.store.k;

  beforeAll(async () => {
    rig = await consoleRig({ prepare: fillWorklistCounty });
    caseworker = await rig.as('caseworker');
  }, 300_000);
  afterAll(() => rig?.close());

  it('lists 30,000 persons of 50,000 open flags, one row each, by amount owed', async () => {
    const all = await listWorklist(rig.db.store, { status: 'open' }, { sort: 'owed', dir: 'desc' }, { limit: 50 });
    expect(all.persons).toBe(PERSONS);
    expect(all.cases).toBe(CASES);
    expect(all.rows).toHaveLength(50);
    const owed = all.rows.map((r) => r.owed);
    expect(owed).toEqual([...owed].sort((a, b) => b - a));
  });

  it('renders the first page, a township, a category and the last page (server times printed)', async () => {
    const urls = ['/worklist', '/worklist?township=%E9%95%873', '/worklist?category=dibao&kind=unclaimed', '/worklist?sort=oldest&page=600'];
    const times: Record<string, number> = {};
    for (const url of urls) {
      const r = await serverMs(caseworker, url);
      times[url] = Math.round(r.ms);
      expect(r.body).toMatch(/共 \d+ 人/);
    }
    console.info('worklist server time (median of 5, ms):', times);
    // printed, not asserted: a timer is no test on a shared machine (the figure belongs to a bench)
    expect(Object.keys(times).length).toBe(4);
  });

  it('sends 1,000 cases down in one request, each recorded and audited (time printed)', async () => {
    const persons = Array.from({ length: 1000 }, (_, i) => String(i + 1));
    const body = new URLSearchParams([['_csrf', caseworker.csrf], ...persons.map((p): [string, string] => ['person', p])]).toString();
    const t0 = performance.now();
    const r = await rig.server.inject({ method: 'POST', url: '/worklist/dispatch', payload: body, headers: { cookie: caseworker.cookie, 'content-type': 'application/x-www-form-urlencoded' } });
    const ms = performance.now() - t0;
    console.info(`1,000 cases sent down in ${Math.round(ms)} ms`);
    expect(r.statusCode).toBe(303);
    expect(r.headers.location).toContain('moved=1000');
    const n = async (q: ReturnType<typeof sql<{ n: number }>>) => (await q.execute(k())).rows[0]!.n;
    expect(await n(sql<{ n: number }>`select count(*)::int as n from outreach_case where status = 'dispatched'`)).toBe(1000);
    expect(await n(sql<{ n: number }>`select count(*)::int as n from outreach_case where status = 'dispatched' and person_id > 1000`)).toBe(0);
    expect(await n(sql<{ n: number }>`select count(*)::int as n from case_event where to_status = 'dispatched' and from_status = 'pending'`)).toBe(1000);
    expect(await n(sql<{ n: number }>`select count(*)::int as n from audit_log where action = 'case_update'`)).toBe(1000);
  });

  it('sends a whole township down at once (every person the filter lists, on every page)', async () => {
    const township = '镇5';
    const pending = (await sql<{ n: number }>`select count(*)::int as n from outreach_case where township = ${township} and status = 'pending'`.execute(k())).rows[0]!.n;
    expect(pending).toBeGreaterThan(3000);
    const page = await caseworker.get(`/worklist?township=${encodeURIComponent(township)}`);
    expect(page.body).toContain('name="all" value="1"');
    const body = new URLSearchParams({ _csrf: caseworker.csrf, township, all: '1' }).toString();
    const t0 = performance.now();
    const r = await rig.server.inject({ method: 'POST', url: '/worklist/dispatch', payload: body, headers: { cookie: caseworker.cookie, 'content-type': 'application/x-www-form-urlencoded' } });
    const ms = performance.now() - t0;
    console.info(`${pending} cases of one township sent down in ${Math.round(ms)} ms`);
    expect(r.statusCode).toBe(303);
    expect(r.headers.location).toContain(`moved=${pending}`);
    const left = await sql<{ township: string; n: number }>`select township, count(*)::int as n from outreach_case where status = 'dispatched' group by 1`.execute(k());
    expect(left.rows.find((x) => x.township === township)?.n).toBe(pending + (await sql<{ n: number }>`select count(*)::int as n from outreach_case where township = ${township} and person_id <= 1000`.execute(k())).rows[0]!.n);
  });
});
