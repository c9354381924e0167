/**
 * Spells as the deliveries establish them: a quarantined snapshot ends nobody's spell,
 * its release does; arrival order does not matter; history keeps what we knew.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { CIVIL_HEADER, civilRow, inbox, makeId } from '../helpers/fixtures.js';
import { readTruth, SAMPLE_INBOX } from '../helpers/sample.js';
import { testContext } from '../helpers/context.js';
import { loadMapping } from '../../src/ingest/mapping.js';
import { ingestFile } from '../../src/ingest/ingest.js';
import { listFiles } from '../../src/ingest/inbox.js';
import { decideQuarantine } from '../../src/ingest/deliveries.js';
import { runMatch } from '../../src/match/run.js';
import { runSpells } from '../../src/spells/run.js';
import { syncInProcess } from '../../src/jobs/local.js';

const mapping = loadMapping();
let db: TestDb;
beforeEach(async () => {
  db = await createTestDb();
});
afterEach(() => db?.drop());

const people = Array.from({ length: 100 }, (_, i) => ({ name: `测试${i}`, id: makeId('1980-01-01', 1 + i * 2) }));
const roster = (who: typeof people) => ({ header: CIVIL_HEADER, rows: who.map((p) => civilRow(p.name, p.id, { recognised: '2020-01-01' })) });

async function spellOf(id: string) {
  return sql<{ valid_from: string; valid_to: string | null }>`
    select s.valid_from::text as valid_from, s.valid_to::text as valid_to
    from spell s join person p on p.id = s.person_id where p.id_number = ${id} and s.superseded_at is null`.execute(db.store.k).then((r) => r.rows);
}

describe('a truncated snapshot', () => {
  it('in quarantine ends nobody\'s spell; released, it does', async () => {
    const box = inbox();
    const put = async (rel: string, who: typeof people) => ingestFile(db.store, mapping, box.put(rel, roster(who)), { inboxRoot: box.root });
    await put('civil/civil_20250131.csv', people);
    const feb = await put('civil/civil_20250228.csv', people.slice(0, 50)); // truncated export: held
    await put('civil/civil_20250331.csv', people.slice(0, 99)); // person 99 has really left
    await runMatch(db.store);
    await runSpells(db.store);
    expect(await spellOf(people[70]!.id)).toEqual([{ valid_from: '2020-01-01', valid_to: null }]);
    expect(await spellOf(people[99]!.id)).toEqual([{ valid_from: '2020-01-01', valid_to: '2025-03-31' }]);

    if (feb.outcome !== 'ingested') throw new Error(feb.outcome);
    await decideQuarantine(db.store, feb.delivery.id, 'release', 'caseworker');
    const stats = await runSpells(db.store);
    // released, the February roster ends person 99's spell a month earlier; person 70 comes back in March
    expect(await spellOf(people[99]!.id)).toEqual([{ valid_from: '2020-01-01', valid_to: '2025-02-28' }]);
    expect(await spellOf(people[70]!.id)).toEqual([{ valid_from: '2020-01-01', valid_to: null }]);
    expect(stats).toMatchObject({ superseded: 1, recorded: 1 });
    // what we knew before the release is kept
    const history = await sql<{ valid_to: string | null; superseded: boolean }>`
      select s.valid_to::text as valid_to, s.superseded_at is not null as superseded
      from spell s join person p on p.id = s.person_id where p.id_number = ${people[99]!.id} order by s.id`.execute(db.store.k);
    expect(history.rows).toEqual([{ valid_to: '2025-03-31', superseded: true }, { valid_to: '2025-02-28', superseded: false }]);
  });
});

describe('the sample county delivered in reverse order', () => {
  it('establishes exactly the truth\'s spells', async () => {
    for (const f of (await listFiles(SAMPLE_INBOX)).reverse()) await ingestFile(db.store, mapping, f, { inboxRoot: SAMPLE_INBOX });
    await syncInProcess(testContext(db.store), { inbox: SAMPLE_INBOX, requestedBy: 'test' });
    const truthRows = new Map(readTruth('rows.csv').map((r) => [`${r.file}#${r.row}`, r.pid!]));
    const links = await db.store.k.selectFrom('row_link').innerJoin('delivery', 'delivery.id', 'row_link.delivery_id').select(['delivery.file', 'row_link.row_no', 'row_link.person_id']).execute();
    const pid = new Map(links.filter((l) => l.person_id !== null).map((l) => [l.person_id!, truthRows.get(`${l.file}#${l.row_no}`)!]));
    const spells = await sql<{ person_id: number; category: string; vf: string; vt: string | null }>`
      select person_id, category, valid_from::text as vf, valid_to::text as vt from spell where superseded_at is null`.execute(db.store.k);
    expect(spells.rows.map((s) => `${pid.get(s.person_id)},${s.category},${s.vf},${s.vt ?? ''}`).sort()).toEqual(
      readTruth('spells.csv').map((s) => `${s.pid},${s.category},${s.valid_from},${s.valid_to}`).sort(),
    );
  });
});
