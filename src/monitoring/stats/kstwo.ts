// Distribution of the one-sample Kolmogorov–Smirnov statistics, as SciPy 1.10 evaluates them.
//
// kstwoSf(d, n) = Pr(D_n ≥ d) for the two-sided statistic D_n = sup |F_n − F| of a sample of size
// n (SciPy's `kstwo.sf`). The method is picked by the rules of Simard & L'Ecuyer, "Computing the
// two-sided Kolmogorov–Smirnov distribution", J. Stat. Softw. 39(11), 2011:
//
//   n·d ≤ ½                          → 1
//   n·d ≤ 1                          → Ruben–Gambino closed form, 1 − n!/nⁿ·(2nd − 1)ⁿ
//   n·d ≥ n − 1                      → 2(1 − d)ⁿ
//   d ≥ ½                            → 2·Pr(D⁺_n ≥ d) (exact: the two one-sided events are disjoint)
//   n ≤ 140:  n·d² ≤ 0.754693        → 1 − Durbin matrix CDF
//             n·d² ≤ 4               → 1 − Pomeranz recursion CDF
//             otherwise              → 2·Pr(D⁺_n ≥ d)
//   n > 140:  n·d² ≥ 370             → 0
//             n·d² ≥ 2.2             → 2·Pr(D⁺_n ≥ d)
//             n ≤ 100 000 and n·d^1.5 ≤ 1.4 → 1 − Durbin matrix CDF
//             otherwise              → 1 − Pelz–Good asymptotic CDF
//
// Pr(D⁺_n ≥ d) (SciPy's `special.smirnov`) is the Smirnov / Birnbaum–Tingey finite sum. Each of its
// terms is a binomial coefficient times two large powers, so every term is assembled in log₂ scale
// from an exactly split n·d; the sum has only positive terms in the branch the two-sided
// distribution uses, which keeps a plain double accumulator accurate to ~1e-11 relative.
//
// Durbin's matrix method (Marsaglia, Tsang & Wang 2003) raises a (2k − 1)-square matrix to the n-th
// power; the power and the accumulated row are kept as mantissa × 2^exponent so nothing overflows
// (the unscaled entries grow like eⁿ). Pomeranz (1974) convolves rows of Poisson-like weights,
// rescaling by 2^128 whenever they become tiny.

import { EPS, HALF_LOG_2PI, CEPHES_MINLOG, SMIRNOV_SUM_MAX_N, clip01 } from './ks-numerics.js';
import { kolmogorovCdfDurbin, kolmogorovCdfPomeranz, kolmogorovCdfPelzGood } from './kolmogorov-cdf.js';

/** The algorithm that produced a kstwo survival value. */
export type KstwoBranch =
  | 'kstwo_invalid'
  | 'kstwo_d_ge_1'
  | 'kstwo_nd_le_half'
  | 'kstwo_ruben_gambino_small_nd'
  | 'kstwo_ruben_gambino_large_nd'
  | 'kstwo_smirnov_d_ge_half'
  | 'kstwo_durbin_matrix'
  | 'kstwo_pomeranz'
  | 'kstwo_smirnov'
  | 'kstwo_zero_tail'
  | 'kstwo_pelz_good';

export interface KstwoEval {
  sf: number;
  branch: KstwoBranch;
}

// ---------------------------------------------------------------------------------------------
// One-sided tail Pr(D⁺_n ≥ x)

const SPLITTER = 134217729; // 2^27 + 1, Veltkamp split of a double into two 26-bit halves

/** The exact product a·b as hi + lo (Dekker). */
function exactProduct(a: number, b: number): [number, number] {
  const hi = a * b;
  const ca = SPLITTER * a;
  const aH = ca - (ca - a);
  const aL = a - aH;
  const cb = SPLITTER * b;
  const bH = cb - (cb - b);
  const bL = b - bH;
  const lo = aH * bH - hi + aH * bL + aL * bH + aL * bL;
  return [hi, lo];
}

/** n·x = whole + frac exactly up to one rounding of frac, with 0 ≤ frac < 1. */
function splitNX(n: number, x: number): { whole: number; frac: number } {
  const [hi, lo] = exactProduct(n, x);
  let whole = Math.floor(hi);
  if (hi === whole && lo < 0) whole -= 1;
  let frac = hi - whole + lo;
  if (frac >= 1) {
    whole += 1;
    frac = 0;
  }
  if (frac < 0) frac = 0;
  return { whole, frac };
}

/**
 * Pr(D⁺_n ≥ x), the upper tail of the one-sided KS statistic (SciPy's `special.smirnov(n, x)`).
 *
 * With n·x = w + α (w integer, 0 ≤ α < 1), Birnbaum–Tingey give
 *   Pr(D⁺_n ≥ x) = x · Σ_{v=0}^{⌊n(1−x)⌋} C(n, v) (1 − x − v/n)^(n−v) (x + v/n)^(v−1)
 * and, for the few cases where it is better conditioned, 1 minus the same expression summed over
 * v = n, n − 1, …, ⌈n(1 − x)⌉. The exact split of n·x gives 1 − x − v/n = (n − v − w − α)/n and
 * x + v/n = (v + w + α)/n with a single rounding each.
 */
export function smirnovSf(n: number, x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (!(Number.isInteger(n) && n > 0 && x >= 0 && x <= 1)) return NaN;
  if (n === 1) return 1 - x;
  if (x === 0) return 1;
  if (x === 1) return 0;

  const { whole, frac } = splitNX(n, x);
  // Last term index of the lower sum and first of the upper sum; an exact n·x drops the boundary
  // term from both (it is zero in the lower sum).
  let lowerLast = n - whole - (frac === 0 ? 0 : 1);
  let upperFirst = n - whole;
  if (frac === 0) {
    lowerLast -= 1;
    upperFirst += 1;
  }

  if (whole === 0 || (whole === 1 && frac === 0)) {
    // x ≤ 1/n: Pr(D⁺_n < x) = x(1 + x)^(n−1).
    return clip01(1 - x * Math.exp((n - 1) * Math.log1p(x)));
  }
  if (-2 * n * x * x < CEPHES_MINLOG) return 0;
  if (whole >= n - 1) return clip01(Math.exp(n * Math.log1p(-x)));
  if (n > SMIRNOV_SUM_MAX_N) {
    // Large-n approximation: ln p ≈ −(6nx + 1)²/(18n).
    const logp = -Math.pow(6 * n * x + 1, 2) / 18 / n;
    return clip01(logp < -Math.LN2 ? Math.exp(logp) : 1 + Math.expm1(logp));
  }

  const upperTerms = n - upperFirst + 1;
  const useUpper = (upperTerms <= 1 && x < 0.5) || (n >= 10 && upperTerms <= 3 && x <= 0.5 / Math.sqrt(n));
  const nTerms = useUpper ? upperTerms : lowerLast + 1;
  const half = Math.floor(n / 2);

  // C(n, j) = cMant·2^cExp, updated term by term (C(n, n − j) = C(n, j) serves the upper sum).
  let cMant = 1;
  let cExp = 0;
  let sum = 0;
  let carry = 0; // Neumaier compensation
  for (let j = 0; j < nTerms; j++) {
    const v = useUpper ? n - j : j;
    const e1 = n - v;
    const e2 = v - 1;
    const base1 = (n - v - whole - frac) / n; // 1 − x − v/n
    const base2 = (v + whole + frac) / n; // x + v/n
    let term: number;
    if (base1 === 0 && e1 > 0) {
      term = 0;
    } else {
      let log2Term = Math.log2(cMant) + cExp + e2 * Math.log2(base2);
      if (e1 > 0) log2Term += e1 * Math.log2(Math.abs(base1));
      term = 2 ** log2Term;
      if (base1 < 0 && e1 % 2 === 1) term = -term;
    }
    if (term !== 0 && Number.isFinite(term)) {
      const s = sum + term;
      carry += Math.abs(sum) >= Math.abs(term) ? sum - s + term : term - s + sum;
      sum = s;
    }
    if (j > 0) {
      if (term !== 0) {
        if (4 * (nTerms - j) * Math.abs(term) < EPS * (sum + carry) && j !== nTerms - 1) break;
      } else if (j > half) {
        break;
      }
    }
    cMant *= (n - j) / (j + 1);
    if (cMant >= 2 ** 64) {
      cMant *= 2 ** -64;
      cExp += 64;
    } else if (cMant < 2 ** -64) {
      cMant *= 2 ** 64;
      cExp -= 64;
    }
  }
  const total = x * (sum + carry);
  return clip01(useUpper ? 1 - total : total);
}

// ---------------------------------------------------------------------------------------------
// Two-sided survival function

/** Stirling coefficients B_{2j}/(2j(2j − 1)) for j = 8 … 1 (highest first). */
const STIRLING = [
  -2.955065359477124183e-2, 6.4102564102564102564e-3, -1.9175269175269175269e-3, 8.4175084175084175084e-4,
  -5.952380952380952381e-4, 7.9365079365079365079e-4, -2.7777777777777777778e-3, 8.3333333333333333333e-2,
];

/** ln(n!/nⁿ) = ½ln n − n + ½ln 2π + Σ B_{2j}/(2j(2j − 1) n^(2j−1)). */
function logFactorialOverPower(n: number): number {
  const inv = 1 / n;
  const u = inv / n;
  let poly = 0;
  for (const c of STIRLING) poly = poly * u + c;
  return Math.log(n) / 2 - n + HALF_LOG_2PI + inv * poly;
}

/** Pr(D_n ≥ d) with the name of the branch that computed it. `n` must be a positive integer. */
export function kstwoSfWithBranch(d: number, n: number): KstwoEval {
  if (Number.isNaN(d) || !Number.isInteger(n) || n < 1) return { sf: NaN, branch: 'kstwo_invalid' };
  if (d >= 1) return { sf: 0, branch: 'kstwo_d_ge_1' };
  const t = n * d;
  // The support of D_n starts at 1/(2n): everything below has survival 1.
  if (d <= 0.5 / n || t <= 0.5) return { sf: 1, branch: 'kstwo_nd_le_half' };
  if (t <= 1) {
    let cdf: number;
    if (n <= 140) {
      const s = 2 * t - 1;
      cdf = 1;
      const inv = 1 / n;
      for (let i = 1; i <= n; i++) cdf *= i * inv * s;
    } else {
      cdf = Math.exp(logFactorialOverPower(n) + n * Math.log(2 * t - 1));
    }
    return { sf: clip01(1 - cdf), branch: 'kstwo_ruben_gambino_small_nd' };
  }
  if (t >= n - 1) return { sf: clip01(2 * Math.pow(1 - d, n)), branch: 'kstwo_ruben_gambino_large_nd' };
  if (d >= 0.5) return { sf: clip01(2 * smirnovSf(n, d)), branch: 'kstwo_smirnov_d_ge_half' };

  const nd2 = t * d;
  if (n <= 140) {
    if (nd2 <= 0.754693) return { sf: clip01(1 - kolmogorovCdfDurbin(n, d)), branch: 'kstwo_durbin_matrix' };
    if (nd2 <= 4) return { sf: clip01(1 - kolmogorovCdfPomeranz(n, d)), branch: 'kstwo_pomeranz' };
    return { sf: clip01(2 * smirnovSf(n, d)), branch: 'kstwo_smirnov' };
  }
  if (nd2 >= 370) return { sf: 0, branch: 'kstwo_zero_tail' };
  if (nd2 >= 2.2) return { sf: clip01(2 * smirnovSf(n, d)), branch: 'kstwo_smirnov' };
  if (n <= 100_000 && n * Math.pow(d, 1.5) <= 1.4) {
    return { sf: clip01(1 - kolmogorovCdfDurbin(n, d)), branch: 'kstwo_durbin_matrix' };
  }
  return { sf: clip01(1 - kolmogorovCdfPelzGood(n, d)), branch: 'kstwo_pelz_good' };
}

/** Pr(D_n ≥ d) for the one-sample two-sided KS statistic with sample size n (SciPy `kstwo.sf(d, n)`). */
export function kstwoSf(d: number, n: number): number {
  return kstwoSfWithBranch(d, n).sf;
}
