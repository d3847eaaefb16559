// Two-sample Kolmogorov–Smirnov test, numerically identical to SciPy 1.10.1's
// `ks_2samp(ref, cur, alternative='two-sided', method='auto')` (drift-statistics spec §4.2).
//
// Statistic. Both samples are sorted once and walked together over the distinct pooled values t;
// at each t the difference F_ref(t) − F_cur(t) is formed exactly as SciPy forms it
// (c_ref/n_ref − c_cur/n_cur in double precision), so ties between equal maxima resolve the same
// way. SciPy reports the location as the first element of concat(sorted ref, sorted cur) where the
// extreme is attained: the smallest such value from the reference if there is one, else the
// smallest from the current sample. D is the larger of max(diff) and −min(diff), the positive
// side winning ties.
//
// P-value. With both sizes ≤ 10 000 the exact null distribution is used: D is snapped to h/lcm
// and p = Pr(D_{m,n} ≥ h/lcm) is the probability that a uniform monotone lattice path from (0, 0)
// to (m, n) touches the band |i·n/g − j·m/g| ≥ h. It is evaluated with the numerically stable
// "probability of having left the band" recursion B(i, j) = (i·B(i−1, j) + j·B(i, j−1))/(i + j),
// storing only the cells inside the band. For m = n SciPy instead sums an alternating series
// 2·Σ_k (−1)^(k+1) C(2n, n − kh)/C(2n, n) in nested (Horner) form; that series is reproduced
// operation for operation because SciPy rejects its result when rounding takes it above 1 and then
// falls back to the asymptotic branch ("asymp (exact failed)") — something only the identical
// float sequence can predict.
//
// Otherwise (or after that fallback) p = kstwo.sf(D, N) with N = round-half-even(m·n/(m + n)).

import { kstwoSfWithBranch } from './kstwo.js';
import { ecdfExtremes, type Extremes } from './pooled-walk.js';
import { scratchFloat64 } from './scratch.js';
import { sortFloat64 } from './sort.js';

export interface KsResult {
  /** D; on the exact path (and after its fallback) snapped to h/lcm(n_ref, n_cur) as SciPy returns it. */
  statistic: number;
  /** Pooled value where D is attained (SciPy's choice among ties). */
  statistic_location: number;
  /** Sign of F_ref − F_cur at statistic_location. */
  statistic_sign: 1 | -1;
  pvalue: number;
  method_used: 'exact' | 'asymp' | 'asymp (exact failed)';
  /**
   * Algorithm behind the p-value: 'exact_zero_statistic' (D = 0, p = 1), 'exact_equal_size_series',
   * 'exact_lattice', or one of the kstwo branches (see KstwoBranch in kstwo.ts).
   */
  pvalue_branch: string;
  n_ref: number;
  n_cur: number;
}

/** Largest sample size for which SciPy's 'auto' method tries the exact distribution. */
export const KS_EXACT_MAX_N = 10_000;

function gcd(a: number, b: number): number {
  let x = a;
  let y = b;
  while (y !== 0) [x, y] = [y, x % y];
  return x;
}

/** numpy's round(): to the nearest integer, halves to even. */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const r = x - f;
  if (r < 0.5) return f;
  if (r > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}

/**
 * Pr(D_{n,n} ≥ h/n) for two samples of equal size n, as SciPy sums it:
 * P = 2·A₀(1 − A₁(1 − A₂(1 − …))) with A_k = Π_{j<h} (n − kh − j)/(n + kh + j + 1).
 * The result can exceed 1 by rounding; the caller treats that as a failed exact computation.
 */
export function ksEqualSizeSeries(n: number, h: number): number {
  let p = 0;
  for (let k = Math.floor(n / h); k >= 0; k--) {
    let a = 1;
    const kh = k * h;
    for (let j = 0; j < h; j++) a = ((n - kh - j) * a) / (n + kh + j + 1);
    p = a * (1 - p);
  }
  return 2 * p;
}

/**
 * Pr(D_{m,n} ≥ h/lcm(m, n)) by the lattice recursion of spec §4.2: the probability that a uniformly
 * random monotone path from (0, 0) to (m, n) reaches a cell with |i·n/g − j·m/g| ≥ h. Cells outside
 * the band count 1, the origin 0, and each inside cell averages its two predecessors weighted by
 * the step counts. Column i only needs rows j with |i·ng − j·mg| < h, about 2h/mg of them.
 */
export function ksLatticeOutsideProb(m0: number, n0: number, h: number): number {
  const m = Math.max(m0, n0);
  const n = Math.min(m0, n0);
  const g = gcd(m, n);
  const mg = m / g;
  const ng = n / g;
  const cap = Math.min(n + 1, 2 * Math.ceil(h / mg) + 2);
  let prev = new Float64Array(cap);
  let cur = new Float64Array(cap);
  // Column i = 0: rows j < ceil(h/mg) are inside (value 0), the rest outside.
  let prevLo = 0;
  let prevHi = Math.min(Math.ceil(h / mg), n + 1); // inside rows are [prevLo, prevHi)
  for (let i = 1; i <= m; i++) {
    const lo = Math.min(Math.max(Math.floor((ng * i - h) / mg) + 1, 0), n);
    const hi = Math.min(Math.ceil((ng * i + h) / mg), n + 1);
    if (hi <= lo) return 1;
    let left = lo === 0 ? 0 : 1; // B(i, lo − 1): outside below the band (or absent on the axis)
    for (let j = lo; j < hi; j++) {
      const below = j < prevHi ? prev[j - prevLo] : 1; // B(i − 1, j)
      // Two equal neighbours that are exactly 0 or 1 give exactly that value again; skipping the
      // division there shortens the dependency chain without changing a bit of the result.
      if (below !== left || (below !== 0 && below !== 1)) left = (below * i + left * j) / (i + j);
      cur[j - lo] = left;
    }
    [prev, cur] = [cur, prev];
    prevLo = lo;
    prevHi = hi;
  }
  return n < prevHi ? prev[n - prevLo] : 1;
}

interface ExactOutcome {
  ok: boolean;
  d: number;
  p: number;
  branch: string;
}

function exactPvalue(n1: number, n2: number, d: number): ExactOutcome {
  const g = gcd(n1, n2);
  const lcm = (n1 / g) * n2;
  const h = roundHalfEven(d * lcm);
  const snapped = h / lcm;
  if (h === 0) return { ok: true, d: snapped, p: 1, branch: 'exact_zero_statistic' };
  if (n1 === n2) {
    const p = ksEqualSizeSeries(n1, h);
    const ok = p >= 0 && p <= 1;
    return { ok, d: snapped, p, branch: 'exact_equal_size_series' };
  }
  return { ok: true, d: snapped, p: ksLatticeOutsideProb(n1, n2, h), branch: 'exact_lattice' };
}

/**
 * Two-sample two-sided KS test of `cur` against `ref` (finite values, any order, both non-empty;
 * the inputs are not modified).
 */
export function ks2samp(ref: Float64Array, cur: Float64Array): KsResult {
  if (ref.length === 0 || cur.length === 0) throw new RangeError('ks2samp needs two non-empty samples');
  const a = scratchFloat64('ks reference', ref.length);
  const b = scratchFloat64('ks current', cur.length);
  a.set(ref);
  b.set(cur);
  return ks2sampSorted(sortFloat64(a), sortFloat64(b));
}

/** ks2samp of two ascending non-empty samples; `ex` may bring their ecdfExtremes when already walked. */
export function ks2sampSorted(a: Float64Array, b: Float64Array, ex?: Extremes): KsResult {
  if (a.length === 0 || b.length === 0) throw new RangeError('ks2samp needs two non-empty samples');
  return ksFromExtremes(ex ?? ecdfExtremes(a, b), a.length, b.length);
}

function ksFromExtremes(ex: Extremes, n1: number, n2: number): KsResult {
  const minSide = Math.min(Math.max(-ex.minDiff, 0), 1);
  const negative = minSide > ex.maxDiff;
  let d = negative ? minSide : ex.maxDiff;
  const location = negative ? ex.minLoc : ex.maxLoc;
  const sign: 1 | -1 = negative ? -1 : 1;

  let method: KsResult['method_used'] = Math.max(n1, n2) <= KS_EXACT_MAX_N ? 'exact' : 'asymp';
  let p = NaN;
  let branch = '';
  if (method === 'exact') {
    const out = exactPvalue(n1, n2, d);
    d = out.d;
    if (out.ok) {
      p = out.p;
      branch = out.branch;
    } else {
      method = 'asymp (exact failed)';
    }
  }
  if (method !== 'exact') {
    const big = Math.max(n1, n2);
    const small = Math.min(n1, n2);
    const en = (big * small) / (big + small);
    const res = kstwoSfWithBranch(d, roundHalfEven(en));
    p = res.sf;
    branch = res.branch;
  }
  p = Math.min(Math.max(p, 0), 1);
  return {
    statistic: d,
    statistic_location: location,
    statistic_sign: sign,
    pvalue: p,
    method_used: method,
    pvalue_branch: branch,
    n_ref: n1,
    n_cur: n2,
  };
}
