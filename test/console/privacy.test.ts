/**
 * Unmasking on the person and review pages (issue 19): a role that may not unmask (viewer,
 * caseworker: server/users.ts) asking with `?unmask=1` gets 403, a Chinese page, and an
 * audit row; a supervisor must give a reason, and each unmasked view is audited with it.
 * Synthetic sample county only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { syncInProcess } from '../../src/jobs/local.js';
import { maskIdNumber } from '../../src/privacy.js';
import { consoleRig, type ConsoleRig } from '../helpers/console.js';
import { SAMPLE_INBOX } from '../helpers/sample.js';

const FULL_ID = /\b\d{17}[\dX]\b/;

describe('console: unmasking id numbers', () => {
  let rig: ConsoleRig;
  let person: { id: number; id_number: string };
  let row: { delivery_id: number; row_no: number };

  const entries = (action: string, actor: string) =>
    rig.db.store.k.selectFrom('audit_log').select(['subject', 'detail']).where('action', '=', action).where('actor', '=', actor).orderBy('id').execute();

  beforeAll(async () => {
    rig = await consoleRig({ prepare: (app) => syncInProcess(app, { inbox: SAMPLE_INBOX, requestedBy: 'test' }).then(() => undefined) });
    const p = await rig.db.store.k.selectFrom('person').select(['id', 'id_number']).where('id_number', 'is not', null).where('retired_at', 'is', null).orderBy('id').executeTakeFirstOrThrow();
    person = { id: p.id, id_number: p.id_number! };
    row = await rig.db.store.k.selectFrom('row_link').select(['delivery_id', 'row_no']).where('state', '=', 'review').executeTakeFirstOrThrow();
  }, 120_000);
  afterAll(() => rig?.close());

  it('refuses a viewer who asks to unmask, in Chinese, with 403, and audits the attempt', async () => {
    const viewer = await rig.as('viewer');
    const before = (await entries('unmask_refused', 'viewer1')).length;
    const r = await viewer.get(`/persons/${person.id}?unmask=1`);
    expect(r.statusCode).toBe(403);
    expect(r.headers['content-type']).toContain('text/html');
    expect(r.body).toContain('无权查看完整身份证号');
    expect(r.body).toContain('此次请求已记入审计日志');
    expect(r.body).not.toMatch(FULL_ID);
    // with a reason too, and on the review page (registered before the refusal)
    expect((await viewer.get(`/persons/${person.id}?unmask=1&reason=${encodeURIComponent('核对报销')}`)).statusCode).toBe(403);
    const review = await viewer.get(`/review/${row.delivery_id}/${row.row_no}?unmask=1`);
    expect(review.statusCode).toBe(403);
    expect(review.body).not.toMatch(FULL_ID);
    const refused = await entries('unmask_refused', 'viewer1');
    expect(refused.slice(before).map((e) => e.subject)).toEqual([`person:${person.id}`, `person:${person.id}`, `row:${row.delivery_id}:${row.row_no}`]);
    // nothing was unmasked
    expect(await entries('unmask', 'viewer1')).toEqual([]);
    // without asking, the page is there, masked
    const plain = await viewer.get(`/persons/${person.id}`);
    expect(plain.statusCode).toBe(200);
    expect(plain.body).toContain(maskIdNumber(person.id_number));
    expect(plain.body).not.toContain('查看完整身份证号的理由');
  });

  it('refuses a caseworker too (id numbers in full are for supervisors), audited', async () => {
    const r = await (await rig.as('caseworker')).get(`/persons/${person.id}?unmask=1&reason=x`);
    expect(r.statusCode).toBe(403);
    expect(r.body).not.toMatch(FULL_ID);
    expect((await entries('unmask_refused', 'caseworker1')).map((e) => e.subject)).toEqual([`person:${person.id}`]);
  });

  it('asks a supervisor for a reason before unmasking, and unmasks nothing without one', async () => {
    const sup = await rig.as('supervisor');
    const page = await sup.get(`/persons/${person.id}`);
    expect(page.body).toMatch(/<form method="get" action="\/persons\/\d+" class="form-row unmask">/);
    expect(page.body).toContain('<input type="hidden" name="unmask" value="1" />');
    expect(page.body).toMatch(/<input id="unmask-reason" name="reason" required minlength="2"/);
    const noReason = await sup.get(`/persons/${person.id}?unmask=1`);
    expect(noReason.statusCode).toBe(200);
    expect(noReason.body).not.toMatch(FULL_ID);
    expect(noReason.body).toContain('请填写查看完整身份证号的理由');
    expect(await entries('unmask', 'supervisor1')).toEqual([]);
  });

  it('unmasks for a supervisor with a reason, and audits the view with the reason (scrubbed)', async () => {
    const sup = await rig.as('supervisor');
    const r = await sup.get(`/persons/${person.id}?unmask=1&reason=${encodeURIComponent('核对报销')}`);
    expect(r.statusCode).toBe(200);
    expect(r.body).toContain(person.id_number);
    expect(r.body).toContain('正在显示完整身份证号（理由：核对报销');
    // a reason that holds an id number is kept masked in the log
    await sup.get(`/review/${row.delivery_id}/${row.row_no}?unmask=1&reason=${encodeURIComponent(`来电核对 ${person.id_number}`)}`);
    const log = await entries('unmask', 'supervisor1');
    expect(log.map((e) => [e.subject, (e.detail as { reason?: string }).reason])).toEqual([
      [`person:${person.id}`, '核对报销'],
      [`row:${row.delivery_id}:${row.row_no}`, `来电核对 ${maskIdNumber(person.id_number)}`],
    ]);
  });

  it('does not unmask from a link on another site', async () => {
    const sup = await rig.as('supervisor');
    const before = (await entries('unmask', 'supervisor1')).length;
    const r = await rig.server.inject({ url: `/persons/${person.id}?unmask=1&reason=${encodeURIComponent('核对报销')}`, headers: { cookie: sup.cookie, 'sec-fetch-site': 'cross-site' } });
    expect(r.statusCode).toBe(200);
    expect(r.body).not.toMatch(FULL_ID);
    expect((await entries('unmask', 'supervisor1')).length).toBe(before);
  });
});
