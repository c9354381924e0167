import { describe, expect, it } from 'vitest';
import { againstCandidate, pooledProbe } from '../../src/match/pool.js';
import type { ProbeRow } from '../../src/match/data.js';

function row(p: Partial<ProbeRow>): ProbeRow {
  return {
    deliveryId: 1, rowNo: 2, file: 'civil/x.csv', source: 'civil',
    name: '何浩然', fold: '何浩然', idStatus: 'missing', idValue: null, birth: null, gender: null, headId: null,
    isSelf: false, relation: null, roster: 1, household: null, township: null, village: null, phone: null, ...p,
  };
}

describe('a cluster\'s rows pooled into one probe', () => {
  it('takes each field from the rows that carry it', () => {
    const p = pooledProbe([
      row({ roster: 1, birth: '2012-03-03', headId: '520203198001010011', township: '平寨镇', village: '河边村' }),
      row({ roster: 2, relation: 'son', gender: 'M', phone: '13900000001' }),
      row({ roster: 3, household: '520203000009902', name: '何浩然*' }),
    ]);
    expect(p).toMatchObject({
      name: '何浩然', birth: '2012-03-03', relation: 'son', gender: 'M', headId: '520203198001010011', household: '520203000009902',
      township: '平寨镇', village: '河边村', phone: '13900000001', rosters: [1, 2, 3],
    });
  });
  it('is not made from rows that disagree on who they are', () => {
    expect(pooledProbe([row({ birth: '2012-03-03' }), row({ birth: '2013-03-03' })])).toBeNull();
    expect(pooledProbe([row({ relation: 'son' }), row({ relation: 'self' })])).toBeNull();
    expect(pooledProbe([row({ gender: 'M' }), row({ gender: 'F' })])).toBeNull();
    expect(pooledProbe([row({ idStatus: 'masked', idValue: '520203********0011' }), row({ idStatus: 'masked', idValue: '520203********0022' })])).toBeNull();
  });
  it('leaves out a place or phone the rows disagree on: people move', () => {
    const p = pooledProbe([row({ township: '平寨镇', village: '河边村', phone: '1' }), row({ township: '郎岱镇', village: '沙坝村', phone: '2' })]);
    expect(p).toMatchObject({ township: null, village: null, phone: null });
  });
  it('is checked against a candidate on a roster of the cluster that lists the candidate, if one does', () => {
    const p = pooledProbe([row({ roster: 1 }), row({ roster: 2 })])!;
    expect(againstCandidate(p, [2, 9]).roster).toBe(2);
    expect(againstCandidate(p, [9]).roster).toBe(1);
  });
});
