// Model quality once the true labels arrive (often hours or days after the prediction): pairs of
// (actual, predicted) in, the usual classification or regression metrics out.
//
// Sums go through fsum (exactly rounded), so results do not depend on the order of the rows.
// Conventions follow scikit-learn's defaults where they exist: a precision or recall with a zero
// denominator is 0; multiclass scores are the unweighted mean over every class seen in either
// column; log loss clips probabilities to [ε, 1 − ε] with ε = 2⁻⁵². Where scikit-learn would
// answer a number for an undefined quantity this module answers null instead: ROC AUC with one
// class absent, R² of a constant target, MAPE without a non-zero target.
import { invalidParam } from '../errors/index.js';
import { fsum } from './stats/fsum.js';
import { compareCodePoints } from './stats/quality.js';

export type ClassLabel = string | number;

export interface ClassificationInput {
  actual: readonly ClassLabel[];
  predicted: readonly ClassLabel[];
  /**
   * Score of the positive class per row (binary only). Any real numbers give ROC AUC; values all
   * within [0, 1] are read as probabilities and also give log loss.
   */
  scores?: readonly number[];
  /** The positive class of a binary problem; the greater of the two classes when omitted. */
  positiveLabel?: ClassLabel;
}

export interface ClassMetrics {
  label: ClassLabel;
  precision: number;
  recall: number;
  f1: number;
  /** Rows whose actual label is this class. */
  support: number;
}

export interface ClassificationQuality {
  count: number;
  /** Classes seen in either column (and the positive label), sorted: numbers ascending, strings by code point. */
  labels: ClassLabel[];
  /** Binary problems report the positive class's scores; others the macro average over labels. */
  average: 'binary' | 'macro';
  positive_label: ClassLabel | null;
  /** null without rows. */
  accuracy: number | null;
  precision: number | null;
  recall: number | null;
  f1: number | null;
  /** confusion_matrix[i][j]: rows of actual class labels[i] predicted as labels[j]. */
  confusion_matrix: number[][];
  per_class: ClassMetrics[];
  /** Binary with scores and both classes present; else null. */
  roc_auc: number | null;
  /** Binary with probability scores; else null. */
  log_loss: number | null;
}

export interface RegressionInput {
  actual: readonly number[];
  predicted: readonly number[];
}

export interface RegressionQuality {
  count: number;
  mae: number | null;
  rmse: number | null;
  /** Mean of |actual − predicted| / |actual| over the rows whose actual is not 0 (a fraction, not %). */
  mape: number | null;
  mape_skipped_zero_targets: number;
  /** 1 − SS_res / SS_tot; null without rows or when every actual value is the same. */
  r2: number | null;
}

/** Clipping for log loss: the spacing of doubles at 1. */
export const LOG_LOSS_EPSILON = Number.EPSILON;

function checkLengths(a: { length: number }, b: { length: number }, what: string): void {
  if (a.length !== b.length) throw invalidParam(`${what} has ${b.length} values for ${a.length} rows`);
}

function checkLabel(l: ClassLabel, kind: string): void {
  if (typeof l !== kind) throw invalidParam('class labels must be all strings or all numbers, not a mix');
  if (typeof l === 'number' && !Number.isFinite(l)) throw invalidParam(`class label ${l} is not a finite number`);
}

function compareLabels(a: ClassLabel, b: ClassLabel): number {
  return typeof a === 'number' ? a - (b as number) : compareCodePoints(a, b as string);
}

/** The sorted classes of both columns (and the positive label, when given). */
export function classLabels(input: ClassificationInput): ClassLabel[] {
  const all = [...input.actual, ...input.predicted];
  if (input.positiveLabel !== undefined) all.push(input.positiveLabel);
  if (all.length === 0) return [];
  const kind = typeof all[0];
  for (const l of all) checkLabel(l, kind);
  return [...new Set(all)].sort(compareLabels);
}

/** Counts per (actual, predicted) pair in the order of `labels`. */
export function confusionMatrix(
  actual: readonly ClassLabel[],
  predicted: readonly ClassLabel[],
  labels: readonly ClassLabel[],
): number[][] {
  checkLengths(actual, predicted, 'predicted');
  const index = new Map(labels.map((l, i) => [l, i]));
  const m = labels.map(() => new Array<number>(labels.length).fill(0));
  for (let r = 0; r < actual.length; r++) {
    const i = index.get(actual[r]);
    const j = index.get(predicted[r]);
    if (i === undefined || j === undefined) throw invalidParam(`row ${r} has a label outside the label list`);
    m[i][j]++;
  }
  return m;
}

const ratio = (num: number, den: number) => (den === 0 ? 0 : num / den);

function perClass(m: number[][], labels: readonly ClassLabel[]): ClassMetrics[] {
  return labels.map((label, k) => {
    const tp = m[k][k];
    const actualK = m[k].reduce((a, c) => a + c, 0);
    const predictedK = m.reduce((a, row) => a + row[k], 0);
    const fp = predictedK - tp;
    const fn = actualK - tp;
    return {
      label,
      precision: ratio(tp, predictedK),
      recall: ratio(tp, actualK),
      f1: ratio(2 * tp, 2 * tp + fp + fn),
      support: actualK,
    };
  });
}

/**
 * Area under the ROC curve through the Mann–Whitney statistic: the rank sum of the positives
 * (tied scores share their average rank), less its minimum, over n_pos × n_neg. Half-integer rank
 * sums are exact in doubles, so the result is the exactly rounded AUC. null unless both classes occur.
 */
export function rocAuc(isPositive: readonly boolean[], scores: readonly number[]): number | null {
  checkLengths(isPositive, scores, 'scores');
  const order = scores.map((_, i) => i).sort((a, b) => scores[a] - scores[b]);
  let rankSum = 0;
  let nPos = 0;
  for (let start = 0; start < order.length; ) {
    let end = start + 1;
    while (end < order.length && scores[order[end]] === scores[order[start]]) end++;
    const avgRank = (start + 1 + end) / 2;
    for (let k = start; k < end; k++) {
      if (isPositive[order[k]]) {
        rankSum += avgRank;
        nPos++;
      }
    }
    start = end;
  }
  const nNeg = order.length - nPos;
  if (nPos === 0 || nNeg === 0) return null;
  return (rankSum - (nPos * (nPos + 1)) / 2) / (nPos * nNeg);
}

/** Mean negative log-likelihood of the actual classes under probabilities p of the positive class. */
export function logLoss(isPositive: readonly boolean[], probabilities: readonly number[]): number | null {
  checkLengths(isPositive, probabilities, 'scores');
  if (isPositive.length === 0) return null;
  const terms = probabilities.map((p, i) => {
    const q = Math.min(1 - LOG_LOSS_EPSILON, Math.max(LOG_LOSS_EPSILON, p));
    return -Math.log(isPositive[i] ? q : 1 - q);
  });
  return fsum(terms) / terms.length;
}

function checkScores(scores: readonly number[] | undefined, rows: number): void {
  if (scores === undefined) return;
  checkLengths({ length: rows }, scores, 'scores');
  for (const s of scores) if (!Number.isFinite(s)) throw invalidParam(`score ${s} is not a finite number`);
}

type ScoreMetrics = Pick<ClassificationQuality, 'roc_auc' | 'log_loss'>;

function scoreMetrics(input: ClassificationInput, positive: ClassLabel | null): ScoreMetrics {
  const scores = input.scores;
  if (positive === null || scores === undefined) return { roc_auc: null, log_loss: null };
  const isPositive = input.actual.map((l) => l === positive);
  const probabilities = scores.every((s) => s >= 0 && s <= 1);
  return { roc_auc: rocAuc(isPositive, scores), log_loss: probabilities ? logLoss(isPositive, scores) : null };
}

const mean = (xs: readonly number[]) => fsum(xs) / xs.length;

/** Accuracy, precision / recall / F1 (binary or macro), confusion matrix, ROC AUC and log loss. */
export function classificationQuality(input: ClassificationInput): ClassificationQuality {
  checkLengths(input.actual, input.predicted, 'predicted');
  checkScores(input.scores, input.actual.length);
  const labels = classLabels(input);
  const count = input.actual.length;
  const m = confusionMatrix(input.actual, input.predicted, labels);
  const classes = perClass(m, labels);
  const binary = labels.length <= 2 && labels.length > 0;
  const positive = binary ? (input.positiveLabel ?? labels[labels.length - 1]) : null;
  const head = binary ? classes[labels.indexOf(positive as ClassLabel)] : null;
  const pick = (key: 'precision' | 'recall' | 'f1') =>
    count === 0 ? null : head ? head[key] : mean(classes.map((c) => c[key]));
  const correct = m.reduce((a, row, k) => a + row[k], 0);
  return {
    count,
    labels,
    average: binary ? 'binary' : 'macro',
    positive_label: positive,
    accuracy: count === 0 ? null : correct / count,
    precision: pick('precision'),
    recall: pick('recall'),
    f1: pick('f1'),
    confusion_matrix: m,
    per_class: classes,
    ...scoreMetrics(input, positive),
  };
}

function checkFinite(xs: readonly number[], what: string): void {
  for (const x of xs) if (!Number.isFinite(x)) throw invalidParam(`${what} value ${x} is not a finite number`);
}

function mapeOf(actual: readonly number[], predicted: readonly number[]): { mape: number | null; skipped: number } {
  const terms: number[] = [];
  actual.forEach((y, i) => {
    if (y !== 0) terms.push(Math.abs(y - predicted[i]) / Math.abs(y));
  });
  return { mape: terms.length === 0 ? null : mean(terms), skipped: actual.length - terms.length };
}

function r2Of(actual: readonly number[], squaredErrors: readonly number[]): number | null {
  const avg = mean(actual);
  const ssTot = fsum(actual.map((y) => (y - avg) ** 2));
  return ssTot === 0 ? null : 1 - fsum(squaredErrors) / ssTot;
}

/** MAE, RMSE, MAPE (zero targets skipped and counted) and R². */
export function regressionQuality(input: RegressionInput): RegressionQuality {
  const { actual, predicted } = input;
  checkLengths(actual, predicted, 'predicted');
  checkFinite(actual, 'actual');
  checkFinite(predicted, 'predicted');
  const count = actual.length;
  const { mape, skipped } = mapeOf(actual, predicted);
  if (count === 0) return { count, mae: null, rmse: null, mape, mape_skipped_zero_targets: 0, r2: null };
  const squared = actual.map((y, i) => (y - predicted[i]) ** 2);
  return {
    count,
    mae: mean(actual.map((y, i) => Math.abs(y - predicted[i]))),
    rmse: Math.sqrt(mean(squared)),
    mape,
    mape_skipped_zero_targets: skipped,
    r2: r2Of(actual, squared),
  };
}
