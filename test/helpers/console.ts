/**
 * The console and API in a test: a server on a test database and a Redis prefix of
 * its own (no port: fastify's inject), a user of each role, and signed-in clients
 * that carry their session cookie and CSRF token as a browser would.
 */
import type { FastifyInstance } from 'fastify';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AppContext } from '../../src/context.js';
import type { UserRole } from '../../src/db/schema.js';
import { BullRunner } from '../../src/jobs/bull.js';
import { buildServer } from '../../src/server/app.js';
import { addUser } from '../../src/server/users.js';
import { createTestDb, type TestDb } from './db.js';
import { testContext } from './context.js';
import { dropQueues, queueEnv } from './queues.js';
import { signIn, type ConsoleClient } from './sign-in.js';

export { signIn, type ConsoleClient };

export const PASSWORD: Record<UserRole, string> = { viewer: 'viewer-password-1', caseworker: 'caseworker-password-1', supervisor: 'supervisor-password-1', admin: 'admin-password-1' };

export interface ConsoleRig {
  db: TestDb;
  app: AppContext;
  runner: BullRunner;
  server: FastifyInstance;
  env: Record<string, string>;
  /** signed in as the user of this role (`<role>1`) */
  as(role: UserRole): Promise<ConsoleClient>;
  close(): Promise<void>;
}

export async function consoleRig(opts: { prepare?: (app: AppContext) => Promise<void>; env?: Record<string, string> } = {}): Promise<ConsoleRig> {
  const env = queueEnv({ AIDLINK_INBOX: mkdtempSync(join(tmpdir(), 'aidlink-console-inbox-')), AIDLINK_COOKIE_SECURE: 'false', ...opts.env });
  const db = await createTestDb({ poolSize: 12 });
  const app = testContext(db.store, env);
  if (opts.prepare) await opts.prepare(app);
  for (const role of ['viewer', 'caseworker', 'supervisor', 'admin'] as const) await addUser(db.store, `${role}1`, PASSWORD[role], role);
  const runner = await BullRunner.connect(app.config);
  const server = await buildServer(app, runner);
  return {
    db,
    app,
    runner,
    server,
    env,
    as: (role) => signIn(server, `${role}1`, PASSWORD[role]),
    async close() {
      await server.close();
      await runner.close();
      await dropQueues(env.AIDLINK_QUEUE_PREFIX!);
      await db.drop();
    },
  };
}
