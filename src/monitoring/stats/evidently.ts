// Evidently-compatible per-column drift decision and the dataset-level share (drift-statistics.md
// §4.6, §4.7; drift-methods-in-other-tools.md §1–§2). Inputs are the cleaned values of §4.1:
// finite numbers for a numerical column, non-missing strings for a categorical one.
import { jsDistance, proportions } from './binning.js';
import { alignedCounts, chi2Gof } from './categorical.js';
import { normSf } from './special.js';
import { wasserstein } from './wasserstein.js';

/** Reference sizes up to this use p-value tests; above it, distances. */
export const SMALL_REFERENCE_MAX = 1000;
/** Default thresholds of Evidently's tests. */
export const P_VALUE_THRESHOLD = 0.05;
export const DISTANCE_THRESHOLD = 0.1;
/** A numerical reference with more distinct values than this gets Sturges bins. */
export const STURGES_ABOVE_DISTINCT = 20;

export type ColumnKind = 'numerical' | 'categorical';
export type AutoMethod = 'ks' | 'chisquare' | 'z' | 'wasserstein' | 'jensenshannon';

export interface EvidentlyPsi {
  binning: 'sturges_on_combined' | 'distinct_values';
  /** B + 1 bin edges, only with Sturges binning. */
  edges?: number[];
  /** Counts per bin; for distinct values, per value of ref ∪ cur in ascending (numbers) or code-point (strings) order. */
  ref_counts: number[];
  cur_counts: number[];
  /** Σ (p − q)·ln(p/q) after Evidently's zero fill. */
  value: number;
}

export interface EvidentlyBlock {
  n_values_union: number;
  auto_method: AutoMethod;
  auto_score: number;
  auto_drift_detected: boolean;
  psi: EvidentlyPsi;
  jensenshannon_natural_log: { value: number };
}

export interface DatasetDrift {
  n_columns_tested: number;
  n_drifted: number;
  /** n_drifted / n_columns_tested; null when no column was tested. */
  share_drifted: number | null;
  dataset_drift: boolean;
}

/** Evidently's choice of test (METHODS.md §1): the reference size, the column kind and the number of distinct values of ref ∪ cur. */
export function autoMethod(kind: ColumnKind, nRef: number, nValuesUnion: number): AutoMethod {
  const manyNumbers = kind === 'numerical' && nValuesUnion > 5;
  if (nRef <= SMALL_REFERENCE_MAX) return manyNumbers ? 'ks' : nValuesUnion > 2 ? 'chisquare' : 'z';
  return manyNumbers ? 'wasserstein' : 'jensenshannon';
}

/**
 * Evidently's zero fill for PSI: with m the smallest non-zero proportion of the side, every zero
 * becomes m/10⁶ when m ≤ 1e-4, else 1e-4 (no renormalisation).
 */
export function evidentlyZeroFill(p: readonly number[]): number[] {
  let m = Infinity;
  for (const v of p) if (v !== 0 && v < m) m = v;
  if (m === Infinity) return [...p];
  const fill = m <= 1e-4 ? m / 10 ** 6 : 1e-4;
  return p.map((v) => (v === 0 ? fill : v));
}

/** Evidently's PSI on already binned proportions: Σ (p − q)·ln(p/q) after the zero fill of each side. */
export function evidentlyPsi(p: readonly number[], q: readonly number[]): number {
  const a = evidentlyZeroFill(p);
  const b = evidentlyZeroFill(q);
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += (a[i] - b[i]) * Math.log(a[i] / b[i]);
  return sum;
}

/**
 * numpy's `histogram_bin_edges(pooled, bins="sturges")`: B = ⌈range / (range / (log₂N + 1))⌉
 * equal-width bins over [min, max] of the pooled sample, edge_i = i·(range/B) + min, the last = max.
 * The floating-point expression is kept as numpy evaluates it (B can exceed ⌈log₂N + 1⌉ by rounding).
 */
export function sturgesEdges(ref: ArrayLike<number>, cur: ArrayLike<number>): number[] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const side of [ref, cur]) {
    for (let i = 0; i < side.length; i++) {
      if (side[i] < lo) lo = side[i];
      if (side[i] > hi) hi = side[i];
    }
  }
  const range = hi - lo;
  if (!(range > 0)) throw new RangeError('Sturges bins need a pooled sample with at least two distinct values');
  const width = range / (Math.log2(ref.length + cur.length) + 1);
  const bins = Math.ceil(range / width);
  const step = range / bins;
  const edges: number[] = [];
  for (let i = 0; i < bins; i++) edges.push(i * step + lo);
  edges.push(hi);
  return edges;
}

/** numpy `histogram` counts with explicit edges: bin i holds e_i ≤ v < e_{i+1}, the last bin also v = e_B; values outside are dropped. */
export function histogramCounts(edges: readonly number[], values: ArrayLike<number>): number[] {
  const bins = edges.length - 1;
  const counts = new Array<number>(bins).fill(0);
  const last = edges[bins];
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!(v >= edges[0] && v <= last)) continue;
    if (v === last) {
      counts[bins - 1]++;
      continue;
    }
    // Number of edges ≤ v, minus one.
    let lo = 0;
    let hi = edges.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (edges[mid] <= v) lo = mid + 1;
      else hi = mid;
    }
    counts[lo - 1]++;
  }
  return counts;
}

/** Distinct values of the union of two numerical samples (ascending) and each side's counts. */
function alignedNumberCounts(ref: ArrayLike<number>, cur: ArrayLike<number>): { values: number[]; ref_counts: number[]; cur_counts: number[] } {
  const a = Float64Array.from(ref).sort();
  const b = Float64Array.from(cur).sort();
  const values: number[] = [];
  const refCounts: number[] = [];
  const curCounts: number[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const v = j >= b.length || (i < a.length && a[i] < b[j]) ? a[i] : b[j];
    let ci = 0;
    let cj = 0;
    while (i < a.length && a[i] === v) {
      i++;
      ci++;
    }
    while (j < b.length && b[j] === v) {
      j++;
      cj++;
    }
    values.push(v);
    refCounts.push(ci);
    curCounts.push(cj);
  }
  return { values, ref_counts: refCounts, cur_counts: curCounts };
}

/**
 * Two-proportion Z-test p-value (Evidently's "z"): each value becomes 0 when it equals the first
 * of the sorted distinct values, else 1; z = (p̂₁ − p̂₂)/√(P(1 − P)(1/n₁ + 1/n₂)) with the pooled P,
 * p = 2·(1 − Φ(|z|)). One distinct value overall (both sides constant and equal) gives 1.
 * Arguments are the counts per distinct value, aligned, at most two values.
 */
export function zTestPvalue(refCounts: readonly number[], curCounts: readonly number[]): number {
  if (refCounts.length > 2) throw new RangeError('the Z-test takes at most two distinct values');
  if (refCounts.length <= 1) return 1;
  const n1 = refCounts[0] + refCounts[1];
  const n2 = curCounts[0] + curCounts[1];
  const p1 = refCounts[1] / n1;
  const p2 = curCounts[1] / n2;
  const pooled = (p1 * n1 + p2 * n2) / (n1 + n2);
  const z = (p1 - p2) / Math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2));
  return 2 * normSf(Math.abs(z));
}

/**
 * The §4.6 block of one column. `ksPvalue` supplies the two-sample KS p-value (§4.2) and is only
 * called when the chosen method is "ks".
 */
export function evidentlyBlock(kind: 'numerical', ref: ArrayLike<number>, cur: ArrayLike<number>, ksPvalue: () => number): EvidentlyBlock;
export function evidentlyBlock(kind: 'categorical', ref: readonly string[], cur: readonly string[], ksPvalue?: () => number): EvidentlyBlock;
export function evidentlyBlock(kind: ColumnKind, ref: ArrayLike<number> | readonly string[], cur: ArrayLike<number> | readonly string[], ksPvalue?: () => number): EvidentlyBlock;
export function evidentlyBlock(
  kind: ColumnKind,
  ref: ArrayLike<number> | readonly string[],
  cur: ArrayLike<number> | readonly string[],
  ksPvalue?: () => number,
): EvidentlyBlock {
  const nRef = ref.length;
  const nCur = cur.length;
  if (nRef === 0 || nCur === 0) throw new RangeError('the Evidently block needs non-empty reference and current samples');

  // One bin per distinct value of ref ∪ cur (always needed for the count of values).
  const distinct =
    kind === 'numerical'
      ? alignedNumberCounts(ref as ArrayLike<number>, cur as ArrayLike<number>)
      : alignedCounts(ref as readonly string[], cur as readonly string[]);
  const nValues = distinct.ref_counts.length;

  let binned: Omit<EvidentlyPsi, 'value'>;
  const refDistinct = distinct.ref_counts.filter((c) => c > 0).length;
  if (kind === 'numerical' && refDistinct > STURGES_ABOVE_DISTINCT) {
    const edges = sturgesEdges(ref as ArrayLike<number>, cur as ArrayLike<number>);
    binned = {
      binning: 'sturges_on_combined',
      edges,
      ref_counts: histogramCounts(edges, ref as ArrayLike<number>),
      cur_counts: histogramCounts(edges, cur as ArrayLike<number>),
    };
  } else {
    binned = { binning: 'distinct_values', ref_counts: distinct.ref_counts, cur_counts: distinct.cur_counts };
  }
  const p = proportions(binned.ref_counts, nRef);
  const q = proportions(binned.cur_counts, nCur);
  const js = jsDistance(p, q, Math.E);

  const method = autoMethod(kind, nRef, nValues);
  let score: number;
  let drift: boolean;
  switch (method) {
    case 'ks':
      if (!ksPvalue) throw new TypeError('a KS p-value is needed for a numerical column with a small reference');
      score = ksPvalue();
      drift = score <= P_VALUE_THRESHOLD;
      break;
    case 'chisquare':
      score = chi2Gof(distinct.ref_counts, distinct.cur_counts).pvalue;
      drift = score < P_VALUE_THRESHOLD;
      break;
    case 'z':
      score = zTestPvalue(distinct.ref_counts, distinct.cur_counts);
      drift = score < P_VALUE_THRESHOLD;
      break;
    case 'wasserstein':
      score = wasserstein(ref as ArrayLike<number>, cur as ArrayLike<number>).normed;
      drift = score >= DISTANCE_THRESHOLD;
      break;
    case 'jensenshannon':
      score = js;
      drift = score >= DISTANCE_THRESHOLD;
      break;
  }
  return {
    n_values_union: nValues,
    auto_method: method,
    auto_score: score,
    auto_drift_detected: drift,
    psi: { ...binned, value: evidentlyPsi(p, q) },
    jensenshannon_natural_log: { value: js },
  };
}

/** A column's outcome for the dataset share: its Evidently block, or a skipped column (null or `{ skipped }`). */
export type ColumnOutcome = Pick<EvidentlyBlock, 'auto_drift_detected'> | { skipped: string } | null;

/** §4.7: share of tested columns that drift; dataset drift when the share is at least 0.5. */
export function datasetDrift(columns: readonly ColumnOutcome[], driftShare = 0.5): DatasetDrift {
  let tested = 0;
  let drifted = 0;
  for (const c of columns) {
    if (c === null || 'skipped' in c) continue;
    tested++;
    if (c.auto_drift_detected) drifted++;
  }
  const share = tested > 0 ? drifted / tested : null;
  return { n_columns_tested: tested, n_drifted: drifted, share_drifted: share, dataset_drift: share !== null && share >= driftShare };
}
