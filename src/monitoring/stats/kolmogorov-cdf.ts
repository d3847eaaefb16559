// The CDF Pr(D_n < d) of the two-sided one-sample Kolmogorov–Smirnov statistic by the three methods
// kstwo.ts chooses between: Durbin's matrix, the Pomeranz recursion and the Pelz–Good series.

import { TWO_128, TWO_M128, PI2, PI4, PI6, SQRT_2PI, SQRT3, clip01, scaleByPow2, binaryExponent } from './ks-numerics.js';

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
