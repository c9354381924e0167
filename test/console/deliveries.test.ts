/**
 * A delivery's page says which export format (profile) read it, and its roster
 * series when it is not the source's main one (issue 13).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { consoleRig, type ConsoleRig } from '../helpers/console.js';
import { inbox, makeId } from '../helpers/fixtures.js';
import { ingestFile } from '../../src/ingest/ingest.js';

const PROFILES = fileURLToPath(new URL('../../config/examples/jiangjin.yaml', import.meta.url));
let rig: ConsoleRig;
let deliveryId: number;

beforeAll(async () => {
  rig = await consoleRig({
    env: { AIDLINK_MAPPING: PROFILES },
    prepare: async (app) => {
      const box = inbox();
      const path = box.put('civil/救助对象名单_20260331.csv', {
        encoding: 'gbk',
        header: ['姓名', '身份证号', '镇街', '村社', '优先身份'],
        rows: [['甲某', makeId('1960-02-03', 11), '几江街道', '艾坪村', '低保户']],
      });
      const r = await ingestFile(app.store, app.mapping, path, { inboxRoot: box.root });
      if (r.outcome !== 'ingested') throw new Error(r.outcome);
      deliveryId = r.delivery.id;
    },
  });
}, 120_000);
afterAll(() => rig?.close());

describe('a delivery\'s page', () => {
  it('names the export format that read it and its roster series', async () => {
    const viewer = await rig.as('viewer');
    const page = await viewer.get(`/deliveries/${deliveryId}`);
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('<dt>导出格式</dt><dd>救助对象名单（民政、乡村振兴）</dd>');
    expect(page.body).toContain('<dt>名册系列</dt><dd>救助对象名单</dd>');
  });
});
