import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consoleRig, type ConsoleRig } from '../helpers/console.js';

describe('console smoke', () => {
  let rig: ConsoleRig;
  beforeAll(async () => {
    rig = await consoleRig();
  });
  afterAll(() => rig?.close());
  it('serves every page to a signed-in user', async () => {
    const c = await rig.as('admin');
    for (const url of ['/', '/deliveries', '/reports', '/runs', '/audit']) {
      const r = await c.get(url);
      expect(r.statusCode, `${url}: ${r.body.slice(0, 500)}`).toBe(200);
    }
  });
});
