/**
 * Users of the HTTP server and the console: a name, a role, a scrypt password hash
 * (memory-hard: 16 MiB per check). Managed with `aidlink user …`; the console signs
 * them in with a session (sessions.ts), API clients send HTTP Basic credentials.
 */
import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { z } from 'zod';
import type { Store } from '../db/store.js';
import type { AppRole, UserRole } from '../db/schema.js';
import type { Disclosure } from '../privacy.js';

/** The ranked roles, lowest first: each may do what the ones before it may. */
export const ROLES: readonly UserRole[] = ['viewer', 'caseworker', 'supervisor', 'admin'];
/**
 * Township staff (乡镇经办): outside the ranks. They follow their own township's cases once sent
 * down — 已接收, 已联系, 无法联系 and notes — and nothing else. `may` gives them no permission at all,
 * so no route that checks one lets them through; auth.ts lets them use an allowlist of routes
 * (TOWNSHIP_ROUTES), and those routes keep them to their township (console/pages/worklist.ts).
 */
export const TOWNSHIP = 'township' as const satisfies AppRole;
/** Every role a user may have: the ranked ones and township staff. */
export const ALL_ROLES: readonly AppRole[] = [...ROLES, TOWNSHIP];
export const ROLE_LABEL: Record<AppRole, string> = { viewer: '查看', caseworker: '经办', supervisor: '主管', admin: '管理员', township: '乡镇经办' };
const RANK: Record<UserRole, number> = { viewer: 0, caseworker: 1, supervisor: 2, admin: 3 };

export const isTownship = (role: AppRole): role is typeof TOWNSHIP => role === TOWNSHIP;

/**
 * What each ranked role may do; each role may do everything the roles before it may. Township
 * staff may none of these (see TOWNSHIP).
 *   viewer      look (id numbers and phones masked)
 *   caseworker  also change: upload files, release quarantine, decide links, update cases, start runs,
 *               download reports; and see phones in full (they make the outreach calls)
 *   supervisor  also see id numbers unmasked (asked for, audited), read the audit log, watch the queues
 *   admin       also manage users and the queues
 */
export const PERMISSION = {
  view: 'viewer',
  change: 'caseworker',
  contact: 'caseworker',
  unmask: 'supervisor',
  audit: 'supervisor',
  operations: 'supervisor',
  admin: 'admin',
} as const satisfies Record<string, UserRole>;
export type Permission = keyof typeof PERMISSION;

/** Does `role` include what `needed` may do? (admin ⊇ supervisor ⊇ caseworker ⊇ viewer; township staff include none) */
export function allows(role: AppRole, needed: UserRole): boolean {
  return !isTownship(role) && RANK[role] >= RANK[needed];
}

export function may(role: AppRole, permission: Permission): boolean {
  return allows(role, PERMISSION[permission]);
}

/**
 * The one masking rule, for every page and export: names are shown to every signed-in
 * user (staff must know whom they look at); phones in full to those who contact people;
 * id numbers in full only to those who may unmask and asked for it (the caller audits that).
 */
export function disclosureFor(role: AppRole, askedToUnmask: boolean): Disclosure {
  // township staff make the calls: phones in full; they may never unmask an id number
  return { fullIdNumbers: askedToUnmask && may(role, 'unmask'), fullPhones: may(role, 'contact') || isTownship(role) };
}

export class UserError extends Error {
  override name = 'UserError';
}

const SCRYPT = { N: 16384, r: 8, p: 1, keylen: 32 };

function scrypt(password: string, salt: Buffer, keylen: number, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => scryptCb(password.normalize('NFC'), salt, keylen, opts, (err, key) => (err ? reject(err) : resolve(key))));
}

/** scrypt$N$r$p$salt$hash (base64): the parameters travel with the hash, so they can be raised later. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, SCRYPT.keylen, { N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p });
  return ['scrypt', SCRYPT.N, SCRYPT.r, SCRYPT.p, salt.toString('base64'), key.toString('base64')].join('$');
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !n || !r || !p || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64');
  const key = await scrypt(password, Buffer.from(salt, 'base64'), expected.length, { N: Number(n), r: Number(r), p: Number(p) });
  return timingSafeEqual(key, expected);
}

export function checkPassword(password: string): void {
  if ([...password].length < 10) throw new UserError('a password needs at least 10 characters');
}

const USERNAME = /^[a-z0-9][a-z0-9._-]{1,31}$/;

/** A township's name as the cases carry it (`outreach_case.township`, e.g. 郎岱镇). */
const townshipName = z.string().trim().min(1).max(50);

/** The township a user of `role` is bound to: required for township staff, none for anyone else. */
export function townshipFor(role: AppRole, township: string | null | undefined): string | null {
  if (!isTownship(role)) {
    if (township) throw new UserError(`only township staff (--role ${TOWNSHIP}) have a township`);
    return null;
  }
  const t = townshipName.safeParse(township ?? '');
  if (!t.success) throw new UserError(`a township user needs their township (--township 郎岱镇, up to 50 characters)`);
  return t.data;
}

export async function addUser(store: Store, username: string, password: string, role: AppRole, township?: string): Promise<void> {
  if (!USERNAME.test(username)) throw new UserError('a user name is 2–32 lower-case letters, digits, dot, dash or underscore');
  checkPassword(password);
  const place = townshipFor(role, township);
  const exists = await store.k.selectFrom('app_user').select('id').where('username', '=', username).executeTakeFirst();
  if (exists) throw new UserError(`there is already a user ${username}`);
  await store.k.insertInto('app_user').values({ username, password_hash: await hashPassword(password), role, township: place }).execute();
}

/**
 * Changes a user. A township goes with the township role: a user made township staff must be
 * given one (or have one), a new township needs that role, and leaving the role drops it.
 */
export async function updateUser(store: Store, username: string, change: { password?: string; role?: AppRole; township?: string; disabled?: boolean }): Promise<void> {
  if (change.password !== undefined) checkPassword(change.password);
  const now = await store.k.selectFrom('app_user').select(['role', 'township']).where('username', '=', username).executeTakeFirst();
  if (!now) throw new UserError(`no user ${username}; see \`aidlink user list\``);
  const role = change.role ?? now.role;
  const township = change.role !== undefined || change.township !== undefined ? townshipFor(role, change.township ?? (isTownship(role) ? now.township : null)) : now.township;
  await store.k
    .updateTable('app_user')
    .set({
      updated_at: new Date(),
      ...(change.password !== undefined ? { password_hash: await hashPassword(change.password) } : {}),
      ...(change.role ? { role: change.role } : {}),
      township,
      ...(change.disabled !== undefined ? { disabled_at: change.disabled ? new Date() : null } : {}),
    })
    .where('username', '=', username)
    .execute();
  // a new password, a new role or township, or a disabled account: the user signs in again
  await store.k.deleteFrom('app_session').where('user_id', 'in', (eb) => eb.selectFrom('app_user').select('id').where('username', '=', username)).execute();
}

export async function listUsers(store: Store): Promise<{ id: number; username: string; role: AppRole; township: string | null; created_at: Date; disabled_at: Date | null }[]> {
  return store.k.selectFrom('app_user').select(['id', 'username', 'role', 'township', 'created_at', 'disabled_at']).orderBy('username').execute();
}

export interface User {
  id: number;
  username: string;
  role: AppRole;
  /** township staff's township; filled in by auth.ts for every request of theirs */
  township?: string | null;
}

/** The user these credentials belong to, or undefined (unknown name, wrong password, disabled). */
export async function authenticate(store: Store, username: string, password: string): Promise<User | undefined> {
  const u = await store.k.selectFrom('app_user').select(['id', 'username', 'role', 'password_hash', 'disabled_at']).where('username', '=', username).executeTakeFirst();
  // an unknown name costs as much as a wrong password: the timing does not tell which names exist
  const ok = await verifyPassword(password, u?.password_hash ?? DUMMY_HASH);
  return u && ok && !u.disabled_at ? { id: u.id, username: u.username, role: u.role } : undefined;
}

const DUMMY_HASH = 'scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=';
