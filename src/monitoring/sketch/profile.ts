// Mergeable, serialisable profile of a table: an ordered list of named numerical and categorical
// column profiles, fed by column batches or row by row.
import { sketchDecileEdges } from './bins.js';
import { CategoricalProfile, type CategoricalProfileJson } from './categorical-profile.js';
import { KLL_DEFAULT_SEED } from './kll.js';
import { NumericProfile, type NumericProfileJson } from './numeric-profile.js';

export { CategoricalProfile, categoryHash, DEFAULT_MAX_CATEGORIES, type CategoricalFacts, type CategoricalProfileJson, type CategoricalProfileOptions } from './categorical-profile.js';
export { NumericProfile, combineMoments, type NumericalFacts, type NumericProfileJson, type NumericProfileOptions } from './numeric-profile.js';

export const PROFILE_FORMAT_VERSION = 1;

export type ColumnKind = 'numerical' | 'categorical';
export type ColumnProfile = { kind: 'numerical'; profile: NumericProfile } | { kind: 'categorical'; profile: CategoricalProfile };
export interface ColumnSpec {
  name: string;
  kind: ColumnKind;
}
/** One column's cells: numbers (null = missing; NaN and ±∞ counted apart) or strings (null = missing). */
export type ColumnValues = Float64Array | ArrayLike<number | null> | ArrayLike<string | null>;

export interface TableProfileOptions {
  /** KLL parameter of the numerical columns (default 200). */
  k?: number;
  /** Base seed; column i's sketch gets a seed derived from it and i. Profiles to be merged should differ. */
  seed?: number;
  /** Distinct values tracked per categorical column (default 1000). */
  maxCategories?: number;
}

export interface LikeReferenceOptions extends TableProfileOptions {
  /** Count numerical values exactly in the reference's decile bins (default true). */
  fixedBins?: boolean;
}

export interface TableProfileJson {
  format_version: number;
  rows: number;
  columns: { name: string; kind: ColumnKind; profile: NumericProfileJson | CategoricalProfileJson }[];
}

/** Seed of column i's sketch: the base seed and the index through a 32-bit mix. */
export function columnSeed(seed: number, i: number): number {
  let z = (seed ^ Math.imul(i + 1, 0x9e3779b1)) >>> 0;
  z = Math.imul(z ^ (z >>> 15), 0x2c1b3c6d);
  z = Math.imul(z ^ (z >>> 12), 0x297a2d39);
  return (z ^ (z >>> 15)) >>> 0;
}

export class TableProfile {
  rows = 0;
  private readonly cols = new Map<string, ColumnProfile>();

  constructor(schema: readonly ColumnSpec[], options: TableProfileOptions = {}) {
    const seed = options.seed ?? KLL_DEFAULT_SEED;
    schema.forEach(({ name, kind }, i) => {
      if (this.cols.has(name)) throw new RangeError(`duplicate column '${name}'`);
      if (kind === 'numerical') this.cols.set(name, { kind, profile: new NumericProfile({ k: options.k, seed: columnSeed(seed, i) }) });
      else if (kind === 'categorical') this.cols.set(name, { kind, profile: new CategoricalProfile({ maxCategories: options.maxCategories }) });
      else throw new RangeError(`column '${name}' has unknown kind ${String(kind)}`);
    });
  }

  /** A profile of whole columns; kinds are inferred (numbers → numerical, strings or all missing → categorical) unless given. */
  static fromColumns(columns: Record<string, ColumnValues>, options: TableProfileOptions & { kinds?: Record<string, ColumnKind> } = {}): TableProfile {
    const schema = Object.entries(columns).map(([name, values]) => ({ name, kind: options.kinds?.[name] ?? inferKind(values) }));
    const table = new TableProfile(schema, options);
    table.addColumns(columns);
    return table;
  }

  /**
   * An empty profile for the current data with the reference's schema and settings (k, category cap;
   * `options` override them) whose numerical columns also count exactly in the reference's decile
   * bins, so the current side of `binned_q10` needs no estimate.
   */
  static likeReference(reference: TableProfile, options: LikeReferenceOptions = {}): TableProfile {
    const table = new TableProfile(reference.schema, options);
    let i = 0;
    for (const [name, col] of reference.cols) {
      const seed = columnSeed(options.seed ?? KLL_DEFAULT_SEED, i++);
      if (col.kind === 'numerical') {
        const edges = options.fixedBins !== false && col.profile.finite > 0 ? sketchDecileEdges(col.profile.sketch) : undefined;
        table.cols.set(name, { kind: 'numerical', profile: new NumericProfile({ k: options.k ?? col.profile.sketch.k, seed, binEdges: edges }) });
      } else {
        const maxCategories = options.maxCategories ?? col.profile.maxCategories;
        table.cols.set(name, { kind: 'categorical', profile: new CategoricalProfile({ maxCategories }) });
      }
    }
    return table;
  }

  get schema(): ColumnSpec[] {
    return [...this.cols].map(([name, c]) => ({ name, kind: c.kind }));
  }

  get columnNames(): string[] {
    return [...this.cols.keys()];
  }

  column(name: string): ColumnProfile | undefined {
    return this.cols.get(name);
  }

  /** One row, cells in schema order. */
  addRow(values: readonly unknown[]): void {
    if (values.length !== this.cols.size) throw new RangeError(`row has ${values.length} cells, the table ${this.cols.size} columns`);
    let i = 0;
    for (const col of this.cols.values()) col.profile.add(values[i++]);
    this.rows++;
  }

  /** A batch of rows given column-wise: an array in schema order or a record by name (every column, equal lengths). */
  addColumns(batch: readonly ColumnValues[] | Record<string, ColumnValues>): void {
    const list = Array.isArray(batch) ? (batch as readonly ColumnValues[]) : this.columnNames.map((name) => (batch as Record<string, ColumnValues>)[name]);
    if (list.length !== this.cols.size || list.some((v) => v === undefined)) throw new RangeError('a batch must give every column of the table');
    const n = list.length > 0 ? list[0].length : 0;
    if (list.some((v) => v.length !== n)) throw new RangeError('the columns of a batch differ in length');
    let i = 0;
    for (const col of this.cols.values()) {
      const values = list[i++];
      if (col.kind === 'numerical') col.profile.addValues(values as ArrayLike<number | null>);
      else col.profile.addValues(values as ArrayLike<string | null>);
    }
    this.rows += n;
  }

  /** Folds `other` (same column names, kinds and order) into this profile. */
  merge(other: TableProfile): this {
    const mine = this.schema;
    const theirs = other.schema;
    if (mine.length !== theirs.length || mine.some((c, i) => c.name !== theirs[i].name || c.kind !== theirs[i].kind)) {
      throw new RangeError('cannot merge table profiles with different columns');
    }
    for (const [name, col] of this.cols) {
      const o = other.cols.get(name)!;
      if (col.kind === 'numerical') col.profile.merge(o.profile as NumericProfile);
      else col.profile.merge(o.profile as CategoricalProfile);
    }
    this.rows += other.rows;
    return this;
  }

  clone(): TableProfile {
    return TableProfile.fromJSON(this.toJSON());
  }

  toJSON(): TableProfileJson {
    return {
      format_version: PROFILE_FORMAT_VERSION,
      rows: this.rows,
      columns: [...this.cols].map(([name, c]) => ({ name, kind: c.kind, profile: c.profile.toJSON() })),
    };
  }

  static fromJSON(json: TableProfileJson): TableProfile {
    if (!json || json.format_version !== PROFILE_FORMAT_VERSION) throw new TypeError(`unsupported table profile format_version ${json?.format_version}`);
    if (!Number.isInteger(json.rows) || json.rows < 0 || !Array.isArray(json.columns)) throw new TypeError('invalid table profile JSON');
    const table = new TableProfile([]);
    for (const c of json.columns) {
      if (typeof c?.name !== 'string' || table.cols.has(c.name)) throw new TypeError('invalid table profile JSON: column name');
      if (c.kind === 'numerical') table.cols.set(c.name, { kind: c.kind, profile: NumericProfile.fromJSON(c.profile as NumericProfileJson) });
      else if (c.kind === 'categorical') table.cols.set(c.name, { kind: c.kind, profile: CategoricalProfile.fromJSON(c.profile as CategoricalProfileJson) });
      else throw new TypeError(`invalid table profile JSON: column '${c.name}' kind`);
      if (c.profile.rows !== json.rows) throw new TypeError(`invalid table profile JSON: column '${c.name}' rows`);
    }
    table.rows = json.rows;
    return table;
  }
}

function inferKind(values: ColumnValues): ColumnKind {
  if (values instanceof Float64Array) return 'numerical';
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v === 'number') return 'numerical';
    if (typeof v === 'string') return 'categorical';
  }
  return 'categorical';
}
