/** Migrations are listed explicitly, named by timestamp, and run in name order. */
import { Migrator, type Migration, type MigrationProvider, type MigrationResultSet } from 'kysely';
import type { Store } from './store.js';
import * as m20261122T0900 from './migrations/20261122T0900_ingest.js';
import * as m20261122T2000 from './migrations/20261122T2000_match.js';
import * as m20261123T0100 from './migrations/20261123T0100_assess.js';
import * as m20261123T0500 from './migrations/20261123T0500_report.js';
import * as m20261123T0600 from './migrations/20261123T0600_users.js';
import * as m20261124T0900 from './migrations/20261124T0900_outreach.js';
import * as m20261207T0100 from './migrations/20261207T0100_match_model.js';
import * as m20261207T1200 from './migrations/20261207T1200_match_state.js';
import * as m20261207T1800 from './migrations/20261207T1800_household_index.js';
import * as m20261208T0900 from './migrations/20261208T0900_profiles.js';
import * as m20261208T1200 from './migrations/20261208T1200_death.js';
import * as m20261208T1500 from './migrations/20261208T1500_settlement_ids.js';
import * as m20261209T0900 from './migrations/20261209T0900_stale_marks.js';
import * as m20261210T0900 from './migrations/20261210T0900_anchor_state.js';
import * as m20261210T1000 from './migrations/20261210T1000_golden_basis.js';
import * as m20261211T0900 from './migrations/20261211T0900_case_received.js';
import * as m20261212T0900 from './migrations/20261212T0900_pooled_link.js';
import * as m20261212T1100 from './migrations/20261212T1100_case_outcome.js';
import * as m20261212T1200 from './migrations/20261212T1200_person_search.js';
import * as m20261212T1300 from './migrations/20261212T1300_township_user.js';

const MIGRATIONS: Record<string, Migration> = {
  '20261122T0900_ingest': m20261122T0900,
  '20261122T2000_match': m20261122T2000,
  '20261123T0100_assess': m20261123T0100,
  '20261123T0500_report': m20261123T0500,
  '20261123T0600_users': m20261123T0600,
  '20261124T0900_outreach': m20261124T0900,
  '20261207T0100_match_model': m20261207T0100,
  '20261207T1200_match_state': m20261207T1200,
  '20261207T1800_household_index': m20261207T1800,
  '20261208T0900_profiles': m20261208T0900,
  '20261208T1200_death': m20261208T1200,
  '20261208T1500_settlement_ids': m20261208T1500,
  '20261209T0900_stale_marks': m20261209T0900,
  '20261210T0900_anchor_state': m20261210T0900,
  '20261210T1000_golden_basis': m20261210T1000,
  '20261211T0900_case_received': m20261211T0900,
  '20261212T0900_pooled_link': m20261212T0900,
  '20261212T1100_case_outcome': m20261212T1100,
  '20261212T1200_person_search': m20261212T1200,
  '20261212T1300_township_user': m20261212T1300,
};

const provider: MigrationProvider = { getMigrations: async () => MIGRATIONS };

export class MigrationError extends Error {
  override name = 'MigrationError';
}

/** Brings the schema up to date; returns the names of the migrations applied now. */
export async function migrateToLatest(store: Store): Promise<string[]> {
  const migrator = new Migrator({ db: store.k, provider });
  const { error, results }: MigrationResultSet = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new MigrationError(`migration ${failed} failed: ${error instanceof Error ? error.message : String(error)}`);
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/** Names of the migrations not yet applied. */
export async function pendingMigrations(store: Store): Promise<string[]> {
  const migrator = new Migrator({ db: store.k, provider });
  const all = await migrator.getMigrations();
  return all.filter((m) => m.executedAt === undefined).map((m) => m.name);
}
