/** A sync's wall time per stage, read from its job tree (either runner). */
import type { JobState } from '../src/jobs/runner.js';

const STAGE: Record<string, string> = {
  'sync.scan': 'ingest',
  'match.run': 'match',
  'spells.derive': 'spells',
  'assess.run': 'assess',
  'outreach.update': 'cases',
  'report.newly-eligible': 'report',
};

export interface StageTime {
  stage: string;
  ms: number;
}

/**
 * Stages run one after another, so each takes from the end of the one before it
 * (the first from the submission, which includes queueing): the times add up to the
 * sync's, whatever the runner records as a job's creation.
 */
export function stageTimes(tree: JobState): StageTime[] {
  const all: JobState[] = [];
  const walk = (s: JobState) => {
    all.push(s);
    s.children.forEach(walk);
  };
  walk(tree);
  const stages = all.filter((s) => STAGE[s.name] && s.finishedAt).sort((a, b) => a.finishedAt!.getTime() - b.finishedAt!.getTime());
  let previous = Math.min(...all.map((s) => s.createdAt.getTime()));
  return stages.map((s) => {
    const ms = s.finishedAt!.getTime() - previous;
    previous = s.finishedAt!.getTime();
    return { stage: STAGE[s.name]!, ms };
  });
}
