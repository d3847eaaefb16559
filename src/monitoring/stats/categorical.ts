// Drift statistics of a categorical column (drift-statistics.md §4.5).
import { hellinger, jsDistance, proportions, psi } from './binning.js';
import { compareCodePoints, MAX_LISTED_CATEGORIES } from './quality.js';
import { chi2Sf } from './special.js';

export interface Chi2Gof {
  /** χ² statistic, or the string "Infinity" when a category unseen in the reference occurs in the current data. */
  statistic: number | 'Infinity';
  pvalue: number;
  dof: number;
}

export interface Chi2Contingency {
  /** Pearson χ² of the 2 × k table, with Yates' correction when dof = 1. */
  statistic: number;
  pvalue: number;
  dof: number;
  yates: boolean;
  statistic_no_yates: number;
  pvalue_no_yates: number;
}

export interface CategoricalDrift {
  /** Sorted (code-point order) union of the values of both sides. */
  categories: string[];
  /** Counts aligned with `categories`; null when there are more than 60 categories. */
  ref_counts: number[] | null;
  cur_counts: number[] | null;
  new_in_current: string[];
  missing_in_current: string[];
  psi: number;
  js_base2: number;
  hellinger: number;
  l_infinity: number;
  chi2_gof: Chi2Gof;
  chi2_contingency: Chi2Contingency;
}

/** Categories of ref ∪ cur in code-point order and the counts of each side aligned with them. */
export function alignedCounts(ref: Iterable<string>, cur: Iterable<string>): { categories: string[]; ref_counts: number[]; cur_counts: number[] } {
  const counts = new Map<string, [number, number]>();
  for (const v of ref) {
    const c = counts.get(v);
    if (c) c[0]++;
    else counts.set(v, [1, 0]);
  }
  for (const v of cur) {
    const c = counts.get(v);
    if (c) c[1]++;
    else counts.set(v, [0, 1]);
  }
  const categories = [...counts.keys()].sort(compareCodePoints);
  return { categories, ref_counts: categories.map((k) => counts.get(k)![0]), cur_counts: categories.map((k) => counts.get(k)![1]) };
}

function total(counts: readonly number[]): number {
  let n = 0;
  for (const c of counts) n += c;
  return n;
}

/**
 * Goodness of fit of the current counts to the reference proportions (Evidently's "chisquare"):
 * expected_k = ref_count_k·n_cur/n_ref, χ² = Σ (cur_count_k − expected_k)²/expected_k, dof = k − 1.
 * A current count in a category the reference lacks gives "Infinity" and p = 0; one category gives 0, 1, dof 0.
 */
export function chi2Gof(refCounts: readonly number[], curCounts: readonly number[]): Chi2Gof {
  const k = refCounts.length;
  if (curCounts.length !== k) throw new RangeError('reference and current counts differ in length');
  if (k <= 1) return { statistic: 0, pvalue: 1, dof: 0 };
  const nRef = total(refCounts);
  const nCur = total(curCounts);
  let stat = 0;
  for (let i = 0; i < k; i++) {
    const expected = (refCounts[i] * nCur) / nRef;
    const observed = curCounts[i];
    if (expected === 0) {
      if (observed > 0) return { statistic: 'Infinity', pvalue: 0, dof: k - 1 };
      continue;
    }
    const d = observed - expected;
    stat += (d * d) / expected;
  }
  return { statistic: stat, pvalue: chi2Sf(stat, k - 1), dof: k - 1 };
}

/**
 * Pearson's χ² test of homogeneity on the 2 × k table [refCounts; curCounts] (SciPy's
 * `chi2_contingency` with `correction=True`): E = row·column/total, dof = k − 1, and when dof = 1
 * each observed count moves toward its expectation by min(0.5, |E − O|) (Yates). Every category
 * must have a non-zero column total. k = 1 gives 0, 1, dof 0.
 */
export function chi2Contingency(refCounts: readonly number[], curCounts: readonly number[]): Chi2Contingency {
  const k = refCounts.length;
  if (curCounts.length !== k) throw new RangeError('reference and current counts differ in length');
  if (k <= 1) return { statistic: 0, pvalue: 1, dof: 0, yates: false, statistic_no_yates: 0, pvalue_no_yates: 1 };
  const rows = [total(refCounts), total(curCounts)];
  const n = rows[0] + rows[1];
  const dof = k - 1;
  let plain = 0;
  let corrected = 0;
  for (let i = 0; i < k; i++) {
    const column = refCounts[i] + curCounts[i];
    if (column === 0) throw new RangeError('a category has no observations on either side');
    for (let r = 0; r < 2; r++) {
      const observed = r === 0 ? refCounts[i] : curCounts[i];
      const expected = (rows[r] * column) / n;
      const d = observed - expected;
      plain += (d * d) / expected;
      const shrunk = Math.abs(d) - Math.min(0.5, Math.abs(d));
      corrected += (shrunk * shrunk) / expected;
    }
  }
  const pPlain = chi2Sf(plain, dof);
  if (dof !== 1) return { statistic: plain, pvalue: pPlain, dof, yates: false, statistic_no_yates: plain, pvalue_no_yates: pPlain };
  return { statistic: corrected, pvalue: chi2Sf(corrected, dof), dof, yates: true, statistic_no_yates: plain, pvalue_no_yates: pPlain };
}

/** §4.5 for the non-missing values of a categorical column (both sides non-empty). */
export function categoricalDrift(ref: readonly string[], cur: readonly string[]): CategoricalDrift {
  if (ref.length === 0 || cur.length === 0) throw new RangeError('categorical drift needs non-empty reference and current samples');
  const { categories, ref_counts: refCounts, cur_counts: curCounts } = alignedCounts(ref, cur);
  const p = proportions(refCounts, ref.length);
  const q = proportions(curCounts, cur.length);
  let lInf = 0;
  for (let i = 0; i < p.length; i++) lInf = Math.max(lInf, Math.abs(p[i] - q[i]));
  const listed = categories.length <= MAX_LISTED_CATEGORIES;
  return {
    categories,
    ref_counts: listed ? refCounts : null,
    cur_counts: listed ? curCounts : null,
    new_in_current: categories.filter((_, i) => refCounts[i] === 0),
    missing_in_current: categories.filter((_, i) => curCounts[i] === 0),
    psi: psi(p, q),
    js_base2: jsDistance(p, q, 2),
    hellinger: hellinger(p, q),
    l_infinity: lInf,
    chi2_gof: chi2Gof(refCounts, curCounts),
    chi2_contingency: chi2Contingency(refCounts, curCounts),
  };
}
