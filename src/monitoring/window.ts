// Logged predictions as a table: one row per input row (a batch request gives several), feature
// columns from the input tensors and prediction columns from the outputs.
import type { CsvTable } from './stats/csv.js';

export type ColumnKind = 'numerical' | 'categorical';
export type Cell = number | string | null;

export interface Column {
  name: string;
  kind: ColumnKind;
  role: 'feature' | 'prediction';
  values: Cell[];
}

export interface WindowTable {
  columns: Column[];
  /** The request each row came from, and the row's index within that request. */
  requestIds: string[];
  rowInRequest: number[];
  rows: number;
}

interface LoggedTensor {
  name: string;
  datatype: string;
  shape: number[];
  data: unknown[];
}

export const PREDICTION_PREFIX = 'prediction.';
const CATEGORICAL_DATATYPES = new Set(['BYTES', 'BOOL']);
const INTEGER_DATATYPES = new Set(['INT8', 'INT16', 'INT32', 'INT64', 'UINT8', 'UINT16', 'UINT32', 'UINT64']);

function cell(v: unknown, kind: ColumnKind): Cell {
  if (v === null || v === undefined) return null;
  if (kind === 'categorical') return String(v);
  const n = typeof v === 'number' ? v : Number(v); // 'NaN', 'Infinity' and 64-bit integers arrive as strings
  return Number.isNaN(n) ? null : n;
}

/**
 * Builds the window's table. `featureNames` names the columns of a single 2-D input tensor in
 * order; otherwise a 1-D (or [n, 1]) input is one column named after the tensor and a 2-D one
 * gives `name[j]`. `kinds` (from the reference profile) overrides the datatype's default kind.
 */
export class WindowBuilder {
  private readonly columns = new Map<string, Column>();
  private readonly requestIds: string[] = [];
  private readonly rowInRequest: number[] = [];
  private rows = 0;

  constructor(
    private readonly featureNames: readonly string[],
    private readonly kinds: ReadonlyMap<string, ColumnKind> = new Map(),
  ) {}

  private column(name: string, role: Column['role'], fallback: ColumnKind): Column {
    let c = this.columns.get(name);
    if (!c) {
      c = { name, role, kind: this.kinds.get(name) ?? fallback, values: new Array(this.rows).fill(null) };
      this.columns.set(name, c);
    }
    return c;
  }

  /** Adds one logged request; malformed tensors are skipped (the log holds what was served). */
  add(requestId: string, inputs: unknown, outputs: unknown): void {
    const ins = tensors(inputs);
    const outs = tensors(outputs);
    const batch = ins[0]?.shape[0] ?? outs[0]?.shape[0] ?? 0;
    if (!Number.isInteger(batch) || batch <= 0) return;
    const start = this.rows;
    this.rows += batch;
    for (let r = 0; r < batch; r++) {
      this.requestIds.push(requestId);
      this.rowInRequest.push(r);
    }
    const singleMatrix = ins.length === 1 && ins[0].shape.length === 2 && ins[0].shape[1] === this.featureNames.length;
    for (const t of ins) {
      const kind: ColumnKind = CATEGORICAL_DATATYPES.has(t.datatype) ? 'categorical' : 'numerical';
      this.spread(t, batch, start, (j, width) => (singleMatrix ? this.featureNames[j] : width === 1 ? t.name : `${t.name}[${j}]`), 'feature', kind, false);
    }
    for (const t of outs) {
      const kind: ColumnKind = CATEGORICAL_DATATYPES.has(t.datatype) || INTEGER_DATATYPES.has(t.datatype) ? 'categorical' : 'numerical';
      this.spread(t, batch, start, () => `${PREDICTION_PREFIX}${t.name}`, 'prediction', kind, true);
    }
    for (const c of this.columns.values()) while (c.values.length < this.rows) c.values.push(null);
  }

  /** Rows of tensor t into columns; a prediction with several values per row becomes its argmax class. */
  private spread(t: LoggedTensor, batch: number, start: number, nameOf: (j: number, width: number) => string, role: Column['role'], kind: ColumnKind, argmax: boolean): void {
    if (t.shape[0] !== batch || t.data.length % batch !== 0) return;
    const width = t.data.length / batch;
    if (argmax && width > 1) {
      const c = this.column(nameOf(0, width), role, 'categorical');
      for (let r = 0; r < batch; r++) c.values[start + r] = String(argmaxOf(t.data, r * width, width));
      // Two scores per row: a binary classifier; the positive class's score is its own column (AUC, score drift).
      if (width === 2 && !CATEGORICAL_DATATYPES.has(t.datatype) && !INTEGER_DATATYPES.has(t.datatype)) {
        const p = this.column(`${nameOf(0, width)}[1]`, role, 'numerical');
        for (let r = 0; r < batch; r++) p.values[start + r] = cell(t.data[r * width + 1], 'numerical');
      }
      return;
    }
    for (let j = 0; j < width; j++) {
      const c = this.column(nameOf(j, width), role, kind);
      for (let r = 0; r < batch; r++) c.values[start + r] = cell(t.data[r * width + j], c.kind);
    }
  }

  build(): WindowTable {
    return { columns: [...this.columns.values()], requestIds: this.requestIds, rowInRequest: this.rowInRequest, rows: this.rows };
  }
}

function argmaxOf(data: unknown[], from: number, width: number): number {
  let best = 0;
  for (let j = 1; j < width; j++) if (Number(data[from + j]) > Number(data[from + best])) best = j;
  return best;
}

function tensors(v: unknown): LoggedTensor[] {
  if (!Array.isArray(v)) return [];
  return v.filter((t): t is LoggedTensor => !!t && typeof t === 'object' && typeof t.name === 'string' && Array.isArray(t.shape) && Array.isArray(t.data));
}

/** The named columns of a table in the statistics engine's CSV form (numbers written so they parse back exactly). */
export function asCsvTable(columns: readonly Column[], names: readonly string[], rows: number): CsvTable {
  const byName = new Map(columns.map((c) => [c.name, c]));
  return {
    header: [...names],
    cells: names.map((n) => {
      const c = byName.get(n);
      return c ? c.values.map((v) => (v === null ? null : typeof v === 'number' ? numberText(v) : v)) : new Array(rows).fill(null);
    }),
    rows,
  };
}

function numberText(v: number): string {
  if (v === Infinity) return 'inf';
  if (v === -Infinity) return '-inf';
  return String(v);
}
