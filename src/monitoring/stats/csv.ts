import { invalidParam } from '../../errors/index.js';

/** A CSV file read by columns: `cells[c][r]` is row r of column c, null where the field is empty (missing). */
export interface CsvTable {
  header: string[];
  cells: (string | null)[][];
  rows: number;
}

/**
 * RFC 4180 with UTF-8 text: fields separated by commas, records by `\n` (a `\r` before it is
 * dropped), a field containing `,`, `"` or a line break is quoted and its quotes doubled. Spaces
 * are part of a value. An empty field is missing, quoted or not. The first record is the header.
 */
export function parseCsv(text: string, what = 'CSV'): CsvTable {
  const records = records_(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text, what);
  if (records.length === 0) throw invalidParam(`${what} is empty: the first line must name the columns.`);
  const header = records[0];
  const seen = new Set<string>();
  for (const name of header) {
    if (name === '') throw invalidParam(`${what}: a column in the header has no name.`);
    if (seen.has(name)) throw invalidParam(`${what}: column '${name}' appears twice in the header.`);
    seen.add(name);
  }
  const cells: (string | null)[][] = header.map(() => []);
  for (let r = 1; r < records.length; r++) {
    const record = records[r];
    if (record.length !== header.length) throw invalidParam(`${what} line ${r + 1}: ${record.length} fields, the header has ${header.length}.`);
    for (let c = 0; c < record.length; c++) cells[c].push(record[c] === '' ? null : record[c]);
  }
  return { header, cells, rows: records.length - 1 };
}

/** Records of fields; a final line break does not start an empty record. */
function records_(text: string, what: string): string[][] {
  const out: string[][] = [];
  let record: string[] = [];
  let i = 0;
  const n = text.length;
  while (i < n) {
    let field: string;
    if (text[i] === '"') {
      let value = '';
      let j = i + 1;
      for (;;) {
        const q = text.indexOf('"', j);
        if (q < 0) throw invalidParam(`${what}: a quoted field opened at offset ${i} is never closed.`);
        value += text.slice(j, q);
        if (text[q + 1] === '"') {
          value += '"';
          j = q + 2;
          continue;
        }
        i = q + 1;
        break;
      }
      if (i < n && text[i] !== ',' && text[i] !== '\n' && text[i] !== '\r') throw invalidParam(`${what}: unexpected text after a closing quote at offset ${i}.`);
      field = value;
    } else {
      let j = i;
      while (j < n && text[j] !== ',' && text[j] !== '\n') j++;
      field = text.slice(i, j);
      if (field.endsWith('\r') && text[j] === '\n') field = field.slice(0, -1);
      if (field.includes('"')) throw invalidParam(`${what}: a field with a quote must be quoted (offset ${i}).`);
      i = j;
    }
    record.push(field);
    if (text[i] === '\r' && text[i + 1] === '\n') i++;
    if (i >= n || text[i] === '\n') {
      out.push(record);
      record = [];
      i++;
    } else if (++i >= n) {
      // A comma at the very end: the record ends with an empty field.
      record.push('');
      out.push(record);
    }
  }
  return out;
}

const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** A numerical field: a decimal literal (nearest double), or inf / +inf / -inf. */
export function parseNumberCell(value: string): number | undefined {
  if (value === 'inf' || value === '+inf') return Infinity;
  if (value === '-inf') return -Infinity;
  return DECIMAL.test(value) ? Number(value) : undefined;
}

/** A column's cells as numbers (null = missing), or an error naming the first field that is not one. */
export function numericColumn(name: string, cells: (string | null)[], what = 'CSV'): (number | null)[] {
  return cells.map((cell, r) => {
    if (cell === null) return null;
    const v = parseNumberCell(cell);
    if (v === undefined) throw invalidParam(`${what} column '${name}' is numerical but line ${r + 2} holds ${JSON.stringify(cell)}.`);
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
    if (v === undefined || /^[+-]?0\d/.test(cell)) return null;
    out[r] = v;
  }
  return out;
}

/** Numerical when every present cell is a number and at least one is present, else categorical. */
export function inferKind(cells: (string | null)[]): 'numerical' | 'categorical' {
  const numbers = asNumerical(cells);
  return numbers && numbers.some((v) => v !== null) ? 'numerical' : 'categorical';
}
