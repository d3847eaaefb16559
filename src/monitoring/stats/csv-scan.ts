// One pass over a CSV text that reads numbers straight into a packed numeric column each and keeps
// strings only for columns that turn out not to be numbers (drift-statistics.md §2). The strings
// of numerical columns are cut from the text later, only if someone asks for them (csv.ts).
//
// A field that is a plain decimal literal with at most 9 significant digits and at most 22
// decimals is converted on the spot: its digits form an exact integer m < 10⁹ and the value is
// m/10^s, one correctly rounded operation on exact operands (Clinger's fast path), so it is the
// double Number() gives; it is stored packed (packed.ts). Every other field (quoted, exponents,
// inf tokens, longer literals, text) goes through the general field reader and parseNumberCell,
// which define the result.
import { invalidParam } from '../../errors/index.js';
import { fieldEnd, following, next, NEXT_FIELD, readField, readRecord, recordEnd, TRAILING_EMPTY } from './csv-fields.js';
import { decimalValue, decimalWord, MISSING_WORD, PackedColumn } from './packed.js';

const COMMA = 44;
const LF = 10;
const CR = 13;
const DOT = 46;
const ZERO = 48;
const PLUS = 43;
const MINUS = 45;
const MAX_FAST_DIGITS = 9;
const POW10 = Float64Array.from({ length: 23 }, (_, k) => 10 ** k);
const MAX_SCALE = 22;
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const CODE = /^[+-]?0\d/;

/** A numerical field: a decimal literal (nearest double), or inf / +inf / -inf. */
export function parseNumberCell(value: string): number | undefined {
  if (value === 'inf' || value === '+inf') return Infinity;
  if (value === '-inf') return -Infinity;
  return DECIMAL.test(value) ? Number(value) : undefined;
}

/** A present number written with a leading zero (`00501`): a code, which reading as a number would lose. */
export function isCode(value: string): boolean {
  return CODE.test(value);
}

/** The text read column by column. */
export interface ScannedCsv {
  text: string;
  /** 1 when the text starts with a BOM (offsets in messages leave it out). */
  base: number;
  what: string;
  header: string[];
  rows: number;
  /** Offset of each data record in `text`. */
  starts: Uint32Array;
  /** Per column, the values of the rows before `textFrom` — all rows of a numerical column. */
  numbers: PackedColumn[];
  /** Per column, 1 when a number was written with a leading zero. */
  codes: Uint8Array;
  /** Per column, the first row holding a present cell that is not a number, or -1. */
  textFrom: Int32Array;
  /** Per column, the cells (null = missing) from `textFrom` on; null while the column reads as numbers. */
  texts: ((string | null)[] | null)[];
}

/** What fastNumber read: its packed word, or MISSING_WORD with the value in `parsed` (NaN for an empty field). */
let parsedWord = 0;
let parsed = 0;
let parsedCode = false;
/** The character after the field read by fastNumber: a comma or a line feed (anything else is left to `next`). */
let parsedSeparator = 0;

/** Digits of [from, to) after leading zeros (and the decimal point among them) are dropped. */
function significantDigits(text: string, from: number, to: number, digits: number): number {
  let zeros = 0;
  for (let k = from; k < to; k++) {
    const c = text.charCodeAt(k);
    if (c === ZERO) zeros++;
    else if (c !== DOT) break;
  }
  return digits - zeros;
}

/** Value of the digit run read last by digitRun (an int32: it wraps past 9 digits). */
let runValue = 0;

/** Offset of the first non-digit at or after k (the text's end reads as one); the run's value goes to `runValue`. */
function digitRun(text: string, k: number): number {
  let j = k;
  let m = 0;
  for (;;) {
    const d = (text.charCodeAt(j) | 0) - ZERO;
    if (d >>> 0 > 9) break;
    m = (m * 10 + d) | 0;
    j++;
  }
  runValue = m;
  return j;
}

/**
 * The fast case at `i`: an empty field (parsed = NaN) or a short decimal literal followed by a
 * separator; returns the offset after it, or -1 to leave the field to the general reader.
 */
function fastNumber(text: string, i: number): number {
  let ch = text.charCodeAt(i);
  if (ch === COMMA || ch === LF || (ch === CR && text.charCodeAt(i + 1) === LF)) {
    parsedWord = MISSING_WORD;
    parsed = NaN;
    parsedCode = false;
    parsedSeparator = ch;
    return i;
  }
  const negative = ch === MINUS;
  const from = negative || ch === PLUS ? i + 1 : i;
  let k = digitRun(text, from);
  let m = runValue;
  let digits = k - from;
  parsedCode = digits > 1 && text.charCodeAt(from) === ZERO;
  let scale = 0;
  if (text.charCodeAt(k) === DOT) {
    const end = digitRun(text, k + 1);
    scale = end - k - 1;
    digits += scale;
    k = end;
    if (scale > MAX_SCALE) return -1;
    m = m * POW10[scale] + runValue;
  }
  ch = text.charCodeAt(k);
  if (digits === 0) return -1;
  if (!(ch === COMMA || ch === LF || k >= text.length || (ch === CR && text.charCodeAt(k + 1) === LF))) return -1;
  if (digits > MAX_FAST_DIGITS && significantDigits(text, from, k, digits) > MAX_FAST_DIGITS) return -1;
  parsedWord = decimalWord(m, scale, negative);
  if (parsedWord === MISSING_WORD) parsed = decimalValue(m, scale, negative);
  parsedSeparator = ch;
  return k;
}

/** Builds ScannedCsv while scanning; owns the per-column state. */
class Columns {
  readonly numbers: PackedColumn[];
  readonly codes: Uint8Array;
  readonly textFrom: Int32Array;
  readonly texts: ((string | null)[] | null)[];

  constructor(count: number, capacity: number) {
    this.numbers = Array.from({ length: count }, () => new PackedColumn(capacity));
    this.codes = new Uint8Array(count);
    this.textFrom = new Int32Array(count).fill(-1);
    this.texts = new Array(count).fill(null);
  }

  /** Stores what fastNumber read as row r of column c. */
  storeParsed(c: number, r: number): void {
    if (parsedWord !== MISSING_WORD) this.numbers[c].words[r] = parsedWord;
    else this.numbers[c].putValue(r, parsed);
    if (parsedCode) this.codes[c] = 1;
  }

  /** Stores the field value `value` (already read) as row r of column c. */
  store(c: number, r: number, value: string): void {
    const texts = this.texts[c];
    if (texts) {
      texts.push(value === '' ? null : value);
      return;
    }
    if (value === '') {
      this.numbers[c].putValue(r, NaN);
      return;
    }
    const v = parseNumberCell(value);
    if (v === undefined) {
      this.textFrom[c] = r;
      this.texts[c] = [value];
      return;
    }
    this.numbers[c].putValue(r, v);
    if (isCode(value)) this.codes[c] = 1;
  }
}

function lineCount(text: string, from: number): number {
  let count = 1;
  for (let at = text.indexOf('\n', from); at >= 0; at = text.indexOf('\n', at + 1)) count++;
  return count;
}

function checkHeader(header: string[], what: string): void {
  const seen = new Set<string>();
  for (const name of header) {
    if (name === '') throw invalidParam(`${what}: a column in the header has no name.`);
    if (seen.has(name)) throw invalidParam(`${what}: column '${name}' appears twice in the header.`);
    seen.add(name);
  }
}

/**
 * Reads the records after the header at `i` into `cols`; returns the record count and, in
 * `ragged`, the first record whose field count differs from the header's (checked by the caller
 * after the whole text, so that a syntax error anywhere is reported first, as a full parse would).
 */
function scanRecords(text: string, i0: number, base: number, what: string, cols: Columns, starts: Uint32Array, ragged: number[]): number {
  const n = text.length;
  const width = cols.numbers.length;
  const textFrom = cols.textFrom;
  let i = i0;
  let r = 0;
  while (i < n) {
    starts[r] = i;
    let c = 0;
    for (;;) {
      let end = c < width && textFrom[c] < 0 ? fastNumber(text, i) : -1;
      let separator = -1;
      if (end >= 0) {
        cols.storeParsed(c, r);
        separator = parsedSeparator;
      } else {
        const value = readField(text, i, base, what);
        end = fieldEnd;
        if (c < width) cols.store(c, r, value);
      }
      c++;
      // The common separators directly; a final comma, CR LF, a lone CR or the end of the text through `next`.
      if (separator === COMMA && end + 1 < n) {
        i = end + 1;
        continue;
      }
      if (separator === LF) {
        i = end + 1;
        break;
      }
      i = next(text, end);
      if (following === NEXT_FIELD) continue;
      if (following === TRAILING_EMPTY) {
        if (c < width) cols.store(c, r, '');
        c++;
      }
      break;
    }
    if (c !== width && ragged.length === 0) ragged.push(r, c);
    r++;
  }
  return r;
}

/** Parses a CSV text (header first) column by column; refuses what parseCsv refuses, with the same messages. */
export function scanCsv(text: string, what: string): ScannedCsv {
  const base = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  if (text.length <= base) throw invalidParam(`${what} is empty: the first line must name the columns.`);
  const header = readRecord(text, base, base, what);
  const start = recordEnd;
  const capacity = lineCount(text, start);
  const cols = new Columns(header.length, capacity);
  const starts = new Uint32Array(capacity);
  const ragged: number[] = [];
  const rows = scanRecords(text, start, base, what, cols, starts, ragged);
  checkHeader(header, what);
  if (ragged.length > 0) throw invalidParam(`${what} line ${ragged[0] + 2}: ${ragged[1]} fields, the header has ${header.length}.`);
  return {
    text,
    base,
    what,
    header,
    rows,
    starts: starts.subarray(0, rows),
    numbers: cols.numbers,
    codes: cols.codes,
    textFrom: cols.textFrom,
    texts: cols.texts,
  };
}
