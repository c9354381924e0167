/**
 * The identity review pages and the person page, on the sample county: what staff
 * see side by side, that id numbers stay masked unless a supervisor asks (audited),
 * who may decide, and that a decision is stored and audited.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { syncInProcess } from '../../src/jobs/local.js';
import { COMPARISON_LABEL } from '../../src/match/compare.js';
import { evidencePhrase, verdictOf } from '../../src/console/evidence-words.js';
import { formatYuan } from '../../src/ingest/normalise/money.js';
import { CATEGORY_LABEL } from '../../src/policy/policy.js';
import { maskIdNumber } from '../../src/privacy.js';
import { DONE_MESSAGE } from '../../src/console/layout.js';
import { consoleRig, type ConsoleRig } from '../helpers/console.js';
import { SAMPLE_INBOX } from '../helpers/sample.js';

/** A full 18-character id number anywhere in a page. */
const FULL_ID = /\b\d{17}[\dX]\b/;

interface ReviewRow {
  delivery_id: number;
  row_no: number;
  name: string | null;
  head_id_number: string | null;
  evidence: { total: number; probability: number; prior: number; evidence: { c: string; l: string; w: number }[] };
  candidates: { person_id: number; score: number; probability: number; evidence?: { c: string; l: string; w: number }[] }[];
}

describe('console: identity review and the person page', () => {
  let rig: ConsoleRig;
  let review: ReviewRow;
  let path: string;
  let best: { id: number; person_key: string; id_number: string | null };

  const decisions = async () => Number((await rig.db.store.k.selectFrom('match_decision').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
  const audited = async (where: { action: string; actor?: string; subject?: string }) => {
    let q = rig.db.store.k.selectFrom('audit_log').select((eb) => eb.fn.countAll<number>().as('n')).where('action', '=', where.action);
    if (where.actor) q = q.where('actor', '=', where.actor);
    if (where.subject) q = q.where('subject', '=', where.subject);
    return Number((await q.executeTakeFirstOrThrow()).n);
  };

  beforeAll(async () => {
    rig = await consoleRig({
      prepare: async (app) => {
        await syncInProcess(app, { inbox: SAMPLE_INBOX, requestedBy: 'test' });
      },
    });
    const rows = await sql<ReviewRow>`
      select l.delivery_id, l.row_no, s.name, s.head_id_number, l.evidence, l.candidates
      from row_link l join source_row s on s.delivery_id = l.delivery_id and s.row_no = l.row_no
      where l.state = 'review'`.execute(rig.db.store.k);
    // the sample county leaves exactly one row in review (docs/matching.md)
    expect(rows.rows).toHaveLength(1);
    review = rows.rows[0]!;
    path = `/review/${review.delivery_id}/${review.row_no}`;
    const bestId = review.candidates[0]!.person_id;
    best = await rig.db.store.k.selectFrom('person').select(['id', 'person_key', 'id_number']).where('id', '=', bestId).executeTakeFirstOrThrow();
  }, 120_000);
  afterAll(() => rig?.close());

  describe('身份核对', () => {
    it('lists exactly the rows waiting for review, each linking to its comparison', async () => {
      const r = await (await rig.as('viewer')).get('/review');
      expect(r.statusCode).toBe(200);
      const links = [...r.body.matchAll(/href="\/review\/(\d+)\/(\d+)"/g)].map((m) => `${m[1]}:${m[2]}`);
      expect(links).toEqual([`${review.delivery_id}:${review.row_no}`]);
      expect(r.body).toContain('共 <strong>1</strong> 条待人工核对');
      expect(r.body).toContain(`${(review.candidates[0]!.probability * 100).toFixed(1)}%`);
    });

    it('counts the rows waiting for review on the home page', async () => {
      const r = await (await rig.as('viewer')).get('/');
      expect(r.statusCode).toBe(200);
      expect(r.body).toMatch(/<a class="card" href="\/review"><div class="value">1<\/div><div class="label">待人工核对的记录<\/div><\/a>/);
    });

    it('shows the row and its candidates side by side, with the evidence in plain Chinese, masked for a caseworker', async () => {
      const r = await (await rig.as('caseworker')).get(path);
      expect(r.statusCode).toBe(200);
      expect(r.body).toContain('本条记录');
      expect(r.body).toContain(`href="/persons/${best.id}"`);
      expect(r.body).toContain('候选人员 1');
      expect(r.body).toContain(review.name!);
      // each comparison as a phrase (test/console/review-evidence.test.ts has the wording), not its weight
      for (const e of review.evidence.evidence) expect(r.body).toContain(evidencePhrase(e.c, e.l));
      expect(r.body).toContain(verdictOf(review.evidence.probability));
      expect(r.body).not.toContain('先验');
      expect(r.body).toContain(`概率 ${(review.evidence.probability * 100).toFixed(1)}%`);
      // the candidate's id number is there, masked; no full one anywhere
      expect(best.id_number).toMatch(FULL_ID);
      expect(r.body).toContain(maskIdNumber(best.id_number));
      expect(r.body).not.toMatch(FULL_ID);
      expect(r.body).not.toContain('显示完整身份证号');
      // a caseworker may decide
      expect(r.body).toContain(`action="${path}/confirm"`);
      expect(r.body).toContain(`action="${path}/reject"`);
      expect(r.body).toContain('决定立即生效');
    });

    it('sets every candidate\'s evidence side by side, says what split them, and lists the household\'s known members', async () => {
      const r = await (await rig.as('caseworker')).get(path);
      expect(review.candidates.length).toBeGreaterThan(0);
      for (const [i, c] of review.candidates.entries()) {
        expect(c.evidence?.length).toBeGreaterThan(0);
        expect(r.body).toContain(`候选人员 ${i + 1}（人员 ${c.person_id}）`);
      }
      // the comparisons whose level differs between candidates, named in Chinese
      const levels = (c: string) => new Set(review.candidates.map((x) => x.evidence?.find((e) => e.c === c)?.l ?? ''));
      const all = [...new Set(review.candidates.flatMap((x) => x.evidence!.map((e) => e.c)))];
      const split = all.filter((c) => levels(c).size > 1).map((c) => COMPARISON_LABEL[c as keyof typeof COMPARISON_LABEL][0]);
      if (review.candidates.length < 2) expect(r.body).toContain('只有一名候选人员');
      else if (split.length === 0) expect(r.body).toContain('现有信息区分不了他们');
      else expect(r.body).toContain(`能把候选人员区分开的是${split.join('、')}：`);
      expect(r.body).toContain('同户的已知成员');
    });

    it('lists the persons linked to the other rows of a row\'s household', async () => {
      // a rural row whose 户编号 is on rows of several persons
      const row = (await sql<{ delivery_id: number; row_no: number; household_no: string }>`
        select s.delivery_id, s.row_no, s.household_no from source_row s
        where s.source = 'rural' and s.household_no in (
          select s2.household_no from source_row s2 join row_link l on l.delivery_id = s2.delivery_id and l.row_no = s2.row_no
          where s2.household_no is not null and l.state = 'linked' group by 1 having count(distinct l.person_id) >= 3)
        order by s.delivery_id, s.row_no limit 1`.execute(rig.db.store.k)).rows[0]!;
      const members = await sql<{ person_id: number }>`
        select distinct l.person_id from source_row s join row_link l on l.delivery_id = s.delivery_id and l.row_no = s.row_no
        where l.state = 'linked' and s.household_no = ${row.household_no} and not (s.delivery_id = ${row.delivery_id} and s.row_no = ${row.row_no})`.execute(rig.db.store.k);
      expect(members.rows.length).toBeGreaterThanOrEqual(2);
      const r = await (await rig.as('caseworker')).get(`/review/${row.delivery_id}/${row.row_no}`);
      expect(r.statusCode).toBe(200);
      const section = r.body.slice(r.body.indexOf('同户的已知成员'), r.body.indexOf('已作的决定'));
      const listed = [...section.matchAll(/href="\/persons\/(\d+)"/g)].map((m) => Number(m[1])).sort((a, b) => a - b);
      expect(listed).toEqual(members.rows.map((m) => m.person_id).sort((a, b) => a - b));
    });

    it('stays masked for a supervisor who did not ask, with a link to unmask', async () => {
      const r = await (await rig.as('supervisor')).get(path);
      expect(r.statusCode).toBe(200);
      expect(r.body).not.toMatch(FULL_ID);
      expect(r.body).toContain(`<form method="get" action="${path}" class="form-row unmask">`);
      expect(r.body).toContain('显示完整身份证号');
      expect(await audited({ action: 'unmask' })).toBe(0);
    });

    it('shows full id numbers to a supervisor who asks with a reason, and audits it', async () => {
      const r = await (await rig.as('supervisor')).get(`${path}?unmask=1&reason=${encodeURIComponent('核对身份')}`);
      expect(r.statusCode).toBe(200);
      expect(r.body).toContain(best.id_number!);
      // the row has no id number of its own, but its head of household's
      expect(r.body).toContain(review.head_id_number!);
      expect(await audited({ action: 'unmask', actor: 'supervisor1', subject: `row:${review.delivery_id}:${review.row_no}` })).toBe(1);
    });

    it('refuses a caseworker who asks to unmask (403, audited as refused), and unmasks nothing', async () => {
      const r = await (await rig.as('caseworker')).get(`${path}?unmask=1`);
      expect(r.statusCode).toBe(403);
      expect(r.body).not.toMatch(FULL_ID);
      expect(await audited({ action: 'unmask', actor: 'caseworker1' })).toBe(0);
      expect(await audited({ action: 'unmask_refused', actor: 'caseworker1' })).toBe(1);
      expect((await (await rig.as('caseworker')).get(path)).body).toContain(maskIdNumber(best.id_number));
    });

    it('gives a viewer no buttons and refuses a decision posted by one', async () => {
      const viewer = await rig.as('viewer');
      const page = await viewer.get(path);
      expect(page.statusCode).toBe(200);
      expect(page.body).toContain(review.name!);
      expect(page.body).not.toContain(`${path}/confirm`);
      expect(page.body).not.toContain(`${path}/reject`);
      for (const action of ['confirm', 'reject']) {
        const r = await viewer.post(`${path}/${action}`, { person: String(best.id) });
        expect(r.statusCode).toBe(403);
        expect(r.body).toContain('权限不足');
      }
      expect(await decisions()).toBe(0);
    });

    it('refuses a decision posted without the CSRF token', async () => {
      const r = await (await rig.as('caseworker')).post(`${path}/confirm`, { person: String(best.id) }, { csrf: false });
      expect(r.statusCode).toBe(403);
      expect(await decisions()).toBe(0);
    });

    it('answers an impossible decision with a page in Chinese and changes nothing', async () => {
      const c = await rig.as('caseworker');
      const noPerson = await c.post(`${path}/reject`, { person: '99999999' });
      expect(noPerson.statusCode).toBe(400);
      expect(noPerson.body).toContain('无法记录该决定');
      const noField = await c.post(`${path}/confirm`, {});
      expect(noField.statusCode).toBe(400);
      expect(await decisions()).toBe(0);
    });

    it('records a caseworker confirming the row with its best candidate, audited, in effect at once, and queues the reassessment', async () => {
      const c = await rig.as('caseworker');
      const before = await rig.db.store.k.selectFrom('person').select(['row_count']).where('id', '=', best.id).executeTakeFirstOrThrow();
      const r = await c.post(`${path}/confirm`, { person: String(best.id) });
      expect(r.statusCode).toBe(303);
      expect(r.headers.location).toBe('/review?done=confirmed');
      const decisions = await rig.db.store.k.selectFrom('match_decision').selectAll().execute();
      expect(decisions).toHaveLength(1);
      expect(decisions[0]).toMatchObject({ kind: 'confirm', delivery_id: review.delivery_id, row_no: review.row_no, person_key: best.person_key, actor: 'console:caseworker1', revoked_at: null });
      const entries = await rig.db.store.k.selectFrom('audit_log').selectAll().where('action', '=', 'link_confirm').execute();
      expect(entries).toHaveLength(1);
      expect(entries[0]).toMatchObject({ actor: 'caseworker1', subject: `row:${review.delivery_id}:${review.row_no}`, detail: { person: best.id } });
      // the row is the person's now, and the person counts it
      const link = await rig.db.store.k.selectFrom('row_link').select(['person_id', 'state', 'method']).where('delivery_id', '=', review.delivery_id).where('row_no', '=', review.row_no).executeTakeFirstOrThrow();
      expect(link).toEqual({ person_id: best.id, state: 'linked', method: 'staff' });
      const after = await rig.db.store.k.selectFrom('person').select(['row_count']).where('id', '=', best.id).executeTakeFirstOrThrow();
      expect(after.row_count).toBe(before.row_count + 1);
      // spells, assessment and cases follow, on the queues
      const jobs = await rig.runner.list({ all: true });
      expect(jobs.some((j) => j.id.includes('reassess-') && j.name === 'outreach.update')).toBe(true);

      const list = await c.get('/review?done=confirmed');
      expect(list.body).toContain(DONE_MESSAGE.confirmed!);
      expect(list.body).toContain('共 <strong>0</strong> 条待人工核对');
      const detail = await c.get(path);
      expect(detail.body).toContain('已生效');
      expect(detail.body).not.toContain('待匹配完成后生效');
      expect(detail.body).toContain('console:caseworker1');
    });

    it('opens a linked row with its person and only the reject button', async () => {
      const linked = await rig.db.store.k.selectFrom('row_link').select(['delivery_id', 'row_no', 'person_id']).where('state', '=', 'linked').where('method', '=', 'id').orderBy('delivery_id').orderBy('row_no').executeTakeFirstOrThrow();
      const p = `/review/${linked.delivery_id}/${linked.row_no}`;
      const r = await (await rig.as('caseworker')).get(p);
      expect(r.statusCode).toBe(200);
      expect(r.body).toContain('已关联');
      expect(r.body).toContain(`href="/persons/${linked.person_id}"`);
      expect(r.body).toContain(`action="${p}/reject"`);
      expect(r.body).not.toContain(`action="${p}/confirm"`);
      expect(r.body).toContain('身份证号一致（确定性关联）');
      expect(r.body).not.toMatch(FULL_ID);
    });

    it('answers an unknown row with a 404 page in Chinese', async () => {
      const c = await rig.as('viewer');
      for (const url of ['/review/999999/1', '/review/x/1', '/review/1/99999999999']) {
        const r = await c.get(url);
        expect(r.statusCode, url).toBe(404);
        expect(r.body).toContain('没有这条记录');
      }
    });
  });

  describe('人员查询', () => {
    let person: { id: number; name: string; id_number: string; flagAmount: number; base: number };
    let spells: { category: string }[];

    beforeAll(async () => {
      // a person with current spells, settlements, and an open unclaimed flag
      const found = await sql<{ id: number; name: string; id_number: string; amount: number; base: number }>`
        select p.id, p.name, p.id_number, f.amount, e.base
        from flag f join person p on p.id = f.person_id join entitlement e on e.settlement_id = f.settlement_id
        where f.flag = 'unclaimed' and f.withdrawn_at is null and p.id_number is not null and p.name is not null
          and exists (select 1 from spell s where s.person_id = p.id and s.superseded_at is null)
        order by (select count(*) from spell s where s.person_id = p.id and s.superseded_at is null) desc, p.id
        limit 1`.execute(rig.db.store.k);
      const f = found.rows[0]!;
      person = { id: f.id, name: f.name, id_number: f.id_number, flagAmount: f.amount, base: f.base };
      spells = await rig.db.store.k.selectFrom('spell').select('category').where('person_id', '=', f.id).where('superseded_at', 'is', null).execute();
    });

    it('shows every section of a person, the timeline as SVG, amounts in yuan and no full id number', async () => {
      const r = await (await rig.as('caseworker')).get(`/persons/${person.id}`);
      expect(r.statusCode).toBe(200);
      for (const h of ['基本信息', '来源记录', '救助类别时段', '结算与测算', '标记', '外展个案']) expect(r.body).toContain(`<h2>${h}</h2>`);
      expect(r.body).toContain(person.name);
      expect(r.body).toContain(maskIdNumber(person.id_number));
      expect(r.body).not.toMatch(FULL_ID);

      const svg = /<svg[\s\S]*?<\/svg>/.exec(r.body)?.[0] ?? '';
      expect(svg).toContain('<rect');
      expect(svg.match(/<rect /g)).toHaveLength(spells.length);
      for (const s of spells) expect(svg).toContain(CATEGORY_LABEL[s.category as keyof typeof CATEGORY_LABEL]);
      // the CSP blocks inline styles: the chart draws with presentation attributes only
      expect(svg).not.toContain('style=');

      expect(r.body).toContain('未申请救助');
      expect(r.body).toContain(formatYuan(person.flagAmount));
      expect(r.body).toContain(formatYuan(person.base));
      expect(r.body).toContain('测算过程');
      expect(r.body).toContain('政策期间');
      // the same steps as a case page's (assess/steps.ts), from the settlement's amounts to the gap
      expect(r.body).toContain('进入医疗救助金额（救助基数）');
      expect(r.body).toContain('差额');
      expect(r.body).toMatch(/href="\/cases\/\d+"/);
      expect(r.body).toMatch(/href="\/deliveries\/\d+"/);
      expect(r.body).toMatch(/href="\/review\/\d+\/\d+"/);
      expect(r.body).not.toContain('显示完整身份证号');
    });

    it('shows the full id number to a supervisor who asks, and audits it', async () => {
      const sup = await rig.as('supervisor');
      const masked = await sup.get(`/persons/${person.id}`);
      expect(masked.body).not.toMatch(FULL_ID);
      expect(masked.body).toContain(`<form method="get" action="/persons/${person.id}" class="form-row unmask">`);
      const before = await audited({ action: 'unmask', subject: `person:${person.id}` });
      const r = await sup.get(`/persons/${person.id}?unmask=1&reason=${encodeURIComponent('核对报销')}`);
      expect(r.body).toContain(person.id_number);
      expect(await audited({ action: 'unmask', subject: `person:${person.id}` })).toBe(before + 1);
      // a caseworker asking is refused, and no unmask entry
      const cw = await (await rig.as('caseworker')).get(`/persons/${person.id}?unmask=1`);
      expect(cw.statusCode).toBe(403);
      expect(cw.body).not.toMatch(FULL_ID);
      expect(await audited({ action: 'unmask', subject: `person:${person.id}` })).toBe(before + 1);
    });

    it('finds the person by name, by person id and by full id number, with id numbers masked in the list', async () => {
      const c = await rig.as('viewer');
      // a name or an id number is posted, never put in a URL; a person number may be linked
      const byName = await c.post('/persons/search', { name: person.name });
      const byId = await c.get(`/persons?id=${person.id}`);
      const byIdNumber = await c.post('/persons/search', { idno: person.id_number });
      for (const r of [byName, byId, byIdNumber]) {
        expect(r.statusCode).toBe(200);
        expect(r.body).toContain(`href="/persons/${person.id}"`);
        expect(r.body).toContain(maskIdNumber(person.id_number));
        expect(r.body).not.toMatch(FULL_ID);
      }
      const nobody = await c.post('/persons/search', { name: '不存在的人' });
      expect(nobody.body).toContain('没有找到符合条件的人员');
      expect(nobody.body).not.toMatch(/href="\/persons\/\d+"/);
      // the search form posts; a name in the query string is not searched for
      expect(byName.body).toContain('<form method="post" action="/persons/search"');
      const inUrl = await c.get(`/persons?name=${encodeURIComponent(person.name)}`);
      expect(inUrl.body).not.toContain(`href="/persons/${person.id}"`);
      // a search without the session's CSRF token is refused
      expect((await c.post('/persons/search', { name: person.name }, { csrf: false })).statusCode).toBe(403);
    });

    it('refuses malformed searches in Chinese and escapes what was typed', async () => {
      const c = await rig.as('viewer');
      const badId = await c.get('/persons?id=abc');
      expect(badId.statusCode).toBe(400);
      expect(badId.body).toContain('人员编号应为正整数');
      // one character would list half the county (test/console/person-search.test.ts has the rest)
      const tooShort = await c.post('/persons/search', { q: '张' });
      expect(tooShort.statusCode).toBe(400);
      expect(tooShort.body).toContain('请输入至少 2 个字的姓名');
      const script = await c.post('/persons/search', { q: '<script>alert("x")</script>' });
      expect(script.statusCode).toBe(200);
      expect(script.body).not.toContain('<script>alert');
      expect(script.body).toContain('&lt;script&gt;');
    });

    it('answers an unknown person with a 404 page in Chinese', async () => {
      const c = await rig.as('viewer');
      for (const url of ['/persons/99999999', '/persons/abc', '/persons/0']) {
        const r = await c.get(url);
        expect(r.statusCode, url).toBe(404);
        expect(r.body).toContain('没有这个人员');
      }
    });
  });
});
