/**
 * Login throttling: after too many failed sign-ins for one user name, or from one
 * address, within a window, further attempts are refused until the window has
 * passed — even with the right password, so guessing gains nothing. Counted in the
 * database, so every server process sees the same count.
 */
import type { Store } from '../db/store.js';

export interface ThrottlePolicy {
  /** failures allowed per user name within the window */
  perUser: number;
  /** failures allowed per address within the window (several users behind one office router) */
  perAddress: number;
  windowMinutes: number;
}

export const DEFAULT_THROTTLE: ThrottlePolicy = { perUser: 5, perAddress: 30, windowMinutes: 15 };

/** Minutes to wait before the next attempt, or 0 when one may try now. */
export async function loginBlockedFor(store: Store, username: string, ip: string | null, policy: ThrottlePolicy = DEFAULT_THROTTLE): Promise<number> {
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
  const checks = [{ ...(await count('username', username.toLowerCase())), limit: policy.perUser }];
  if (ip) checks.push({ ...(await count('ip', ip)), limit: policy.perAddress });
  let wait = 0;
  for (const c of checks) {
    if (c.n >= c.limit && c.first) wait = Math.max(wait, Math.ceil((c.first.getTime() + policy.windowMinutes * 60_000 - Date.now()) / 60_000));
  }
  return wait;
}

export async function recordLoginFailure(store: Store, username: string, ip: string | null): Promise<void> {
  await store.k.insertInto('login_failure').values({ username: username.toLowerCase().slice(0, 64), ip }).execute();
}

/** A successful sign-in clears the user name's failures (not the address's). */
export async function clearLoginFailures(store: Store, username: string): Promise<void> {
  await store.k.deleteFrom('login_failure').where('username', '=', username.toLowerCase()).execute();
  await store.k.deleteFrom('login_failure').where('at', '<', new Date(Date.now() - 24 * 3600_000)).execute();
}
