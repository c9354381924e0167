/**
 * Derives every person's spells from the accepted snapshots, ends them at the person's
 * death (a 死亡人员名单 row), and records what changed:
 * spells no longer derived are superseded (kept, with the time), new ones recorded.
 * Everything is derived again on each run, so the result is a function of the set of
 * accepted deliveries and the links, whatever order they came in.
 *
 * A run scoped to some persons (after a staff decision moved their rows), or to the
 * persons the database marked stale (a sync: db/stale.ts), derives and records theirs
 * alone: a person's spells depend only on their own rows and the dates of the snapshots,
 * so it ends exactly where a full run would.
 */
import { sql } from 'kysely';
import { analyze, analyzeChanged, setRunMemory, type Store, type Tx } from '../db/store.js';
import { ofPersons } from '../db/scope.js';
import { claimForSpells, markForAssessment, readStaleDeliveries, tooManyForScope } from '../db/stale.js';
import { deathDates } from './deaths.js';
import { workTable } from '../db/work-table.js';
import { deriveSpells, endAtDeath, mergeSpells, type Spell } from './derive.js';
import { loadHistories, type SnapshotSource } from './statements.js';

export interface SpellStats {
  /** how many persons the run derived, or 'everyone' */
  scope: number | 'everyone';
  spells: number;
  recorded: number;
  superseded: number;
}

const SOURCES: SnapshotSource[] = ['civil', 'rural', 'disability'];

/** The spells a run derives, before they are compared with those recorded. */
const DESIRED_SPELL = workTable('desired_spell', {
  person_id: 'int', category: 'text', source: 'text', valid_from: 'date', valid_to: 'date', explicit_end: 'boolean', first_listed: 'date',
});

export interface SpellScope {
  /** only these persons */
  persons?: readonly number[] | undefined;
  /** only the persons marked stale (db/stale.ts); neither this nor `persons`: everyone */
  changed?: boolean | undefined;
}

/** Whose spells a run derives: these persons, or everyone (null). Claims their stale marks. */
async function personsOf(tx: Tx, scope: SpellScope): Promise<number[] | null> {
  if (scope.persons) {
    await claimForSpells(tx, scope.persons);
    return [...scope.persons];
  }
  await readStaleDeliveries(tx);
  const marked = await claimForSpells(tx, null);
  if (!scope.changed || (await tooManyForScope(tx, marked.length))) return null;
  // nothing was marked before the first assessment on a basis (a new or just migrated database): everyone
  const marking = await sql<{ since: boolean }>`select exists (select 1 from assessment_run where basis is not null) as since`.execute(tx.k);
  return marking.rows[0]!.since ? marked : null;
}

export async function runSpells(store: Store, scope: SpellScope = {}): Promise<SpellStats> {
  return store.transaction(async (tx) => {
    await sql`select pg_advisory_xact_lock(hashtextextended('aidlink:spells', 0))`.execute(tx.k);
    await setRunMemory(store, tx);
    await analyzeChanged(tx, ['delivery', 'source_row', 'civil_row', 'rural_row', 'disability_row', 'death_row', 'row_link', 'person', 'spell', 'stale_person']);
    const persons = await personsOf(tx, scope);
    const lines: string[] = [];
    const deaths = await deathDates(tx.k, persons);
    for (const source of SOURCES) {
      // a person's spells of one category, from every stream of the source
      const derived = new Map<string, { personId: number; category: string; spells: Spell[] }>();
      for (const h of await loadHistories(tx.k, source, persons)) {
        const key = `${h.personId}\u001f${h.category}`;
        const entry = derived.get(key) ?? derived.set(key, { personId: h.personId, category: h.category, spells: [] }).get(key)!;
        entry.spells.push(...deriveSpells(h.snapshots));
      }
      for (const { personId, category, spells } of derived.values()) {
        const died = deaths.get(personId);
        const merged = mergeSpells(spells);
        for (const s of died ? endAtDeath(merged, died) : merged) {
          const listed = s.listedIn.filter((a) => a >= s.validFrom).sort();
          const firstListed = listed[0] ?? [...s.listedIn].sort()[0] ?? null;
          lines.push(DESIRED_SPELL.line({ person_id: personId, category, source, valid_from: s.validFrom, valid_to: s.validTo, explicit_end: s.explicitEnd, first_listed: firstListed }));
        }
      }
    }
    await DESIRED_SPELL.fill(tx, lines);
    const same = sql`
      d.person_id = s.person_id and d.category = s.category and d.source = s.source and d.valid_from = s.valid_from
      and d.valid_to is not distinct from s.valid_to and d.explicit_end = s.explicit_end and d.first_listed is not distinct from s.first_listed`;
    const superseded = await sql<{ person_id: number }>`
      update spell s set superseded_at = now()
      where s.superseded_at is null ${ofPersons(sql`s.person_id`, persons)}
        and not exists (select 1 from desired_spell d where ${same})
      returning s.person_id`.execute(tx.k);
    const recorded = await sql<{ person_id: number }>`
      insert into spell (person_id, category, source, valid_from, valid_to, explicit_end, first_listed)
      select d.person_id, d.category, d.source, d.valid_from, d.valid_to, d.explicit_end, d.first_listed
      from desired_spell d
      where not exists (select 1 from spell s where s.superseded_at is null and ${same})
      returning person_id`.execute(tx.k);
    // everyone's derived: statistics now, or the next scoped run's plans guess (autovacuum may be off)
    if (!persons) await analyze(tx, 'spell');
    // whose spells changed must be assessed again; nobody else's assessment depends on spells
    await markForAssessment(tx, [...superseded.rows, ...recorded.rows].map((r) => r.person_id));
    return { scope: persons ? persons.length : 'everyone', spells: lines.length, recorded: recorded.rows.length, superseded: superseded.rows.length };
  });
}
