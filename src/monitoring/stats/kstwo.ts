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

const EPS = 2.220446049250313e-16;
const TWO_128 = 2 ** 128;
const TWO_M128 = 2 ** -128;
const PI2 = Math.PI * Math.PI;
const PI4 = PI2 * PI2;
const PI6 = PI4 * PI2;
const SQRT_2PI = Math.sqrt(2 * Math.PI);
const HALF_LOG_2PI = Math.log(2 * Math.PI) / 2;
const SQRT3 = Math.sqrt(3);
/** log of the smallest double that exp() still returns as non-zero, as cephes uses it. */
const CEPHES_MINLOG = -7.08396418532264106224e2;
/** Above this sample size Pr(D⁺_n ≥ d) is approximated rather than summed (as in cephes). */
const SMIRNOV_SUM_MAX_N = 1_000_000;

const clip01 = (p: number): number => (p < 0 ? 0 : p > 1 ? 1 : p);

/** x·2^e without spurious overflow or underflow of the power itself. */
function scaleByPow2(x: number, e: number): number {
  let y = x;
  let k = e;
  while (k > 1000) {
    y *= 2 ** 1000;
    k -= 1000;
  }
  while (k < -1000) {
    y *= 2 ** -1000;
    k += 1000;
  }
  return y * 2 ** k;
}

/** Exponent e with |x|·2^(−e) in [0.5, 1) (x finite and non-zero). */
function binaryExponent(x: number): number {
  let e = Math.floor(Math.log2(Math.abs(x))) + 1;
  const m = Math.abs(scaleByPow2(x, -e));
  if (m >= 1) e += 1;
  else if (m < 0.5) e -= 1;
  return e;
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
// Durbin matrix (Marsaglia–Tsang–Wang form): Pr(D_n < d)

/** c = a·b for m×m row-major matrices. */
function matMul(a: Float64Array, b: Float64Array, m: number, c: Float64Array): void {
  c.fill(0);
  for (let i = 0; i < m; i++) {
    const row = i * m;
    for (let k = 0; k < m; k++) {
      const aik = a[row + k];
      if (aik === 0) continue;
      const bRow = k * m;
      for (let j = 0; j < m; j++) c[row + j] += aik * b[bRow + j];
    }
  }
}

/** out = r·b for a row vector r. */
function rowTimesMatrix(r: Float64Array, b: Float64Array, m: number, out: Float64Array): void {
  out.fill(0);
  for (let k = 0; k < m; k++) {
    const rk = r[k];
    if (rk === 0) continue;
    const bRow = k * m;
    for (let j = 0; j < m; j++) out[j] += rk * b[bRow + j];
  }
}

/** Rescales v in place by a power of two so its largest magnitude is near 1; returns the exponent removed. */
function normalise(v: Float64Array): number {
  let big = 0;
  for (let i = 0; i < v.length; i++) {
    const a = Math.abs(v[i]);
    if (a > big) big = a;
  }
  if (big === 0 || !Number.isFinite(big)) return 0;
  const e = binaryExponent(big);
  if (e === 0) return 0;
  const f = 2 ** -e;
  for (let i = 0; i < v.length; i++) v[i] *= f;
  return e;
}

/**
 * Pr(D_n < d) by Durbin's matrix algorithm: with n·d = k − h (k integer, 0 ≤ h < 1) the CDF is
 * n!/nⁿ times the (k, k) entry of Hⁿ for a (2k − 1)-square matrix H built from h.
 */
export function kolmogorovCdfDurbin(n: number, d: number): number {
  if (d >= 1) return 1;
  const nd = n * d;
  if (nd <= 0.5) return 0;
  const k = Math.ceil(nd);
  const h = k - nd;
  const m = 2 * k - 1;

  // First column: (1 − h^(i+1))/(i+1)!, the corner entry corrected for h > ½; the last row is the
  // first column reversed; above that, column c ≥ 1 holds 1/(r − c + 1)! from row c − 1 down.
  const invFact = new Float64Array(m + 1);
  invFact[0] = 1;
  for (let i = 1; i <= m; i++) invFact[i] = invFact[i - 1] / i;
  const first = new Float64Array(m);
  for (let i = 0; i < m; i++) first[i] = (1 - Math.pow(h, i + 1)) * invFact[i + 1];
  first[m - 1] = (1 + Math.pow(Math.max(2 * h - 1, 0), m) - 2 * Math.pow(h, m)) * invFact[m];

  let base = new Float64Array(m * m);
  for (let c = 1; c < m; c++) {
    for (let r = c - 1; r < m; r++) base[r * m + c] = invFact[r - c + 1];
  }
  for (let r = 0; r < m; r++) base[r * m] = first[r];
  for (let c = 0; c < m; c++) base[(m - 1) * m + c] = first[m - 1 - c];

  // Row k−1 of Hⁿ by binary powering; all powers of H commute, so only that row is carried.
  let row = new Float64Array(m);
  row[k - 1] = 1;
  let rowExp = 0;
  let baseExp = 0;
  let scratchRow = new Float64Array(m);
  let scratch = new Float64Array(m * m);
  let rest = n;
  while (rest > 0) {
    if (rest % 2 === 1) {
      rowTimesMatrix(row, base, m, scratchRow);
      [row, scratchRow] = [scratchRow, row];
      rowExp += baseExp + normalise(row);
    }
    rest = Math.floor(rest / 2);
    if (rest > 0) {
      matMul(base, base, m, scratch);
      [base, scratch] = [scratch, base];
      baseExp = 2 * baseExp + normalise(base);
    }
  }

  // Multiply by n!/nⁿ one factor at a time, keeping the value away from underflow.
  let p = row[k - 1];
  let pExp = rowExp;
  for (let i = 1; i <= n; i++) {
    p = (i * p) / n;
    if (Math.abs(p) < TWO_M128 && p !== 0) {
      p *= TWO_128;
      pExp -= 128;
    }
  }
  return clip01(scaleByPow2(p, pExp));
}

// ---------------------------------------------------------------------------------------------
// Pomeranz recursion: Pr(D_n ≤ d)

/** Column window [lo, hi] of row i of the Pomeranz recursion (t = n·d = whole + f). */
function pomeranzWindow(i: number, n: number, whole: number, up: number, roundUp: number): [number, number] {
  let lo: number;
  let hi: number;
  if (i === 0) {
    lo = -whole - up - 1;
    hi = whole + up - 1;
  } else {
    const half = Math.floor((i + 1) / 2);
    if ((i + 1) % 2 === 0) {
      if (half === n + 1) {
        lo = n - whole - up - 1;
        hi = n + whole + up - 1;
      } else {
        lo = half - 1 - whole - roundUp - 1;
        hi = half + whole - 1 + up - 1;
      }
    } else {
      lo = half - 1 - whole - 1;
      hi = half + whole + roundUp - 1;
    }
  }
  return [Math.max(lo + 2, 0), Math.min(hi, n)];
}

/**
 * Pr(D_n ≤ d) by the Pomeranz (1974) recursion: 2n + 1 rows, each the convolution of the previous
 * one with truncated Poisson weights (g/n)^j/j!, (2g/n)^j/j! or ((1 − 2g)/n)^j/j!, g = min(f, 1 − f)
 * for the fractional part f of n·d; the answer is n! times the last entry.
 */
export function kolmogorovCdfPomeranz(n: number, d: number): number {
  const t = n * d;
  const whole = Math.floor(t);
  const f = t - whole;
  const g = Math.min(f, 1 - f);
  const up = f > 0 ? 1 : 0;
  const roundUp = f > 0.5 ? 1 : 0;
  const width = 2 * (whole + 1);

  const wG = new Float64Array(width);
  const w2G = new Float64Array(width);
  const w1m2G = new Float64Array(width);
  wG[0] = w2G[0] = w1m2G[0] = 1;
  const a = g / n;
  const b = (2 * g) / n;
  const c = (1 - 2 * g) / n;
  for (let j = 1; j < width; j++) {
    wG[j] = (wG[j - 1] * a) / j;
    w2G[j] = (w2G[j - 1] * b) / j;
    w1m2G[j] = (w1m2G[j - 1] * c) / j;
  }

  let prev = new Float64Array(width);
  let next = new Float64Array(width);
  next[0] = 1;
  let exponent = 0;
  let [lo] = pomeranzWindow(0, n, whole, up, roundUp);
  for (let i = 1; i <= 2 * n + 1; i++) {
    const prevLo = lo;
    [prev, next] = [next, prev];
    next.fill(0);
    const [newLo, newHi] = pomeranzWindow(i, n, whole, up, roundUp);
    lo = newLo;
    const weights = i === 1 || i === 2 * n + 1 ? wG : i % 2 === 1 ? w2G : w1m2G;
    const span = newHi - prevLo + 1; // entries of prev (from column prevLo) and of weights used
    if (span > 0) {
      const len = Math.min(span, width);
      let big = 0;
      for (let col = newLo; col <= newHi; col++) {
        // next[col − newLo] = Σ prev[a]·weights[b] over a + b = col − prevLo.
        const s = col - prevLo;
        let acc = 0;
        const aFrom = Math.max(0, s - (len - 1));
        const aTo = Math.min(s, len - 1);
        for (let ai = aFrom; ai <= aTo; ai++) acc += prev[ai] * weights[s - ai];
        next[col - newLo] = acc;
        if (acc > big) big = acc;
      }
      if (big > 0 && big < TWO_M128) {
        for (let q = 0; q < width; q++) next[q] *= TWO_128;
        exponent -= 128;
      }
    }
  }

  let ans = next[n - lo];
  for (let q = 1; q <= n; q++) {
    if (Math.abs(ans) > TWO_128) {
      ans *= TWO_M128;
      exponent += 128;
    }
    ans *= q;
  }
  return clip01(scaleByPow2(ans, exponent));
}

// ---------------------------------------------------------------------------------------------
// Pelz–Good asymptotic series: Pr(D_n ≤ d)

/**
 * Pelz & Good (1976): Li-Chien/Korolyuk's expansion K0(z) + K1(z)/√n + K2(z)/n + K3(z)/n^1.5
 * (z = d√n), each K rewritten with Jacobi's theta transformation into sums over odd integers of
 * powers of q = exp(−π²/(8z²)) that converge fast for small z.
 */
export function kolmogorovCdfPelzGood(n: number, d: number): number {
  if (d <= 0) return 0;
  if (d >= 1) return 1;
  const z = Math.sqrt(n) * d;
  const z2 = z * z;
  const z3 = z2 * z;
  const z4 = z2 * z2;
  const z6 = z4 * z2;
  const logQ = -PI2 / 8 / z2;
  if (logQ < -708) return 0;
  const q = Math.exp(logQ);

  const a1 = -z2;
  const b1 = PI2 / 4;
  const a2 = 6 * z6 + 2 * z4;
  const b2 = ((2 * z4 - 5 * z2) * PI2) / 4;
  const c2 = (PI4 * (1 - 2 * z2)) / 16;
  const d3 = (PI6 * (5 - 30 * z2)) / 64;
  const c3 = (PI4 * (-60 * z2 + 212 * z4)) / 16;
  const b3 = (PI2 * (135 * z4 - 96 * z6)) / 4;
  const a3 = -30 * z6 - 90 * Math.pow(z, 8);

  // Σ_k coeff_k · q^((2k−1)²) by Horner in q^(8k), from the largest k down.
  const top = Math.ceil((16 * z) / Math.PI);
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  for (let k = top; k >= 1; k--) {
    const odd = 2 * k - 1;
    const o2 = odd * odd;
    const o4 = o2 * o2;
    const o6 = o4 * o2;
    const step = Math.pow(q, 8 * k);
    s0 = s0 * step + 1;
    s1 = s1 * step + (a1 + b1 * o2);
    s2 = s2 * step + (a2 + b2 * o2 + c2 * o4);
    s3 = s3 * step + (a3 + b3 * o2 + c3 * o4 + d3 * o6);
  }
  const front = q * SQRT_2PI;
  let k0 = (s0 * front) / z;
  let k1 = (s1 * front) / (6 * z4);
  let k2 = (s2 * front) / (72 * Math.pow(z, 7));
  let k3 = (s3 * front) / (6480 * Math.pow(z, 10));

  // The remaining terms run over all integers k with weights r^(k²), r = exp(−π²/(2z²)).
  const r = Math.exp(-PI2 / 2 / z2);
  const root3z = SQRT3 * z;
  let sum2 = 0;
  let sum3 = 0;
  for (let k = top; k >= 1; k--) {
    const k2sq = k * k;
    const w = Math.pow(r, k2sq);
    const pk = Math.PI * k;
    sum2 += k2sq * w;
    sum3 += (root3z + pk) * (root3z - pk) * k2sq * w;
  }
  k2 += (sum2 * PI2 * SQRT_2PI) / (-36 * z3);
  k3 += (sum3 * PI2 * SQRT_2PI) / (216 * z6);

  const rootN = Math.sqrt(n);
  k1 /= rootN;
  k2 /= n;
  k3 /= Math.pow(n, 1.5);
  return k0 + k1 + k2 + k3;
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
