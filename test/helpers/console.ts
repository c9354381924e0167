/**
 * The console and API in a test: a server on a test database and a Redis prefix of
 * its own (no port: fastify's inject), a user of each role, and signed-in clients
 * that carry their session cookie and CSRF token as a browser would.
 */
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
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

export const PASSWORD: Record<UserRole, string> = { viewer: 'viewer-password-1', caseworker: 'caseworker-password-1', supervisor: 'supervisor-password-1', admin: 'admin-password-1' };

export interface ConsoleClient {
  username: string;
  cookie: string;
  csrf: string;
  get(url: string): Promise<LightMyRequestResponse>;
  /** a form post, with the CSRF token added unless `csrf: false` */
  post(url: string, form?: Record<string, string>, opts?: { csrf?: boolean }): Promise<LightMyRequestResponse>;
}

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

export async function signIn(server: FastifyInstance, username: string, password: string): Promise<ConsoleClient> {
  const login = await server.inject({ method: 'POST', url: '/login', payload: new URLSearchParams({ username, password }).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  if (login.statusCode !== 303) throw new Error(`sign-in of ${username} failed: ${login.statusCode} ${login.body.slice(0, 200)}`);
  const set = login.cookies.find((c) => c.name === 'aidlink_session');
  if (!set) throw new Error('no session cookie');
  const cookie = `aidlink_session=${set.value}`;
  const home = await server.inject({ url: '/', headers: { cookie } });
  const csrf = /name="_csrf" value="([^"]+)"/.exec(home.body)?.[1];
  if (!csrf) throw new Error('no CSRF token on the home page');
  const send = (opts: InjectOptions) => server.inject({ ...opts, headers: { cookie, ...(opts.headers ?? {}) } });
  return {
    username,
    cookie,
    csrf,
    get: (url) => send({ url }),
    post: (url, form = {}, opts = {}) =>
      send({ method: 'POST', url, payload: new URLSearchParams({ ...(opts.csrf === false ? {} : { _csrf: csrf }), ...form }).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } }),
  };
}

/** A console on a fresh database; `prepare` fills the database before users are added (a sync, say). */
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
