/**
 * The audit log: every unmasked view, every export and download, every change a
 * user makes. Entries name the actor and the subject by id (a person id, a report
 * run, a delivery), never by name or id number, so the log itself is not personal
 * data to guard.
 */
import type { Store } from '../db/store.js';

export type AuditAction =
  | 'sign_in'
  | 'sign_in_refused'
  | 'sign_in_locked'
  | 'sign_out'
  | 'unmask'
  /** a role that may not unmask asked to (`?unmask=1`): refused with 403, and recorded */
  | 'unmask_refused'
  | 'export'
  | 'download'
  | 'upload'
  | 'quarantine_release'
  | 'quarantine_discard'
  | 'link_confirm'
  | 'link_reject'
  | 'case_update'
  | 'run_start'
  /** a run that ran in-process (no Redis: `aidlink sync` on a laptop, the demo): its job tree, for the console's 作业 page (jobs/record.ts) */
  | 'run_local'
  | 'user_change';

export interface AuditEntry {
  actor: string;
  action: AuditAction;
  subject?: string | null;
  detail?: Record<string, unknown> | null;
  ip?: string | null;
}

export async function audit(store: Store, e: AuditEntry): Promise<void> {
  await store.k
    .insertInto('audit_log')
    .values({ actor: e.actor, action: e.action, subject: e.subject ?? null, detail: e.detail ? JSON.stringify(e.detail) : null, ip: e.ip ?? null })
    .execute();
}

export async function listAudit(store: Store, opts: { action?: AuditAction; actor?: string; limit?: number } = {}) {
  let q = store.k.selectFrom('audit_log').select(['id', 'at', 'actor', 'action', 'subject', 'detail', 'ip']).orderBy('id', 'desc').limit(opts.limit ?? 200);
  if (opts.action) q = q.where('action', '=', opts.action);
  if (opts.actor) q = q.where('actor', '=', opts.actor);
  return q.execute();
}
