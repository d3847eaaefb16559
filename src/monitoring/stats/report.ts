import { invalidParam } from '../../errors/index.js';
import { binnedQ10, type BinnedQ10 } from './binning.js';
import { categoricalDrift, type CategoricalDrift } from './categorical.js';
import { asNumerical, numericColumn, type CsvTable } from './csv.js';
import { datasetDrift, evidentlyBlock, type ColumnKind, type DatasetDrift, type EvidentlyBlock } from './evidently.js';
import { ks2samp, type KsResult } from './ks.js';
import { qualityCategorical, qualityNumerical, type CategoricalQuality, type NumericalQuality } from './quality.js';
import { wasserstein, type Wasserstein } from './wasserstein.js';

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

function finite(cells: (number | null)[]): Float64Array {
  const out: number[] = [];
  for (const v of cells) if (v !== null && Number.isFinite(v)) out.push(v);
  return Float64Array.from(out);
}

function present(cells: (string | null)[]): string[] {
  return cells.filter((v): v is string => v !== null);
}

function skipped(nRef: number, nCur: number): Skipped | null {
  if (nRef === 0) return { skipped: 'empty reference', n_ref: nRef, n_cur: nCur };
  if (nCur === 0) return { skipped: 'empty current', n_ref: nRef, n_cur: nCur };
  return null;
}

function numericalColumn(refValues: (number | null)[], curValues: (number | null)[]): Pick<ColumnReport, 'reference' | 'current' | 'drift'> {
  const ref = finite(refValues);
  const cur = finite(curValues);
  const reference = qualityNumerical(refValues);
  const current = qualityNumerical(curValues);
  const skip = skipped(ref.length, cur.length);
  if (skip) return { reference, current, drift: skip };
  let ks: KsResult | undefined;
  const ksOnce = () => (ks ??= ks2samp(ref, cur));
  const evidently = evidentlyBlock('numerical', ref, cur, () => ksOnce().pvalue);
  return { reference, current, drift: { n_ref: ref.length, n_cur: cur.length, ks: ksOnce(), binned_q10: binnedQ10(ref, cur), wasserstein: wasserstein(ref, cur), evidently } };
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

/** Both sides as numbers when together they read as numerical (one parse, kept), else null. */
function inferredNumbers(refCells: (string | null)[], curCells: (string | null)[]): (number | null)[][] | null {
  const ref = asNumerical(refCells);
  const cur = asNumerical(curCells);
  if (!ref || !cur) return null;
  return ref.some((v) => v !== null) || cur.some((v) => v !== null) ? [ref, cur] : null;
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
  const columns = reference.header.map((name, c): ColumnReport => {
    const refCells = reference.cells[c];
    const curCells = current.cells[c];
    const declared = types[name];
    const numbers = declared === 'numerical' ? [numericColumn(name, refCells, 'reference'), numericColumn(name, curCells, 'current')]
      : declared === 'categorical' ? null : inferredNumbers(refCells, curCells);
    const type: ColumnKind = numbers ? 'numerical' : 'categorical';
    const parts = numbers ? numericalColumn(numbers[0], numbers[1]) : categoricalColumn(refCells, curCells);
    return { name, type, type_source: declared ? 'declared' : 'inferred', ...parts };
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
