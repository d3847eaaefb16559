// Binary classification metrics, computed as scikit-learn does: accuracy, precision, recall, F1
// (0 where undefined), ROC AUC with ties given their average rank, the confusion matrix, and the
// same figures per slice of the rows (a fairness check).

export interface BinaryMetrics {
  rows: number;
  accuracy: number;
  precision: number;
  recall: number;
  f1: number;
  /** null when the rows hold only one class. */
  roc_auc: number | null;
  confusion: { tn: number; fp: number; fn: number; tp: number };
}

/** ROC AUC as the Mann–Whitney U statistic over average ranks (ties count one half). */
export function rocAuc(labels: readonly number[], scores: readonly number[]): number | null {
  const n = labels.length;
  const order = [...Array(n).keys()].sort((a, b) => scores[a] - scores[b]);
  const ranks = new Array<number>(n);
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && scores[order[j + 1]] === scores[order[i]]) j++;
    const avg = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) ranks[order[k]] = avg;
    i = j + 1;
  }
  const pos = labels.filter((y) => y === 1).length;
  const neg = n - pos;
  if (pos === 0 || neg === 0) return null;
  const rankSum = labels.reduce((s, y, i) => s + (y === 1 ? ranks[i] : 0), 0);
  return (rankSum - (pos * (pos + 1)) / 2) / (pos * neg);
}

/** Metrics of predicted labels (and scores, for ROC AUC) against true labels; class 1 is positive. */
export function binaryMetrics(labels: readonly number[], predicted: readonly number[], scores?: readonly number[]): BinaryMetrics {
  const c = { tn: 0, fp: 0, fn: 0, tp: 0 };
  labels.forEach((y, i) => {
    const p = predicted[i];
    if (y === 1 && p === 1) c.tp++;
    else if (y === 1) c.fn++;
    else if (p === 1) c.fp++;
    else c.tn++;
  });
  const precision = c.tp + c.fp ? c.tp / (c.tp + c.fp) : 0;
  const recall = c.tp + c.fn ? c.tp / (c.tp + c.fn) : 0;
  return {
    rows: labels.length,
    accuracy: labels.length ? (c.tp + c.tn) / labels.length : 0,
    precision, recall,
    f1: precision + recall ? (2 * precision * recall) / (precision + recall) : 0,
    roc_auc: scores ? rocAuc(labels, scores) : null,
    confusion: c,
  };
}

/** The metrics of each slice (rows grouped by `sliceOf`), with the worst F1 and the largest F1 gap. */
export function sliceMetrics(labels: readonly number[], predicted: readonly number[], scores: readonly number[], sliceOf: (i: number) => string): {
  slices: Record<string, BinaryMetrics>;
  worstF1: number;
  f1Gap: number;
} {
  const groups = new Map<string, number[]>();
  labels.forEach((_, i) => {
    const k = sliceOf(i);
    groups.set(k, [...(groups.get(k) ?? []), i]);
  });
  const slices: Record<string, BinaryMetrics> = {};
  for (const [k, idx] of [...groups].sort(([a], [b]) => (a < b ? -1 : 1))) {
    slices[k] = binaryMetrics(idx.map((i) => labels[i]), idx.map((i) => predicted[i]), idx.map((i) => scores[i]));
  }
  const f1s = Object.values(slices).map((m) => m.f1);
  return { slices, worstF1: Math.min(...f1s), f1Gap: Math.max(...f1s) - Math.min(...f1s) };
}
