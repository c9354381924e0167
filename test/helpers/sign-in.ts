/** A console user signed in through the login form (no test runner needed: the benches use it too). */
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';

export interface ConsoleClient {
  username: string;
  cookie: string;
  csrf: string;
  get(url: string): Promise<LightMyRequestResponse>;
  /** a form post, with the CSRF token added unless `csrf: false` */
  post(url: string, form?: Record<string, string>, opts?: { csrf?: boolean }): Promise<LightMyRequestResponse>;
}

/** @param csrfPage a page that carries the session's CSRF token for this user (township staff have no home page: /worklist) */
export async function signIn(server: FastifyInstance, username: string, password: string, csrfPage = '/'): Promise<ConsoleClient> {
  const login = await server.inject({ method: 'POST', url: '/login', payload: new URLSearchParams({ username, password }).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  if (login.statusCode !== 303) throw new Error(`sign-in of ${username} failed: ${login.statusCode} ${login.body.slice(0, 200)}`);
  const set = login.cookies.find((c) => c.name === 'aidlink_session');
  if (!set) throw new Error('no session cookie');
  const cookie = `aidlink_session=${set.value}`;
  const home = await server.inject({ url: csrfPage, headers: { cookie } });
  const csrf = /name="_csrf" value="([^"]+)"/.exec(home.body)?.[1];
  if (!csrf) throw new Error(`no CSRF token on ${csrfPage}`);
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
