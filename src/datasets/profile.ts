import type { Readable } from 'node:stream';
import { AppError, invalidParam } from '../errors/index.js';
import { cellKind, DelimitedParser, LineSplitter, type CellKind, type TabularRecord } from './tabular.js';

export const COLUMN_TYPES = ['integer', 'float', 'boolean', 'string', 'empty'] as const;
export type ColumnType = (typeof COLUMN_TYPES)[number];

export const DATASET_FORMATS = ['csv', 'tsv', 'jsonl'] as const;
export type DatasetFormat = (typeof DATASET_FORMATS)[number];

export interface ProfileOptions {
  /** Taken from each file's extension when absent. TSV is parsed like CSV (quotes included), tab-separated. */
  format?: DatasetFormat;
  /** CSV/TSV: the first record names the columns (default true); otherwise they are c0, c1, ... */
  header?: boolean;
  /** Distinct values tracked exactly per column before switching to an estimate (default 10000). */
  maxDistinct?: number;
  /** How many most frequent values `top` lists (default 10). */
  topK?: number;
}

export interface ColumnProfile {
  name: string;
  type: ColumnType;
  /** Non-missing values. */
  count: number;
  missing: number;
  /** missing / rows (0 when there are no rows). */
  missing_share: number;
  /**
   * Distinct non-missing values, compared as numbers for numeric columns and case-insensitively for
   * booleans. Exact while at most maxDistinct distinct spellings were seen; past that distinct_exact is
   * false and distinct is a HyperLogLog estimate (about 0.8% standard error), never below maxDistinct + 1.
   */
  distinct: number;
  distinct_exact: boolean;
  min?: number;
  max?: number;
  mean?: number;
  /** Sample standard deviation (ddof = 1, as pandas); omitted when count < 2. */
  std?: number;
  /**
   * Most frequent values first, ties by value. Present for string and boolean columns and for integer
   * columns with at most INTEGER_TOP_MAX_DISTINCT distinct values. When distinct_exact is false the
   * counts cover only the values first seen before the cap was reached.
   */
  top?: { value: string; count: number }[];
}

export interface DatasetProfile {
  format: string;
  rows: number;
  columns: ColumnProfile[];
}

const EXTENSIONS: Record<string, DatasetFormat> = { '.csv': 'csv', '.tsv': 'tsv', '.jsonl': 'jsonl', '.ndjson': 'jsonl' };

export function detectFormat(path: string): DatasetFormat {
  const lower = path.toLowerCase();
  for (const [extension, format] of Object.entries(EXTENSIONS)) if (lower.endsWith(extension)) return format;
  const supported = Object.keys(EXTENSIONS);
  throw invalidParam(`cannot tell the format of ${path}: supported extensions are ${supported.join(', ')}`, { path, supported });
}

export function schemaOf(profile: DatasetProfile): { name: string; type: ColumnType }[] {
  return profile.columns.map(({ name, type }) => ({ name, type }));
}

/** Integer columns with this many distinct values or fewer look categorical (labels, counts) and get `top`. */
const INTEGER_TOP_MAX_DISTINCT = 20;

type ValueKind = Exclude<CellKind, 'missing'>;

/** Which types every value noted so far fits; flags only ever turn false. */
class TypeTally {
  count = 0;
  private isInteger = true;
  private isNumber = true;
  private isBoolean = true;

  note(kind: ValueKind): void {
    this.count++;
    this.isInteger &&= kind === 'integer';
    this.isNumber &&= kind === 'integer' || kind === 'float';
    this.isBoolean &&= kind === 'boolean';
  }

  type(): ColumnType {
    if (this.count === 0) return 'empty';
    if (this.isInteger) return 'integer';
    if (this.isNumber) return 'float';
    return this.isBoolean ? 'boolean' : 'string';
  }
}

/** The types a later file may show for a column without contradicting the earlier files. */
function isCompatible(before: ColumnType, now: ColumnType): boolean {
  if (before === now || before === 'empty' || now === 'empty') return true;
  const numeric = ['integer', 'float'];
  return numeric.includes(before) && numeric.includes(now);
}

/**
 * HyperLogLog over 2^14 one-byte registers (16 KiB; standard error 1.04/sqrt(2^14), about 0.8%), with
 * linear counting for small cardinalities. The 32-bit hash makes estimates drift above ~10^8 values.
 */
class DistinctSketch {
  private static readonly INDEX_BITS = 14;
  private readonly registers = new Uint8Array(1 << DistinctSketch.INDEX_BITS);

  add(value: string): void {
    const hash = hash32(value);
    const index = hash >>> (32 - DistinctSketch.INDEX_BITS);
    const rest = (hash << DistinctSketch.INDEX_BITS) >>> 0;
    const rank = rest === 0 ? 33 - DistinctSketch.INDEX_BITS : Math.clz32(rest) + 1;
    if (rank > this.registers[index]!) this.registers[index] = rank;
  }

  estimate(): number {
    const m = this.registers.length;
    let sum = 0;
    let zeros = 0;
    for (const rank of this.registers) {
      sum += 2 ** -rank;
      if (rank === 0) zeros++;
    }
    const raw = ((0.7213 / (1 + 1.079 / m)) * m * m) / sum;
    return raw <= 2.5 * m && zeros > 0 ? m * Math.log(m / zeros) : raw;
  }
}

/** FNV-1a over UTF-16 code units, then murmur3's finaliser so every output bit depends on the input. */
function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Everything kept about one column: constant size apart from the capped distinct-value counts. */
class ColumnStats {
  readonly total = new TypeTally();
  file = new TypeTally();
  /** The column's type over the files before the current one. */
  typeBefore: ColumnType = 'empty';
  /** The last row (0-based, over all files) that had this column; JSONL uses it to count absent keys. */
  lastRow = -1;
  missing = 0;
  private mean = 0;
  private squaredDeviations = 0;
  private min = Infinity;
  private max = -Infinity;
  private readonly counts = new Map<string, number>();
  private sketch?: DistinctSketch;

  constructor(readonly name: string, private readonly maxDistinct: number) {}

  addMissing(): void {
    this.missing++;
  }

  /** `key` is the value as text; `value` is given for numbers. */
  add(kind: ValueKind, key: string, value?: number): void {
    this.total.note(kind);
    this.file.note(kind);
    if (value !== undefined) this.addNumber(value);
    this.countValue(key);
  }

  /**
   * Welford's update: no running sum of squares, so no cancellation on large, tightly spread values.
   * Only read when every value was a number, so total.count is then the count of numbers.
   */
  private addNumber(value: number): void {
    const delta = value - this.mean;
    this.mean += delta / this.total.count;
    this.squaredDeviations += delta * (value - this.mean);
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
  }

  private countValue(key: string): void {
    const seen = this.counts.get(key);
    if (seen !== undefined) {
      this.counts.set(key, seen + 1);
    } else if (this.sketch) {
      this.sketch.add(key);
    } else if (this.counts.size < this.maxDistinct) {
      this.counts.set(key, 1);
    } else {
      // Over the cap: the map stops growing, and the sketch starts from every value seen so far.
      this.sketch = new DistinctSketch();
      for (const known of this.counts.keys()) this.sketch.add(known);
      this.sketch.add(key);
    }
  }

  profile(rows: number, topK: number): ColumnProfile {
    const type = this.total.type();
    const count = this.total.count;
    const merged = mergeSpellings(this.counts, type);
    const distinct = this.sketch ? Math.max(this.maxDistinct + 1, Math.round(this.sketch.estimate())) : merged.size;
    const out: ColumnProfile = { name: this.name, type, count, missing: this.missing, missing_share: rows === 0 ? 0 : this.missing / rows, distinct, distinct_exact: !this.sketch };
    if (type === 'integer' || type === 'float') {
      Object.assign(out, { min: this.min, max: this.max, mean: this.mean });
      if (count >= 2) out.std = Math.sqrt(this.squaredDeviations / (count - 1));
    }
    const isCategorical = type === 'integer' && !this.sketch && distinct <= INTEGER_TOP_MAX_DISTINCT;
    if (topK > 0 && (type === 'string' || type === 'boolean' || isCategorical)) out.top = mostFrequent(merged, topK, type === 'integer');
    return out;
  }
}

/** Folds spellings of one value together ("1.50" and "1.5"; "True" and "true") once the type is known. */
function mergeSpellings(counts: Map<string, number>, type: ColumnType): Map<string, number> {
  if (type === 'string' || type === 'empty') return counts;
  const merged = new Map<string, number>();
  for (const [key, n] of counts) {
    const canonical = type === 'boolean' ? key.toLowerCase() : String(Number(key));
    merged.set(canonical, (merged.get(canonical) ?? 0) + n);
  }
  return merged;
}

function mostFrequent(counts: Map<string, number>, topK: number, isNumeric: boolean): { value: string; count: number }[] {
  const byValue = (a: string, b: string) => (isNumeric ? Number(a) - Number(b) : a < b ? -1 : a > b ? 1 : 0);
  return [...counts]
    .sort(([a, m], [b, n]) => n - m || byValue(a, b))
    .slice(0, topK)
    .map(([value, count]) => ({ value, count }));
}

function addCell(column: ColumnStats, text: string): void {
  const kind = cellKind(text);
  if (kind === 'missing') column.addMissing();
  else column.add(kind, text, kind === 'integer' || kind === 'float' ? Number(text) : undefined);
}

/** A JSON value: null is missing; nested objects and arrays are strings of their JSON text. */
function addJsonValue(column: ColumnStats, value: unknown): void {
  if (value === null) return column.addMissing();
  if (typeof value === 'number') return column.add(Number.isSafeInteger(value) ? 'integer' : 'float', String(value), value);
  if (typeof value === 'boolean') return column.add('boolean', String(value));
  column.add('string', typeof value === 'string' ? value : JSON.stringify(value));
}

function schemaMismatch(path: string, column: string, why: string): AppError {
  return invalidParam(`${path}: column ${JSON.stringify(column)} ${why}; every file of a dataset must have the same columns and types`, { path, column });
}

/** What a format's reader does with decoded text; `end` runs once the file's bytes are exhausted. */
interface TextSink {
  push(text: string): void;
  end(): void;
}

/**
 * Builds a dataset's profile from one pass over its files, in bounded memory: per column a few numbers
 * plus at most maxDistinct tracked values. Add a dataset's files one at a time (await each addFile);
 * after addFile throws, the builder's state is undefined.
 */
export class ProfileBuilder {
  private format?: DatasetFormat;
  private readonly isFormatGiven: boolean;
  private readonly hasHeader: boolean;
  private readonly maxDistinct: number;
  private readonly topK: number;
  private readonly columns: ColumnStats[] = [];
  private readonly byName = new Map<string, ColumnStats>();
  private rows = 0;
  /** The file that fixed the columns; later files are checked against it. */
  private firstFile?: string;

  constructor(options: ProfileOptions = {}) {
    if (options.format !== undefined && !DATASET_FORMATS.includes(options.format)) {
      throw invalidParam(`unknown dataset format ${JSON.stringify(options.format)}; supported: ${DATASET_FORMATS.join(', ')}`);
    }
    this.format = options.format;
    this.isFormatGiven = options.format !== undefined;
    this.hasHeader = options.header ?? true;
    this.maxDistinct = options.maxDistinct ?? 10_000;
    this.topK = options.topK ?? 10;
    if (!Number.isSafeInteger(this.maxDistinct) || this.maxDistinct < 1) throw invalidParam(`maxDistinct must be a positive integer, got ${this.maxDistinct}`);
    if (!Number.isSafeInteger(this.topK) || this.topK < 0) throw invalidParam(`topK must be a non-negative integer, got ${this.topK}`);
  }

  /** Streams one file of the dataset; `path` names it in errors and, without a format option, gives the format. */
  async addFile(path: string, body: AsyncIterable<Buffer | Uint8Array | string> | Readable): Promise<void> {
    const format = this.formatOf(path);
    const rowsBefore = this.rows;
    for (const column of this.columns) column.file = new TypeTally();
    const sink = format === 'jsonl' ? this.jsonSink(path) : this.delimitedSink(path, format === 'tsv' ? '\t' : ',');
    const decoder = new TextDecoder('utf-8');
    for await (const chunk of body as AsyncIterable<Buffer | Uint8Array | string>) {
      sink.push(typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true }));
    }
    sink.push(decoder.decode());
    sink.end();
    if (format === 'jsonl' && this.firstFile !== undefined && this.rows > rowsBefore) this.checkKeysPresent(path, rowsBefore);
    this.checkTypes(path);
    if (this.columns.length > 0) this.firstFile ??= path;
  }

  result(): DatasetProfile {
    return { format: this.format ?? 'unknown', rows: this.rows, columns: this.columns.map((c) => c.profile(this.rows, this.topK)) };
  }

  /** Without a format option every file's extension is checked, so a directory cannot mix formats. */
  private formatOf(path: string): DatasetFormat {
    if (this.isFormatGiven) return this.format!;
    const format = detectFormat(path);
    this.format ??= format;
    if (format !== this.format) throw invalidParam(`${path} is ${format} but the dataset's earlier files are ${this.format}`, { path });
    return format;
  }

  private delimitedSink(path: string, delimiter: string): TextSink {
    const parser = new DelimitedParser(delimiter, path);
    let isFirst = true;
    const take = (records: TabularRecord[]) => {
      for (const { fields, line } of records) {
        if (isFirst) {
          isFirst = false;
          this.setColumns(path, this.hasHeader ? fields : fields.map((_, i) => `c${i}`));
          if (this.hasHeader) continue;
        }
        if (fields.length !== this.columns.length) {
          const expected = this.hasHeader ? 'as in the header' : 'as in the first row';
          throw invalidParam(`${path}: line ${line}: expected ${this.columns.length} fields ${expected}, found ${fields.length}`, { path, line });
        }
        for (let i = 0; i < fields.length; i++) addCell(this.columns[i]!, fields[i]!);
        this.rows++;
      }
    };
    return { push: (text) => take(parser.push(text)), end: () => take(parser.end()) };
  }

  /** The first file fixes the columns; every later file must name the same ones in the same order. */
  private setColumns(path: string, names: string[]): void {
    if (this.columns.length === 0) {
      for (const name of names) this.columns.push(new ColumnStats(name, this.maxDistinct));
      return;
    }
    const count = Math.max(names.length, this.columns.length);
    for (let i = 0; i < count; i++) {
      const known = this.columns[i]?.name;
      if (known === undefined) throw schemaMismatch(path, names[i]!, `(position ${i + 1}) is not in ${this.firstFile}`);
      if (names[i] === undefined) throw schemaMismatch(path, known, `(position ${i + 1}) is missing`);
      if (names[i] !== known) throw schemaMismatch(path, known, `(position ${i + 1}) is named ${JSON.stringify(names[i])} here`);
    }
  }

  private jsonSink(path: string): TextSink {
    const splitter = new LineSplitter();
    const take = (lines: { text: string; line: number }[]) => {
      for (const { text, line } of lines) if (text.trim() !== '') this.addJsonLine(path, text, line);
    };
    return { push: (text) => take(splitter.push(text)), end: () => take(splitter.end()) };
  }

  private addJsonLine(path: string, text: string, line: number): void {
    let row: unknown;
    try {
      row = JSON.parse(text);
    } catch (err) {
      throw new AppError('INVALID_PARAMETER_VALUE', `${path}: line ${line}: not valid JSON`, { details: { path, line }, cause: err });
    }
    if (typeof row !== 'object' || row === null || Array.isArray(row)) throw invalidParam(`${path}: line ${line}: expected a JSON object`, { path, line });
    for (const [key, value] of Object.entries(row)) {
      let column = this.byName.get(key);
      if (!column) {
        if (this.firstFile !== undefined) throw schemaMismatch(path, key, `is not in ${this.firstFile}`);
        column = new ColumnStats(key, this.maxDistinct);
        column.missing = this.rows; // absent from every earlier row
        this.columns.push(column);
        this.byName.set(key, column);
      }
      column.lastRow = this.rows;
      addJsonValue(column, value);
    }
    for (const column of this.columns) if (column.lastRow !== this.rows) column.addMissing();
    this.rows++;
  }

  /** A JSONL file after the first must use every key of the first (null values count as using it). */
  private checkKeysPresent(path: string, rowsBefore: number): void {
    for (const column of this.columns) if (column.lastRow < rowsBefore) throw schemaMismatch(path, column.name, `never appears here but is in ${this.firstFile}`);
  }

  /** Integer and float mix freely across files, and an all-missing column fits any type. */
  private checkTypes(path: string): void {
    for (const column of this.columns) {
      const now = column.file.type();
      if (this.firstFile !== undefined && !isCompatible(column.typeBefore, now)) {
        throw schemaMismatch(path, column.name, `is ${now} here but ${column.typeBefore} in earlier files`);
      }
      column.typeBefore = column.total.type();
    }
  }
}
