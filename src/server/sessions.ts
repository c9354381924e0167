/**
 * Console sessions. The cookie carries a random token; the database keeps only its
 * SHA-256, so a leaked table signs nobody in. Each session has its own CSRF token,
 * which every form and every script request sends back. Sessions end after
 * AIDLINK_SESSION_HOURS without use, and at once when the user's password, role or
 * account changes.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Store } from '../db/store.js';
import type { User } from './users.js';

export const SESSION_COOKIE = 'aidlink_session';

const hash = (token: string) => createHash('sha256').update(token).digest('base64url');

export interface Session {
  user: User;
  csrfToken: string;
  tokenHash: string;
}

export async function createSession(store: Store, user: User, opts: { hours: number; ip: string | null }): Promise<{ token: string; session: Session }> {
  const token = randomBytes(32).toString('base64url');
  const csrfToken = randomBytes(24).toString('base64url');
  await store.k
    .insertInto('app_session')
    .values({ token_hash: hash(token), user_id: user.id, csrf_token: csrfToken, expires_at: new Date(Date.now() + opts.hours * 3600_000), ip: opts.ip })
    .execute();
  return { token, session: { user, csrfToken, tokenHash: hash(token) } };
}

/** The session this cookie token belongs to, if it is still valid; its expiry moves on with use. */
export async function findSession(store: Store, token: string | undefined, opts: { hours: number }): Promise<Session | undefined> {
  if (!token || token.length > 100) return undefined;
  const row = await store.k
    .selectFrom('app_session')
    .innerJoin('app_user', 'app_user.id', 'app_session.user_id')
    .select(['app_session.token_hash', 'app_session.csrf_token', 'app_session.expires_at', 'app_session.last_seen_at', 'app_user.id', 'app_user.username', 'app_user.role', 'app_user.disabled_at'])
    .where('app_session.token_hash', '=', hash(token))
    .executeTakeFirst();
  if (!row || row.disabled_at || row.expires_at.getTime() <= Date.now()) return undefined;
  // sliding expiry, written at most once a minute
  if (Date.now() - row.last_seen_at.getTime() > 60_000) {
    await store.k.updateTable('app_session').set({ last_seen_at: new Date(), expires_at: new Date(Date.now() + opts.hours * 3600_000) }).where('token_hash', '=', row.token_hash).execute();
  }
  return { user: { id: row.id, username: row.username, role: row.role }, csrfToken: row.csrf_token, tokenHash: row.token_hash };
}

export async function endSession(store: Store, session: Session): Promise<void> {
  await store.k.deleteFrom('app_session').where('token_hash', '=', session.tokenHash).execute();
  // expired sessions of anyone go at the same time: no separate clean-up job needed
  await store.k.deleteFrom('app_session').where('expires_at', '<', new Date()).execute();
}

/** Constant-time comparison of the CSRF token a request sent with its session's. */
export function csrfMatches(session: Session, sent: string | undefined): boolean {
  if (!sent) return false;
  const a = Buffer.from(session.csrfToken);
  const b = Buffer.from(sent);
  return a.length === b.length && timingSafeEqual(a, b);
}
