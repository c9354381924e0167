/**
 * The rules of spec §6, one at a time. Snapshots are written as a little table:
 * the as-of date and what the person's rows state in it.
 */
import { describe, expect, it } from 'vitest';
import { deriveSpells, type Snapshot, type Statement } from '../../src/spells/derive.js';

const member = (start: string): Statement => ({ kind: 'member', start });
const closed = (start: string, end: string): Statement => ({ kind: 'closed', start, end });
const close = (end: string): Statement => ({ kind: 'close', end });
const snap = (asOf: string, ...statements: Statement[]): Snapshot => ({ asOf, statements, unreadable: false });
const unreadable = (asOf: string): Snapshot => ({ asOf, statements: [], unreadable: true });
const spans = (snaps: Snapshot[]) => deriveSpells(snaps).map((s) => [s.validFrom, s.validTo]);

describe('spells from snapshots (spec §6)', () => {
  it('one spell across consecutive snapshots, from the earliest start reported during the run', () => {
    expect(spans([snap('2025-01-31', member('2020-05-01')), snap('2025-02-28', member('2024-05-01')), snap('2025-03-31', member('2019-01-01'))])).toEqual([['2019-01-01', null]]);
  });

  it('an implicit exit on the as-of date of the first snapshot without the person', () => {
    expect(spans([snap('2025-01-31', member('2020-05-01')), snap('2025-02-28'), snap('2025-03-31')])).toEqual([['2020-05-01', '2025-02-28']]);
  });

  it('reappearance with a start on or before the implicit end closes the gap', () => {
    expect(spans([snap('2025-01-31', member('2020-05-01')), snap('2025-02-28'), snap('2025-03-31', member('2020-05-01'))])).toEqual([['2020-05-01', null]]);
    expect(spans([snap('2025-01-31', member('2020-05-01')), snap('2025-02-28'), snap('2025-03-31', member('2025-02-28'))])).toEqual([['2020-05-01', null]]);
  });

  it('reappearance with a later start begins a new spell', () => {
    expect(spans([snap('2025-01-31', member('2020-05-01')), snap('2025-02-28'), snap('2025-03-31', member('2025-03-15'))])).toEqual([
      ['2020-05-01', '2025-02-28'],
      ['2025-03-15', null],
    ]);
  });

  it('an explicit end is final; a later listing begins a new spell that never reaches back over it', () => {
    expect(spans([snap('2025-01-31', member('2020-05-01')), snap('2025-02-28', closed('2020-05-01', '2025-02-10')), snap('2025-03-31', member('2020-05-01'))])).toEqual([
      ['2020-05-01', '2025-02-10'],
      ['2025-02-10', null],
    ]);
  });

  it('a historical export lists exited members as closed spells, once however often they are listed', () => {
    expect(spans([snap('2024-12-31', closed('2018-01-01', '2021-06-30'), member('2022-01-01')), snap('2025-01-31', member('2022-01-01'))])).toEqual([
      ['2018-01-01', '2021-06-30'],
      ['2022-01-01', null],
    ]);
    expect(spans([snap('2024-12-31', closed('2018-01-01', '2021-06-30')), snap('2025-01-31', closed('2018-01-01', '2021-06-30'))])).toEqual([['2018-01-01', '2021-06-30']]);
  });

  it('a cancellation or a regrading closes an open spell at its date', () => {
    expect(spans([snap('2025-06-30', member('2013-07-29')), snap('2026-06-30', close('2026-01-15'))])).toEqual([['2013-07-29', '2026-01-15']]);
  });

  it('a closing statement with nothing open states nothing', () => {
    expect(spans([snap('2025-06-30', close('2024-01-15'))])).toEqual([]);
  });

  it('an unreadable row keeps the spell open instead of ending it', () => {
    expect(spans([snap('2025-01-31', member('2020-05-01')), unreadable('2025-02-28'), snap('2025-03-31', member('2020-05-01'))])).toEqual([['2020-05-01', null]]);
    expect(spans([snap('2025-01-31', member('2020-05-01')), unreadable('2025-02-28'), snap('2025-03-31')])).toEqual([['2020-05-01', '2025-03-31']]);
  });

  it('records which snapshots listed each spell', () => {
    const [s] = deriveSpells([snap('2025-01-31', member('2025-01-10')), snap('2025-02-28', member('2025-01-10'))]);
    expect(s!.listedIn).toEqual(['2025-01-31', '2025-02-28']);
  });
});
