// Tabular data for the ML helpers: numeric CSV with a header, a label column, and a seeded split.
import { uniformSource } from '../monitoring/seeded.js';

export interface Table {
  columns: string[];
  rows: number[][];
}

/** A numeric CSV with a header line; throws naming the line and column of the first bad value. */
export function parseNumericCsv(text: string): Table {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  if (lines.length < 2) throw new Error('the CSV needs a header line and at least one row');
  const columns = lines[0].split(',').map((c) => c.trim());
  const rows = lines.slice(1).map((line, i) => {
    const cells = line.split(',');
    if (cells.length !== columns.length) throw new Error(`line ${i + 2}: ${cells.length} values, the header has ${columns.length}`);
    return cells.map((c, j) => {
      const v = Number(c);
      if (c.trim() === '' || !Number.isFinite(v)) throw new Error(`line ${i + 2}, column ${columns[j]}: ${JSON.stringify(c)} is not a number`);
      return v;
    });
  });
  return { columns, rows };
}

/** Row indices shuffled with a seed, split into train and test (`testFraction` of the rows). */
export function trainTestSplit(n: number, testFraction: number, seed: number): { train: number[]; test: number[] } {
  const random = uniformSource(seed);
  const idx = [...Array(n).keys()];
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [idx[i], idx[j]] = [idx[j], idx[i]];
  }
  const cut = Math.round(n * testFraction);
  return { test: idx.slice(0, cut).sort((a, b) => a - b), train: idx.slice(cut).sort((a, b) => a - b) };
}
