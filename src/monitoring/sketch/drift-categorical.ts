// Drift of a categorical column from two profiles (drift-statistics.md §4.5, §4.6). Values that a
// profile did not track (its overflow) form one extra category, OTHER_CATEGORY, on each side.
import { hellinger, jsDistance, proportions, psi } from '../stats/binning.js';
import { chi2Contingency, chi2Gof, type CategoricalDrift } from '../stats/categorical.js';
import { autoMethod, DISTANCE_THRESHOLD, P_VALUE_THRESHOLD, zTestPvalue } from '../stats/evidently.js';
import { compareCodePoints } from '../stats/quality.js';
import type { CategoricalProfile } from './categorical-profile.js';
import type { SketchDecision } from './drift-numerical.js';

/** Name of the bucket of untracked values (a real category of this name is folded into it). */
export const OTHER_CATEGORY = '__other__';

/** The exact report's categorical fields (counts always listed), plus each side's untracked cells and the decision. */
export interface SketchCategoricalDrift extends Omit<CategoricalDrift, 'ref_counts' | 'cur_counts'> {
  kind: 'categorical';
  n_ref: number;
  n_cur: number;
  /** Categories with a non-zero count on either side (OTHER_CATEGORY among them when used). */
  ref_counts: number[];
  cur_counts: number[];
  /** Untracked cells of each side, counted in OTHER_CATEGORY. */
  ref_overflow: number;
  cur_overflow: number;
  decision: SketchDecision;
}

/** Categories of both profiles (code-point order, zero-zero rows dropped) and their aligned counts. */
export function alignedProfileCounts(ref: CategoricalProfile, cur: CategoricalProfile): { categories: string[]; ref_counts: number[]; cur_counts: number[] } {
  const counts = new Map<string, [number, number]>();
  const add = (name: string, side: 0 | 1, c: number): void => {
    if (c === 0) return;
    const pair = counts.get(name) ?? [0, 0];
    pair[side] += c;
    counts.set(name, pair);
  };
  for (const [side, p] of [[0, ref], [1, cur]] as const) {
    const { categories, counts: n } = p.categoryCounts();
    categories.forEach((name, i) => add(name, side, n[i]));
    add(OTHER_CATEGORY, side, p.overflow);
  }
  const categories = [...counts.keys()].sort(compareCodePoints);
  return { categories, ref_counts: categories.map((c) => counts.get(c)![0]), cur_counts: categories.map((c) => counts.get(c)![1]) };
}

/** §4.5 and the decision for two profiles with present values on both sides. */
export function sketchCategoricalDrift(ref: CategoricalProfile, cur: CategoricalProfile): SketchCategoricalDrift {
  const { categories, ref_counts: refCounts, cur_counts: curCounts } = alignedProfileCounts(ref, cur);
  const nRef = ref.present;
  const nCur = cur.present;
  const p = proportions(refCounts, nRef);
  const q = proportions(curCounts, nCur);
  let lInf = 0;
  for (let i = 0; i < p.length; i++) lInf = Math.max(lInf, Math.abs(p[i] - q[i]));
  const gof = chi2Gof(refCounts, curCounts);
  const jsNatural = jsDistance(p, q, Math.E);
  const method = autoMethod('categorical', nRef, categories.length);
  let score: number;
  let drift: boolean;
  if (method === 'jensenshannon') {
    score = jsNatural;
    drift = score >= DISTANCE_THRESHOLD;
  } else {
    score = method === 'chisquare' ? gof.pvalue : zTestPvalue(refCounts, curCounts);
    drift = score < P_VALUE_THRESHOLD;
  }
  const named = (i: number): boolean => categories[i] !== OTHER_CATEGORY;
  return {
    kind: 'categorical',
    n_ref: nRef,
    n_cur: nCur,
    categories,
    ref_counts: refCounts,
    cur_counts: curCounts,
    ref_overflow: ref.overflow,
    cur_overflow: cur.overflow,
    new_in_current: categories.filter((_, i) => refCounts[i] === 0 && named(i)),
    missing_in_current: categories.filter((_, i) => curCounts[i] === 0 && named(i)),
    psi: psi(p, q),
    js_base2: jsDistance(p, q, 2),
    hellinger: hellinger(p, q),
    l_infinity: lInf,
    chi2_gof: gof,
    chi2_contingency: chi2Contingency(refCounts, curCounts),
    decision: { n_values_union: categories.length, auto_method: method, auto_score: score, auto_drift_detected: drift },
  };
}
