// Mergeable one-pass profile of a categorical column: row and missing counts and exact frequencies
// of at most `maxCategories` distinct values; cells of the other values are counted in `overflow`.
//
// Which values are tracked is decided by a fixed order on the values, not by arrival: the key of a
// value is (32-bit hash, code-point order), and the profile keeps the maxCategories distinct values
// with the smallest keys seen so far (a bottom-k sample, evicting the largest key into overflow). A
// value in the final bottom-k has been tracked since its first cell, so its count is exact, and the
// bottom-k of a union is the bottom-k of the parts' bottom-k: merging profiles of any split gives
// exactly the profile of the concatenation. Profiles of two data sets with the same values track the
// same values (coordinated sampling), and the key of the largest tracked value estimates how many
// distinct values there are when some were dropped (k-minimum-values estimator).
import { compareCodePoints } from '../stats/quality.js';

export const DEFAULT_MAX_CATEGORIES = 1000;

export interface CategoricalProfileOptions {
  /** Distinct values counted exactly (default 1000). */
  maxCategories?: number;
}

export interface CategoricalProfileJson {
  kind: 'categorical';
  rows: number;
  missing: number;
  max_categories: number;
  /** Tracked values in code-point order, and their counts. */
  categories: string[];
  counts: number[];
  /** Present cells whose value is not tracked. */
  overflow: number;
}

export interface CategoricalFacts {
  n_rows: number;
  missing_count: number;
  missing_share: number | null;
  /** Distinct present values: exact without overflow, else a k-minimum-values estimate. */
  distinct_count: number;
  distinct_count_exact: boolean;
  /** Most frequent tracked value (ties: smallest in code-point order). */
  top_value: string | null;
  top_count: number | null;
  overflow_count: number;
}

/** FNV-1a over the UTF-16 code units, then a 32-bit avalanche; unsigned. */
export function categoryHash(value: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < value.length; i++) h = Math.imul(h ^ value.charCodeAt(i), 0x01000193);
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return (h ^ (h >>> 16)) >>> 0;
}

export class CategoricalProfile {
  rows = 0;
  missing = 0;
  overflow = 0;
  readonly maxCategories: number;
  private readonly slotOf = new Map<string, number>();
  private readonly names: string[] = [];
  private readonly hashes: number[] = [];
  private readonly tallies: number[] = [];
  /** Slots as a max-heap on the key, so the largest tracked key is heap[0]. */
  private readonly heap: number[] = [];

  constructor(options: CategoricalProfileOptions = {}) {
    const max = options.maxCategories ?? DEFAULT_MAX_CATEGORIES;
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`maxCategories must be a positive integer, got ${max}`);
    this.maxCategories = max;
  }

  /** Present (non-missing) cells. */
  get present(): number {
    return this.rows - this.missing;
  }

  /** One cell: null or undefined is missing; numbers, booleans and bigints count as their string. */
  add(value: unknown): void {
    const v = toCategory(value);
    this.rows++;
    if (v === null) this.missing++;
    else this.count(v, 1);
  }

  /** A batch of cells values[start..end); null / undefined are missing. A cell of another type is a TypeError and changes nothing. */
  addValues(values: ArrayLike<string | null | undefined>, start = 0, end: number = values.length): void {
    for (let i = start; i < end; i++) {
      const v = values[i];
      if (typeof v !== 'string' && v !== null && v !== undefined) throw new TypeError(`categorical cell must be a string or null, got ${typeof v}`);
    }
    const slotOf = this.slotOf;
    const tallies = this.tallies;
    let missing = 0;
    for (let i = start; i < end; i++) {
      const v = values[i];
      if (v === null || v === undefined) {
        missing++;
        continue;
      }
      const at = slotOf.get(v);
      if (at !== undefined) tallies[at]++;
      else this.count(v, 1);
    }
    this.missing += missing;
    this.rows += end - start;
  }

  merge(other: CategoricalProfile): this {
    const entries = other.names.map((name, slot) => [name, other.tallies[slot]] as const);
    this.rows += other.rows;
    this.missing += other.missing;
    this.overflow += other.overflow;
    for (const [name, c] of entries) this.count(name, c);
    return this;
  }

  /** Count of one value: exact when tracked, else 0 (its cells, if any, are in overflow). */
  countOf(value: string): number {
    const at = this.slotOf.get(value);
    return at === undefined ? 0 : this.tallies[at];
  }

  isTracked(value: string): boolean {
    return this.slotOf.has(value);
  }

  /** Tracked values in code-point order and their counts. */
  categoryCounts(): { categories: string[]; counts: number[] } {
    const categories = [...this.names].sort(compareCodePoints);
    return { categories, counts: categories.map((c) => this.countOf(c)) };
  }

  /** Distinct present values: exact while nothing overflowed, else (k − 1) / (largest tracked hash as a fraction of 2^32). */
  distinctEstimate(): number {
    if (this.overflow === 0) return this.names.length;
    const top = this.hashes[this.heap[0]];
    return Math.max(this.names.length + 1, Math.round(((this.names.length - 1) * 2 ** 32) / (top + 1)));
  }

  facts(): CategoricalFacts {
    const { categories, counts } = this.categoryCounts();
    let top = -1;
    for (let i = 0; i < categories.length; i++) if (top < 0 || counts[i] > counts[top]) top = i;
    return {
      n_rows: this.rows,
      missing_count: this.missing,
      missing_share: this.rows > 0 ? this.missing / this.rows : null,
      distinct_count: this.distinctEstimate(),
      distinct_count_exact: this.overflow === 0,
      top_value: top >= 0 ? categories[top] : null,
      top_count: top >= 0 ? counts[top] : null,
      overflow_count: this.overflow,
    };
  }

  clone(): CategoricalProfile {
    return CategoricalProfile.fromJSON(this.toJSON());
  }

  toJSON(): CategoricalProfileJson {
    const { categories, counts } = this.categoryCounts();
    return { kind: 'categorical', rows: this.rows, missing: this.missing, max_categories: this.maxCategories, categories, counts, overflow: this.overflow };
  }

  static fromJSON(json: CategoricalProfileJson): CategoricalProfile {
    const bad = (what: string): never => {
      throw new TypeError(`invalid categorical profile JSON: ${what}`);
    };
    if (!json || json.kind !== 'categorical') bad('kind');
    if (![json.rows, json.missing, json.overflow].every((c) => Number.isInteger(c) && c >= 0)) bad('counts');
    if (!Array.isArray(json.categories) || !Array.isArray(json.counts) || json.categories.length !== json.counts.length) bad('categories');
    if (json.categories.length > json.max_categories) bad('more categories than max_categories');
    const p = new CategoricalProfile({ maxCategories: json.max_categories });
    let present = json.overflow;
    json.categories.forEach((c, i) => {
      const n = json.counts[i];
      if (typeof c !== 'string' || p.slotOf.has(c) || !Number.isInteger(n) || n < 1) bad(`category ${i}`);
      p.count(c, n);
      present += n;
    });
    if (present !== json.rows - json.missing) bad('counts do not add up');
    p.rows = json.rows;
    p.missing = json.missing;
    p.overflow = json.overflow;
    return p;
  }

  /** Adds c cells of an untracked or tracked value, admitting it if its key is among the smallest. */
  private count(v: string, c: number): void {
    const at = this.slotOf.get(v);
    if (at !== undefined) {
      this.tallies[at] += c;
      return;
    }
    const hash = categoryHash(v);
    if (this.names.length < this.maxCategories) {
      const slot = this.names.length;
      this.names.push(v);
      this.hashes.push(hash);
      this.tallies.push(c);
      this.slotOf.set(v, slot);
      this.heap.push(slot);
      this.siftUp(this.heap.length - 1);
      return;
    }
    const worst = this.heap[0];
    if (this.keyOrder(hash, v, worst) >= 0) {
      this.overflow += c;
      return;
    }
    this.overflow += this.tallies[worst];
    this.slotOf.delete(this.names[worst]);
    this.names[worst] = v;
    this.hashes[worst] = hash;
    this.tallies[worst] = c;
    this.slotOf.set(v, worst);
    this.siftDown(0);
  }

  /** Sign of key(hash, name) − key(slot). */
  private keyOrder(hash: number, name: string, slot: number): number {
    return hash !== this.hashes[slot] ? hash - this.hashes[slot] : compareCodePoints(name, this.names[slot]);
  }

  private above(a: number, b: number): boolean {
    return this.keyOrder(this.hashes[a], this.names[a], b) > 0;
  }

  private siftUp(i: number): void {
    const heap = this.heap;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.above(heap[i], heap[parent])) return;
      [heap[i], heap[parent]] = [heap[parent], heap[i]];
      i = parent;
    }
  }

  private siftDown(i: number): void {
    const heap = this.heap;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let top = i;
      if (l < heap.length && this.above(heap[l], heap[top])) top = l;
      if (r < heap.length && this.above(heap[r], heap[top])) top = r;
      if (top === i) return;
      [heap[i], heap[top]] = [heap[top], heap[i]];
      i = top;
    }
  }
}

function toCategory(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  throw new TypeError(`categorical cell must be a string, a number or null, got ${typeof value}`);
}
