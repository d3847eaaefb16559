// One walk over the distinct values of two sorted samples in pooled order, feeding the statistics
// that are defined on it: the KS extremes of F_ref − F_cur (§4.2), the Wasserstein-1 terms
// (§4.4) and the distinct-value counts of Evidently's method choice (§4.6). Each is computed
// exactly as its own module does it on the same walk; the walk is merely shared.
import { certifiedRound } from './fsum.js';
import { wassersteinDistanceSorted } from './wasserstein.js';

/** Max and min of F_a − F_b over the pooled values, with the first value of each sample attaining them (NaN while none). */
export class Extremes {
  maxDiff = -Infinity;
  minDiff = Infinity;
  maxA = NaN;
  maxB = NaN;
  minA = NaN;
  minB = NaN;

  /** Takes the difference at pooled value t (present in a, in b, or both). */
  note(diff: number, t: number, inA: boolean, inB: boolean): void {
    if (diff > this.maxDiff) {
      this.maxDiff = diff;
      this.maxA = inA ? t : NaN;
      this.maxB = inB ? t : NaN;
    } else if (diff === this.maxDiff) {
      if (inA && Number.isNaN(this.maxA)) this.maxA = t;
      if (inB && Number.isNaN(this.maxB)) this.maxB = t;
    }
    if (diff < this.minDiff) {
      this.minDiff = diff;
      this.minA = inA ? t : NaN;
      this.minB = inB ? t : NaN;
    } else if (diff === this.minDiff) {
      if (inA && Number.isNaN(this.minA)) this.minA = t;
      if (inB && Number.isNaN(this.minB)) this.minB = t;
    }
  }

  /** SciPy's location: the first reference value attaining the maximum, else the first current one. */
  get maxLoc(): number {
    return Number.isNaN(this.maxA) ? this.maxB : this.maxA;
  }

  get minLoc(): number {
    return Number.isNaN(this.minA) ? this.minB : this.minA;
  }
}

/**
 * Max and min of F_a − F_b over the pooled values of two sorted non-empty samples: at each
 * distinct pooled value t, with i, j the counts of values ≤ t, diff = i/na − j/nb as SciPy forms
 * it. A difference that cannot change either extreme (the usual case) is not passed on.
 */
export function ecdfExtremes(a: Float64Array, b: Float64Array): Extremes {
  const na = a.length;
  const nb = b.length;
  const ex = new Extremes();
  let i = 0;
  let j = 0;
  let x = a[0];
  let y = b[0];
  while (i < na || j < nb) {
    // The reference's value on a tie, as the sign of a zero location requires.
    const t = i < na && (j >= nb || x <= y) ? x : y;
    const inA = i < na && x === t;
    const inB = j < nb && y === t;
    if (inA) do i++; while (i < na && (x = a[i]) === t);
    if (inB) do j++; while (j < nb && (y = b[j]) === t);
    const diff = i / na - j / nb;
    if (diff >= ex.maxDiff || diff <= ex.minDiff) ex.note(diff, t, inA, inB);
  }
  return ex;
}

export interface PooledWalk {
  extremes: Extremes;
  /** W1 = Σ |i·m − j·n|/(n·m)·(z_{k+1} − z_k), correctly rounded (wassersteinDistance). */
  wasserstein: number;
  /** Distinct values of a ∪ b, and of a alone. */
  unionDistinct: number;
  refDistinct: number;
}

/** The ecdfExtremes walk of two sorted non-empty samples, also summing the W1 terms and counting distinct values. */
export function pooledWalk(a: Float64Array, b: Float64Array): PooledWalk {
  const n = a.length;
  const m = b.length;
  const nm = n * m;
  const ex = new Extremes();
  let i = 0;
  let j = 0;
  let x = a[0];
  let y = b[0];
  let union = 0;
  let refDistinct = 0;
  // W1: the gap and value of the previous pooled value, and a compensated sum of the terms.
  let gap = 0;
  let z = 0;
  let s = 0;
  let c = 0;
  let mag = 0;
  let terms = 0;
  while (i < n || j < m) {
    const t = i < n && (j >= m || x <= y) ? x : y;
    const inA = i < n && x === t;
    const inB = j < m && y === t;
    if (inA) do i++; while (i < n && (x = a[i]) === t);
    if (inB) do j++; while (j < m && (y = b[j]) === t);
    if (gap !== 0) {
      const term = (gap / nm) * (t - z);
      const sum = s + term;
      const back = sum - s;
      const e = s - (sum - back) + (term - back);
      c += e;
      mag += Math.abs(e);
      s = sum;
      terms++;
    }
    union++;
    if (inA) refDistinct++;
    const diff = i / n - j / m;
    if (diff >= ex.maxDiff || diff <= ex.minDiff) ex.note(diff, t, inA, inB);
    gap = Math.abs(i * m - j * n);
    z = t;
  }
  // The terms are non-negative, so s is also the sum of their magnitudes.
  const w1 = certifiedRound(s, c, mag, terms, s);
  return { extremes: ex, wasserstein: w1 === w1 ? w1 : wassersteinDistanceSorted(a, b), unionDistinct: union, refDistinct };
}
