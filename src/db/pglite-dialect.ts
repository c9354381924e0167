/**
 * A Kysely dialect for PGlite. PGlite is a single connection, so every query
 * (outside a Store transaction, which holds the mutex itself) waits its turn.
 */
import {
  CompiledQuery,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type Kysely,
  type QueryResult,
  type TransactionSettings,
} from 'kysely';
import type { PGlite } from '@electric-sql/pglite';
import type { Mutex } from '../util/mutex.js';

export class PGliteDialect implements Dialect {
  constructor(
    private readonly db: PGlite,
    private readonly mutex: Mutex | undefined,
  ) {}
  createAdapter() {
    return new PostgresAdapter();
  }
  createDriver(): Driver {
    return new PGliteDriver(this.db, this.mutex);
  }
  createIntrospector(db: Kysely<unknown>) {
    return new PostgresIntrospector(db);
  }
  createQueryCompiler() {
    return new PostgresQueryCompiler();
  }
}

class PGliteConnection implements DatabaseConnection {
  constructor(private readonly db: PGlite) {}
  async executeQuery<R>(q: CompiledQuery): Promise<QueryResult<R>> {
    const r = await this.db.query<R>(q.sql, q.parameters as unknown[]);
    return r.affectedRows !== undefined && r.rows.length === 0
      ? { rows: r.rows, numAffectedRows: BigInt(r.affectedRows) }
      : { rows: r.rows };
  }
  // eslint-disable-next-line require-yield
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('streaming queries are not supported on the embedded database');
  }
}

class PGliteDriver implements Driver {
  private readonly connection: PGliteConnection;
  private release: (() => void) | undefined;
  constructor(
    db: PGlite,
    private readonly mutex: Mutex | undefined,
  ) {
    this.connection = new PGliteConnection(db);
  }
  async init() {}
  async acquireConnection(): Promise<DatabaseConnection> {
    if (this.mutex) {
      // hold the mutex until releaseConnection
      await new Promise<void>((acquired) => {
        void this.mutex!.run(
          () =>
            new Promise<void>((done) => {
              this.release = done;
              acquired();
            }),
        );
      });
    }
    return this.connection;
  }
  async beginTransaction(c: DatabaseConnection, _s: TransactionSettings) {
    await c.executeQuery(CompiledQuery.raw('begin'));
  }
  async commitTransaction(c: DatabaseConnection) {
    await c.executeQuery(CompiledQuery.raw('commit'));
  }
  async rollbackTransaction(c: DatabaseConnection) {
    await c.executeQuery(CompiledQuery.raw('rollback'));
  }
  async releaseConnection() {
    const r = this.release;
    this.release = undefined;
    r?.();
  }
  async destroy() {}
}
