// Turning many long series into what a chart of a given width can show, in one pass over the
// points: each series is cut into the same buckets along x (one or two per pixel), and in each
// bucket only its lowest and highest point are kept, in the order they occur. A spike survives,
// a flat stretch costs two points, and 1M points become a few thousand whatever their number.

export interface Series {
  label: string;
  /** Ascending. */
  x: ArrayLike<number>;
  y: ArrayLike<number>;
}

/** Exponential moving average with TensorBoard's debiasing; weight 0 returns the values as they are. */
export function smooth(y: ArrayLike<number>, weight: number): Float64Array {
  const out = new Float64Array(y.length);
  if (weight <= 0) {
    for (let i = 0; i < y.length; i++) out[i] = y[i];
    return out;
  }
  let last = 0;
  let n = 0;
  for (let i = 0; i < y.length; i++) {
    const v = y[i];
    if (!Number.isFinite(v)) {
      out[i] = v;
      continue;
    }
    last = last * weight + (1 - weight) * v;
    n++;
    out[i] = last / (1 - weight ** n);
  }
  return out;
}

/**
 * Aligned data for a chart: one shared x array and one y array per series (null where a series has
 * no point), at most 2 points per bucket per series. `buckets` ~ the plot's width in pixels.
 */
export function downsample(series: Series[], buckets: number, logY = false): { x: number[]; ys: (number | null)[][]; points: number } {
  let lo = Infinity;
  let hi = -Infinity;
  let points = 0;
  for (const s of series) {
    if (s.x.length === 0) continue;
    lo = Math.min(lo, s.x[0]);
    hi = Math.max(hi, s.x[s.x.length - 1]);
    points += s.x.length;
  }
  if (!Number.isFinite(lo)) return { x: [], ys: series.map(() => []), points: 0 };
  const total = series.reduce((n, s) => n + s.x.length, 0);
  // Few points: no need to bucket, merge the x values exactly.
  if (total <= buckets * 2) return exact(series, logY, points);
  const width = hi > lo ? (hi - lo) / buckets : 1;
  // Slot 2b holds the first-occurring extreme of bucket b, slot 2b+1 the other.
  const x: number[] = new Array(buckets * 2);
  for (let b = 0; b < buckets; b++) {
    x[2 * b] = lo + b * width;
    x[2 * b + 1] = lo + (b + 0.5) * width;
  }
  const ys = series.map((s) => {
    const y: (number | null)[] = new Array(buckets * 2).fill(null);
    let b = -1;
    let min = Infinity;
    let max = -Infinity;
    let minAt = 0;
    let maxAt = 0;
    const flush = () => {
      if (b < 0 || min === Infinity) return;
      if (minAt <= maxAt) {
        y[2 * b] = min;
        y[2 * b + 1] = max;
      } else {
        y[2 * b] = max;
        y[2 * b + 1] = min;
      }
    };
    for (let i = 0; i < s.x.length; i++) {
      const v = s.y[i];
      if (!Number.isFinite(v) || (logY && v <= 0)) continue;
      const bi = Math.min(buckets - 1, Math.floor((s.x[i] - lo) / width));
      if (bi !== b) {
        flush();
        b = bi;
        min = Infinity;
        max = -Infinity;
      }
      if (v < min) {
        min = v;
        minAt = i;
      }
      if (v > max) {
        max = v;
        maxAt = i;
      }
    }
    flush();
    return y;
  });
  return { x, ys, points };
}

function exact(series: Series[], logY: boolean, points: number) {
  const xs = new Set<number>();
  for (const s of series) for (let i = 0; i < s.x.length; i++) xs.add(s.x[i]);
  const x = [...xs].sort((a, b) => a - b);
  const index = new Map(x.map((v, i) => [v, i]));
  const ys = series.map((s) => {
    const y: (number | null)[] = new Array(x.length).fill(null);
    for (let i = 0; i < s.x.length; i++) {
      const v = s.y[i];
      if (Number.isFinite(v) && !(logY && v <= 0)) y[index.get(s.x[i])!] = v;
    }
    return y;
  });
  return { x, ys, points };
}
