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

/** Correctly rounded sum of all values (like Python's `math.fsum`). ±∞ and NaN propagate as in a plain sum. */
export function fsum(values: ArrayLike<number>): number {
  return new ExactSum().addAll(values).value();
}
