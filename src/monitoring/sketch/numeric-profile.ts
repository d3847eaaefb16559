// Mergeable one-pass profile of a numerical column: cell counts by class, exact min / max, mean and
// M2 = Σ(x − mean)² (Welford per value, per-batch two-pass sums combined with Chan, Golub & LeVeque's
// parallel formula), a KLL sketch of the finite values and optional exact counts in fixed bins.
//
// The mean is held as pivot + offset, the pivot being the first finite value seen, and all moment
// arithmetic runs on x − pivot: with data far from 0 (≈ 1e6, σ ≈ 1) the differences of means that
// Welford and Chan form then keep the precision of σ instead of that of 1e6.
import { parseNumberCell } from '../stats/csv.js';
import { FixedBins, sketchQuantileEdgesRaw, type FixedBinsJson } from './bins.js';
import { KllSketch, KLL_DEFAULT_K, KLL_DEFAULT_SEED, type KllJson } from './kll.js';
import type { NumericalQuality } from '../stats/quality.js';

export interface NumericProfileOptions {
  /** KLL parameter (default 200). */
  k?: number;
  /** Seed of the sketch's compaction coin; give profiles that will be merged different seeds. */
  seed?: number;
  /** Also count the finite values exactly in the bins (−∞, e₁], …, (e_B, +∞) of these edges. */
  binEdges?: readonly number[];
}

export interface NumericProfileJson {
  kind: 'numerical';
  rows: number;
  /** null / undefined / empty-string cells. */
  missing: number;
  nan: number;
  pos_inf: number;
  neg_inf: number;
  finite: number;
  /** null when finite = 0. */
  min: number | null;
  max: number | null;
  mean: number | null;
  m2: number | null;
  /** mean = pivot + mean_offset exactly as held (null when finite = 0). */
  pivot: number | null;
  mean_offset: number | null;
  sketch: KllJson;
  bins: FixedBinsJson | null;
}

/** Data-quality facts derivable from a numerical profile (quantiles from the sketch). */
/** The exact quality facts a profile can give (quantiles from the sketch), plus the NaN count. */
export interface NumericalFacts extends Pick<NumericalQuality, 'n_rows' | 'missing_count' | 'inf_count' | 'finite_count' | 'min' | 'max' | 'mean' | 'std_pop' | 'std' | 'p25' | 'p50' | 'p75'> {
  nan_count: number;
  /** (missing + NaN) / n_rows, NaN counting as missing as in the exact quality facts; null without rows. */
  missing_share: number | null;
}

let scratch = new Float64Array(4096);

function scratchOf(size: number): Float64Array {
  if (scratch.length < size) scratch = new Float64Array(Math.max(size, scratch.length * 2));
  return scratch;
}

/** Chan et al.: mean and M2 of the union of two groups from their counts, means and M2. */
export function combineMoments(nA: number, meanA: number, m2A: number, nB: number, meanB: number, m2B: number): [number, number] {
  if (nB === 0) return [meanA, m2A];
  if (nA === 0) return [meanB, m2B];
  const n = nA + nB;
  const d = meanB - meanA;
  return [meanA + d * (nB / n), m2A + m2B + d * d * ((nA * nB) / n)];
}

export class NumericProfile {
  rows = 0;
  missing = 0;
  nan = 0;
  posInf = 0;
  negInf = 0;
  bins: FixedBins | null;
  private sk: KllSketch;
  private pivot = 0;
  private offset = 0;
  private sq = 0;

  constructor(options: NumericProfileOptions = {}) {
    this.sk = new KllSketch(options.k ?? KLL_DEFAULT_K, options.seed ?? KLL_DEFAULT_SEED);
    this.bins = options.binEdges ? new FixedBins(options.binEdges) : null;
  }

  /** KLL sketch of the finite values. */
  get sketch(): KllSketch {
    return this.sk;
  }
  get finite(): number {
    return this.sketch.n;
  }
  get min(): number {
    return this.sketch.min;
  }
  get max(): number {
    return this.sketch.max;
  }
  /** Mean of the finite values; NaN when there are none. */
  get mean(): number {
    return this.finite > 0 ? this.pivot + this.offset : NaN;
  }
  get m2(): number {
    return this.finite > 0 ? this.sq : NaN;
  }
  /** Population variance (ddof 0) of the finite values. */
  get variance(): number {
    return this.finite > 0 ? this.sq / this.finite : NaN;
  }

  /**
   * One cell: null, undefined or '' is missing; numbers (and numeric strings per the CSV rules,
   * bigints) are counted by class. Anything else is a TypeError.
   */
  add(value: unknown): void {
    const x = toNumber(value);
    this.rows++;
    if (x === null) this.missing++;
    else if (Number.isFinite(x)) this.addFinite(x);
    else this.countNonFinite(x);
  }

  /**
   * A batch of cells (values[start..end)): null / undefined missing, NaN and ±∞ counted apart. A cell
   * of another type is a TypeError and leaves the profile unchanged.
   */
  addValues(values: ArrayLike<number | null | undefined>, start = 0, end: number = values.length): void {
    const buf = scratchOf(end - start);
    const typed = values instanceof Float64Array;
    let m = 0;
    let missing = 0;
    let pos = 0;
    let neg = 0;
    let nan = 0;
    for (let i = start; i < end; i++) {
      const x = values[i];
      if (typeof x === 'number') {
        if (x - x === 0) buf[m++] = x;
        else if (x === Infinity) pos++;
        else if (x === -Infinity) neg++;
        else nan++;
      } else if (!typed && (x === null || x === undefined)) {
        missing++;
      } else {
        throw new TypeError(`numerical cell must be a number or null, got ${typeof x}`);
      }
    }
    this.missing += missing;
    this.posInf += pos;
    this.negInf += neg;
    this.nan += nan;
    this.rows += end - start;
    this.absorbFinite(buf, m);
  }

  /** Folds `other` in; exact bins survive only when both sides count the same edges (or one side has no finite values). */
  merge(other: NumericProfile): this {
    this.rows += other.rows;
    this.missing += other.missing;
    this.nan += other.nan;
    this.posInf += other.posInf;
    this.negInf += other.negInf;
    if (this.finite === 0) this.pivot = other.pivot;
    const otherOffset = other.pivot - this.pivot + other.offset;
    [this.offset, this.sq] = combineMoments(this.finite, this.offset, this.sq, other.finite, otherOffset, other.sq);
    this.bins = mergedBins(this.bins, this.finite, other.bins, other.finite);
    this.sketch.merge(other.sketch);
    return this;
  }

  clone(): NumericProfile {
    return NumericProfile.fromJSON(this.toJSON());
  }

  /** Quality facts; p25 / p50 / p75 follow the interpolation rule of the exact facts on the sketch. */
  facts(): NumericalFacts {
    const n = this.finite;
    const q = n > 0 ? sketchQuantileEdgesRaw(this.sketch, 4) : [null, null, null];
    const nullable = (v: number): number | null => (n > 0 ? v : null);
    return {
      n_rows: this.rows,
      missing_count: this.missing,
      nan_count: this.nan,
      missing_share: this.rows > 0 ? (this.missing + this.nan) / this.rows : null,
      inf_count: this.posInf + this.negInf,
      finite_count: n,
      min: nullable(this.min),
      max: nullable(this.max),
      mean: nullable(this.mean),
      std_pop: nullable(Math.sqrt(this.sq / n)),
      std: n >= 2 ? Math.sqrt(this.sq / (n - 1)) : null,
      p25: q[0],
      p50: q[1],
      p75: q[2],
    };
  }

  toJSON(): NumericProfileJson {
    const has = this.finite > 0;
    return {
      kind: 'numerical',
      rows: this.rows,
      missing: this.missing,
      nan: this.nan,
      pos_inf: this.posInf,
      neg_inf: this.negInf,
      finite: this.finite,
      min: has ? this.min : null,
      max: has ? this.max : null,
      mean: has ? this.mean : null,
      m2: has ? this.sq : null,
      pivot: has ? this.pivot : null,
      mean_offset: has ? this.offset : null,
      sketch: this.sketch.toJSON(),
      bins: this.bins ? this.bins.toJSON() : null,
    };
  }

  static fromJSON(json: NumericProfileJson): NumericProfile {
    if (!json || json.kind !== 'numerical') throw new TypeError('invalid numerical profile JSON: kind');
    const counts = [json.rows, json.missing, json.nan, json.pos_inf, json.neg_inf, json.finite];
    if (!counts.every((c) => Number.isInteger(c) && c >= 0)) throw new TypeError('invalid numerical profile JSON: counts');
    if (json.rows !== json.missing + json.nan + json.pos_inf + json.neg_inf + json.finite) throw new TypeError('invalid numerical profile JSON: counts do not add up');
    const p = new NumericProfile();
    const sketch = KllSketch.fromJSON(json.sketch);
    if (sketch.n !== json.finite) throw new TypeError('invalid numerical profile JSON: sketch size differs from finite');
    const moments = [json.m2, json.pivot, json.mean_offset];
    if (json.finite > 0 && (!moments.every((v) => typeof v === 'number' && Number.isFinite(v)) || !((json.m2 as number) >= 0))) {
      throw new TypeError('invalid numerical profile JSON: moments');
    }
    p.sk = sketch;
    p.rows = json.rows;
    p.missing = json.missing;
    p.nan = json.nan;
    p.posInf = json.pos_inf;
    p.negInf = json.neg_inf;
    p.pivot = json.pivot ?? 0;
    p.offset = json.mean_offset ?? 0;
    p.sq = json.m2 ?? 0;
    p.bins = json.bins ? FixedBins.fromJSON(json.bins) : null;
    return p;
  }

  private addFinite(x: number): void {
    if (this.finite === 0) this.pivot = x;
    this.sketch.update(x);
    const y = x - this.pivot;
    const d = y - this.offset;
    this.offset += d / this.sketch.n;
    this.sq += d * (y - this.offset);
    this.bins?.add(x);
  }

  private countNonFinite(x: number): void {
    if (x === Infinity) this.posInf++;
    else if (x === -Infinity) this.negInf++;
    else this.nan++;
  }

  private absorbFinite(buf: Float64Array, m: number): void {
    if (m === 0) return;
    if (this.finite === 0) this.pivot = buf[0];
    const pivot = this.pivot;
    let sum = 0;
    for (let i = 0; i < m; i++) sum += buf[i] - pivot;
    const mean = sum / m;
    let sq = 0;
    for (let i = 0; i < m; i++) {
      const d = buf[i] - pivot - mean;
      sq += d * d;
    }
    [this.offset, this.sq] = combineMoments(this.finite, this.offset, this.sq, m, mean, sq);
    this.sketch.updateMany(buf, 0, m);
    this.bins?.addMany(buf, 0, m);
  }
}

function mergedBins(a: FixedBins | null, nA: number, b: FixedBins | null, nB: number): FixedBins | null {
  if (a && b && a.hasEdges(b.edges)) return a.merge(b);
  if (a && nB === 0) return a;
  if (b && nA === 0) return b.clone();
  return null;
}

function toNumber(value: unknown): number | null {
  if (value === null || value === undefined || value === '') return null;
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'string') {
    const x = parseNumberCell(value);
    if (x !== undefined) return x;
    if (value === 'nan' || value === 'NaN') return NaN;
    throw new TypeError(`numerical cell holds ${JSON.stringify(value)}`);
  }
  throw new TypeError(`numerical cell must be a number, a numeric string or null, got ${typeof value}`);
}
