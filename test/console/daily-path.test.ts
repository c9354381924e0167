/**
 * The daily path of the outreach work (issue 19), through the console as its users click it,
 * on the sample county synced once: a caseworker sorts the worklist by amount owed, filters one
 * township, picks five persons, sends them down and exports the list; the township's staff
 * acknowledge the list and record a contact; the caseworker records 已支付 with an amount; and
 * 挽回金额 on 统计 shows it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import ExcelJS from 'exceljs';
import { syncInProcess } from '../../src/jobs/local.js';
import { countyToday } from '../../src/outreach/cases.js';
import { formatYuan } from '../../src/ingest/normalise/money.js';
import { addUser } from '../../src/server/users.js';
import { consoleRig, signIn, type ConsoleClient, type ConsoleRig } from '../helpers/console.js';
import { SAMPLE_INBOX } from '../helpers/sample.js';

const decode = (s: string) =>
  s.replace(/<[^>]*>/g, '').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&').replace(/\s+/g, ' ').trim();
/** the persons of a worklist page, in its order (the checkboxes' values) */
const personsListed = (body: string): number[] => [...body.matchAll(/name="person" value="(\d+)"/g)].map((m) => Number(m[1]));
const rowsOf = (body: string): string[][] =>
  [...body.matchAll(/<tr>([\s\S]*?)<\/tr>/g)].map((m) => [...m[1]!.matchAll(/<td[^>]*>([\s\S]*?)<\/td>/g)].map((c) => decode(c[1]!)));

describe('console: the daily path, caseworker to township and back', () => {
  let rig: ConsoleRig;
  let caseworker: ConsoleClient;
  let township: string;
  const k = () => rig.db.store.k;
  const recovered = async () => Number((await sql<{ s: string }>`select coalesce(sum(recovered), 0)::text as s from outreach_case where township = ${township}`.execute(k())).rows[0]!.s);

  beforeAll(async () => {
    rig = await consoleRig({ prepare: async (app) => void (await syncInProcess(app, { inbox: SAMPLE_INBOX, requestedBy: 'test' })) });
    caseworker = await rig.as('caseworker');
    township = (
      await sql<{ township: string }>`
        select township from outreach_case where status = 'pending' and township is not null
        group by 1 having count(distinct person_id) >= 5 order by count(distinct person_id) desc, 1 limit 1`.execute(k())
    ).rows[0]!.township;
  }, 120_000);
  afterAll(() => rig?.close());

  it('runs from the worklist to 挽回金额', async () => {
    // 1. the caseworker: by amount owed, one township, the five owed most
    const list = await caseworker.get(`/worklist?township=${encodeURIComponent(township)}&sort=owed&dir=desc`);
    expect(list.statusCode).toBe(200);
    const five = personsListed(list.body).slice(0, 5);
    expect(five).toHaveLength(5);
    const owed = (await sql<{ person_id: number }>`
      select person_id from outreach_case where township = ${township} and status = 'pending'
      group by 1 order by sum(amount) desc, 1 limit 5`.execute(k())).rows.map((r) => r.person_id);
    expect(new Set(five)).toEqual(new Set(owed));

    // 2. sends them down
    const sent = await rig.server.inject({
      method: 'POST', url: '/worklist/dispatch',
      payload: new URLSearchParams([['_csrf', caseworker.csrf], ['township', township], ...five.map((p): [string, string] => ['person', String(p)])]).toString(),
      headers: { cookie: caseworker.cookie, 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(sent.statusCode).toBe(303);
    const cases = await k().selectFrom('outreach_case').select(['id', 'person_id', 'status']).where('person_id', 'in', five).where('township', '=', township).execute();
    expect(cases.length).toBeGreaterThanOrEqual(5);
    expect(cases.every((c) => c.status === 'dispatched')).toBe(true);

    // 3. exports exactly that list: the five, on the sheet to print
    const xlsx = await caseworker.get(`/worklist.xlsx?township=${encodeURIComponent(township)}&status=dispatched`);
    expect(xlsx.statusCode).toBe(200);
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(xlsx.rawPayload as unknown as ArrayBuffer);
    const names = (await k().selectFrom('person').select('name').where('id', 'in', five).execute()).map((p) => p.name);
    const printed: unknown[] = [];
    wb.getWorksheet('打印名单')!.eachRow((row) => printed.push(row.getCell(3).value));
    for (const n of names) expect(printed).toContain(n);

    // 4. the township's staff acknowledge the list and record a contact
    await addUser(rig.db.store, 'township1', 'township-password-1', 'township', township);
    const tw = await signIn(rig.server, 'township1', 'township-password-1', '/worklist');
    expect(new Set(personsListed((await tw.get('/worklist')).body))).toEqual(new Set(five));
    const received = await rig.server.inject({
      method: 'POST', url: '/worklist/receive',
      payload: new URLSearchParams([['_csrf', tw.csrf], ...five.map((p): [string, string] => ['person', String(p)])]).toString(),
      headers: { cookie: tw.cookie, 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(received.statusCode).toBe(303);
    const one = cases[0]!.id;
    expect((await tw.post(`/cases/${one}`, { to: 'contacted', note: '已电话联系本人，告知可申请' })).statusCode).toBe(303);
    expect((await k().selectFrom('outreach_case').select('status').where('id', '=', one).executeTakeFirstOrThrow()).status).toBe('contacted');

    // 5. the caseworker records 已支付 with its amount, in one action
    const before = await recovered();
    const paid = await caseworker.post(`/cases/${one}`, { to: 'paid', amount: '1234.56', paid_on: countyToday(), note: '已发放' });
    expect(paid.statusCode, paid.body.slice(0, 300)).toBe(303);
    const events = await k().selectFrom('case_event').select(['actor', 'to_status']).where('case_id', '=', one).orderBy('id').execute();
    expect(events.map((e) => e.to_status)).toEqual(['pending', 'dispatched', 'received', 'contacted', 'applied', 'paid']);
    expect(events.find((e) => e.to_status === 'contacted')!.actor).toBe('console:township1');

    // 6. 挽回金额 on 统计 counts it
    expect(await recovered()).toBe(before + 123456);
    const stats = await caseworker.get(`/stats?township=${encodeURIComponent(township)}`);
    const total = rowsOf(stats.body).find((c) => c[0] === township && c.length === 14)!;
    expect(total.at(-1)).toBe(formatYuan(before + 123456));
  });
});
