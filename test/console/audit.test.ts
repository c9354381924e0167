/**
 * The audit log page (issue 19): each entry's 详情 is a Chinese sentence, not raw JSON;
 * persons are named masked (张**) with their person number, never with an id number or
 * a phone; actions are labelled in Chinese. Synthetic sample county only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { syncInProcess } from '../../src/jobs/local.js';
import { maskName } from '../../src/privacy.js';
import { audit } from '../../src/server/audit.js';
import { AUDIT_LABEL } from '../../src/console/pages/audit.js';
import { consoleRig, type ConsoleRig } from '../helpers/console.js';
import { SAMPLE_INBOX } from '../helpers/sample.js';

const FULL_ID = /\b\d{17}[\dX]\b/;

/** The cells of one column of the audit table, by its header. */
function column(body: string, header: string): string[] {
  const table = body.slice(body.indexOf('<table>'), body.indexOf('</table>'));
  const heads = [...table.matchAll(/<th[^>]*>([^<]*)<\/th>/g)].map((m) => m[1]);
  const i = heads.indexOf(header);
  return [...table.matchAll(/<tr>([\s\S]*?)<\/tr>/g)]
    .map((m) => [...m[1]!.matchAll(/<td[^>]*>([\s\S]*?)<\/td>/g)].map((c) => c[1]!))
    .filter((cells) => cells.length === heads.length)
    .map((cells) => cells[i]!);
}

describe('console: 审计日志', () => {
  let rig: ConsoleRig;
  let person: { id: number; name: string };

  beforeAll(async () => {
    rig = await consoleRig({ prepare: (app) => syncInProcess(app, { inbox: SAMPLE_INBOX, requestedBy: 'cli:operator' }).then(() => undefined) });
    const p = await rig.db.store.k.selectFrom('person').select(['id', 'name']).where('id_number', 'is not', null).where('name', 'is not', null).where('retired_at', 'is', null).orderBy('id').executeTakeFirstOrThrow();
    person = { id: p.id, name: p.name! };
    const store = rig.db.store;
    // what staff do in the console
    await (await rig.as('viewer')).get(`/persons/${person.id}?unmask=1`);
    const sup = await rig.as('supervisor');
    await sup.get(`/persons/${person.id}?unmask=1&reason=${encodeURIComponent('核对报销')}`);
    const cw = await rig.as('caseworker');
    await cw.post('/runs/sync');
    await cw.post('/reports');
    await rig.server.inject({ method: 'POST', url: '/login', payload: 'username=caseworker1&password=wrong-password-1', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    // and what the command line and other pages write
    await audit(store, { actor: 'caseworker1', action: 'case_update', subject: 'case:7', detail: { from: 'pending', to: 'dispatched' } });
    await audit(store, { actor: 'caseworker1', action: 'case_update', subject: 'case:7', detail: { note: true } });
    await audit(store, { actor: 'cli:root', action: 'user_change', subject: 'user:viewer2', detail: { added: 'viewer' } });
    await audit(store, { actor: 'cli:root', action: 'export', subject: 'flags', detail: { rows: 12 } });
    await audit(store, { actor: 'caseworker1', action: 'export', subject: 'delivery:3', detail: { what: 'quality', format: 'csv' } });
    await audit(store, { actor: 'supervisor1', action: 'link_confirm', subject: 'row:1:2', detail: { person: person.id } });
    await audit(store, { actor: 'caseworker1', action: 'quarantine_release', subject: 'delivery:4' });
  }, 120_000);
  afterAll(() => rig?.close());

  it('reads as Chinese sentences, with no raw JSON, for the common actions', async () => {
    const r = await (await rig.as('supervisor')).get('/audit');
    expect(r.statusCode).toBe(200);
    const details = column(r.body, '详情');
    expect(details.length).toBeGreaterThanOrEqual(12);
    for (const d of details) {
      expect(d).not.toMatch(/[{}]|&quot;|"\w+":/);
      expect(d).not.toMatch(/\b(?:reason|from|to|what|format|rows|note|added|person|credentials|throttled|pending|dispatched)\b/);
    }
    const text = details.join('\n');
    const who = `${maskName(person.name)}（人员编号 ${person.id}）`;
    expect(text).toContain(`${who} 的完整身份证号已查看（理由：核对报销）`);
    expect(text).toContain(`${who} 的完整身份证号：该用户无权查看，已拒绝`);
    expect(text).toContain('启动同步收件箱');
    expect(text).toMatch(/生成第 \d+ 期新增应救助人员报告/);
    expect(text).toContain('用户名或密码不正确，登录被拒');
    expect(text).toContain('登录控制台');
    expect(text).toContain('个案 7 状态由“待下放”改为“已下放”');
    expect(text).toContain('个案 7 添加备注');
    expect(text).toContain('添加用户 viewer2（角色：查看）');
    expect(text).toContain('导出待跟进标记，共 12 行');
    expect(text).toContain('导出数据文件 3 的问题清单（CSV）');
    expect(text).toContain(`与人员编号 ${person.id}（${maskName(person.name)}）是同一人`);
    expect(text).toContain('放行暂扣的数据文件 4');
    // the in-process sync, recorded, with a link to its steps
    expect(text).toMatch(/命令行（operator）运行了<a href="\/runs\/local-run\/\d+">同步收件箱<\/a>：已完成/);
  });

  it('labels actions and actors in Chinese and shows no personal data in full', async () => {
    const r = await (await rig.as('admin')).get('/audit');
    const actions = column(r.body, '操作');
    const labels = new Set(Object.values(AUDIT_LABEL));
    for (const a of actions) expect(labels.has(a), a).toBe(true);
    expect(actions).toContain('查看完整身份证号被拒绝（无权限）');
    expect(actions).toContain('本机运行作业（命令行）');
    expect(column(r.body, '用户')).toContain('root（命令行）');
    expect(r.body).not.toMatch(FULL_ID);
    if ([...person.name].length > 1) expect(r.body).not.toContain(person.name);
    // the subject links to the person
    expect(r.body).toContain(`<a href="/persons/${person.id}">${maskName(person.name)}（人员编号 ${person.id}）</a>`);
  });

  it('is for supervisors and admins only', async () => {
    expect((await (await rig.as('caseworker')).get('/audit')).statusCode).toBe(403);
  });
});
