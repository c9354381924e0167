/**
 * 数据文件: the deliveries, a file's problems by row and column, the data-quality
 * sheet to send back to the agency, quarantine decisions, and uploading a file.
 */
import { createWriteStream, mkdirSync } from 'node:fs';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import multipart from '@fastify/multipart';
import { sql } from 'kysely';
import { z } from 'zod';
import { decideQuarantine, DeliveryError } from '../../ingest/deliveries.js';
import type { Mapping } from '../../ingest/mapping.js';
import { SOURCES } from '../../ingest/sources.js';
import { AUTO_SOURCE, placeUpload, receivedBefore } from '../../ingest/upload.js';
import { audit } from '../../server/audit.js';
import { authOf } from '../../server/auth.js';
import { csrfMatches, type Session } from '../../server/sessions.js';
import { RateLimit } from '../../server/throttle.js';
import { disclosureFor, may } from '../../server/users.js';
import { scrubText, shownAs } from '../../privacy.js';
import { problemText } from '../../ingest/problem-text.js';
import { deliveryProblems, qualitySheet, type DeliveryProblem } from '../../report/quality.js';
import { writeQualityCsv, writeQualityXlsx } from '../../report/formats.js';
import { html } from '../html.js';
import { badge, csrfField, DELIVERY_STATUS_LABEL, details, fileShown, page, postButton, SOURCE_LABEL, table, when, type Viewer } from '../layout.js';
import { starterLabel } from './runs.js';
import { sendPage, viewerOf, type ConsoleDeps } from '../page-kit.js';

const idParam = z.object({ id: z.coerce.number().int().positive() });
const MAX_PROBLEMS_SHOWN = 500;

function statusBadge(status: string) {
  const [label, tone] = DELIVERY_STATUS_LABEL[status] ?? [status, 'info' as const];
  return badge(label, tone);
}

/** A refused upload: why, and the delivery when the file was received before. */
interface Refusal {
  message: string;
  received?: number | undefined;
}

/** The upload form; after a refusal, why (with a link to the delivery received before) and the source that was chosen. */
function uploadForm(v: Viewer, refusal?: Refusal, chosen: string = AUTO_SOURCE) {
  return html`<h2>上传文件</h2>
    <form method="post" action="/deliveries/upload" enctype="multipart/form-data" class="upload">
      ${csrfField(v)}
      ${refusal
        ? html`<p class="notice error">${refusal.message}${refusal.received ? html` <a href="/deliveries/${refusal.received}">查看该文件</a>` : ''}</p>`
        : ''}
      <div class="form-row">
        <label for="source">来源</label>
        <select id="source" name="source" required>
          <option value="${AUTO_SOURCE}" ${chosen === AUTO_SOURCE ? 'selected' : ''}>自动识别（按表头）</option>
          ${SOURCES.map((s) => html`<option value="${s}" ${chosen === s ? 'selected' : ''}>${SOURCE_LABEL[s] ?? s}</option>`)}
        </select>
        <label for="file">文件（CSV 或 XLSX）</label>
        <input id="file" name="file" type="file" accept=".csv,.txt,.xlsx" required />
        <button type="submit">上传并导入</button>
      </div>
      <p class="muted">文件名中请保留数据截至日期（如 civil_20261031.csv），或在表头上方的标题行写明“截至 2026年10月31日”。</p>
    </form>`;
}

interface UploadedFile {
  tmp: string;
  filename: string;
  truncated: boolean;
}

export async function registerDeliveries(server: FastifyInstance, deps: ConsoleDeps): Promise<void> {
  const { app, runner } = deps;
  const store = app.store;
  const uploads = resolve(join(app.config.AIDLINK_DATA_DIR, 'uploads'));
  const inbox = resolve(app.config.AIDLINK_INBOX);

  removeStaleUploads(uploads);

  server.get('/deliveries', async (req, reply) => {
    const v = viewerOf(req);
    const rows = await sql<{ id: number; file: string; source: string | null; as_of: string | null; status: string; row_count: number; rejected_rows: number; warning_count: number; received_at: Date }>`
      select id, file, source, as_of::text as as_of, status, row_count, rejected_rows, warning_count, received_at
      from delivery order by received_at desc, id desc limit 500`.execute(store.k);
    const counts = new Map<string, number>();
    for (const r of rows.rows) counts.set(r.status, (counts.get(r.status) ?? 0) + 1);
    return sendPage(
      reply,
      page({
        title: '数据文件',
        viewer: v,
        active: '/deliveries',
        body: [
          html`<div class="cards">${[...counts].map(([s, n]) => html`<div class="card"><div class="value">${n}</div><div class="label">${statusBadge(s)}</div></div>`)}</div>`,
          may(v.role, 'change') ? uploadForm(v) : html``,
          html`<h2>已收到的文件</h2>`,
          table(
            [
              { label: '文件', cell: (r) => html`<a href="/deliveries/${r.id}">${fileShown(r.file)}</a>` },
              { label: '来源', cell: (r) => SOURCE_LABEL[r.source ?? ''] ?? r.source ?? '—' },
              { label: '数据截至', cell: (r) => r.as_of ?? '—' },
              { label: '状态', cell: (r) => statusBadge(r.status) },
              { label: '数据行', cell: (r) => r.row_count, num: true },
              { label: '被拒行', cell: (r) => r.rejected_rows, num: true },
              { label: '警告', cell: (r) => r.warning_count, num: true },
              { label: '接收时间', cell: (r) => when(r.received_at) },
            ],
            rows.rows,
            '还没有收到任何文件',
          ),
        ],
      }),
    );
  });

  server.get('/deliveries/by-hash/:hash', async (req, reply) => {
    const { hash } = z.object({ hash: z.string().regex(/^[0-9a-f]{64}$/) }).parse(req.params);
    const d = await store.k.selectFrom('delivery').select('id').where('content_hash', '=', hash).executeTakeFirst();
    return reply.redirect(d ? `/deliveries/${d.id}` : '/deliveries');
  });

  server.get('/deliveries/:id', async (req, reply) => {
    const v = viewerOf(req);
    const { id } = idParam.parse(req.params);
    const d = await store.k.selectFrom('delivery').selectAll().where('id', '=', id).executeTakeFirst();
    if (!d) return sendPage(reply, page({ title: '没有这个文件', viewer: v, body: html`<p><a href="/deliveries">返回文件列表</a></p>` }), 404);
    const problems = await deliveryProblems(store, id, d.headers ?? [], MAX_PROBLEMS_SHOWN + 1);
    // nobody asks to unmask here: id numbers masked for all, phones by role
    const shown = shownAs(disclosureFor(v.role, false));
    const events = await store.k.selectFrom('delivery_event').selectAll().where('delivery_id', '=', id).orderBy('id').execute();
    const canChange = may(v.role, 'change');
    const done = (req.query as { done?: string }).done;
    return sendPage(
      reply,
      page({
        title: fileShown(d.file),
        viewer: v,
        active: '/deliveries',
        done,
        body: [
          details([
            ['来源', SOURCE_LABEL[d.source ?? ''] ?? d.source],
            ['数据截至', d.as_of],
            ['状态', statusBadge(d.status)],
            ['说明', d.status_reason ?? d.error],
            ['数据行', d.row_count],
            ['被拒行', d.rejected_rows],
            ['警告', d.warning_count],
            ['导出格式', formatTitle(app.mapping, d.profile)],
            // a stream of its own (a 低保 list beside a 特困 list); the source's main stream goes without saying
            ...(d.stream && d.stream !== d.source ? ([['名册系列', d.stream]] as [string, unknown][]) : []),
            ['文件格式', [d.format?.toUpperCase(), d.encoding?.toUpperCase(), d.sheet].filter(Boolean).join(' · ')],
            ['接收时间', when(d.received_at)],
          ]),
          d.status === 'quarantined' && canChange
            ? html`<p>
                ${postButton(v, `/deliveries/${id}/release`, '放行（数据生效）', { confirm: '确认放行该名册？放行后其中的数据将生效。' })}
                ${postButton(v, `/deliveries/${id}/discard`, '作废', { cls: 'danger', confirm: '确认作废该名册？作废后其中的数据不会生效。' })}
              </p>`
            : '',
          html`<h2>问题（按行、列）</h2>`,
          canChange
            ? html`<p>下载数据质量表，发回提供数据的单位核对：
                <a class="button secondary" href="/deliveries/${id}/quality.xlsx">Excel</a>
                <a class="button secondary" href="/deliveries/${id}/quality.csv">CSV</a></p>`
            : '',
          table(
            [
              { label: '行号', cell: (p) => p.rowNo ?? '整个文件', num: true },
              { label: '列', cell: (p) => p.column ?? '—' },
              { label: '原值', cell: (p) => valueShown(p, shown) },
              { label: '严重程度', cell: (p) => (p.severity === 'error' ? badge('错误', 'bad') : badge('警告', 'warn')) },
              { label: '问题', cell: (p) => html`<strong>${problemText(p.code).title}</strong><br />${p.message}` },
              { label: '怎么办', cell: (p) => problemText(p.code).action },
            ],
            problems.slice(0, MAX_PROBLEMS_SHOWN),
            '没有发现问题',
          ),
          problems.length > MAX_PROBLEMS_SHOWN ? html`<p class="muted">只显示前 ${MAX_PROBLEMS_SHOWN} 条；全部问题请下载数据质量表。</p>` : '',
          html`<h2>处理记录</h2>`,
          table(
            [
              { label: '时间', cell: (e) => when(e.at) },
              { label: '状态', cell: (e) => html`${e.from_status ? statusBadge(e.from_status) : ''} → ${statusBadge(e.to_status)}` },
              { label: '操作人', cell: (e) => starterLabel(e.actor) },
              { label: '说明', cell: (e) => e.reason ?? '' },
            ],
            events,
          ),
        ],
      }),
    );
  });

  for (const format of ['xlsx', 'csv'] as const) {
    server.get(`/deliveries/:id/quality.${format}`, { config: { permission: 'change' } }, async (req, reply) => {
      const { id } = idParam.parse(req.params);
      const sheet = await qualitySheet(store, id);
      if (!sheet) return reply.code(404).send('没有这个文件');
      mkdirSync(uploads, { recursive: true });
      const tmp = join(uploads, `quality-${randomUUID()}.${format}`);
      await (format === 'xlsx' ? writeQualityXlsx(sheet, tmp) : writeQualityCsv(sheet, tmp));
      await audit(store, { actor: authOf(req).user.username, action: 'export', subject: `delivery:${id}`, detail: { what: 'quality', format }, ip: req.ip });
      const name = `数据质量_${basename(sheet.file).replace(/\.[^.]+$/, '')}.${format}`;
      const body = await readFile(tmp);
      await rm(tmp, { force: true });
      return reply
        .type(format === 'xlsx' ? 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet' : 'text/csv; charset=utf-8')
        .header('Content-Disposition', `attachment; filename="quality.${format}"; filename*=UTF-8''${encodeURIComponent(name)}`)
        .send(body);
    });
  }

  for (const [action, decision, done] of [['release', 'release', 'released'], ['discard', 'discard', 'discarded']] as const) {
    server.post(`/deliveries/:id/${action}`, { config: { permission: 'change' } }, async (req, reply) => {
      const { id } = idParam.parse(req.params);
      const who = authOf(req).user.username;
      try {
        await decideQuarantine(store, id, decision, `console:${who}`);
      } catch (err) {
        if (err instanceof DeliveryError) return sendPage(reply, page({ title: '无法处理', viewer: viewerOf(req), error: '该文件当前不是“待核实”状态，无法放行或作废。', body: html`<p><a href="/deliveries/${id}">返回</a></p>` }), 409);
        throw err;
      }
      await audit(store, { actor: who, action: decision === 'release' ? 'quarantine_release' : 'quarantine_discard', subject: `delivery:${id}`, ip: req.ip });
      return reply.redirect(`/deliveries/${id}?done=${done}`, 303);
    });
  }

  const perUser = new RateLimit(app.config.AIDLINK_UPLOADS_PER_HOUR, 3600_000);
  const maxBytes = app.config.AIDLINK_UPLOAD_MAX_MB * 1024 * 1024;

  // Multipart is parsed on this route alone, and only in the handler: by then the user, the
  // role and (below, before the file part) the CSRF token have been checked, so nobody else
  // can make the server write a byte. The file streams to a temporary file that is removed
  // on every outcome but success.
  await server.register(async (scope) => {
    await scope.register(multipart, { limits: { fileSize: maxBytes, files: 1, fields: 10, fieldSize: 1024, parts: 12 } });

    const tooLarge = `文件超过 ${app.config.AIDLINK_UPLOAD_MAX_MB} MB，请通过共享目录投递`;
    const badOrigin = '请求来源无法确认（页面已过期？请刷新页面后重试）';
    type Outcome = { refused: Refusal; status: number; chosen?: string } | { redirect: string };
    const refused = (message: string, status = 400, more: { received?: number; chosen?: string } = {}): Outcome => ({
      refused: { message, received: more.received }, status, ...(more.chosen ? { chosen: more.chosen } : {}),
    });

    /** Reads the upload and hands it to placeUpload (ingest/upload.ts); the temporary file is gone before the answer is sent. */
    async function takeUpload(req: FastifyRequest, v: Viewer, session: Session): Promise<Outcome> {
      let tokenOk = csrfMatches(session, req.headers['x-csrf-token'] as string | undefined);
      let source = '';
      let uploaded: UploadedFile | undefined;
      try {
        try {
          for await (const part of req.parts()) {
            if (part.type === 'field') {
              const value = typeof part.value === 'string' ? part.value : '';
              if (part.fieldname === '_csrf') tokenOk ||= csrfMatches(session, value);
              if (part.fieldname === 'source') source = value;
              continue;
            }
            // the form puts its token before the file: without it the file is not read at all
            if (!tokenOk) return refused(badOrigin, 403);
            if (uploaded) return refused('一次只能上传一个文件');
            mkdirSync(uploads, { recursive: true });
            uploaded = { tmp: join(uploads, randomUUID()), filename: part.filename, truncated: false };
            await saveTo(part.file, uploaded.tmp);
            uploaded.truncated = part.file.truncated;
          }
        } catch (err) {
          if (err instanceof scope.multipartErrors.RequestFileTooLargeError) return refused(tooLarge, 413);
          if (err instanceof scope.multipartErrors.FilesLimitError) return refused('一次只能上传一个文件');
          if (err instanceof scope.multipartErrors.InvalidMultipartContentTypeError) return refused('请使用上传表单提交文件', 415);
          throw err;
        }
        if (!tokenOk) return refused(badOrigin, 403);
        if (!uploaded) return refused('请选择要上传的文件');
        if (uploaded.truncated) return refused(tooLarge, 413);
        const placed = await placeUpload({
          inbox, source, tmp: uploaded.tmp, filename: uploaded.filename, mapping: app.mapping, received: (hash) => receivedBefore(store.k, hash), choiceLabel: SOURCE_LABEL,
        });
        // a file received before is a conflict with that delivery, not a bad request
        if (!placed.ok) return refused(placed.message, placed.received ? 409 : 400, { ...(placed.received ? { received: placed.received.id } : {}), chosen: source });
        const { file, hash } = placed;
        const job = await runner.submitIngest({ inboxRoot: inbox, file, hash }, `console:${v.username}`);
        await audit(store, { actor: v.username, action: 'upload', subject: file, ip: req.ip });
        return { redirect: `/runs/${encodeURIComponent(job.id)}?then=${encodeURIComponent(`/deliveries/by-hash/${hash}`)}` };
      } finally {
        // gone after a success (moved), removed after anything else
        if (uploaded) await rm(uploaded.tmp, { force: true });
      }
    }

    scope.post('/deliveries/upload', { config: { permission: 'change', csrfInStream: true } }, async (req, reply) => {
      const v = viewerOf(req);
      const { session } = authOf(req);
      const outcome: Outcome = !session
        ? refused('请在控制台页面内上传文件', 403)
        : !req.isMultipart()
          ? refused('请使用上传表单提交文件', 415)
          : !perUser.take(v.username)
            ? refused(`上传过于频繁：每人每小时最多 ${app.config.AIDLINK_UPLOADS_PER_HOUR} 个文件，请稍后再试`, 429)
            : await takeUpload(req, v, session);
      if ('redirect' in outcome) return reply.redirect(outcome.redirect, 303);
      // the client may still be sending: close the connection rather than read the rest
      reply.header('Connection', 'close');
      return sendPage(reply, page({ title: '上传失败', viewer: v, active: '/deliveries', body: uploadForm(v, outcome.refused, outcome.chosen) }), outcome.status);
    });
  });
}

/** Streams an upload to a file; settles only once the file is closed, so that removing it after a failure removes it for good. */
async function saveTo(source: Readable, path: string): Promise<void> {
  const out = createWriteStream(path);
  try {
    await pipeline(source, out);
  } finally {
    // after an error the stream closes a moment later (once(…) would reject with that error)
    if (!out.closed) await new Promise<void>((resolve) => out.once('close', () => resolve()));
  }
}

/** Temporary uploads (and the folders they are read in, ingest/upload.ts) a crashed or killed server left behind (a day old: none is still being written). */
function removeStaleUploads(dir: string): void {
  const dayAgo = Date.now() - 24 * 3600_000;
  void readdir(dir)
    .then((names) => Promise.all(names.map(async (n) => ((await stat(join(dir, n)).catch(() => undefined))?.mtimeMs ?? Infinity) < dayAgo && rm(join(dir, n), { recursive: true, force: true }))))
    .catch(() => undefined);
}

/** Columns whose values are id numbers (a certificate or insurance number holds one). */
const ID_FIELDS: ReadonlySet<string> = new Set(['id_number', 'head_id_number', 'cert_no', 'insurance_no']);
const MAX_VALUE_CHARS = 40;

/** A problem's cell as delivered, as this reader may see it: id numbers and phones masked by disclosure, anything else that looks like one scrubbed. */
function valueShown(p: DeliveryProblem, shown: ReturnType<typeof shownAs>): string {
  if (p.value === null) return '—';
  if (p.value.trim() === '') return '（空）';
  const v = p.field && ID_FIELDS.has(p.field) ? shown.id(p.value) : p.field === 'phone' ? shown.phone(p.value) : scrubText(p.value);
  return v.length > MAX_VALUE_CHARS ? `${v.slice(0, MAX_VALUE_CHARS)}…` : v;
}

/** The title of the format profile that read a delivery, as the mapping names it now (a profile since removed: its name). */
function formatTitle(mapping: Mapping, profile: string | null): string | null {
  if (!profile) return null;
  return mapping.profiles.find((p) => p.name === profile)?.title ?? profile;
}
