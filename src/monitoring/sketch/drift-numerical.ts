// Drift of a numerical column from two profiles (drift-statistics.md §4.2–§4.4, §4.6 on sketches).
//
// Every statistic is computed on the sketched distributions F̂ (step functions with all their mass
// on the retained items). While both sketches are exact (no compaction yet) they are the samples
// themselves and the numbers equal the exact ones; the KS test then runs the exact `ks2samp`.
import { hellinger, jsDistance, proportions, psi, type BinnedQ10 } from '../stats/binning.js';
import { chi2Gof } from '../stats/categorical.js';
import { autoMethod, DISTANCE_THRESHOLD, P_VALUE_THRESHOLD, zTestPvalue, type AutoMethod } from '../stats/evidently.js';
import { ExactSum } from '../stats/fsum.js';
import { ks2samp, roundHalfEven } from '../stats/ks.js';
import { kstwoSfWithBranch } from '../stats/kstwo.js';
import { WASSERSTEIN_MIN_NORM, type Wasserstein } from '../stats/wasserstein.js';
import { sketchBinCounts, sketchDecileEdges } from './bins.js';
import type { KllSketch } from './kll.js';
import type { NumericProfile } from './numeric-profile.js';

export type CountsSource = 'exact' | 'sketch';

export interface SketchBinnedQ10 extends BinnedQ10 {
  /** 'exact' when the profile counted its values in these very bins, else estimated from the sketch. */
  ref_counts_source: CountsSource;
  cur_counts_source: CountsSource;
}

export interface SketchKs {
  statistic: number;
  statistic_location: number;
  statistic_sign: 1 | -1;
  pvalue: number;
  /** 'sketch': D from the sketches, p = kstwo.sf(D, N); otherwise the exact test's method (both sketches exact). */
  method_used: 'sketch' | 'exact' | 'asymp' | 'asymp (exact failed)';
  pvalue_branch: string;
  /** N = round(m·n/(m + n)) of the asymptotic p-value. */
  en_rounded: number;
  /** |D − D_exact| ≤ this with probability ≥ 1 − delta (eps_ref + eps_cur; 0 when both sketches are exact). */
  statistic_error_bound: number;
  error_confidence: number;
  n_ref: number;
  n_cur: number;
}

export interface SketchWasserstein extends Wasserstein {
  /** |distance − exact| ≤ this with probability ≥ 1 − delta: eps_ref·range_ref + eps_cur·range_cur. */
  distance_error_bound: number;
}

export interface SketchDecision {
  /** Distinct retained values of both sketches: the exact count when both are exact, else a lower bound. */
  n_values_union: number;
  auto_method: AutoMethod;
  auto_score: number;
  auto_drift_detected: boolean;
}

export interface SketchNumericalDrift {
  kind: 'numerical';
  n_ref: number;
  n_cur: number;
  binned_q10: SketchBinnedQ10;
  ks: SketchKs;
  wasserstein: SketchWasserstein;
  decision: SketchDecision;
}

/** §4.3 with edges from the reference sketch and counts from exact bins when recorded against them. */
export function sketchBinnedQ10(ref: NumericProfile, cur: NumericProfile): SketchBinnedQ10 {
  const edges = sketchDecileEdges(ref.sketch);
  const side = (p: NumericProfile): [number[], CountsSource] =>
    p.bins && p.bins.hasEdges(edges) ? [p.bins.counts, 'exact'] : [sketchBinCounts(p.sketch, edges), 'sketch'];
  const [refCounts, refSource] = side(ref);
  const [curCounts, curSource] = side(cur);
  const p = proportions(refCounts, ref.finite);
  const q = proportions(curCounts, cur.finite);
  return {
    edges,
    ref_counts: refCounts,
    cur_counts: curCounts,
    psi: psi(p, q),
    js_base2: jsDistance(p, q, 2),
    hellinger: hellinger(p, q),
    ref_counts_source: refSource,
    cur_counts_source: curSource,
  };
}

/** Calls `visit(t, countA, countB)` at each distinct retained value t of either sketch, ascending, with the estimated counts ≤ t. */
function walkPooled(a: KllSketch, b: KllSketch, visit: (t: number, ca: number, cb: number) => void): void {
  const va = a.sortedView();
  const vb = b.sortedView();
  const la = va.values.length;
  const lb = vb.values.length;
  let i = 0;
  let j = 0;
  while (i < la || j < lb) {
    const t = i < la && (j >= lb || va.values[i] <= vb.values[j]) ? va.values[i] : vb.values[j];
    while (i < la && va.values[i] === t) i++;
    while (j < lb && vb.values[j] === t) j++;
    visit(t, i > 0 ? va.cumulative[i - 1] : 0, j > 0 ? vb.cumulative[j - 1] : 0);
  }
}

/** Two-sample KS from sketches: D = sup |F̂_ref − F̂_cur| (attained at a retained item), p = kstwo.sf(D, N). */
export function sketchKs(ref: KllSketch, cur: KllSketch, delta = 0.01): SketchKs {
  const m = ref.n;
  const n = cur.n;
  const en = roundHalfEven((m * n) / (m + n));
  const common = { en_rounded: en, error_confidence: 1 - delta, n_ref: m, n_cur: n };
  if (ref.isExact && cur.isExact) {
    const exact = ks2samp(expand(ref), expand(cur));
    const { statistic, statistic_location, statistic_sign, pvalue, method_used, pvalue_branch } = exact;
    return { statistic, statistic_location, statistic_sign, pvalue, method_used, pvalue_branch, statistic_error_bound: 0, ...common };
  }
  let best = -1;
  let location = NaN;
  let sign: 1 | -1 = 1;
  walkPooled(ref, cur, (t, ca, cb) => {
    const diff = ca / m - cb / n;
    const size = Math.abs(diff);
    if (size > best || (size === best && diff > 0 && sign < 0)) {
      best = size;
      location = t;
      sign = diff >= 0 ? 1 : -1;
    }
  });
  const p = kstwoSfWithBranch(best, Math.max(1, en));
  return {
    statistic: best,
    statistic_location: location,
    statistic_sign: sign,
    pvalue: Math.min(Math.max(p.sf, 0), 1),
    method_used: 'sketch',
    pvalue_branch: p.branch,
    statistic_error_bound: ref.maxRankErrorBound(delta / 2) + cur.maxRankErrorBound(delta / 2),
    ...common,
  };
}

/**
 * W1 = ∫ |F̂_ref − F̂_cur| dx (= ∫₀¹ |Q̂_ref(u) − Q̂_cur(u)| du), integrated exactly over the step
 * functions, the gap |c_ref·n − c_cur·m| / (m·n) formed as in `wassersteinDistance`.
 */
export function sketchWasserstein(ref: NumericProfile, cur: NumericProfile, delta = 0.01): SketchWasserstein {
  const m = ref.finite;
  const n = cur.finite;
  const mn = m * n;
  const total = new ExactSum();
  let prev = NaN;
  let gap = 0;
  walkPooled(ref.sketch, cur.sketch, (t, ca, cb) => {
    if (gap !== 0) total.add((gap / mn) * (t - prev));
    gap = Math.abs(ca * n - cb * m);
    prev = t;
  });
  const refStdPop = Math.sqrt(ref.variance);
  const norm = Math.max(refStdPop, WASSERSTEIN_MIN_NORM);
  const distance = total.value();
  const bound = (p: NumericProfile): number => p.sketch.maxRankErrorBound(delta / 2) * (p.max - p.min);
  return { distance, ref_std_pop: refStdPop, norm, normed: distance / norm, distance_error_bound: bound(ref) + bound(cur) };
}

/** Estimated counts per distinct retained value of either side (ascending). */
function distinctCounts(a: KllSketch, b: KllSketch): { ref_counts: number[]; cur_counts: number[] } {
  const refCounts: number[] = [];
  const curCounts: number[] = [];
  let pa = 0;
  let pb = 0;
  walkPooled(a, b, (_t, ca, cb) => {
    refCounts.push(ca - pa);
    curCounts.push(cb - pb);
    pa = ca;
    pb = cb;
  });
  return { ref_counts: refCounts, cur_counts: curCounts };
}

/** Evidently's choice of test and its decision (§4.6), on the sketched distributions. */
export function numericalDecision(ref: NumericProfile, cur: NumericProfile, ksPvalue: number, wassersteinNormed: number): SketchDecision {
  const few = distinctCounts(ref.sketch, cur.sketch);
  const nValues = few.ref_counts.length;
  const method = autoMethod('numerical', ref.finite, nValues);
  let score: number;
  let drift: boolean;
  if (method === 'ks' || method === 'wasserstein') {
    score = method === 'ks' ? ksPvalue : wassersteinNormed;
    drift = method === 'ks' ? score <= P_VALUE_THRESHOLD : score >= DISTANCE_THRESHOLD;
  } else if (method === 'jensenshannon') {
    score = jsDistance(proportions(few.ref_counts, ref.finite), proportions(few.cur_counts, cur.finite), Math.E);
    drift = score >= DISTANCE_THRESHOLD;
  } else {
    score = method === 'chisquare' ? chi2Gof(few.ref_counts, few.cur_counts).pvalue : zTestPvalue(few.ref_counts, few.cur_counts);
    drift = score < P_VALUE_THRESHOLD;
  }
  return { n_values_union: nValues, auto_method: method, auto_score: score, auto_drift_detected: drift };
}

/** §4.2–§4.4 and the decision for two profiles with finite values on both sides. */
export function sketchNumericalDrift(ref: NumericProfile, cur: NumericProfile, delta = 0.01): SketchNumericalDrift {
  const ks = sketchKs(ref.sketch, cur.sketch, delta);
  const wasserstein = sketchWasserstein(ref, cur, delta);
  return {
    kind: 'numerical',
    n_ref: ref.finite,
    n_cur: cur.finite,
    binned_q10: sketchBinnedQ10(ref, cur),
    ks,
    wasserstein,
    decision: numericalDecision(ref, cur, ks.pvalue, wasserstein.normed),
  };
}

/** The values of an exact sketch (all weights 1), ascending. */
function expand(s: KllSketch): Float64Array {
  return s.sortedView().values;
}
