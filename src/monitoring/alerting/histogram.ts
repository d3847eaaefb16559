// Latency histograms with fixed bucket upper bounds (milliseconds), one histogram per minute.
//
// `counts[i]` is the number of requests whose latency l satisfies bounds[i−1] < l ≤ bounds[i]
// (the first bucket starts at 0). The last bound must be +Infinity so that every request lands in
// a bucket. Quantiles follow the usual histogram_quantile estimate: find the bucket holding the
// requested rank and interpolate linearly between its lower and upper bound.
import { invalidParam } from '../../errors/index.js';
import { MS_PER_MINUTE, type SloBucket } from './slo.js';

export const DEFAULT_LATENCY_BOUNDS_MS: readonly number[] = Object.freeze([
  1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, Number.POSITIVE_INFINITY,
]);

export interface LatencyHistogram {
  /** Epoch minute: Math.floor(epochMs / 60000). */
  minute: number;
  /** One count per bound, not cumulative. */
  counts: readonly number[];
}

/** Throws unless the bounds are positive, strictly increasing and end with +Infinity. */
export function checkBounds(bounds: readonly number[]): void {
  const n = bounds.length;
  if (n < 2 || bounds[n - 1] !== Number.POSITIVE_INFINITY) {
    throw invalidParam('latency bounds need at least one finite bound and must end with +Infinity');
  }
  for (let i = 0; i < n - 1; i++) {
    const lowerOk = i === 0 ? bounds[0] > 0 : bounds[i] > bounds[i - 1];
    if (!Number.isFinite(bounds[i]) || !lowerOk) {
      throw invalidParam(`latency bounds must be positive and strictly increasing (bound ${i}: ${bounds[i]})`);
    }
  }
}

function checkCounts(bounds: readonly number[], counts: readonly number[]): void {
  if (counts.length !== bounds.length) {
    throw invalidParam(`histogram has ${counts.length} counts for ${bounds.length} bounds`);
  }
  for (const c of counts) {
    if (!Number.isFinite(c) || c < 0) throw invalidParam(`histogram counts must be non-negative, got ${c}`);
  }
}

function inWindow(minute: number, fromMs?: number, toMs?: number): boolean {
  const start = minute * MS_PER_MINUTE;
  return (fromMs === undefined || start >= fromMs) && (toMs === undefined || start < toMs);
}

/** Adds up the histograms whose minute starts in [fromMs, toMs) (all of them without a window). */
export function mergeHistograms(
  histograms: readonly LatencyHistogram[],
  bounds: readonly number[],
  fromMs?: number,
  toMs?: number,
): number[] {
  checkBounds(bounds);
  const sum = new Array<number>(bounds.length).fill(0);
  for (const h of histograms) {
    if (!inWindow(h.minute, fromMs, toMs)) continue;
    checkCounts(bounds, h.counts);
    for (let i = 0; i < sum.length; i++) sum[i] += h.counts[i];
  }
  return sum;
}

function boundIndex(bounds: readonly number[], thresholdMs: number): number {
  const i = bounds.indexOf(thresholdMs);
  if (i < 0 || !Number.isFinite(thresholdMs)) {
    throw invalidParam(
      `latency threshold ${thresholdMs} ms is not a finite bucket bound; choose one of ${bounds.slice(0, -1).join(', ')}`,
    );
  }
  return i;
}

/**
 * Requests slower than thresholdMs. The threshold must be one of the finite bounds: only there does
 * the histogram know the count exactly.
 */
export function countAbove(bounds: readonly number[], counts: readonly number[], thresholdMs: number): number {
  checkBounds(bounds);
  checkCounts(bounds, counts);
  const k = boundIndex(bounds, thresholdMs);
  let above = 0;
  for (let i = k + 1; i < counts.length; i++) above += counts[i];
  return above;
}

/**
 * Estimated q-quantile (0 ≤ q ≤ 1) of the histogram; null when it is empty. Inside the bucket that
 * holds rank q × count the value is interpolated linearly, the first bucket starting at 0. A rank
 * in the +Infinity bucket answers the largest finite bound.
 */
export function histogramQuantile(q: number, bounds: readonly number[], counts: readonly number[]): number | null {
  if (!(q >= 0 && q <= 1)) throw invalidParam(`quantile must be within [0, 1], got ${q}`);
  checkBounds(bounds);
  checkCounts(bounds, counts);
  let total = 0;
  for (const c of counts) total += c;
  if (total === 0) return null;
  const rank = q * total;
  let below = 0;
  let b = 0;
  while (b < counts.length - 1 && (below + counts[b] < rank || counts[b] === 0)) {
    below += counts[b];
    b++;
  }
  if (b === counts.length - 1) return bounds[b - 1];
  const lower = b === 0 ? 0 : bounds[b - 1];
  return lower + (bounds[b] - lower) * ((rank - below) / counts[b]);
}

export interface LatencySummary {
  count: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
}

/** Count and p50 / p95 / p99 of the histograms whose minute starts in [fromMs, toMs). */
export function latencySummary(
  histograms: readonly LatencyHistogram[],
  bounds: readonly number[],
  fromMs?: number,
  toMs?: number,
): LatencySummary {
  const counts = mergeHistograms(histograms, bounds, fromMs, toMs);
  return {
    count: counts.reduce((a, c) => a + c, 0),
    p50: histogramQuantile(0.5, bounds, counts),
    p95: histogramQuantile(0.95, bounds, counts),
    p99: histogramQuantile(0.99, bounds, counts),
  };
}

/** Per-minute SLO buckets of a latency SLO: every request counts, those slower than the threshold are bad. */
export function latencySloBuckets(
  histograms: readonly LatencyHistogram[],
  bounds: readonly number[],
  thresholdMs: number,
): SloBucket[] {
  checkBounds(bounds);
  boundIndex(bounds, thresholdMs);
  return histograms.map((h) => ({
    minute: h.minute,
    total: h.counts.reduce((a, c) => a + c, 0),
    bad: countAbove(bounds, h.counts, thresholdMs),
  }));
}
