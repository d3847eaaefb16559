import { invalidParam } from '../../errors/index.js';
import { fieldEnd, following, next, NEXT_FIELD, readField, skipField } from './csv-fields.js';
import { isCode, parseNumberCell, scanCsv, type ScannedCsv } from './csv-scan.js';

export { parseNumberCell } from './csv-scan.js';

/** A CSV file read by columns: `cells[c][r]` is row r of column c, null where the field is empty (missing). */
export interface CsvTable {
  header: string[];
  cells: (string | null)[][];
  rows: number;
}

/**
 * A parsed file. Numerical columns are held as numbers; the strings of `cells` are cut from the
 * text only when asked for (all of them through `cells`, some through `columnCells`). `cells` is
 * an own enumerable property, so a copy or JSON of the table still has it.
 */
class ParsedCsv implements CsvTable {
  // Assigned in the constructor, in the order a plain CsvTable lists them.
  declare readonly header: string[];
  declare readonly cells: (string | null)[][];
  declare readonly rows: number;
  readonly #scan: ScannedCsv;
  readonly #strings: ((string | null)[] | undefined)[];
  #all: (string | null)[][] | undefined;

  constructor(scan: ScannedCsv) {
    this.#scan = scan;
    this.#strings = Array.from(scan.textFrom, (from, c) => (from === 0 ? scan.texts[c]! : undefined));
    this.header = scan.header;
    Object.defineProperty(this, 'cells', { enumerable: true, get: () => (this.#all ??= this.columns(this.header.map((_, c) => c))) });
    this.rows = scan.rows;
  }

  static scanOf(table: ParsedCsv): ScannedCsv {
    return table.#scan;
  }

  /** The cells of the given columns, each cut from the text at most once. */
  columns(wanted: readonly number[]): (string | null)[][] {
    const missing = [...new Set(wanted.filter((c) => !this.#strings[c]))];
    if (missing.length > 0) this.#extract(missing);
    return wanted.map((c) => this.#strings[c]!);
  }

  /** Cuts the strings of `columns` from the text: the rows a column holds as numbers, then its stored text cells. */
  #extract(columns: number[]): void {
    const { text, base, what, starts, textFrom, texts } = this.#scan;
    const limit = new Int32Array(this.header.length);
    const targets: ((string | null)[] | null)[] = new Array(this.header.length).fill(null);
    let last = 0;
    let upTo = 0;
    for (const c of columns) {
      limit[c] = textFrom[c] < 0 ? this.rows : textFrom[c];
      targets[c] = new Array<string | null>(limit[c]).fill(null);
      last = Math.max(last, c);
      upTo = Math.max(upTo, limit[c]);
    }
    for (let r = 0; r < upTo; r++) {
      let i = starts[r];
      for (let c = 0; c <= last; c++) {
        const target = targets[c];
        if (target && r < limit[c]) {
          const value = readField(text, i, base, what);
          if (value !== '') target[r] = value;
        } else {
          skipField(text, i);
        }
        i = next(text, fieldEnd);
        if (following !== NEXT_FIELD) break;
      }
    }
    for (const c of columns) this.#strings[c] = textFrom[c] < 0 ? targets[c]! : targets[c]!.concat(texts[c]!);
  }
}

/**
 * RFC 4180 with UTF-8 text: fields separated by commas, records by `\n` (a `\r` before it is
 * dropped), a field containing `,`, `"` or a line break is quoted and its quotes doubled. Spaces
 * are part of a value. An empty field is missing, quoted or not. The first record is the header.
 */
export function parseCsv(text: string, what = 'CSV'): CsvTable {
  return new ParsedCsv(scanCsv(text, what));
}

/** The cells of some columns of a table (for a parsed file, only these are cut from the text). */
export function columnCells(table: CsvTable, columns: readonly number[]): (string | null)[][] {
  return table instanceof ParsedCsv ? table.columns(columns) : columns.map((c) => table.cells[c]);
}

/** A column whose present cells are all numbers. */
export interface NumberColumn {
  rows: number;
  /** A number is written with a leading zero (`00501`). */
  codes: boolean;
  /** Writes the values of the rows to out[0 … rows), NaN where missing. */
  decodeInto(out: Float64Array): void;
  anyPresent(): boolean;
}

/** A column read as numbers, or the first present cell that is not a number. */
export type NumberReading = ({ ok: true } & NumberColumn) | { ok: false; row: number; cell: string };

function readCells(cells: readonly (string | null)[]): NumberReading {
  const values = new Float64Array(cells.length);
  let codes = false;
  let present = false;
  for (let r = 0; r < cells.length; r++) {
    const cell = cells[r];
    if (cell === null) {
      values[r] = NaN;
      continue;
    }
    const v = parseNumberCell(cell);
    if (v === undefined) return { ok: false, row: r, cell };
    values[r] = v;
    present = true;
    if (!codes && isCode(cell)) codes = true;
  }
  return { ok: true, rows: values.length, codes, decodeInto: (out) => out.set(values), anyPresent: () => present };
}

/** Column c of a table as numbers: for a parsed file, what the parse already read. */
export function readNumbers(table: CsvTable, c: number): NumberReading {
  if (!(table instanceof ParsedCsv)) return readCells(table.cells[c]);
  const { numbers, codes, textFrom, texts } = ParsedCsv.scanOf(table);
  if (textFrom[c] >= 0) return { ok: false, row: textFrom[c], cell: texts[c]![0]! };
  const packed = numbers[c];
  const rows = table.rows;
  return { ok: true, rows, codes: codes[c] === 1, decodeInto: (out) => packed.decodeInto(out, rows), anyPresent: () => packed.anyPresent(rows) };
}

/** The refusal of a numerical column whose line `row + 2` holds `cell`. */
export function notANumber(name: string, row: number, cell: string, what = 'CSV'): Error {
  return invalidParam(`${what} column '${name}' is numerical but line ${row + 2} holds ${JSON.stringify(cell)}.`);
}

/** A column's cells as numbers (null = missing), or an error naming the first field that is not one. */
export function numericColumn(name: string, cells: (string | null)[], what = 'CSV'): (number | null)[] {
  return cells.map((cell, r) => {
    if (cell === null) return null;
    const v = parseNumberCell(cell);
    if (v === undefined) throw notANumber(name, r, cell, what);
    return v;
  });
}

/**
 * The cells as numbers (null where missing), or null when a present cell is not a number or is a
 * code with a leading zero (`00501`), which reading as a number would lose.
 */
export function asNumerical(cells: (string | null)[]): (number | null)[] | null {
  const out: (number | null)[] = new Array(cells.length);
  for (let r = 0; r < cells.length; r++) {
    const cell = cells[r];
    if (cell === null) {
      out[r] = null;
      continue;
    }
    const v = parseNumberCell(cell);
    if (v === undefined || isCode(cell)) return null;
    out[r] = v;
  }
  return out;
}

/** Numerical when every present cell is a number and at least one is present, else categorical. */
export function inferKind(cells: (string | null)[]): 'numerical' | 'categorical' {
  const numbers = asNumerical(cells);
  return numbers && numbers.some((v) => v !== null) ? 'numerical' : 'categorical';
}
