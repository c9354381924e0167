/** The job definitions, their payload checks, and how jobs are named and shown. */
import { describe, expect, it } from 'vitest';
import { describePayload, JOBS, newRunId, parsePayload, PermanentJobError, QUEUES, rematchStages, syncStages } from '../../src/jobs/definitions.js';
import { checkHandlers, HANDLERS } from '../../src/jobs/handlers.js';
import { currentProgress, failureOf, progressText, resultOf, type JobState } from '../../src/jobs/runner.js';
import { countyStamp, countyTime } from '../../src/util/time.js';

const HASH = 'a'.repeat(64);

const state = (name: string, s: Partial<JobState> = {}): JobState => ({ id: `q/${name}`, name, about: '', state: 'completed', progress: null, attempts: 1, createdAt: new Date(0), children: [], ...s });

describe('job definitions', () => {
  it('have exactly one handler each, checked at start-up', () => {
    expect(() => checkHandlers()).not.toThrow();
    expect(Object.keys(HANDLERS).sort()).toEqual(Object.keys(JOBS).sort());
    const { 'assess.run': _, ...missing } = HANDLERS;
    expect(() => checkHandlers(missing)).toThrow('missing assess.run; unknown none');
    expect(() => checkHandlers({ ...HANDLERS, 'assess.again': () => undefined })).toThrow('missing none; unknown assess.again');
    expect(QUEUES.sort()).toEqual(['assess', 'ingest', 'match', 'report', 'sync']);
  });

  it('accept a valid payload and refuse an invalid one for good, saying which field', () => {
    expect(parsePayload('ingest.file', { inboxRoot: '/in', file: 'civil/a.csv', hash: HASH, requestedBy: 'test' })).toEqual({ inboxRoot: '/in', file: 'civil/a.csv', hash: HASH, requestedBy: 'test' });
    expect(() => parsePayload('ingest.file', { inboxRoot: '/in', file: 'civil/a.csv', hash: 'xyz', requestedBy: 'test' })).toThrow(PermanentJobError);
    expect(() => parsePayload('match.run', { scope: { kind: 'person', personId: 0 } })).toThrow(/scope\.personId/);
    expect(() => parsePayload('sync.scan', { inbox: '/in', until: '2026-13-01', requestedBy: 'x' })).toThrow(/until/);
  });

  it('refuse a field nobody declared, so personal data cannot ride along in Redis', () => {
    expect(() => parsePayload('match.run', { scope: { kind: 'person', personId: 3, idNumber: '520203197012170351' } })).toThrow(PermanentJobError);
    expect(() => parsePayload('report.newly-eligible', { requestedBy: 'x', name: '张三' })).toThrow(/name/);
  });

  it('run a sync and a rematch as stages in a fixed order', () => {
    expect(syncStages({ inbox: '/in', requestedBy: 'x' }).map(([n]) => n)).toEqual(['sync.scan', 'match.run', 'spells.derive', 'assess.run', 'outreach.update']);
    expect(syncStages({ inbox: '/in', requestedBy: 'x' }, { report: true }).map(([n]) => n)).toEqual(['sync.scan', 'match.run', 'spells.derive', 'assess.run', 'outreach.update', 'report.newly-eligible']);
    expect(rematchStages({ scope: { kind: 'all' } }).map(([n]) => n)).toEqual(['match.run', 'spells.derive', 'assess.run', 'outreach.update']);
  });

  it('describe what a job is about from its payload', () => {
    expect(describePayload('ingest.file', { inboxRoot: '/in', file: 'civil/a.csv', hash: HASH, requestedBy: 'x' })).toBe('civil/a.csv');
    expect(describePayload('sync.scan', { inbox: '/in', until: '2026-09-30', requestedBy: 'x' })).toBe('/in until 2026-09-30');
    expect(describePayload('match.run', { scope: { kind: 'person', personId: 7 } })).toBe('person 7');
    expect(describePayload('match.run', { scope: { kind: 'all' } })).toBe('all rows');
    expect(describePayload('match.run', { scope: 'nonsense' })).toBe('(invalid payload)');
  });

  it('name runs in county time', () => {
    const at = new Date('2026-11-21T18:00:00Z'); // 02:00 the next day in Shanghai
    expect(countyTime(at)).toBe('2026-11-22 02:00:00');
    expect(countyStamp(at)).toBe('20261122-020000');
    expect(newRunId('sync', at)).toMatch(/^sync-20261122-020000-[a-z0-9]{4}$/);
    expect(newRunId('sync', at)).not.toBe(newRunId('sync', at));
  });
});

describe('job progress and results', () => {
  it('spell out progress with counts, units and detail', () => {
    expect(progressText({ stage: 'ingesting files', done: 3, total: 55, unit: 'files', detail: 'civil/a.csv' })).toBe('ingesting files 3/55 files · civil/a.csv');
    expect(progressText({ stage: 'ingesting civil/a.csv', done: 120000, unit: 'rows' })).toBe('ingesting civil/a.csv 120,000 rows');
    expect(progressText({ stage: 'assessing settlements' })).toBe('assessing settlements');
  });

  it('show the stage a run is at: the running job, else what the top waits for', () => {
    const scan = state('sync.scan', { state: 'active', progress: { stage: 'ingesting files', done: 1, total: 4, unit: 'files' } });
    const top = state('match.run', { state: 'waiting-children', children: [scan] });
    expect(currentProgress(top)).toEqual({ text: 'ingesting files 1/4 files', fraction: 0.25 });
    expect(currentProgress(state('match.run', { state: 'waiting-children' }))).toEqual({ text: 'match.run: waiting for earlier stages' });
  });

  it('find a stage result and the first failure in a job tree', () => {
    const failed = state('sync.scan', { state: 'failed', error: 'the inbox /x does not exist' });
    const top = state('assess.run', { state: 'failed', error: 'child failed', children: [state('match.run', { state: 'failed', children: [failed] })] });
    expect(failureOf(top)).toBe(failed);
    expect(resultOf(top, 'match.run')).toBeUndefined();
    const ok = state('assess.run', { children: [state('match.run', { result: { persons: 3 } })] });
    expect(resultOf(ok, 'match.run')).toEqual({ persons: 3 });
  });
});
