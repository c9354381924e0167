/**
 * Uploading a file in the console (issue 19): the source chosen or recognised from the
 * header, never assumed; a file received before said to be so; and a delivery's problems
 * shown by row, column and value, explained in Chinese, on the page and on the data-quality
 * sheet sent back to the agency.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { consoleRig, type ConsoleClient, type ConsoleRig } from '../helpers/console.js';
import { CIVIL_HEADER, civilRow, csvBytes, inbox, makeId } from '../helpers/fixtures.js';
import { SAMPLE_INBOX } from '../helpers/sample.js';
import { ingestFile } from '../../src/ingest/ingest.js';
import { problemText } from '../../src/ingest/problem-text.js';
import { cell, file as fileProblem, row as rowProblem, UNSUPPORTED_MESSAGE, type CellRef, type Problem } from '../../src/ingest/problems.js';
import { maskIdNumber } from '../../src/privacy.js';
import { filesUnder } from '../helpers/files.js';

const SETTLEMENT = readFileSync(join(SAMPLE_INBOX, 'settlement', '医保结算明细_202610.csv'));
/** A civil roster's row whose id number fails its check digit, with a phone too short and a category nobody knows. */
const GOOD_ID = makeId('1975-03-04', 21);
const BAD_ID = GOOD_ID.slice(0, 17) + (GOOD_ID.endsWith('1') ? '2' : '1');
const SHORT_PHONE = '83301';

let rig: ConsoleRig;
let caseworker: ConsoleClient;
let viewer: ConsoleClient;
let rosterId: number;


/** The upload form as a browser sends it: token, source, then the file. */
function upload(source: string, filename: string, content: Buffer) {
  const boundary = `----aidlinkupload${Math.random().toString(16).slice(2)}`;
  const field = (name: string, value: string) => Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`);
  const payload = Buffer.concat([
    field('_csrf', caseworker.csrf),
    field('source', source),
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename*=UTF-8''${encodeURIComponent(filename)}\r\nContent-Type: text/csv\r\n\r\n`),
    content,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  return rig.server.inject({ method: 'POST', url: '/deliveries/upload', payload, headers: { cookie: caseworker.cookie, 'content-type': `multipart/form-data; boundary=${boundary}` } });
}

const notice = (body: string) => /class="notice error">([\s\S]*?)<\/p>/.exec(body)?.[1] ?? '';

beforeAll(async () => {
  rig = await consoleRig({
    prepare: async (app) => {
      const box = inbox();
      const path = box.put('civil/civil_20261031.csv', {
        header: CIVIL_HEADER,
        rows: [
          civilRow('甲某', makeId('1960-02-03', 11)),
          civilRow('乙某', BAD_ID, { phone: SHORT_PHONE, category: '五保老户' }),
        ],
      });
      const r = await ingestFile(app.store, app.mapping, path, { inboxRoot: box.root });
      if (r.outcome !== 'ingested') throw new Error(r.outcome);
      rosterId = r.delivery.id;
    },
  });
  caseworker = await rig.as('caseworker');
  viewer = await rig.as('viewer');
}, 120_000);
afterAll(() => rig?.close());

describe('the upload form', () => {
  it('starts on recognising the source from the header', async () => {
    const page = await caseworker.get('/deliveries');
    expect(page.body).toMatch(/<select id="source" name="source" required>\s*<option value="auto" selected>自动识别（按表头）<\/option>/);
    expect(page.body).toContain('<option value="settlement" >医保结算明细</option>');
  });
});

describe('uploading a settlement file', () => {
  const inboxDir = () => rig.env.AIDLINK_INBOX!;
  const uploadsDir = () => join(rig.app.config.AIDLINK_DATA_DIR, 'uploads');

  it('as 民政 is refused, naming the source it fits, and leaves nothing behind', async () => {
    const before = filesUnder(inboxDir());
    const r = await upload('civil', '医保结算明细_202610.csv', SETTLEMENT);
    expect(r.statusCode).toBe(400);
    expect(notice(r.body)).toBe('这个文件的表头像是医保结算明细，请选择「医保结算明细」重新上传');
    // the choice is kept, so the uploader changes only the source
    expect(r.body).toContain('<option value="civil" selected>');
    expect(filesUnder(inboxDir())).toEqual(before);
    expect(existsSync(join(inboxDir(), 'civil', '医保结算明细_202610.csv'))).toBe(false);
    expect(filesUnder(uploadsDir())).toEqual([]);
  });

  it('with 自动识别 is received as a settlement file', async () => {
    const r = await upload('auto', '医保结算明细_202610.csv', SETTLEMENT);
    expect(r.statusCode, notice(r.body)).toBe(303);
    expect(r.headers.location).toMatch(/^\/runs\//);
    const job = decodeURIComponent(/^\/runs\/([^?]+)/.exec(String(r.headers.location))![1]!);
    expect((await rig.runner.get(job))?.about).toBe('settlement/医保结算明细_202610.csv');
    expect(filesUnder(join(inboxDir(), 'settlement'))).toEqual(['医保结算明细_202610.csv']);
    expect(filesUnder(uploadsDir())).toEqual([]);
  });

  it('a second time says it was received already and links to the delivery', async () => {
    // the job's work, done here: the file becomes a delivery
    const done = await ingestFile(rig.app.store, rig.app.mapping, join(inboxDir(), 'settlement', '医保结算明细_202610.csv'), { inboxRoot: inboxDir() });
    expect(done.outcome).toBe('ingested');
    const id = done.outcome === 'ingested' ? done.delivery.id : 0;
    const before = filesUnder(inboxDir());
    // under another name and source: the content is what counts
    const r = await upload('civil', '结算明细（重发）.csv', SETTLEMENT);
    expect(r.statusCode).toBe(409);
    expect(notice(r.body)).toMatch(new RegExp(`^这个文件已经收到过（\\d{4}年\\d{1,2}月\\d{1,2}日 \\d{2}:\\d{2}，第 ${id} 批），不再重复导入 <a href="/deliveries/${id}">查看该文件</a>$`));
    expect(filesUnder(inboxDir())).toEqual(before);
    expect(filesUnder(uploadsDir())).toEqual([]);
  });
});

describe('a delivery\'s problems', () => {
  it('show row, column, the value as delivered (masked as the reader may see it) and what is wrong and what to do, in Chinese', async () => {
    const page = await viewer.get(`/deliveries/${rosterId}`);
    expect(page.statusCode).toBe(200);
    const rows = [...page.body.matchAll(/<tr><td class="num">(\d+)<\/td><td class="">([^<]*)<\/td><td class="">([^<]*)<\/td>[\s\S]*?<\/tr>/g)].map((m) => [m[1], m[2], m[3], m[0]] as const);
    const about = (column: string) => rows.find((r) => r[1] === column);
    // the header is row 1: the second person is row 3
    const id = about('身份证号');
    expect(id?.[0]).toBe('3');
    expect(id?.[2]).toBe(maskIdNumber(BAD_ID));
    expect(id?.[3]).toContain(problemText('id_checksum_failed').title);
    expect(id?.[3]).toContain(problemText('id_checksum_failed').action);
    const phone = about('联系电话');
    expect(phone?.[2]).toBe('*****'); // a viewer does not see phones
    expect(phone?.[3]).toContain('电话号码无效');
    const category = about('保障类别');
    expect(category?.[2]).toBe('五保老户');
    expect(category?.[3]).toContain('取值无法识别');
    expect(page.body).not.toContain(BAD_ID);
    expect(page.body).not.toMatch(/>[a-z]+_[a-z_]+</);
    // a caseworker calls people: the phone in full, the id number still masked
    const asCaseworker = await caseworker.get(`/deliveries/${rosterId}`);
    expect(asCaseworker.body).toContain(`<td class="">${SHORT_PHONE}</td>`);
    expect(asCaseworker.body).not.toContain(BAD_ID);
  });

  it('go to the agency on a data-quality sheet in Chinese, without a problem code', async () => {
    const csv = await caseworker.get(`/deliveries/${rosterId}/quality.csv`);
    expect(csv.statusCode).toBe(200);
    const text = csv.body;
    expect(text).toContain('行号,列,原值,严重程度,问题,说明,处理办法\n');
    expect(text).toContain('来源,民政救助对象名册\n');
    expect(text).toContain(`3,身份证号,${BAD_ID},警告,${problemText('id_checksum_failed').title},`);
    expect(text).toContain(problemText('unknown_label').action);
    expect(text).not.toMatch(/[a-z]+_[a-z_]+/);
  });
});

describe('the table of problem texts', () => {
  it('explains every problem ingest reports', () => {
    const ref: CellRef = { rowNo: 2, field: 'name', column: null };
    const made: Problem[] = [
      ...Object.values(cell).map((f) => (f as (...a: unknown[]) => Problem)(ref, 'x', 'warning')),
      rowProblem.extraCells(2, 3, 2), rowProblem.duplicate(3, 2),
      fileProblem.missingColumns([], [], { name: 'civil', title: '民政', file: 'x', isDefault: true }), fileProblem.headerNotFound(50, undefined),
      fileProblem.ambiguousProfiles([]), fileProblem.absentColumn('name', ''), fileProblem.sourceUnknown(), fileProblem.asOfNotFound(),
      fileProblem.asOfMismatch('', '', 'filename'), fileProblem.duplicateColumn('name', '', ''), fileProblem.repeatedHeader(2), fileProblem.noDataRows(),
    ];
    const codes = [...new Set([...made.map((p) => p.code), ...Object.keys(UNSUPPORTED_MESSAGE).map((k) => `unsupported_${k}`)])];
    expect(codes.length).toBeGreaterThan(40);
    for (const code of codes) expect(problemText(code).title, code).not.toBe(problemText('no such code').title);
  });
});
