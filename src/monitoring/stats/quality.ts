// Per-column data-quality facts (drift-statistics.md §3), for one side (reference or current).
import { quantileEdgesRaw } from './binning.js';
import { fsum, fsumSquaredDeviations } from './fsum.js';
import { sortFloat64 } from './sort.js';

/** Categories beyond this many are not listed (their counts can be recomputed from the CSV). */
export const MAX_LISTED_CATEGORIES = 60;

export interface NumericalQuality {
  n_rows: number;
  missing_count: number;
  /** missing_count / n_rows; null for a column without rows. */
  missing_share: number | null;
  inf_count: number;
  finite_count: number;
  /** Distinct non-missing values, ±∞ included (0 and −0 are one value). */
  distinct_count: number;
  constant: boolean;
  // The fields below are null when finite_count = 0.
  min: number | null;
  max: number | null;
  mean: number | null;
  std_pop: number | null;
  /** Sample standard deviation (n − 1); also null when finite_count < 2. */
  std: number | null;
  p25: number | null;
  p50: number | null;
  p75: number | null;
  /** Finite values equal to 0 (a count: 0, not null, when there are no finite values). */
  zero_count: number;
}

export interface CategoricalQuality {
  n_rows: number;
  missing_count: number;
  missing_share: number | null;
  distinct_count: number;
  constant: boolean;
  /** Most frequent value, ties broken by the smallest in code-point order; null when all cells are missing. */
  top_value: string | null;
  top_count: number | null;
  /** Sorted distinct values (code-point order) and their counts; null when there are more than 60. */
  categories: string[] | null;
  category_counts: number[] | null;
}

/**
 * Orders strings by Unicode code point (what Python's `sorted` does), not by UTF-16 code unit
 * (what `<` and `Array.prototype.sort` do): the two differ when a character outside the BMP
 * (a surrogate pair, U+D800–DFFF units) meets a BMP character from U+E000–U+FFFF.
 */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    // Before the first difference both strings are identical, so a surrogate here starts (or
    // continues) a supplementary character in both: lifting surrogates above U+FFFF's units and
    // lowering U+E000–U+FFFF below them gives code-point order.
    if (x >= 0xd800) x += x < 0xe000 ? 0x2000 : -0x800;
    if (y >= 0xd800) y += y < 0xe000 ? 0x2000 : -0x800;
    return x - y;
  }
  return a.length - b.length;
}

/** Exact-sum mean and two-pass population / sample standard deviations of finite values. */
export interface Moments {
  n: number;
  mean: number;
  std_pop: number;
  /** null when n < 2. */
  std: number | null;
}

/** Moments of `values` (all finite, at least one): mean = fsum(x) / n, then Σ(x − mean)² with fsum. */
export function moments(values: ArrayLike<number>): Moments {
  const n = values.length;
  if (n === 0) throw new RangeError('moments of an empty sample');
  const mean = fsum(values) / n;
  const ss = fsumSquaredDeviations(values, mean);
  return { n, mean, std_pop: Math.sqrt(ss / n), std: n >= 2 ? Math.sqrt(ss / (n - 1)) : null };
}

/** One side of a numerical column, read once: its quality facts and what the drift statistics take from it. */
export interface NumericalSide {
  quality: NumericalQuality;
  /** The finite values, ascending (the §4.1 cleaned sample). */
  sorted: Float64Array;
  /** Moments of the finite values; null when there are none. */
  moments: Moments | null;
  /** Whether the first finite zero in row order is −0; null without a finite zero. */
  firstZeroNegative: boolean | null;
}

interface Tally {
  missing: number;
  posInf: number;
  negInf: number;
  zeros: number;
  firstZeroNegative: boolean | null;
}

/** Counts the kinds of cells and copies the finite values into `finite`; returns how many were copied. */
function tally(cells: ArrayLike<number | null>, finite: Float64Array, t: Tally): number {
  let nFinite = 0;
  for (let i = 0; i < cells.length; i++) {
    const v = cells[i];
    if (v === null || v !== v) t.missing++;
    else if (v === Infinity) t.posInf++;
    else if (v === -Infinity) t.negInf++;
    else {
      finite[nFinite++] = v;
      if (v === 0) {
        if (t.zeros === 0) t.firstZeroNegative = Object.is(v, -0);
        t.zeros++;
      }
    }
  }
  return nFinite;
}

function distinctSorted(sorted: Float64Array): number {
  let distinct = sorted.length > 0 ? 1 : 0;
  for (let i = 1; i < sorted.length; i++) if (sorted[i] !== sorted[i - 1]) distinct++;
  return distinct;
}

/**
 * Reads one side of a numerical column; `null` cells are missing (so is NaN, which the CSV rules
 * never produce). The sorted finite values go to `work` when given (at least cells.length long).
 */
export function numericalSide(cells: ArrayLike<number | null>, work?: Float64Array): NumericalSide {
  const nRows = cells.length;
  const t: Tally = { missing: 0, posInf: 0, negInf: 0, zeros: 0, firstZeroNegative: null };
  const finite = work ?? new Float64Array(nRows);
  const nFinite = tally(cells, finite, t);
  const sorted = sortFloat64(finite.subarray(0, nFinite));
  const distinct = distinctSorted(sorted) + (t.posInf > 0 ? 1 : 0) + (t.negInf > 0 ? 1 : 0);
  const base = {
    n_rows: nRows,
    missing_count: t.missing,
    missing_share: nRows > 0 ? t.missing / nRows : null,
    inf_count: t.posInf + t.negInf,
    finite_count: nFinite,
    distinct_count: distinct,
    constant: distinct === 1,
  };
  if (nFinite === 0) {
    const quality = { ...base, min: null, max: null, mean: null, std_pop: null, std: null, p25: null, p50: null, p75: null, zero_count: 0 };
    return { quality, sorted, moments: null, firstZeroNegative: null };
  }
  const m = moments(sorted);
  const [p25, p50, p75] = quantileEdgesRaw(sorted, 4);
  const quality = { ...base, min: sorted[0], max: sorted[nFinite - 1], mean: m.mean, std_pop: m.std_pop, std: m.std, p25, p50, p75, zero_count: t.zeros };
  return { quality, sorted, moments: m, firstZeroNegative: t.firstZeroNegative };
}

/** Data-quality facts of a numerical column; `null` cells are missing (so is NaN, which the CSV rules never produce). */
export function qualityNumerical(cells: ArrayLike<number | null>): NumericalQuality {
  return numericalSide(cells).quality;
}

/** Distinct values of `values` in code-point order with their counts. */
export function countCategories(values: Iterable<string>): { categories: string[]; counts: number[] } {
  const byValue = new Map<string, number>();
  for (const v of values) byValue.set(v, (byValue.get(v) ?? 0) + 1);
  const categories = [...byValue.keys()].sort(compareCodePoints);
  return { categories, counts: categories.map((c) => byValue.get(c)!) };
}

/** Data-quality facts of a categorical column; `null` cells are missing. */
export function qualityCategorical(cells: ArrayLike<string | null>): CategoricalQuality {
  const nRows = cells.length;
  const present: string[] = [];
  for (let i = 0; i < nRows; i++) {
    const v = cells[i];
    if (v !== null) present.push(v);
  }
  const missing = nRows - present.length;
  const { categories, counts } = countCategories(present);
  let top = -1;
  for (let k = 0; k < categories.length; k++) if (top < 0 || counts[k] > counts[top]) top = k;
  const listed = categories.length <= MAX_LISTED_CATEGORIES;
  return {
    n_rows: nRows,
    missing_count: missing,
    missing_share: nRows > 0 ? missing / nRows : null,
    distinct_count: categories.length,
    constant: categories.length === 1,
    top_value: top >= 0 ? categories[top] : null,
    top_count: top >= 0 ? counts[top] : null,
    categories: listed ? categories : null,
    category_counts: listed ? counts : null,
  };
}
