/**
 * Pairwise evaluation of a row-to-person assignment against the truth: of all pairs
 * of rows put together, how many really belong together (precision); of all pairs
 * that belong together, how many were put together (recall). A row waiting in review
 * belongs to no one yet, so its pairs count as missed.
 */
export interface PairwiseResult {
  rows: number;
  review: number;
  /** rows the truth knows that the assignment does not mention */
  missing: number;
  truthPairs: number;
  predictedPairs: number;
  correctPairs: number;
  precision: number;
  recall: number;
  f1: number;
}

const pairs = (n: number) => (n * (n - 1)) / 2;

/**
 * @param truth row key → true person
 * @param predicted row key → assigned person, or null while in review
 */
export function evaluatePairs(truth: ReadonlyMap<string, string>, predicted: ReadonlyMap<string, string | null>): PairwiseResult {
  const truthSizes = new Map<string, number>();
  for (const pid of truth.values()) truthSizes.set(pid, (truthSizes.get(pid) ?? 0) + 1);
  const groups = new Map<string, Map<string, number>>();
  let review = 0;
  let missing = 0;
  for (const [row, pid] of truth) {
    if (!predicted.has(row)) {
      missing++;
      continue;
    }
    const person = predicted.get(row) ?? null;
    if (person === null) {
      review++;
      continue;
    }
    const g = groups.get(person) ?? groups.set(person, new Map()).get(person)!;
    g.set(pid, (g.get(pid) ?? 0) + 1);
  }
  let truthPairs = 0;
  for (const n of truthSizes.values()) truthPairs += pairs(n);
  let predictedPairs = 0;
  let correctPairs = 0;
  for (const g of groups.values()) {
    let size = 0;
    for (const n of g.values()) {
      size += n;
      correctPairs += pairs(n);
    }
    predictedPairs += pairs(size);
  }
  const precision = predictedPairs === 0 ? 1 : correctPairs / predictedPairs;
  const recall = truthPairs === 0 ? 1 : correctPairs / truthPairs;
  return {
    rows: truth.size,
    review,
    missing,
    truthPairs,
    predictedPairs,
    correctPairs,
    precision,
    recall,
    f1: precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall),
  };
}
