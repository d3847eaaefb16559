// A model version's reference: the facts monitors compare traffic with. Built once — from the
// version's training data (CSV) or from a window of its traffic — and stored.
import { invalidParam } from '../errors/index.js';
import { inferKind, numericColumn, type CsvTable } from './stats/csv.js';
import type { ReferenceColumnFacts } from './monitor-checks.js';
import type { Cell, Column, ColumnKind } from './window.js';

export interface ReferenceProfile {
  format_version: 1;
  rows: number;
  /** Feature column names in model-input order (names the columns of a 2-D input tensor). */
  features: string[];
  columns: (ReferenceColumnFacts & { role: 'feature' | 'prediction' })[];
}

/** The rows themselves, kept when few enough for exact statistics. */
export interface ReferenceSample {
  rows: number;
  columns: Column[];
}

const MAX_CATEGORIES = 1000;

function facts(c: Column): ReferenceColumnFacts & { role: Column['role'] } {
  if (c.kind === 'categorical') {
    const seen = new Set<string>();
    for (const v of c.values) if (v !== null && seen.size < MAX_CATEGORIES) seen.add(String(v));
    return { name: c.name, kind: c.kind, role: c.role, categories: [...seen].sort() };
  }
  let min: number | null = null;
  let max: number | null = null;
  for (const v of c.values) {
    if (typeof v !== 'number' || !Number.isFinite(v)) continue;
    if (min === null || v < min) min = v;
    if (max === null || v > max) max = v;
  }
  return { name: c.name, kind: c.kind, role: c.role, min, max };
}

export function profileOf(columns: readonly Column[], rows: number): ReferenceProfile {
  return { format_version: 1, rows, features: columns.filter((c) => c.role === 'feature').map((c) => c.name), columns: columns.map(facts) };
}

/**
 * Reference columns from a training CSV: every column but `labelColumn` is a feature, in file
 * order; kinds are declared in `types` or inferred as `capstan drift` infers them.
 */
export function columnsFromCsv(table: CsvTable, labelColumn: string, types: Record<string, ColumnKind>): Column[] {
  if (labelColumn && !table.header.includes(labelColumn)) throw invalidParam(`label_column '${labelColumn}' is not a column of the file (it has ${table.header.join(', ')}).`);
  for (const name of Object.keys(types)) if (!table.header.includes(name)) throw invalidParam(`types names column '${name}', which the file does not have.`);
  const out: Column[] = [];
  table.header.forEach((name, i) => {
    if (name === labelColumn) return;
    const cells = table.cells[i];
    const kind = types[name] ?? inferKind(cells);
    const values: Cell[] = kind === 'numerical' ? numericColumn(name, cells, 'the reference file') : cells;
    out.push({ name, kind, role: 'feature', values });
  });
  return out;
}
