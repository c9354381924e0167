/**
 * What a command needs: validated configuration, the database, the column mapping.
 * Opening it fails fast with a clear message when any of them is wrong.
 */
import { loadConfig, type Config } from './config.js';
import { openStore, type Store } from './db/store.js';
import { migrateToLatest, pendingMigrations } from './db/migrate.js';
import { loadMapping, type Mapping } from './ingest/mapping.js';
import { loadPolicy, type Policy } from './policy/policy.js';
import { createNameTools, type NameTools } from './match/chinese.js';
import { delimiter } from 'node:path';
import { join } from 'node:path';

export interface AppContext {
  config: Config;
  store: Store;
  mapping: Mapping;
  policy: Policy;
  names: NameTools;
  close(): Promise<void>;
}

export class SchemaOutOfDateError extends Error {
  override name = 'SchemaOutOfDateError';
}

/**
 * @param schema 'auto' migrates the embedded database itself (it belongs to this
 *   process) but asks for `aidlink migrate` on a shared PostgreSQL, where schema
 *   changes are the operator's step; 'migrate' always migrates; 'none' skips the check.
 */
export async function openContext(opts: { schema?: 'auto' | 'migrate' | 'none'; config?: Config; poolSize?: number } = {}): Promise<AppContext> {
  const config = opts.config ?? loadConfig();
  // before the database: a bad mapping, policy or name-variant file fails at once
  const mapping = loadMapping(config.AIDLINK_MAPPING);
  const policy = loadPolicy(config.AIDLINK_POLICY);
  const names = createNameTools((config.AIDLINK_NAME_VARIANTS ?? '').split(delimiter).filter(Boolean));
  const store = await openStore({ databaseUrl: config.DATABASE_URL, dataDir: join(config.AIDLINK_DATA_DIR), ...(opts.poolSize ? { poolSize: opts.poolSize } : {}) });
  try {
    const mode = opts.schema ?? 'auto';
    if (mode === 'migrate' || (mode === 'auto' && store.engine === 'pglite')) await migrateToLatest(store);
    else if (mode === 'auto') {
      const pending = await pendingMigrations(store);
      if (pending.length > 0) {
        throw new SchemaOutOfDateError(`the database schema is not up to date (${pending.length} pending migration(s)): run \`aidlink migrate\` first`);
      }
    }
  } catch (err) {
    await store.close();
    throw err;
  }
  return { config, store, mapping, policy, names, close: () => store.close() };
}
