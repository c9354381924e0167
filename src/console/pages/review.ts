/**
 * 身份核对: the rows the matcher could not decide, each compared side by side with its
 * candidate persons and the evidence of the comparison, and the staff decision — is,
 * or is not, the same person — stored as a fact the next match applies
 * (match/decisions.ts). A linked row opens the same way, to say it is not its person.
 */
import type { FastifyInstance } from 'fastify';
import { sql, type Selectable } from 'kysely';
import { z } from 'zod';
import type { PersonTable } from '../../db/schema.js';
import { confirmLink, DecisionError, rejectLink } from '../../match/decisions.js';
import { applyPendingDecisions } from '../../match/apply-now.js';
import { candidatesOf, countReviewRows, evidenceOf, listReviewRows, rowDecisions, type ReviewCandidate, type StoredEvidence } from '../../match/review.js';
import { audit } from '../../server/audit.js';
import { may } from '../../server/users.js';
import { evidenceSentence, verdictOf, whatToldApart } from '../evidence-words.js';
import { html, type SafeHtml } from '../html.js';
import { badge, fileShown, page, pager, postButton, SOURCE_LABEL, table, when, type Viewer } from '../layout.js';
import { sendPage, viewerOf, type ConsoleDeps } from '../page-kit.js';
import { GENDER_LABEL, golden, goldenCell, ID_STATUS_NOTE, localPercent, METHOD_LABEL, notFound, revealFor, unmaskLink, type Reveal } from './persons.js';

const PAGE_SIZE = 100;
/** At most this many candidates side by side (the matcher stores its top three). */
const MAX_CANDIDATES = 3;
const MAX_INT = 2_147_483_647;

const rowParams = z.object({ deliveryId: z.coerce.number().int().positive().max(MAX_INT), rowNo: z.coerce.number().int().positive().max(MAX_INT) });
const listQuery = z.object({ page: z.coerce.number().int().min(1).max(100_000).default(1), done: z.string().optional() });
const decisionBody = z.object({ person: z.coerce.number().int().positive().max(MAX_INT) });

type Evidence = StoredEvidence;
type Candidate = ReviewCandidate;
type Person = Selectable<PersonTable>;

const dash = (x: unknown): unknown => (x === null || x === undefined || x === '' ? '—' : x);

const DECISION_LABEL: Record<string, string> = { confirm: '是同一人', reject: '不是同一人', split: '拆分人员', merge: '合并人员' };

/** What a decision does, said where it is made. */
const decisionHint = html`<p class="muted">决定立即生效：这条记录归入所选人员（或离开该人员）；相关人员的救助身份、应救助金额和标记随后自动重算。</p>`;

function problemPage(v: Viewer, title: string, message: string, back: string): string {
  return page({ title, viewer: v, active: '/review', error: message, body: html`<p><a href="${back}">返回</a></p>` });
}

/** One comparison in words: the verdict from its probability, then what agreed and what did not. */
function evidenceWords(e: Evidence): SafeHtml {
  return html`<p><strong>${verdictOf(e.probability)}</strong>（概率 ${localPercent(e.probability)}）：${evidenceSentence(e.evidence)}</p>
    <p class="muted">比对只看各项是否一致，不显示具体内容。</p>`;
}

/**
 * Each candidate's comparison in one sentence, with its verdict, and what told the
 * candidates apart, or that nothing did.
 */
function candidatesEvidenceTable(candidates: readonly Candidate[]): SafeHtml {
  return html`<table class="compare">
      <thead><tr><th>候选人员</th><th>判断</th><th>比对结果（先列相符的，再列不符的，越重要越靠前）</th></tr></thead>
      <tbody>
        ${candidates.map(
          (c, i) => html`<tr><th>候选人员 ${i + 1}（人员 ${c.person_id}）</th><td>${verdictOf(c.probability)}<br /><span class="muted">概率 ${localPercent(c.probability)}</span></td><td>${c.evidence ? evidenceSentence(c.evidence) : html`<span class="muted">没有保存逐项比对</span>`}</td></tr>`,
        )}
      </tbody>
    </table>
    <p>${whatToldApart(candidates)}</p>`;
}

/** The numbers behind the words (weights, prior, total) stay with the operator's command. */
function calculationNote(file: string, rowNo: number): SafeHtml {
  return html`<details class="muted"><summary>查看计算细节</summary>
      <p>各项比对的具体分值和计算过程，可请系统管理员在服务器上运行 <code>aidlink explain-link ${/\s/.test(file) ? `"${file}"` : file} ${rowNo}</code> 查看。</p>
    </details>`;
}

/** A row its cluster decided (match/pool.ts): alone it waited for review. */
const POOLED_LABEL = '与同一人的其他记录合并判断后关联';
const POOLED_NOTE =
  '本条记录单独比对时未达自动关联标准（下表是单独比对的结果）。它与同名、同户、各期名册中同一人的其他记录合并比对' +
  '（如出生日期、与户主关系取自其他记录）后，结论明确，因此与这些记录一同关联。如有疑问，可在上方标记“不是同一人”。';

export function registerReview(server: FastifyInstance, deps: ConsoleDeps): void {
  const store = deps.app.store;

  server.get('/review', async (req, reply) => {
    const v = viewerOf(req);
    const parsed = listQuery.safeParse(req.query);
    if (!parsed.success) return sendPage(reply, problemPage(v, '身份核对', '页码不正确', '/review'), 400);
    const { page: pageNo, done } = parsed.data;
    const total = await countReviewRows(store.k);
    // a decision made since the latest match started waits for the next one (match/review.ts)
    const rows = await listReviewRows(store.k, { limit: PAGE_SIZE + 1, offset: (pageNo - 1) * PAGE_SIZE });
    return sendPage(
      reply,
      page({
        title: '身份核对',
        viewer: v,
        active: '/review',
        done,
        body: [
          html`<p>以下记录与已有人员部分信息一致，但不足以自动认定为同一人，共 <strong>${total}</strong> 条待人工核对。打开一条记录，与候选人员逐项比对后作出判断。</p>`,
          table(
            [
              { label: '文件', cell: (r) => html`<a href="/deliveries/${r.delivery_id}">${fileShown(r.file)}</a>` },
              { label: '行号', cell: (r) => r.row_no, num: true },
              { label: '来源', cell: (r) => SOURCE_LABEL[r.source] ?? r.source },
              { label: '最可能人员的概率', cell: (r) => localPercent(candidatesOf(r.candidates)[0]?.probability), num: true },
              { label: '候选人数', cell: (r) => candidatesOf(r.candidates).length, num: true },
              { label: '状态', cell: (r) => (r.pending > 0 ? badge('已作决定，待匹配完成后生效', 'info') : badge('待核对', 'warn')) },
              { label: '', cell: (r) => html`<a href="/review/${r.delivery_id}/${r.row_no}">比对</a>` },
            ],
            rows.slice(0, PAGE_SIZE),
            '没有待核对的记录',
          ),
          total > PAGE_SIZE ? pager('/review', pageNo, rows.length > PAGE_SIZE) : '',
        ],
      }),
    );
  });

  server.get('/review/:deliveryId/:rowNo', async (req, reply) => {
    const v = viewerOf(req);
    const back = html`<p>没有这条记录，或它尚未匹配。<a href="/review">返回身份核对</a></p>`;
    const params = rowParams.safeParse(req.params);
    if (!params.success) return notFound(reply, v, '没有这条记录', back, '/review');
    const { deliveryId, rowNo } = params.data;
    const row = await store.k
      .selectFrom('row_link as l')
      .innerJoin('source_row as s', (j) => j.onRef('s.delivery_id', '=', 'l.delivery_id').onRef('s.row_no', '=', 'l.row_no'))
      .innerJoin('delivery as d', 'd.id', 'l.delivery_id')
      .select(['l.state', 'l.method', 'l.score', 'l.evidence', 'l.candidates', 'l.person_id', 'l.pooled', 'd.file', 'd.sheet', 'd.as_of'])
      .select(['s.source', 's.name', 's.id_number', 's.id_status', 's.gender', 's.birth_date', 's.phone', 's.township', 's.village'])
      .select(['s.head_name', 's.head_id_number', 's.head_id_status', 's.relation', 's.household_no', 's.insurance_no'])
      .where('l.delivery_id', '=', deliveryId)
      .where('l.row_no', '=', rowNo)
      .executeTakeFirst();
    if (!row) return notFound(reply, v, '没有这条记录', back, '/review');
    const r = await revealFor(req, store, `row:${deliveryId}:${rowNo}`);
    const path = `/review/${deliveryId}/${rowNo}`;
    const inReview = row.state === 'review';

    // review: the candidates, best first; linked: its person
    const candidates = candidatesOf(row.candidates);
    const shown: { personId: number; candidate?: Candidate }[] = inReview
      ? candidates.slice(0, MAX_CANDIDATES).map((c) => ({ personId: c.person_id, candidate: c }))
      : row.person_id !== null
        ? [{ personId: row.person_id }]
        : [];
    const loaded = shown.length ? await store.k.selectFrom('person').selectAll().where('id', 'in', shown.map((s) => s.personId)).execute() : [];
    const byId = new Map(loaded.map((p) => [p.id, p]));
    const persons = shown.flatMap((s) => {
      const p = byId.get(s.personId);
      return p ? [{ p, candidate: s.candidate }] : [];
    });

    // the stored evidence compares the row with the best candidate (a review, a new person) or with its person (a scored link)
    const evidence = evidenceOf(row.evidence);
    // a pooled row's stored evidence is what it said alone (match/pool.ts): against its best candidate then
    const evidenceAgainst = row.method === 'scored' && !inReview && !row.pooled ? row.person_id : candidates[0]?.person_id;

    const decisions = await rowDecisions(store.k, { deliveryId, rowNo });

    const members = await householdMembers(store.k, row, { deliveryId, rowNo });
    const canChange = may(v.role, 'change');
    const householdPart = (p: Person, prefix: 'head:' | 'no:') => {
      const h = golden(p.golden, 'household');
      // 'head:<id number>' or 'no:<户编号>' (match/persons.ts)
      if (!h?.value.startsWith(prefix)) return '';
      return goldenCell(h, (x) => (prefix === 'head:' ? r.id(x.slice(prefix.length)) : x.slice(prefix.length)));
    };
    // [item, this row, the person's golden record]
    const fields: [string, unknown, (p: Person) => unknown][] = [
      ['姓名', row.name, (p) => goldenCell(golden(p.golden, 'name')) || p.name],
      ['身份证号', idWithNote(r, row.id_number, row.id_status), (p) => goldenCell(golden(p.golden, 'id_number'), r.id) || r.id(p.id_number)],
      ['性别', GENDER_LABEL[row.gender ?? ''], (p) => goldenCell(golden(p.golden, 'gender'), (x) => GENDER_LABEL[x] ?? x)],
      ['出生日期', row.birth_date, (p) => goldenCell(golden(p.golden, 'birth_date')) || p.birth_date],
      ['电话', r.phone(row.phone), (p) => goldenCell(golden(p.golden, 'phone'), r.phone)],
      ['乡镇', row.township, (p) => goldenCell(golden(p.golden, 'township')) || p.township],
      ['村', row.village, (p) => goldenCell(golden(p.golden, 'village')) || p.village],
      ['户主姓名', row.head_name, () => ''],
      ['户主身份证号', idWithNote(r, row.head_id_number, row.head_id_status), (p) => householdPart(p, 'head:')],
      ['与户主关系', row.relation, () => ''],
      ['户编号', row.household_no, (p) => householdPart(p, 'no:')],
      ['医保人员编号', row.insurance_no, () => ''],
      ['关联记录数', '', (p) => p.row_count],
    ];
    const buttons = (p: Person) =>
      html`${inReview ? postButton(v, `${path}/confirm`, '是同一人', { fields: { person: p.id }, confirm: `确认这条记录就是人员 ${p.id}？` }) : ''}
        ${postButton(v, `${path}/reject`, '不是同一人', { fields: { person: p.id }, cls: 'secondary', confirm: `确认这条记录不是人员 ${p.id}？` })}`;

    return sendPage(
      reply,
      page({
        title: `身份核对：${fileShown(row.file)} 第 ${rowNo} 行`,
        viewer: v,
        active: '/review',
        body: [
          html`<p>
            ${inReview ? badge('待人工核对', 'warn') : badge('已关联', 'ok')}
            ${SOURCE_LABEL[row.source] ?? row.source}，<a href="/deliveries/${deliveryId}">${fileShown(row.file)}</a>${row.sheet ? `（${row.sheet}）` : ''}，数据截至 ${row.as_of ?? '—'}；
            ${inReview ? '多项信息比对未达自动关联标准' : row.pooled ? POOLED_LABEL : (METHOD_LABEL[row.method] ?? row.method)}。
          </p>`,
          unmaskLink(r, path),
          html`<h2>${inReview ? '本条记录与候选人员' : '本条记录与关联的人员'}</h2>`,
          persons.length === 0
            ? html`<p class="empty">${inReview ? '没有可比对的候选人员（候选人员可能已被合并或停用，请重新匹配）。' : '这条记录没有关联的人员。'}</p>`
            : html`<table class="compare">
                <thead><tr>
                  <th>项目</th><th>本条记录</th>
                  ${persons.map(
                    ({ p, candidate }, i) => html`<th>
                      ${inReview ? `候选人员 ${i + 1}：` : ''}<a href="/persons/${p.id}">人员 ${p.id}</a>
                      ${candidate ? html`<br /><span class="muted">${verdictOf(candidate.probability)}（概率 ${localPercent(candidate.probability)}）</span>` : ''}
                      ${p.retired_at ? html`<br />${badge('已停用', 'muted')}` : ''}
                    </th>`,
                  )}
                </tr></thead>
                <tbody>
                  ${fields.map(([label, mine, theirs]) => html`<tr><th>${label}</th><td>${dash(mine)}</td>${persons.map(({ p }) => html`<td>${dash(theirs(p))}</td>`)}</tr>`)}
                  ${canChange ? html`<tr><th>核对结论</th><td></td>${persons.map(({ p }) => html`<td>${buttons(p)}</td>`)}</tr>` : ''}
                </tbody>
              </table>
              <p class="muted">人员一栏为该人员的综合信息，各项取自最可靠的一条记录；鼠标停在值上可看到出处。</p>`,
          canChange ? decisionHint : '',

          html`<h2>比对依据</h2>`,
          row.pooled && evidence && candidates.some((c) => c.evidence)
            ? html`<p>${POOLED_NOTE}</p>
                ${candidatesEvidenceTable(candidates.slice(0, MAX_CANDIDATES))}
                ${calculationNote(row.file, rowNo)}`
            : inReview && evidence && candidates.some((c) => c.evidence)
            ? html`<p>本条记录与每名候选人员逐项比对的结果：</p>
                ${candidatesEvidenceTable(candidates.slice(0, MAX_CANDIDATES))}
                ${calculationNote(row.file, rowNo)}`
            : evidence
            ? html`<p>${inReview ? `与最可能的人员（人员 ${evidenceAgainst ?? '—'}）逐项比对：` : row.method === 'new' ? `与最相近的已有人员（人员 ${evidenceAgainst ?? '—'}）逐项比对，未达关联标准，因此建立了新人员：` : `与关联的人员（人员 ${evidenceAgainst ?? '—'}）逐项比对：`}</p>
                ${evidenceWords(evidence)}
                ${inReview && persons.length > 1 ? html`<p class="muted">系统只保存与最可能的人员的逐项比对；其他候选人员请对照上表。</p>` : ''}
                ${calculationNote(row.file, rowNo)}`
            : html`<p>${METHOD_LABEL[row.method] ?? row.method}，没有逐项比对。</p>`,

          html`<h2>同户的已知成员</h2>`,
          row.household_no || row.head_id_number
            ? table(
                [
                  { label: '人员', cell: (m) => html`<a href="/persons/${m.person_id}">人员 ${m.person_id}</a>` },
                  { label: '姓名', cell: (m) => dash(m.name) },
                  { label: '性别', cell: (m) => dash(GENDER_LABEL[m.gender ?? '']) },
                  { label: '出生日期', cell: (m) => dash(m.birth_date) },
                  { label: '与户主关系', cell: (m) => dash(m.relation) },
                  { label: '', cell: (m) => (candidates.some((c) => c.person_id === m.person_id) ? badge('候选人员', 'info') : '') },
                ],
                members,
                '同户没有其他已关联的人员',
              )
            : html`<p class="muted">这条记录没有户编号或户主身份证号，无法列出同户成员。</p>`,

          html`<h2>已作的决定</h2>`,
          table(
            [
              { label: '决定', cell: (d) => DECISION_LABEL[d.kind] ?? d.kind },
              { label: '人员', cell: (d) => (d.person_id !== null ? html`<a href="/persons/${d.person_id}">人员 ${d.person_id}</a>` : '—') },
              { label: '操作人', cell: (d) => d.actor },
              { label: '时间', cell: (d) => when(d.made_at) },
              { label: '状态', cell: (d) => (d.revoked_at ? badge(`已撤销（${when(d.revoked_at)}）`, 'muted') : d.pending ? badge('待匹配完成后生效', 'info') : badge('已生效', 'ok')) },
            ],
            decisions,
            '还没有对这条记录作过决定',
          ),
        ],
      }),
    );
  });

  for (const [action, decide, auditAction, done] of [
    ['confirm', confirmLink, 'link_confirm', 'confirmed'],
    ['reject', rejectLink, 'link_reject', 'rejected'],
  ] as const) {
    server.post(`/review/:deliveryId/:rowNo/${action}`, { config: { permission: 'change' } }, async (req, reply) => {
      const v = viewerOf(req);
      const params = rowParams.safeParse(req.params);
      const body = decisionBody.safeParse(req.body ?? {});
      if (!params.success || !body.success) return sendPage(reply, problemPage(v, '无法记录该决定', '请求内容不正确：缺少记录或人员编号。', '/review'), 400);
      const { deliveryId, rowNo } = params.data;
      const person = body.data.person;
      try {
        await decide(store, { deliveryId, rowNo }, person, `console:${v.username}`);
      } catch (err) {
        if (err instanceof DecisionError) {
          return sendPage(reply, problemPage(v, '无法记录该决定', '这条记录或该人员已不存在（可能已重新匹配），未作任何更改。', `/review/${deliveryId}/${rowNo}`), 400);
        }
        throw err;
      }
      await audit(store, { actor: v.username, action: auditAction, subject: `row:${deliveryId}:${rowNo}`, detail: { person }, ip: req.ip });
      const effect = await applyPendingDecisions(store);
      if (!effect.applied) return reply.redirect(`/review?done=${done}_later`, 303);
      if (effect.persons.length > 0) await deps.runner.submitReassess(`console:${v.username}`, effect.persons);
      return reply.redirect(`/review?done=${done}`, 303);
    });
  }
}

/** At most this many household members are listed. */
const MAX_MEMBERS = 30;

/**
 * The persons linked to other rows of the row's household: the same 户编号 or the same
 * head-of-household id (source_row_household_no, source_row_head_id), with the relation
 * their rows give most often.
 */
async function householdMembers(
  k: ConsoleDeps['app']['store']['k'],
  row: { household_no: string | null; head_id_number: string | null },
  self: { deliveryId: number; rowNo: number },
): Promise<{ person_id: number; name: string | null; gender: string | null; birth_date: string | null; relation: string | null }[]> {
  if (!row.household_no && !row.head_id_number) return [];
  const rows = await k
    .selectFrom('source_row as s')
    .innerJoin('row_link as l', (j) => j.onRef('l.delivery_id', '=', 's.delivery_id').onRef('l.row_no', '=', 's.row_no'))
    .innerJoin('person as p', 'p.id', 'l.person_id')
    .where((eb) =>
      eb.or([
        ...(row.household_no ? [eb('s.household_no', '=', row.household_no)] : []),
        ...(row.head_id_number ? [eb('s.head_id_number', '=', row.head_id_number)] : []),
      ]),
    )
    .where('l.state', '=', 'linked')
    .where((eb) => eb.not(eb.and([eb('s.delivery_id', '=', self.deliveryId), eb('s.row_no', '=', self.rowNo)])))
    .groupBy(['p.id', 'p.name', 'p.gender', 'p.birth_date'])
    .select(['p.id as person_id', 'p.name', 'p.gender', sql<string | null>`p.birth_date::text`.as('birth_date')])
    .select(sql<string | null>`mode() within group (order by s.relation)`.as('relation'))
    .orderBy('p.id')
    .limit(MAX_MEMBERS)
    .execute();
  return rows;
}

/** An id number as the row gave it (masked unless revealed), with what is wrong with it. */
function idWithNote(r: Reveal, id: string | null, status: keyof typeof ID_STATUS_NOTE | null): SafeHtml | '' {
  if (!id && !status) return '';
  const note = status ? ID_STATUS_NOTE[status] : '';
  return html`${r.id(id) || '—'}${note ? html` <span class="muted">（${note}）</span>` : ''}`;
}
