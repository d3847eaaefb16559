// Reference-decile edges taken from a KLL sketch, and exact counters over fixed left-open bins
// (drift-statistics.md §4.3: bins (−∞, e₁], (e₁, e₂], …, (e_B, +∞)).
import { binBelow, quantileEdgesAt } from '../stats/binning.js';
import type { KllSketch } from './kll.js';

/**
 * The d − 1 interior quantiles of the sketched sample by the rule of `quantileEdgesRaw`:
 * position (n − 1)·k / d split as lo = ⌊(n − 1)·k / d⌋, r = (n − 1)·k mod d, edge = x_lo when
 * r = 0, else x_lo + (r / d)·(x_{lo+1} − x_lo), where x_j is the item at weighted position j.
 * Identical to `quantileEdgesRaw` of the sorted values while the sketch is exact.
 */
export function sketchQuantileEdgesRaw(sketch: KllSketch, d: number): number[] {
  if (sketch.n === 0) throw new RangeError('quantiles of an empty sketch');
  return quantileEdgesAt(sketch.n, (j) => sketch.valueAtPosition(j), d);
}

/** The distinct reference deciles e₁ < … < e_B (1 ≤ B ≤ 9) of `binned_q10`, from a non-empty sketch. */
export function sketchDecileEdges(sketch: KllSketch): number[] {
  const edges: number[] = [];
  for (const e of sketchQuantileEdgesRaw(sketch, 10)) if (edges.length === 0 || e !== edges[edges.length - 1]) edges.push(e);
  return edges;
}

/** Estimated counts of the sketched values in the bins (−∞, e₁], …, (e_B, +∞); they sum to n. */
export function sketchBinCounts(sketch: KllSketch, edges: readonly number[]): number[] {
  const counts: number[] = [];
  let below = 0;
  for (const e of edges) {
    const r = sketch.rank(e);
    counts.push(r - below);
    below = r;
  }
  counts.push(sketch.n - below);
  return counts;
}

/** Up to this many edges a value's bin is found by comparing it with every edge. */
const LINEAR_SCAN_MAX_EDGES = 16;

export interface FixedBinsJson {
  edges: number[];
  counts: number[];
}

/** Exact counts of values in the left-open, right-closed bins of fixed ascending edges. */
export class FixedBins {
  readonly edges: readonly number[];
  private readonly edgeArray: Float64Array;
  private readonly tallies: Float64Array;

  constructor(edges: readonly number[]) {
    if (edges.length === 0) throw new RangeError('fixed bins need at least one edge');
    for (let i = 0; i < edges.length; i++) {
      if (!Number.isFinite(edges[i]) || (i > 0 && !(edges[i] > edges[i - 1]))) throw new RangeError('bin edges must be finite and strictly ascending');
    }
    this.edges = Object.freeze([...edges]);
    this.edgeArray = Float64Array.from(edges);
    this.tallies = new Float64Array(edges.length + 1);
  }

  /** Counts per bin (B + 1 of them). */
  get counts(): number[] {
    return Array.from(this.tallies);
  }

  get total(): number {
    let t = 0;
    for (const c of this.tallies) t += c;
    return t;
  }

  add(v: number): void {
    this.tallies[binBelow(this.edgeArray, v)]++;
  }

  /** Counts values[start..end). */
  addMany(values: ArrayLike<number>, start = 0, end: number = values.length): void {
    const edges = this.edgeArray;
    const tally = this.tallies;
    const b = edges.length;
    if (b > LINEAR_SCAN_MAX_EDGES) {
      for (let i = start; i < end; i++) tally[binBelow(edges, values[i])]++;
      return;
    }
    // Few edges: count the edges below each value without branching on the (unpredictable) data.
    for (let i = start; i < end; i++) {
      const v = values[i];
      let bin = 0;
      for (let j = 0; j < b; j++) bin += +(edges[j] < v);
      tally[bin]++;
    }
  }

  /** Whether `edges` are exactly these edges. */
  hasEdges(edges: readonly number[]): boolean {
    return edges.length === this.edges.length && edges.every((e, i) => e === this.edges[i]);
  }

  /** Adds the counts of `other`, which must have the same edges. */
  merge(other: FixedBins): this {
    if (!this.hasEdges(other.edges)) throw new RangeError('cannot merge fixed bins with different edges');
    for (let i = 0; i < this.tallies.length; i++) this.tallies[i] += other.tallies[i];
    return this;
  }

  clone(): FixedBins {
    return FixedBins.fromJSON(this.toJSON());
  }

  toJSON(): FixedBinsJson {
    return { edges: [...this.edges], counts: this.counts };
  }

  static fromJSON(json: FixedBinsJson): FixedBins {
    if (!json || !Array.isArray(json.edges) || !Array.isArray(json.counts) || json.counts.length !== json.edges.length + 1) {
      throw new TypeError('invalid fixed bins JSON');
    }
    const bins = new FixedBins(json.edges);
    json.counts.forEach((c, i) => {
      if (!Number.isInteger(c) || c < 0) throw new TypeError('invalid fixed bins JSON: counts');
      bins.tallies[i] = c;
    });
    return bins;
  }
}
