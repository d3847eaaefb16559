// Wasserstein-1 distance between two samples and Evidently's normed variant (drift-statistics.md §4.4).
import { fsum } from './fsum.js';
import { moments } from './quality.js';
import { scratchFloat64 } from './scratch.js';
import { sortedCopy } from './sort.js';

/** Floor of the norm: a constant reference divides by 0.001 (Evidently's rule). */
export const WASSERSTEIN_MIN_NORM = 0.001;

export interface Wasserstein {
  /** W1 = ∫ |F_ref − F_cur| (the value of scipy.stats.wasserstein_distance). */
  distance: number;
  /** Population standard deviation (ddof 0) of the reference. */
  ref_std_pop: number;
  /** max(ref_std_pop, 0.001). */
  norm: number;
  /** distance / norm: Evidently's "wasserstein" score. */
  normed: number;
}

/**
 * W1 between two finite samples: Σ_k |F_ref(z_k) − F_cur(z_k)|·(z_{k+1} − z_k) over the sorted
 * distinct pooled values z, with right-continuous empirical CDFs. The CDF gap |i/n − j/m| is
 * formed as |i·m − j·n| / (n·m) (one rounding) and the terms are summed exactly.
 */
export function wassersteinDistance(ref: ArrayLike<number>, cur: ArrayLike<number>): number {
  if (ref.length === 0 || cur.length === 0) throw new RangeError('the Wasserstein distance needs non-empty samples');
  return wassersteinDistanceSorted(sortedCopy(ref), sortedCopy(cur));
}

/** wassersteinDistance of two ascending non-empty samples. */
export function wassersteinDistanceSorted(a: Float64Array, b: Float64Array): number {
  const n = a.length;
  const m = b.length;
  const nm = n * m;
  const terms = scratchFloat64('wasserstein terms', n + m);
  let count = 0;
  let i = 0;
  let j = 0;
  let z = Math.min(a[0], b[0]);
  for (;;) {
    while (i < n && a[i] <= z) i++;
    while (j < m && b[j] <= z) j++;
    if (i === n && j === m) break;
    const next = i === n ? b[j] : j === m ? a[i] : Math.min(a[i], b[j]);
    const gap = Math.abs(i * m - j * n);
    if (gap !== 0) terms[count++] = (gap / nm) * (next - z);
    z = next;
  }
  return fsum(terms.subarray(0, count));
}

/** §4.4 from the distance and the reference's population standard deviation. */
export function wassersteinOf(distance: number, refStdPop: number): Wasserstein {
  const norm = Math.max(refStdPop, WASSERSTEIN_MIN_NORM);
  return { distance, ref_std_pop: refStdPop, norm, normed: distance / norm };
}

/** §4.4: distance, the reference's population std, the norm and the normed distance. */
export function wasserstein(ref: ArrayLike<number>, cur: ArrayLike<number>): Wasserstein {
  return wassersteinOf(wassersteinDistance(ref, cur), moments(ref).std_pop);
}
