/**
 * The categories the generator knows each person holds, and since when the bureau
 * could know it: the settlement simulator uses them to decide what the one-stop
 * settlement paid from the medical-assistance fund. (The truth of spells is derived
 * by the system under test from the files, not from this.)
 */
import type { Day } from './calendar.js';

export type AssistCategory =
  | 'destitute' | 'orphan' | 'de_facto_orphan' | 'dibao' | 'monitored' | 'dibao_edge' | 'severe_disability' | 'catastrophic' | 'lifted';

export interface Holding {
  readonly pid: number;
  readonly category: AssistCategory;
  readonly from: Day;
  /** exclusive; null: open */
  readonly to: Day | null;
  /** the first day a delivery could have told the bureau */
  readonly knownFrom: Day;
}

export class Holdings {
  private readonly byPerson = new Map<number, Holding[]>();

  add(holdings: Iterable<Holding>): this {
    for (const h of holdings) {
      const list = this.byPerson.get(h.pid);
      if (list) list.push(h);
      else this.byPerson.set(h.pid, [h]);
    }
    return this;
  }

  /** The holdings in force on a day. */
  on(pid: number, day: Day): Holding[] {
    const list = this.byPerson.get(pid);
    if (!list) return [];
    return list.filter((h) => h.from <= day && (h.to === null || day < h.to));
  }

  /** People who hold anything at any time (the chronically ill see doctors more often). */
  has(pid: number): boolean {
    return this.byPerson.has(pid);
  }
}
