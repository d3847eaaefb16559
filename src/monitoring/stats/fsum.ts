// Error-free summation of doubles: the result is the exact sum of the inputs rounded once to the
// nearest double (ties to even), the same number Python's math.fsum returns.
//
// Method (Shewchuk, "Adaptive precision floating-point arithmetic and fast robust geometric
// predicates", 1997): the running total is kept as a short list of non-overlapping doubles
// ("partials") in increasing magnitude whose exact sum is the exact sum so far. Adding a value
// walks the list with the two-sum transformation (a + b = hi + lo exactly), keeping only the
// non-zero low parts. At the end the partials are added from the largest down until a rounding
// error appears, and a half-way case is settled by looking at the sign of the next partial.

/** Running exact sum. `add` values one at a time, read the correctly rounded total with `value()`. */
export class ExactSum {
  private readonly partials: number[] = [];
  /** Sum of the non-finite inputs (±∞, NaN): they do not take part in the exact arithmetic. */
  private special = 0;
  private sawSpecial = false;
  /**
   * Set (to ±∞) when two finite partials add up beyond the double range. The exact sum then stays
   * finite only through later cancellation, which is not tracked: the total is reported as ±∞
   * (Python's fsum raises OverflowError instead). Sums of data values never get near 1.8e308.
   */
  private overflowed = 0;

  add(x: number): this {
    if (!Number.isFinite(x)) {
      this.special += x;
      this.sawSpecial = true;
      return this;
    }
    const ps = this.partials;
    let kept = 0;
    for (let j = 0; j < ps.length; j++) {
      let small = ps[j];
      let big = x;
      if (Math.abs(big) < Math.abs(small)) {
        small = x;
        big = ps[j];
      }
      const hi = big + small;
      const lo = small - (hi - big);
      if (lo !== 0) ps[kept++] = lo;
      x = hi;
    }
    if (!Number.isFinite(x)) {
      // The exact sum left the double range: keep its sign and stop tracking partials.
      this.overflowed += x;
      ps.length = 0;
      return this;
    }
    ps.length = kept;
    ps.push(x);
    return this;
  }

  /** Adds every element of `values`. */
  addAll(values: ArrayLike<number>): this {
    for (let i = 0; i < values.length; i++) this.add(values[i]);
    return this;
  }

  /** The exact sum rounded to the nearest double. */
  value(): number {
    // The finite inputs have a finite exact sum, so ±∞ / NaN inputs alone decide the result.
    if (this.sawSpecial) return this.special;
    if (this.overflowed !== 0) return this.overflowed;
    const ps = this.partials;
    let n = ps.length;
    if (n === 0) return 0;
    n--;
    let hi = ps[n];
    let lo = 0;
    // Add from the largest partial down while the additions are exact.
    while (n > 0) {
      const x = hi;
      n--;
      const y = ps[n];
      hi = x + y;
      lo = y - (hi - x);
      if (lo !== 0) break;
    }
    // `hi + lo` is exact and |lo| is at most half an ulp of hi. If lo is exactly half an ulp, the
    // remaining (smaller) partials decide which way the true sum lies; when they push in the
    // direction of lo, rounding must go away from hi.
    if (n > 0 && ((lo < 0 && ps[n - 1] < 0) || (lo > 0 && ps[n - 1] > 0))) {
      const twice = lo * 2;
      const moved = hi + twice;
      if (moved - hi === twice) hi = moved;
    }
    return hi;
  }
}

// Fast path. A compensated sum (Ogita, Rump & Oishi's Sum2) keeps s and the two-sum errors e_k with
// s + Σe_k equal to the exact total T. Their float sum c is off from Σe_k by at most
// γ_(n−1)·Σ|e_k| < 2·n·u·mag, mag being the float sum of the |e_k| (u = 2⁻⁵³). When that interval
// around s + c lies strictly inside the rounding interval of r = fl(s + c), r is the correctly
// rounded T — the very double the exact algorithm returns. Otherwise (T close to a rounding
// boundary, a zero, tiny or non-finite total, or inputs so large that the exact algorithm's own
// partials could leave the double range) the exact algorithm runs.

const BITS = new Float64Array(1);
const WORDS = new Uint32Array(BITS.buffer);
const HIGH = new Uint8Array(Float64Array.of(1).buffer)[7] === 0x3f ? 1 : 0;
/** Totals below this magnitude (and zero, whose sign needs the exact algorithm) are not certified. */
const TINY = 2 ** -1000;
/** Inputs whose magnitudes add up to this or more are left to the exact algorithm. */
const HUGE = 2 ** 1000;

/**
 * r = fl(s + c) when the exact total s + Σe (|c − Σe| < n·2⁻⁵²·mag) is provably rounded to it,
 * else NaN. `norm` is (a float sum of) Σ|x| over the inputs.
 */
export function certifiedRound(s: number, c: number, mag: number, n: number, norm: number): number {
  const r = s + c;
  const size = Math.abs(r);
  if (!(size >= TINY && norm < HUGE)) return NaN;
  const back = r - s;
  const delta = s - (r - back) + (c - back);
  const bound = n * 2 ** -52 * mag;
  BITS[0] = size;
  const high = WORDS[HIGH];
  const ulp = 2 ** (((high >>> 20) & 0x7ff) - 1075);
  const powerOfTwo = (high & 0xfffff) === 0 && WORDS[1 - HIGH] === 0;
  const towardZero = powerOfTwo ? ulp / 2 : ulp;
  const up = r > 0 ? ulp : towardZero;
  const down = r > 0 ? towardZero : ulp;
  return delta + bound < up / 2 && delta - bound > -down / 2 ? r : NaN;
}

/** Correctly rounded sum of all values (like Python's `math.fsum`). ±∞ and NaN propagate as in a plain sum. */
export function fsum(values: ArrayLike<number>): number {
  const n = values.length;
  let s = 0;
  let c = 0;
  let mag = 0;
  let norm = 0;
  for (let i = 0; i < n; i++) {
    const x = values[i];
    const t = s + x;
    const back = t - s;
    const e = s - (t - back) + (x - back);
    c += e;
    mag += Math.abs(e);
    norm += Math.abs(x);
    s = t;
  }
  const r = certifiedRound(s, c, mag, n, norm);
  return r === r ? r : new ExactSum().addAll(values).value();
}

/** Correctly rounded Σ (x − center)², each square rounded once as a double (the terms a two-pass variance adds). */
export function fsumSquaredDeviations(values: ArrayLike<number>, center: number): number {
  const n = values.length;
  let s = 0;
  let c = 0;
  let mag = 0;
  for (let i = 0; i < n; i++) {
    const d = values[i] - center;
    const x = d * d;
    const t = s + x;
    const back = t - s;
    const e = s - (t - back) + (x - back);
    c += e;
    mag += Math.abs(e);
    s = t;
  }
  // The terms are non-negative: s itself is the float sum of their magnitudes.
  const r = certifiedRound(s, c, mag, n, s);
  if (r === r) return r;
  const exact = new ExactSum();
  for (let i = 0; i < n; i++) {
    const d = values[i] - center;
    exact.add(d * d);
  }
  return exact.value();
}
