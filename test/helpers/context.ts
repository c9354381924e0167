/** An application context over a test database, as commands get one. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AppContext } from '../../src/context.js';
import { loadConfig } from '../../src/config.js';
import type { Store } from '../../src/db/store.js';
import { loadMapping } from '../../src/ingest/mapping.js';
import { loadPolicy } from '../../src/policy/policy.js';
import { createNameTools } from '../../src/match/chinese.js';

/** Reports and other files go to a fresh temporary folder, never into the working copy. */
export function testContext(store: Store, env: NodeJS.ProcessEnv = {}): AppContext {
  const dir = mkdtempSync(join(tmpdir(), 'aidlink-test-'));
  return {
    config: loadConfig({ AIDLINK_DATA_DIR: dir, AIDLINK_REPORTS_DIR: join(dir, 'reports'), ...env }),
    store,
    mapping: loadMapping(env.AIDLINK_MAPPING),
    policy: loadPolicy(),
    names: createNameTools(),
    close: () => store.close(),
  };
}
