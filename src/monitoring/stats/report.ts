import { invalidParam } from '../../errors/index.js';
import { binnedQ10Sorted, type BinnedQ10 } from './binning.js';
import { categoricalDrift, type CategoricalDrift } from './categorical.js';
import { columnCells, notANumber, readNumbers, type CsvTable, type NumberColumn } from './csv.js';
import { datasetDrift, evidentlyBlock, evidentlyNumericalSorted, type ColumnKind, type DatasetDrift, type EvidentlyBlock } from './evidently.js';
import { ks2sampSorted, type KsResult } from './ks.js';
import { numericalSide, qualityCategorical, type CategoricalQuality, type NumericalQuality, type NumericalSide } from './quality.js';
import { scratchFloat64 } from './scratch.js';
import { pooledWalk } from './pooled-walk.js';
import { wassersteinOf, type Wasserstein } from './wasserstein.js';

export const COLUMN_KINDS = ['numerical', 'categorical'] as const;

export type Skipped = { skipped: 'empty reference' | 'empty current'; n_ref: number; n_cur: number };
export type NumericalDrift = { n_ref: number; n_cur: number; ks: KsResult; binned_q10: BinnedQ10; wasserstein: Wasserstein; evidently: EvidentlyBlock };
export type CategoricalColumnDrift = CategoricalDrift & { n_ref: number; n_cur: number; evidently: EvidentlyBlock };

export interface ColumnReport {
  name: string;
  type: ColumnKind;
  /** `declared` (given with --types) or `inferred` from the reference and current values. */
  type_source: 'declared' | 'inferred';
  reference: NumericalQuality | CategoricalQuality;
  current: NumericalQuality | CategoricalQuality;
  drift: NumericalDrift | CategoricalColumnDrift | Skipped;
}

export interface DriftReport {
  columns: ColumnReport[];
  dataset: { n_rows_reference: number; n_rows_current: number; evidently: DatasetDrift };
}

function present(cells: (string | null)[]): string[] {
  return cells.filter((v): v is string => v !== null);
}

function skipped(nRef: number, nCur: number): Skipped | null {
  if (nRef === 0) return { skipped: 'empty reference', n_ref: nRef, n_cur: nCur };
  if (nCur === 0) return { skipped: 'empty current', n_ref: nRef, n_cur: nCur };
  return null;
}

/** The first zero in row order over the reference, then the current values. */
function firstZero(ref: NumericalSide, cur: NumericalSide): number {
  const negative = ref.firstZeroNegative ?? cur.firstZeroNegative;
  return negative ? -0 : 0;
}

/** The drift block of a numerical column with finite values on both sides; every statistic walks the sorted samples. */
function numericalDrift(ref: NumericalSide, cur: NumericalSide): NumericalDrift {
  const a = ref.sorted;
  const b = cur.sorted;
  const walk = pooledWalk(a, b);
  const ks = ks2sampSorted(a, b, walk.extremes);
  const wasserstein = wassersteinOf(walk.wasserstein, ref.moments!.std_pop);
  const evidently = evidentlyNumericalSorted({
    ref: a,
    cur: b,
    distinct: { union: walk.unionDistinct, ref: walk.refDistinct },
    ksPvalue: () => ks.pvalue,
    wassersteinNormed: () => wasserstein.normed,
    firstZero: () => firstZero(ref, cur),
  });
  return { n_ref: a.length, n_cur: b.length, ks, binned_q10: binnedQ10Sorted(a, b), wasserstein, evidently };
}

function numericalColumn(refColumn: NumberColumn, curColumn: NumberColumn): Pick<ColumnReport, 'reference' | 'current' | 'drift'> {
  // The cells and the sorted samples live in work buffers: nothing below keeps them past this column.
  const refCells = scratchFloat64('reference cells', refColumn.rows);
  const curCells = scratchFloat64('current cells', curColumn.rows);
  refColumn.decodeInto(refCells);
  curColumn.decodeInto(curCells);
  const ref = numericalSide(refCells, scratchFloat64('reference sample', refColumn.rows));
  const cur = numericalSide(curCells, scratchFloat64('current sample', curColumn.rows));
  const skip = skipped(ref.sorted.length, cur.sorted.length);
  return { reference: ref.quality, current: cur.quality, drift: skip ?? numericalDrift(ref, cur) };
}

function categoricalColumn(refCells: (string | null)[], curCells: (string | null)[]): Pick<ColumnReport, 'reference' | 'current' | 'drift'> {
  const ref = present(refCells);
  const cur = present(curCells);
  const reference = qualityCategorical(refCells);
  const current = qualityCategorical(curCells);
  const skip = skipped(ref.length, cur.length);
  if (skip) return { reference, current, drift: skip };
  return { reference, current, drift: { n_ref: ref.length, n_cur: cur.length, ...categoricalDrift(ref, cur), evidently: evidentlyBlock('categorical', ref, cur) } };
}

/** A declared numerical column: its values, or the refusal naming the first cell that is not a number. */
function declaredNumbers(table: CsvTable, c: number, what: string): NumberColumn {
  const reading = readNumbers(table, c);
  if (!reading.ok) throw notANumber(table.header[c], reading.row, reading.cell, what);
  return reading;
}

/** Both sides as numbers when together they read as numerical (every present cell a number, no code, one present at least), else null. */
function inferredNumbers(reference: CsvTable, current: CsvTable, c: number): NumberColumn[] | null {
  const ref = readNumbers(reference, c);
  if (!ref.ok || ref.codes) return null;
  const cur = readNumbers(current, c);
  if (!cur.ok || cur.codes) return null;
  return ref.anyPresent() || cur.anyPresent() ? [ref, cur] : null;
}

/** Per column the two sides as numbers (numerical) or null (categorical). */
function numbersByColumn(reference: CsvTable, current: CsvTable, types: Record<string, ColumnKind>): (NumberColumn[] | null)[] {
  return reference.header.map((name, c) => {
    const declared = types[name];
    if (declared === 'numerical') return [declaredNumbers(reference, c, 'reference'), declaredNumbers(current, c, 'current')];
    return declared === 'categorical' ? null : inferredNumbers(reference, current, c);
  });
}

/**
 * The drift and data-quality report of two tables with the same columns: per column the quality
 * facts of both sides and every statistic of the drift spec (a column with nothing to compare is
 * reported as skipped, never fatal), then the dataset-level Evidently share. Columns not in
 * `types` are inferred from both sides' values and reported as such.
 */
export function driftReport(reference: CsvTable, current: CsvTable, types: Record<string, ColumnKind> = {}): DriftReport {
  if (reference.header.join('\u0000') !== current.header.join('\u0000')) {
    throw invalidParam(`The reference and current files must have the same columns in the same order: [${reference.header.join(', ')}] vs [${current.header.join(', ')}].`);
  }
  for (const name of Object.keys(types)) if (!reference.header.includes(name)) throw invalidParam(`--types names column '${name}', which the files do not have (they have ${reference.header.join(', ')}).`);
  const numbers = numbersByColumn(reference, current, types);
  // The categorical columns' strings, cut from each file in one pass.
  const textual = numbers.flatMap((n, c) => (n ? [] : [c]));
  const refText = columnCells(reference, textual);
  const curText = columnCells(current, textual);
  const textIndex = new Map(textual.map((c, k) => [c, k]));
  const columns = reference.header.map((name, c): ColumnReport => {
    const pair = numbers[c];
    const k = textIndex.get(c)!;
    const parts = pair ? numericalColumn(pair[0], pair[1]) : categoricalColumn(refText[k], curText[k]);
    return { name, type: pair ? 'numerical' : 'categorical', type_source: types[name] ? 'declared' : 'inferred', ...parts };
  });
  const outcomes = columns.map((c) => ('skipped' in c.drift ? { skipped: c.drift.skipped } : { auto_drift_detected: c.drift.evidently.auto_drift_detected }));
  return { columns, dataset: { n_rows_reference: reference.rows, n_rows_current: current.rows, evidently: datasetDrift(outcomes) } };
}

/** `name=numerical,city=categorical` → types; an unknown kind or a malformed pair is named. */
export function parseTypes(spec: string | undefined): Record<string, ColumnKind> {
  const types: Record<string, ColumnKind> = {};
  for (const pair of (spec ?? '').split(',').filter(Boolean)) {
    const at = pair.lastIndexOf('=');
    const name = pair.slice(0, at);
    const kind = pair.slice(at + 1);
    if (at <= 0 || !(COLUMN_KINDS as readonly string[]).includes(kind)) throw invalidParam(`--types: '${pair}' must be COLUMN=numerical or COLUMN=categorical.`);
    types[name] = kind as ColumnKind;
  }
  return types;
}
