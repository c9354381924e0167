/** An application context over a test database, as commands get one. */
import type { AppContext } from '../../src/context.js';
import { loadConfig } from '../../src/config.js';
import type { Store } from '../../src/db/store.js';
import { loadMapping } from '../../src/ingest/mapping.js';
import { loadPolicy } from '../../src/policy/policy.js';
import { createNameTools } from '../../src/match/chinese.js';

export function testContext(store: Store): AppContext {
  return {
    config: loadConfig({}),
    store,
    mapping: loadMapping(),
    policy: loadPolicy(),
    names: createNameTools(),
    close: () => store.close(),
  };
}
