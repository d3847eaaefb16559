// Numerical helpers shared by the Kolmogorov–Smirnov distributions (kstwo.ts, kolmogorov-cdf.ts).

export const EPS = 2.220446049250313e-16;
export const TWO_128 = 2 ** 128;
export const TWO_M128 = 2 ** -128;
export const PI2 = Math.PI * Math.PI;
export const PI4 = PI2 * PI2;
export const PI6 = PI4 * PI2;
export const SQRT_2PI = Math.sqrt(2 * Math.PI);
export const HALF_LOG_2PI = Math.log(2 * Math.PI) / 2;
export const SQRT3 = Math.sqrt(3);
/** log of the smallest double that exp() still returns as non-zero, as cephes uses it. */
export const CEPHES_MINLOG = -7.08396418532264106224e2;
/** Above this sample size Pr(D⁺_n ≥ d) is approximated rather than summed (as in cephes). */
export const SMIRNOV_SUM_MAX_N = 1_000_000;

export const clip01 = (p: number): number => (p < 0 ? 0 : p > 1 ? 1 : p);

/** x·2^e without spurious overflow or underflow of the power itself. */
export function scaleByPow2(x: number, e: number): number {
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
export function binaryExponent(x: number): number {
  let e = Math.floor(Math.log2(Math.abs(x))) + 1;
  const m = Math.abs(scaleByPow2(x, -e));
  if (m >= 1) e += 1;
  else if (m < 0.5) e -= 1;
  return e;
}
