/**
 * Users of the HTTP server and the console: a name, a role, a scrypt password hash
 * (memory-hard: 16 MiB per check). Managed with `aidlink user …`; the console signs
 * them in with a session (sessions.ts), API clients send HTTP Basic credentials.
 */
import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import type { Store } from '../db/store.js';
import type { UserRole } from '../db/schema.js';
import type { Disclosure } from '../privacy.js';

export const ROLES: readonly UserRole[] = ['viewer', 'caseworker', 'supervisor', 'admin'];
export const ROLE_LABEL: Record<UserRole, string> = { viewer: '查看', caseworker: '经办', supervisor: '主管', admin: '管理员' };
const RANK: Record<UserRole, number> = { viewer: 0, caseworker: 1, supervisor: 2, admin: 3 };

/**
 * What each role may do; each role may do everything the roles before it may.
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

/** Does `role` include what `needed` may do? (admin ⊇ supervisor ⊇ caseworker ⊇ viewer) */
export function allows(role: UserRole, needed: UserRole): boolean {
  return RANK[role] >= RANK[needed];
}

export function may(role: UserRole, permission: Permission): boolean {
  return allows(role, PERMISSION[permission]);
}

/**
 * The one masking rule, for every page and export: names are shown to every signed-in
 * user (staff must know whom they look at); phones in full to those who contact people;
 * id numbers in full only to those who may unmask and asked for it (the caller audits that).
 */
export function disclosureFor(role: UserRole, askedToUnmask: boolean): Disclosure {
  return { fullIdNumbers: askedToUnmask && may(role, 'unmask'), fullPhones: may(role, 'contact') };
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

export async function addUser(store: Store, username: string, password: string, role: UserRole): Promise<void> {
  if (!USERNAME.test(username)) throw new UserError('a user name is 2–32 lower-case letters, digits, dot, dash or underscore');
  checkPassword(password);
  const exists = await store.k.selectFrom('app_user').select('id').where('username', '=', username).executeTakeFirst();
  if (exists) throw new UserError(`there is already a user ${username}`);
  await store.k.insertInto('app_user').values({ username, password_hash: await hashPassword(password), role }).execute();
}

export async function updateUser(store: Store, username: string, change: { password?: string; role?: UserRole; disabled?: boolean }): Promise<void> {
  if (change.password !== undefined) checkPassword(change.password);
  const r = await store.k
    .updateTable('app_user')
    .set({
      updated_at: new Date(),
      ...(change.password !== undefined ? { password_hash: await hashPassword(change.password) } : {}),
      ...(change.role ? { role: change.role } : {}),
      ...(change.disabled !== undefined ? { disabled_at: change.disabled ? new Date() : null } : {}),
    })
    .where('username', '=', username)
    .executeTakeFirst();
  if (Number(r.numUpdatedRows) === 0) throw new UserError(`no user ${username}; see \`aidlink user list\``);
  // a new password, a new role or a disabled account: the user signs in again
  await store.k.deleteFrom('app_session').where('user_id', 'in', (eb) => eb.selectFrom('app_user').select('id').where('username', '=', username)).execute();
}

export async function listUsers(store: Store): Promise<{ id: number; username: string; role: UserRole; created_at: Date; disabled_at: Date | null }[]> {
  return store.k.selectFrom('app_user').select(['id', 'username', 'role', 'created_at', 'disabled_at']).orderBy('username').execute();
}

export interface User {
  id: number;
  username: string;
  role: UserRole;
}

/** The user these credentials belong to, or undefined (unknown name, wrong password, disabled). */
export async function authenticate(store: Store, username: string, password: string): Promise<User | undefined> {
  const u = await store.k.selectFrom('app_user').select(['id', 'username', 'role', 'password_hash', 'disabled_at']).where('username', '=', username).executeTakeFirst();
  // an unknown name costs as much as a wrong password: the timing does not tell which names exist
  const ok = await verifyPassword(password, u?.password_hash ?? DUMMY_HASH);
  return u && ok && !u.disabled_at ? { id: u.id, username: u.username, role: u.role } : undefined;
}

const DUMMY_HASH = 'scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=';
