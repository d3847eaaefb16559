// Drift report of two table profiles: per column the statistics of drift-statistics.md §4 computed
// from the profiles (numerical: sketches and optional exact bins; categorical: tracked counts),
// quality facts of both sides, and the dataset-level share of drifting columns (§4.7).
import { datasetDrift, type ColumnOutcome, type DatasetDrift } from '../stats/evidently.js';
import type { CategoricalFacts } from './categorical-profile.js';
import { sketchCategoricalDrift, type SketchCategoricalDrift } from './drift-categorical.js';
import { sketchNumericalDrift, type SketchNumericalDrift } from './drift-numerical.js';
import type { NumericalFacts } from './numeric-profile.js';
import type { ColumnKind, ColumnProfile, TableProfile } from './profile.js';

export { FixedBins, sketchBinCounts, sketchDecileEdges, sketchQuantileEdgesRaw, type FixedBinsJson } from './bins.js';
export { alignedProfileCounts, OTHER_CATEGORY, sketchCategoricalDrift, type SketchCategoricalDrift } from './drift-categorical.js';
export {
  numericalDecision,
  sketchBinnedQ10,
  sketchKs,
  sketchNumericalDrift,
  sketchWasserstein,
  type CountsSource,
  type SketchBinnedQ10,
  type SketchDecision,
  type SketchKs,
  type SketchNumericalDrift,
  type SketchWasserstein,
} from './drift-numerical.js';

export type SkipReason = 'empty reference' | 'empty current' | 'missing in current' | 'kind differs';

export interface SketchSkipped {
  skipped: SkipReason;
  n_ref: number;
  n_cur: number;
}

export interface SketchColumnDrift {
  name: string;
  kind: ColumnKind;
  quality: { reference: NumericalFacts | CategoricalFacts; current: NumericalFacts | CategoricalFacts | null };
  drift: SketchNumericalDrift | SketchCategoricalDrift | SketchSkipped;
}

export interface SketchDriftReport {
  reference_rows: number;
  current_rows: number;
  columns: SketchColumnDrift[];
  /** Columns of the current profile that the reference lacks (not compared). */
  unmatched_current_columns: string[];
  dataset: DatasetDrift;
}

export interface SketchDriftOptions {
  /** Error bounds hold with probability ≥ 1 − delta (default 0.01). */
  delta?: number;
  /** Share of drifting columns at which the dataset drifts (default 0.5). */
  driftShare?: number;
}

/** Values left for drift: finite numbers, present categories. */
function usable(col: ColumnProfile): number {
  return col.kind === 'numerical' ? col.profile.finite : col.profile.present;
}

function columnDrift(name: string, ref: ColumnProfile, cur: ColumnProfile | undefined, delta: number): SketchColumnDrift {
  const quality = { reference: ref.profile.facts(), current: cur && cur.kind === ref.kind ? cur.profile.facts() : null };
  const nRef = usable(ref);
  const nCur = cur ? usable(cur) : 0;
  const skip = (skipped: SkipReason): SketchColumnDrift => ({ name, kind: ref.kind, quality, drift: { skipped, n_ref: nRef, n_cur: nCur } });
  if (!cur) return skip('missing in current');
  if (cur.kind !== ref.kind) return skip('kind differs');
  if (nRef === 0) return skip('empty reference');
  if (nCur === 0) return skip('empty current');
  let drift: SketchNumericalDrift | SketchCategoricalDrift;
  if (ref.kind === 'numerical' && cur.kind === 'numerical') drift = sketchNumericalDrift(ref.profile, cur.profile, delta);
  else if (ref.kind === 'categorical' && cur.kind === 'categorical') drift = sketchCategoricalDrift(ref.profile, cur.profile);
  else return skip('kind differs');
  return { name, kind: ref.kind, quality, drift };
}

/** Per-column drift of `current` against `reference` (columns matched by name, reported in reference order). */
export function sketchDrift(reference: TableProfile, current: TableProfile, options: SketchDriftOptions = {}): SketchDriftReport {
  const delta = options.delta ?? 0.01;
  if (!(delta > 0 && delta < 1)) throw new RangeError(`delta must be in (0, 1), got ${delta}`);
  const columns = reference.columnNames.map((name) => columnDrift(name, reference.column(name)!, current.column(name), delta));
  const outcomes: ColumnOutcome[] = columns.map((c) => ('skipped' in c.drift ? c.drift : c.drift.decision));
  return {
    reference_rows: reference.rows,
    current_rows: current.rows,
    columns,
    unmatched_current_columns: current.columnNames.filter((name) => !reference.column(name)),
    dataset: datasetDrift(outcomes, options.driftShare),
  };
}
