// Reference-decile binning and the distances computed on binned proportions
// (drift-statistics.md §4.3; §4.5 reuses psi / jsDistance / hellinger with one bin per category).
import { sortedCopy } from './sort.js';

/** Proportion that stands in for an empty bin in the platform's PSI (§4.3 step 6). */
export const PSI_EMPTY_BIN = 1e-4;

/**
 * The d − 1 interior quantiles of an ascending sample at positions (n − 1)·k / d, k = 1 … d − 1,
 * with the position split in integers: lo = ⌊(n − 1)·k / d⌋, r = (n − 1)·k mod d, and
 * edge = x_lo when r = 0, else x_lo + (r / d)·(x_{lo+1} − x_lo). Duplicates are kept.
 */
export function quantileEdgesRaw(sorted: ArrayLike<number>, d: number): number[] {
  return quantileEdgesAt(sorted.length, (j) => sorted[j], d);
}

/** The same rule over n values read by position (a sketch's weighted items, or a sorted array). */
export function quantileEdgesAt(n: number, at: (j: number) => number, d: number): number[] {
  if (n === 0) throw new RangeError('quantiles of an empty sample');
  if (!Number.isInteger(d) || d < 2) throw new RangeError(`quantile divisions must be an integer ≥ 2, got ${d}`);
  const edges: number[] = [];
  for (let k = 1; k < d; k++) {
    const position = (n - 1) * k;
    const lo = Math.floor(position / d);
    const r = position - lo * d;
    const x = at(lo);
    edges.push(r === 0 ? x : x + (r / d) * (at(lo + 1) - x));
  }
  return edges;
}

/** Number of elements of the ascending `edges` strictly less than v: the index of v's left-open, right-closed bin. */
export function binBelow(edges: ArrayLike<number>, v: number): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (edges[mid] < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Number of elements of the ascending `sorted` that are ≤ x (or < x when `strict`). */
export function rank(sorted: ArrayLike<number>, x: number, strict = false): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (strict ? sorted[mid] < x : sorted[mid] <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** countLeftOpen for ascending values, by one binary search per edge; when the edges do not strictly increase, value by value. */
export function countLeftOpenSorted(edges: ArrayLike<number>, sorted: ArrayLike<number>): number[] {
  for (let k = 1; k < edges.length; k++) if (!(edges[k - 1] < edges[k])) return countLeftOpen(edges, sorted);
  const counts = new Array<number>(edges.length + 1);
  let below = 0;
  for (let k = 0; k < edges.length; k++) {
    const upTo = rank(sorted, edges[k]);
    counts[k] = upTo - below;
    below = upTo;
  }
  counts[edges.length] = sorted.length - below;
  return counts;
}

/** Counts of `values` in the bins (−∞, e₁], (e₁, e₂], …, (e_B, +∞). */
export function countLeftOpen(edges: ArrayLike<number>, values: ArrayLike<number>): number[] {
  const counts = new Array<number>(edges.length + 1).fill(0);
  for (let i = 0; i < values.length; i++) counts[binBelow(edges, values[i])]++;
  return counts;
}

/** counts / n. */
export function proportions(counts: ArrayLike<number>, n: number): number[] {
  const out = new Array<number>(counts.length);
  for (let i = 0; i < counts.length; i++) out[i] = counts[i] / n;
  return out;
}

/** PSI = Σ (q̃ − p̃)·ln(q̃ / p̃), an exact zero proportion replaced by 1e-4 (no renormalisation). */
export function psi(p: ArrayLike<number>, q: ArrayLike<number>): number {
  sameLength(p, q);
  let sum = 0;
  for (let i = 0; i < p.length; i++) {
    const a = p[i] > 0 ? p[i] : PSI_EMPTY_BIN;
    const b = q[i] > 0 ? q[i] : PSI_EMPTY_BIN;
    sum += (b - a) * Math.log(b / a);
  }
  return sum;
}

/**
 * Jensen–Shannon distance √(½ KL(p‖m) + ½ KL(q‖m)), m = (p + q)/2, with logarithms to `base`
 * (Math.E for natural log). Like SciPy's `jensenshannon`, p and q are first divided by their sums;
 * 0·log 0 = 0, so empty bins need no smoothing.
 */
export function jsDistance(p: ArrayLike<number>, q: ArrayLike<number>, base: number = Math.E): number {
  sameLength(p, q);
  let sp = 0;
  let sq = 0;
  for (let i = 0; i < p.length; i++) {
    sp += p[i];
    sq += q[i];
  }
  // Per bin, with s = p + q and t = (p − q)/s: p·ln(2p/s) + q·ln(2q/s) = (s/2)·g(t),
  // g(t) = (1 + t)·ln(1 + t) + (1 − t)·ln(1 − t) = 2t·atanh(t) + ln(1 − t²). The atanh form keeps
  // full relative accuracy when p ≈ q (where the plain sum of logarithms cancels).
  let twice = 0; // Σ s·g(t) = 2·(KL(p‖m) + KL(q‖m))
  for (let i = 0; i < p.length; i++) {
    const a = p[i] / sp;
    const b = q[i] / sq;
    const s = a + b;
    if (s === 0) continue;
    if (a === 0 || b === 0) {
      twice += 2 * s * Math.LN2;
      continue;
    }
    const t = (a - b) / s;
    const g = Math.abs(t) < 0.5 ? 2 * t * Math.atanh(t) + Math.log1p(-t * t) : (1 + t) * Math.log1p(t) + (1 - t) * Math.log1p(-t);
    twice += s * g;
  }
  const nats = Math.max(0, twice / 4);
  return Math.sqrt(base === Math.E ? nats : nats / Math.log(base));
}

/** Hellinger distance √(Σ (√p − √q)²) / √2, in [0, 1]. */
export function hellinger(p: ArrayLike<number>, q: ArrayLike<number>): number {
  sameLength(p, q);
  let sum = 0;
  for (let i = 0; i < p.length; i++) {
    const d = Math.sqrt(p[i]) - Math.sqrt(q[i]);
    sum += d * d;
  }
  return Math.sqrt(sum) / Math.SQRT2;
}

export interface BinnedQ10 {
  /** Distinct reference deciles e₁ < … < e_B (1 ≤ B ≤ 9). */
  edges: number[];
  /** Counts in the B + 1 left-open, right-closed bins. */
  ref_counts: number[];
  cur_counts: number[];
  psi: number;
  js_base2: number;
  hellinger: number;
}

/** §4.3: bins at the reference deciles, then PSI (1e-4 fill), base-2 JS distance and Hellinger. Both samples finite and non-empty. */
export function binnedQ10(ref: ArrayLike<number>, cur: ArrayLike<number>): BinnedQ10 {
  if (ref.length === 0 || cur.length === 0) throw new RangeError('decile binning needs non-empty reference and current samples');
  return binnedQ10Sorted(sortedCopy(ref), sortedCopy(cur));
}

/** binnedQ10 of two ascending samples. */
export function binnedQ10Sorted(ref: Float64Array, cur: Float64Array): BinnedQ10 {
  const raw = quantileEdgesRaw(ref, 10);
  const edges: number[] = [];
  for (const e of raw) if (edges.length === 0 || e !== edges[edges.length - 1]) edges.push(e);
  const refCounts = countLeftOpenSorted(edges, ref);
  const curCounts = countLeftOpenSorted(edges, cur);
  const p = proportions(refCounts, ref.length);
  const q = proportions(curCounts, cur.length);
  return { edges, ref_counts: refCounts, cur_counts: curCounts, psi: psi(p, q), js_base2: jsDistance(p, q, 2), hellinger: hellinger(p, q) };
}

function sameLength(p: ArrayLike<number>, q: ArrayLike<number>): void {
  if (p.length !== q.length) throw new RangeError(`distributions differ in length: ${p.length} and ${q.length}`);
}
