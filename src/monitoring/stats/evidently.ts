// Evidently-compatible per-column drift decision and the dataset-level share (drift-statistics.md
// §4.6, §4.7; drift-methods-in-other-tools.md §1–§2). Inputs are the cleaned values of §4.1:
// finite numbers for a numerical column, non-missing strings for a categorical one.
import { jsDistance, proportions, rank } from './binning.js';
import { alignedCounts, chi2Gof } from './categorical.js';
import { sortedCopy } from './sort.js';
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
  return sturgesEdgesBetween(lo, hi, ref.length + cur.length);
}

/** The Sturges edges of a pooled sample of `count` values from `lo` to `hi`. */
export function sturgesEdgesBetween(lo: number, hi: number, count: number): number[] {
  const range = hi - lo;
  if (!(range > 0)) throw new RangeError('Sturges bins need a pooled sample with at least two distinct values');
  const width = range / (Math.log2(count) + 1);
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

/** histogramCounts of ascending values, by binary searches at the edges (value by value when the edges ever decrease). */
export function histogramCountsSorted(edges: readonly number[], sorted: ArrayLike<number>): number[] {
  const bins = edges.length - 1;
  for (let k = 1; k <= bins; k++) if (!(edges[k - 1] <= edges[k])) return histogramCounts(edges, sorted);
  const counts = new Array<number>(bins);
  let from = rank(sorted, edges[0], true);
  for (let k = 0; k < bins - 1; k++) {
    const to = rank(sorted, edges[k + 1], true);
    counts[k] = to - from;
    from = to;
  }
  counts[bins - 1] = rank(sorted, edges[bins]) - from;
  return counts;
}

interface AlignedNumbers {
  ref_counts: number[];
  cur_counts: number[];
}

/** Counts of each side per distinct value of the union of two ascending samples. */
function alignedNumberCounts(a: Float64Array, b: Float64Array): AlignedNumbers {
  const refCounts: number[] = [];
  const curCounts: number[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const v = j >= b.length || (i < a.length && a[i] < b[j]) ? a[i] : b[j];
    const i0 = i;
    const j0 = j;
    while (i < a.length && a[i] === v) i++;
    while (j < b.length && b[j] === v) j++;
    refCounts.push(i - i0);
    curCounts.push(j - j0);
  }
  return { ref_counts: refCounts, cur_counts: curCounts };
}

/** Numbers of distinct values of the union of two ascending samples and of the first sample alone. */
function distinctNumbers(a: Float64Array, b: Float64Array): { union: number; ref: number } {
  let union = 0;
  let ref = 0;
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const v = j >= b.length || (i < a.length && a[i] < b[j]) ? a[i] : b[j];
    const i0 = i;
    while (i < a.length && a[i] === v) i++;
    while (j < b.length && b[j] === v) j++;
    union++;
    if (i > i0) ref++;
  }
  return { union, ref };
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

/** Inputs of the §4.6 block of a numerical column whose samples are already sorted. */
export interface SortedNumericalInputs {
  /** Finite reference and current values, ascending, both non-empty. */
  ref: Float64Array;
  cur: Float64Array;
  /** Numbers of distinct values of ref ∪ cur and of ref, when already counted. */
  distinct?: { union: number; ref: number };
  /** The two-sample KS p-value; asked for only when the chosen method is "ks". */
  ksPvalue?: () => number;
  /** Evidently's normed Wasserstein distance; asked for only when the method is "wasserstein". */
  wassersteinNormed: () => number;
  /**
   * The first zero (−0 or +0) in row order, reference before current: the maximum the Sturges
   * edges end at when that maximum is 0 (how a scan in row order would have kept it).
   */
  firstZero: () => number;
}

/** What the choice of method and its score need besides the binning. */
interface Decision {
  kind: ColumnKind;
  nRef: number;
  nValues: number;
  js: number;
  distinct: () => AlignedNumbers;
  ksPvalue?: () => number;
  wassersteinNormed?: () => number;
}

function decide(d: Decision): Pick<EvidentlyBlock, 'auto_method' | 'auto_score' | 'auto_drift_detected'> {
  const method = autoMethod(d.kind, d.nRef, d.nValues);
  let score: number;
  let drift: boolean;
  switch (method) {
    case 'ks':
      if (!d.ksPvalue) throw new TypeError('a KS p-value is needed for a numerical column with a small reference');
      score = d.ksPvalue();
      drift = score <= P_VALUE_THRESHOLD;
      break;
    case 'chisquare':
      score = chi2Gof(d.distinct().ref_counts, d.distinct().cur_counts).pvalue;
      drift = score < P_VALUE_THRESHOLD;
      break;
    case 'z':
      score = zTestPvalue(d.distinct().ref_counts, d.distinct().cur_counts);
      drift = score < P_VALUE_THRESHOLD;
      break;
    case 'wasserstein':
      score = d.wassersteinNormed!();
      drift = score >= DISTANCE_THRESHOLD;
      break;
    case 'jensenshannon':
      score = d.js;
      drift = score >= DISTANCE_THRESHOLD;
      break;
  }
  return { auto_method: method, auto_score: score, auto_drift_detected: drift };
}

function block(binned: Omit<EvidentlyPsi, 'value'>, nRef: number, nCur: number, d: Omit<Decision, 'js'>): EvidentlyBlock {
  const p = proportions(binned.ref_counts, nRef);
  const q = proportions(binned.cur_counts, nCur);
  const js = jsDistance(p, q, Math.E);
  return {
    n_values_union: d.nValues,
    ...decide({ ...d, js }),
    psi: { ...binned, value: evidentlyPsi(p, q) },
    jensenshannon_natural_log: { value: js },
  };
}

/** The §4.6 block of a numerical column from its sorted samples. */
export function evidentlyNumericalSorted(inputs: SortedNumericalInputs): EvidentlyBlock {
  const { ref, cur } = inputs;
  const nRef = ref.length;
  const nCur = cur.length;
  if (nRef === 0 || nCur === 0) throw new RangeError('the Evidently block needs non-empty reference and current samples');
  let aligned: AlignedNumbers | undefined;
  const distinct = () => (aligned ??= alignedNumberCounts(ref, cur));
  const counts = inputs.distinct ?? distinctNumbers(ref, cur);
  let binned: Omit<EvidentlyPsi, 'value'>;
  if (counts.ref > STURGES_ABOVE_DISTINCT) {
    const top = Math.max(ref[nRef - 1], cur[nCur - 1]);
    const edges = sturgesEdgesBetween(Math.min(ref[0], cur[0]), top === 0 ? inputs.firstZero() : top, nRef + nCur);
    binned = { binning: 'sturges_on_combined', edges, ref_counts: histogramCountsSorted(edges, ref), cur_counts: histogramCountsSorted(edges, cur) };
  } else {
    binned = { binning: 'distinct_values', ...distinct() };
  }
  return block(binned, nRef, nCur, { kind: 'numerical', nRef, nValues: counts.union, distinct, ksPvalue: inputs.ksPvalue, wassersteinNormed: inputs.wassersteinNormed });
}

/** The zero met first in `ref` then `cur` (+0 when there is none). */
function firstZeroOf(ref: ArrayLike<number>, cur: ArrayLike<number>): number {
  for (const side of [ref, cur]) for (let i = 0; i < side.length; i++) if (side[i] === 0) return side[i];
  return 0;
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
  if (kind === 'numerical') {
    const numRef = ref as ArrayLike<number>;
    const numCur = cur as ArrayLike<number>;
    return evidentlyNumericalSorted({
      ref: sortedCopy(numRef),
      cur: sortedCopy(numCur),
      ksPvalue,
      wassersteinNormed: () => wasserstein(numRef, numCur).normed,
      firstZero: () => firstZeroOf(numRef, numCur),
    });
  }
  // One bin per distinct value of ref ∪ cur.
  const distinct = alignedCounts(ref as readonly string[], cur as readonly string[]);
  const binned: Omit<EvidentlyPsi, 'value'> = { binning: 'distinct_values', ref_counts: distinct.ref_counts, cur_counts: distinct.cur_counts };
  return block(binned, nRef, nCur, { kind, nRef, nValues: distinct.ref_counts.length, distinct: () => distinct });
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
