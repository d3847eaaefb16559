// Small helpers on ascending Float64Array data used by the KLL sketch.

/** `buf`, or a copy of it with room for at least `atLeast` items (capacity doubling). */
export function grown(buf: Float64Array, atLeast: number): Float64Array {
  let size = Math.max(buf.length, 8);
  while (size < atLeast) size *= 2;
  if (size === buf.length) return buf;
  const out = new Float64Array(size);
  out.set(buf);
  return out;
}

/** Index of the first element of sorted `a[0..len)` greater than x. */
export function upperBound(a: ArrayLike<number>, len: number, x: number): number {
  let lo = 0;
  let hi = len;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Merges ascending (values, weights) with the ascending `bv`, every item of which weighs `bWeight`. */
export function mergeWeighted(av: Float64Array, aw: Float64Array, bv: Float64Array, bWeight: number): [Float64Array, Float64Array] {
  const n = av.length + bv.length;
  const values = new Float64Array(n);
  const weights = new Float64Array(n);
  let i = 0;
  let j = 0;
  for (let o = 0; o < n; o++) {
    if (j >= bv.length || (i < av.length && av[i] <= bv[j])) {
      values[o] = av[i];
      weights[o] = aw[i++];
    } else {
      values[o] = bv[j++];
      weights[o] = bWeight;
    }
  }
  return [values, weights];
}
