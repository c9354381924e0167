/**
 * Category spells from snapshots (spec §6), as a pure function. For one person and
 * one category, the accepted snapshots of the category's source are walked in as-of
 * order, each with what its rows state about the membership:
 *
 *   member   listed, recognised (or registered, or certified) on `start`
 *   closed   a closed spell [start, end): an exit on or before the as-of date
 *   close    ends an open spell at `end` (a cancelled certificate, a regrading)
 *   (none)   absent from the snapshot
 *
 * Rules, in the spec's words:
 *   1. a membership listed in consecutive snapshots is one spell, starting at the
 *      earliest start reported during the run;
 *   2. implicit exit: absent from the next accepted snapshot, it ends on that
 *      snapshot's as-of date;
 *   3. reappearance with a start on or before that implicit end closes the gap; a
 *      later start begins a new spell;
 *   4. explicit ends are final; a later row begins a new spell.
 *
 * A person whose row in a snapshot could not be read (rejected) is neither listed nor
 * absent: the snapshot keeps their open spells of that source as they are, so one
 * unreadable row never ends a spell.
 */
import { nextDay } from '../ingest/normalise/date.js';

export type Statement = { kind: 'member'; start: string } | { kind: 'closed'; start: string; end: string } | { kind: 'close'; end: string };

export interface Snapshot {
  asOf: string;
  statements: readonly Statement[];
  /** the person has a row in this snapshot that could not be read */
  unreadable: boolean;
}

export interface Spell {
  validFrom: string;
  /** exclusive; null while open */
  validTo: string | null;
  /** the end came from the data itself (an exit date, a cancellation), not from absence */
  explicitEnd: boolean;
  /** as-of dates of the snapshots whose rows stated this spell */
  listedIn: string[];
}

const min = (a: string, b: string) => (a < b ? a : b);
const byStart = (a: Spell, b: Spell) => (a.validFrom < b.validFrom ? -1 : a.validFrom > b.validFrom ? 1 : 0);
const max = (a: string, b: string) => (a > b ? a : b);

/** @param snapshots every accepted snapshot of the source, in as-of order */
export function deriveSpells(snapshots: readonly Snapshot[]): Spell[] {
  const spells: Spell[] = [];
  let current: Spell | undefined;
  const finish = () => {
    if (current && (current.validTo === null || current.validFrom < current.validTo)) spells.push(current);
    current = undefined;
  };

  for (const snap of snapshots) {
    const members = snap.statements.filter((s): s is Extract<Statement, { kind: 'member' }> => s.kind === 'member');
    const closed = snap.statements.filter((s): s is Extract<Statement, { kind: 'closed' }> => s.kind === 'closed');
    const closes = snap.statements.filter((s): s is Extract<Statement, { kind: 'close' }> => s.kind === 'close');

    if (members.length > 0) {
      const start = members.map((m) => m.start).reduce(min);
      if (current && current.validTo === null) {
        current.validFrom = min(current.validFrom, start); // the earliest start reported during the run
      } else if (current && !current.explicitEnd && current.validTo !== null && start <= current.validTo) {
        current.validFrom = min(current.validFrom, start); // back before its implicit end: the gap closes
        current.validTo = null;
      } else {
        // nothing open, or a final end: a new spell, never reaching back over an explicit end
        const from = current?.explicitEnd && current.validTo !== null ? max(start, current.validTo) : start;
        finish();
        current = { validFrom: from, validTo: null, explicitEnd: false, listedIn: [] };
      }
      current.listedIn.push(snap.asOf);
    }

    for (const c of closed) {
      const same = (sp: Spell | undefined) => sp?.explicitEnd && sp.validFrom === c.start && sp.validTo === c.end;
      if (current && current.validTo === null && c.end > current.validFrom) {
        // the open spell ended: the person exited
        current.validFrom = min(current.validFrom, c.start);
        current.validTo = c.end;
        current.explicitEnd = true;
        current.listedIn.push(snap.asOf);
      } else if (same(current)) {
        if (!current!.listedIn.includes(snap.asOf)) current!.listedIn.push(snap.asOf);
      } else if (!spells.some(same)) {
        // a spell that ended before: an export that lists exited members too
        const done: Spell = { validFrom: c.start, validTo: c.end, explicitEnd: true, listedIn: [snap.asOf] };
        if (current) {
          if (done.validFrom < done.validTo!) spells.push(done);
        } else current = done;
      }
    }

    for (const c of closes) {
      if (current && current.validTo === null) {
        current.validTo = max(current.validFrom, c.end);
        current.explicitEnd = true;
      }
    }

    const stated = members.length + closed.length + closes.length > 0;
    if (!stated && !snap.unreadable && current && current.validTo === null) {
      current.validTo = snap.asOf; // implicit exit
    }
  }
  finish();
  return spells.sort(byStart);
}

/**
 * One category's spells from several streams of a source (a person on a 低保 list and a
 * 特困 list both stating 低保): overlapping or touching spells are one, open if either is,
 * ending when the later of them ends. A single stream's spells never overlap, so they
 * pass unchanged.
 */
export function mergeSpells(spells: readonly Spell[]): Spell[] {
  const sorted = [...spells].sort(byStart);
  const out: Spell[] = [];
  for (const s of sorted) {
    const last = out[out.length - 1];
    if (last && (last.validTo === null || s.validFrom <= last.validTo)) {
      if (last.validTo !== null && (s.validTo === null || s.validTo > last.validTo)) {
        last.validTo = s.validTo;
        last.explicitEnd = s.explicitEnd;
      }
      last.listedIn = [...new Set([...last.listedIn, ...s.listedIn])];
    } else out.push({ ...s, listedIn: [...s.listedIn] });
  }
  return out;
}

/**
 * A person's spells after their death (a 死亡人员名单 row): every category ends the day
 * after the date of death (the date of death itself still counts: a stay that ends with
 * the death is covered), as an explicit end; a spell starting later is dropped.
 */
export function endAtDeath(spells: readonly Spell[], diedOn: string): Spell[] {
  const end = nextDay(diedOn);
  return spells.flatMap((s) => {
    if (s.validFrom >= end) return [];
    if (s.validTo !== null && s.validTo <= end) return [s];
    return [{ ...s, validTo: end, explicitEnd: true }];
  });
}
