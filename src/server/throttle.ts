/**
 * Signing in, the one way for every way in (the console's form, HTTP Basic): after too
 * many failed attempts for one user name, or from one address, within a window, further
 * attempts are refused until the window has passed — even with the right password, so
 * guessing gains nothing. Every failure and every lock is audited. Counted in the
 * database, so every server process sees the same count.
 */
import type { Store } from '../db/store.js';
import { audit } from './audit.js';
import { authenticate, type User } from './users.js';

export interface ThrottlePolicy {
  /** failures allowed per user name within the window */
  perUser: number;
  /** failures allowed per address within the window (several users behind one office router) */
  perAddress: number;
  windowMinutes: number;
}

export const DEFAULT_THROTTLE: ThrottlePolicy = { perUser: 5, perAddress: 30, windowMinutes: 15 };

interface Standing {
  /** minutes to wait before the next attempt, or 0 when one may try now */
  wait: number;
  /** failures of this user name in the window (a success clears them) */
  userFailures: number;
}

async function standing(store: Store, username: string, ip: string | null, policy: ThrottlePolicy): Promise<Standing> {
  const since = new Date(Date.now() - policy.windowMinutes * 60_000);
  const count = async (column: 'username' | 'ip', value: string) => {
    const r = await store.k
      .selectFrom('login_failure')
      .select((eb) => [eb.fn.countAll<number>().as('n'), eb.fn.min('at').as('first')])
      .where(column, '=', value)
      .where('at', '>', since)
      .executeTakeFirstOrThrow();
    return { n: Number(r.n), first: r.first ? new Date(r.first as unknown as string) : undefined };
  };
  const byUser = await count('username', username.toLowerCase());
  const checks = [{ ...byUser, limit: policy.perUser }];
  if (ip) checks.push({ ...(await count('ip', ip)), limit: policy.perAddress });
  let wait = 0;
  for (const c of checks) {
    if (c.n >= c.limit && c.first) wait = Math.max(wait, Math.ceil((c.first.getTime() + policy.windowMinutes * 60_000 - Date.now()) / 60_000));
  }
  return { wait, userFailures: byUser.n };
}

async function recordLoginFailure(store: Store, username: string, ip: string | null): Promise<void> {
  await store.k.insertInto('login_failure').values({ username: username.toLowerCase().slice(0, 64), ip }).execute();
}

/** A successful sign-in clears the user name's failures (not the address's). */
async function clearLoginFailures(store: Store, username: string): Promise<void> {
  await store.k.deleteFrom('login_failure').where('username', '=', username.toLowerCase()).execute();
  await store.k.deleteFrom('login_failure').where('at', '<', new Date(Date.now() - 24 * 3600_000)).execute();
}

export type SignInVia = 'form' | 'basic';

export type SignInResult = { ok: true; user: User } | { ok: false; reason: 'throttled'; waitMinutes: number } | { ok: false; reason: 'credentials' };

/**
 * One attempt to sign in. `verify` checks the password (a cache in front of scrypt may
 * answer for it); the throttle, the failure count and the audit are the same for every
 * way in. A success is not audited here: the console audits its sign-ins, and an API
 * client's every request would flood the log.
 */
export async function attemptSignIn(
  store: Store,
  attempt: { username: string; password: string; ip: string | null; via: SignInVia },
  verify: (username: string, password: string) => Promise<User | undefined> = (u, p) => authenticate(store, u, p),
  policy: ThrottlePolicy = DEFAULT_THROTTLE,
): Promise<SignInResult> {
  const { username, ip, via } = attempt;
  const before = await standing(store, username, ip, policy);
  if (before.wait > 0) {
    await audit(store, { actor: username.slice(0, 64), action: 'sign_in_refused', detail: { reason: 'throttled', via }, ip });
    return { ok: false, reason: 'throttled', waitMinutes: before.wait };
  }
  const user = await verify(username, attempt.password);
  if (user) {
    if (before.userFailures > 0) await clearLoginFailures(store, username);
    return { ok: true, user };
  }
  await recordLoginFailure(store, username, ip);
  await audit(store, { actor: username.slice(0, 64), action: 'sign_in_refused', detail: { reason: 'credentials', via }, ip });
  const after = await standing(store, username, ip, policy);
  if (after.wait > 0) await audit(store, { actor: username.slice(0, 64), action: 'sign_in_locked', detail: { via, minutes: after.wait }, ip });
  return { ok: false, reason: 'credentials' };
}

/** At most `limit` events per key in a sliding window, in this process (uploads per user, say). */
export class RateLimit {
  private readonly events = new Map<string, number[]>();
  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
  ) {}

  /** Takes one event for `key`; false when the key has used its share of the window. */
  take(key: string, now = Date.now()): boolean {
    const recent = (this.events.get(key) ?? []).filter((t) => t > now - this.windowMs);
    if (recent.length >= this.limit) {
      this.events.set(key, recent);
      return false;
    }
    recent.push(now);
    this.events.set(key, recent);
    return true;
  }
}
