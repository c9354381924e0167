/**
 * The life of a delivery (spec §2, §6): staged while its rows load; then
 * accepted, or quarantined when a snapshot holds under 80% of the rows of the
 * previous accepted snapshot of its source; superseded by a later file for the
 * same source and as-of date; released or discarded by staff. Every change of
 * status is an event with who and why.
 *
 * Quarantine is a function of the set of snapshots, not of arrival order: each
 * time a snapshot of a source is finalised, the whole source is re-evaluated in
 * as-of order, so ingesting files in any order ends in the same statuses.
 */
import { sql, type Kysely } from 'kysely';
import type { DB, Delivery, DeliveryStatus, SourceKey } from '../db/schema.js';
import type { Store, Tx } from '../db/store.js';
import { ROW_TABLES } from './load.js';

/** A snapshot under this share of the previous accepted snapshot's rows is held (spec §6). */
export const QUARANTINE_RATIO = 0.8;

export class DeliveryError extends Error {
  override name = 'DeliveryError';
}

export async function recordEvent(
  k: Kysely<DB>,
  deliveryId: number,
  from: DeliveryStatus | null,
  to: DeliveryStatus,
  actor: string,
  reason: string | null,
): Promise<void> {
  await k.insertInto('delivery_event').values({ delivery_id: deliveryId, from_status: from, to_status: to, actor, reason }).execute();
}

async function setStatus(
  k: Kysely<DB>,
  d: Pick<Delivery, 'id' | 'status'>,
  to: DeliveryStatus,
  actor: string,
  reason: string | null,
  extra: { superseded_by?: number | null } = {},
): Promise<void> {
  await k
    .updateTable('delivery')
    .set({ status: to, status_reason: reason, ...extra })
    .where('id', '=', d.id)
    .execute();
  await recordEvent(k, d.id, d.status, to, actor, reason);
}

/** Removes a delivery's rows, details and problems (a staged load that restarts). */
export async function deleteRows(tx: Tx, deliveryId: number, afterRow = 0): Promise<void> {
  for (const t of ROW_TABLES) {
    await tx.k
      .deleteFrom(t)
      .where('delivery_id', '=', deliveryId)
      .where((eb) => (afterRow > 0 ? eb('row_no', '>', afterRow) : eb.lit(true)))
      .execute();
  }
}

/** Serialises status decisions per source across processes, for the rest of the transaction. */
async function lockSource(tx: Tx, source: SourceKey): Promise<void> {
  await sql`select pg_advisory_xact_lock(hashtextextended(${'aidlink:source:' + source}, 0))`.execute(tx.k);
}

/**
 * Completes a staged delivery: flags duplicate rows, counts rows and problems,
 * supersedes earlier files for the same source, stream and as-of date, and decides the
 * statuses of the stream's snapshots. One transaction: all of it or none.
 */
export async function finalizeDelivery(store: Store, deliveryId: number, actor: string): Promise<Delivery> {
  return store.transaction(async (tx) => {
    const d = await tx.k.selectFrom('delivery').selectAll().where('id', '=', deliveryId).executeTakeFirstOrThrow();
    if (d.status !== 'staged' || !d.source || !d.as_of) throw new DeliveryError(`delivery ${deliveryId} is not a staged delivery`);
    await lockSource(tx, d.source);

    // the same row twice in one file (spec §5): both are rows; the later ones are flagged.
    // Candidates share a hash; the arrays themselves decide.
    await sql`
      insert into row_problem (delivery_id, row_no, severity, code, field, column_name, message)
      select delivery_id, row_no, 'warning', 'duplicate_row', null, null,
             '与第 ' || first_row || ' 行内容完全相同（重复行）'
      from (
        select delivery_id, row_no, min(row_no) over (partition by raw_hash, raw) as first_row
        from source_row
        where delivery_id = ${deliveryId}
          and raw_hash in (select raw_hash from source_row where delivery_id = ${deliveryId} group by raw_hash having count(*) > 1)
      ) r
      where row_no <> first_row`.execute(tx.k);

    const counts = await sql<{ rows: number; rejected: number; warnings: number }>`
      select (select count(*) from source_row where delivery_id = ${deliveryId})::int as rows,
             (select count(*) from source_row where delivery_id = ${deliveryId} and rejected)::int as rejected,
             (select count(*) from row_problem where delivery_id = ${deliveryId} and severity = 'warning')::int as warnings`
      .execute(tx.k);
    const c = counts.rows[0]!;
    await tx.k
      .updateTable('delivery')
      .set({ row_count: c.rows, rejected_rows: c.rejected, warning_count: c.warnings, finished_at: new Date() })
      .where('id', '=', deliveryId)
      .execute();

    // a later file for the same source and as-of date replaces the earlier one (spec §2). For a
    // snapshot that is decided with its quarantine (evaluateSnapshots): one held replaces nothing.
    if (d.kind !== 'snapshot') {
      const earlier = await tx.k
        .selectFrom('delivery')
        .select(['id', 'status', 'file'])
        .where('source', '=', d.source)
        .where('stream', 'is not distinct from', d.stream)
        .where('as_of', '=', d.as_of)
        .where('id', '<>', d.id)
        .where('status', 'in', ['accepted', 'quarantined'])
        .execute();
      for (const e of earlier) await setStatus(tx.k, e, 'superseded', actor, supersededReason(d.file), { superseded_by: d.id });
    }

    // accepted for now; a snapshot source is then re-evaluated as a whole
    await setStatus(tx.k, d, 'accepted', actor, null);
    if (d.kind === 'snapshot') await evaluateSnapshots(tx, d.source, d.stream, actor);
    return tx.k.selectFrom('delivery').selectAll().where('id', '=', deliveryId).executeTakeFirstOrThrow();
  });
}

const supersededReason = (file: string) => `由同一截至日期的后到文件 ${file} 替代`;

/**
 * Walks a stream's live snapshots in as-of order (a source's streams are separate
 * series: a 低保 list and a 特困 list of one agency never replace each other). A snapshot is accepted when staff
 * released it, or when its usable rows (not rejected) reach 80% of the previous
 * accepted snapshot's; otherwise it is quarantined. Rejected rows do not count: a
 * file whose rows are all unreadable must not end everybody's spells either.
 *
 * Of several files for one as-of date, the last to arrive that is not held is the
 * snapshot of that date, and the ones that came before it are superseded (spec §2); a
 * file held in quarantine replaces nothing, so a truncated re-export of a month
 * leaves the month's good file in force until staff release it.
 */
export async function evaluateSnapshots(tx: Tx, source: SourceKey, stream: string | null, actor: string): Promise<void> {
  const snapshots = await tx.k
    .selectFrom('delivery')
    .select(['id', 'file', 'status', 'decision', 'as_of', 'row_count', 'rejected_rows'])
    .where('source', '=', source)
    .where('stream', 'is not distinct from', stream)
    .where('kind', '=', 'snapshot')
    .where('status', 'in', ['accepted', 'quarantined'])
    .orderBy('as_of')
    .orderBy('received_at')
    .orderBy('id')
    .execute();
  let previous: { file: string; usable: number } | undefined;
  for (let i = 0; i < snapshots.length; ) {
    // the files for one as-of date, in the order they arrived
    let end = i;
    while (end < snapshots.length && snapshots[end]!.as_of === snapshots[i]!.as_of) end++;
    const sameDate = snapshots.slice(i, end);
    i = end;
    const usable = (s: (typeof sameDate)[number]) => s.row_count - s.rejected_rows;
    const base = previous;
    const held = (s: (typeof sameDate)[number]) => s.decision !== 'released' && base !== undefined && usable(s) < QUARANTINE_RATIO * base.usable;
    const chosen = sameDate.findLastIndex((s) => !held(s));
    for (const [n, s] of sameDate.entries()) {
      if (n === chosen) {
        if (s.status !== 'accepted') await setStatus(tx.k, s, 'accepted', actor, s.decision === 'released' ? '已由工作人员放行' : null);
      } else if (n < chosen) {
        const by = sameDate[chosen]!;
        await setStatus(tx.k, s, 'superseded', actor, supersededReason(by.file), { superseded_by: by.id });
      } else if (s.status !== 'quarantined') {
        const reason = `有效行数 ${usable(s)} 不足上一期已接收名册（${base!.file}，${base!.usable} 行）的 80%，疑似导出不完整，暂停使用，待工作人员放行或作废`;
        await setStatus(tx.k, s, 'quarantined', actor, reason);
      }
    }
    if (chosen >= 0) previous = { file: sameDate[chosen]!.file, usable: usable(sameDate[chosen]!) };
  }
}

export type QuarantineDecision = 'release' | 'discard';

/** A staff decision on a quarantined snapshot. It is a fact: later re-evaluation keeps it. */
export async function decideQuarantine(store: Store, deliveryId: number, decision: QuarantineDecision, actor: string): Promise<Delivery> {
  return store.transaction(async (tx) => {
    const d = await tx.k.selectFrom('delivery').selectAll().where('id', '=', deliveryId).executeTakeFirst();
    if (!d) throw new DeliveryError(`no delivery with id ${deliveryId}`);
    if (d.status !== 'quarantined') throw new DeliveryError(`delivery ${deliveryId} (${d.file}) is ${d.status}, not quarantined`);
    await lockSource(tx, d.source!);
    await tx.k
      .updateTable('delivery')
      .set({ decision: decision === 'release' ? 'released' : 'discarded', decided_by: actor, decided_at: new Date() })
      .where('id', '=', d.id)
      .execute();
    if (decision === 'discard') await setStatus(tx.k, d, 'discarded', actor, '已由工作人员作废');
    await evaluateSnapshots(tx, d.source!, d.stream, actor);
    return tx.k.selectFrom('delivery').selectAll().where('id', '=', deliveryId).executeTakeFirstOrThrow();
  });
}

export async function findDelivery(k: Kysely<DB>, ref: string): Promise<Delivery | undefined> {
  const q = k.selectFrom('delivery').selectAll();
  if (/^\d+$/.test(ref)) return q.where('id', '=', Number(ref)).executeTakeFirst();
  return q.where('file', '=', ref).orderBy('received_at', 'desc').executeTakeFirst();
}

export async function listDeliveries(k: Kysely<DB>, status?: DeliveryStatus): Promise<Delivery[]> {
  let q = k.selectFrom('delivery').selectAll();
  if (status) q = q.where('status', '=', status);
  return q.orderBy('source').orderBy('as_of').orderBy('file').orderBy('id').execute();
}
