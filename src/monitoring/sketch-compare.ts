// Windows too large for exact statistics are compared through constant-memory profiles (KLL
// quantile sketches, moments, exact counts in the reference's decile bins, capped frequency
// tables): the reference stores one, each run streams its window into another.
import type { MonitorSpec } from './monitor-spec.js';
import { countsAsDrifted, type ColumnVerdict } from './monitor-checks.js';
import type { ReferenceProfile } from './reference.js';
import { sketchDrift, TableProfile, type ColumnValues, type SketchDriftReport, type TableProfileJson } from './sketch/index.js';
import type { Column, WindowTable } from './window.js';

export interface SketchState {
  reference: TableProfile | null;
  current: TableProfile | null;
}

function values(c: Column | undefined, kind: 'numerical' | 'categorical', rows: number): ColumnValues {
  if (!c) return new Array(rows).fill(null);
  // The window builds columns with the reference's kinds: numbers (or null) for numerical ones.
  if (c.kind === kind && kind === 'numerical') return c.values as (number | null)[];
  if (kind === 'categorical') return c.values.map((v) => (v === null ? null : String(v)));
  return c.values.map((v) => (typeof v === 'number' ? v : null));
}

function referenceOf(profile: ReferenceProfile | undefined): TableProfile | null {
  const json = (profile as unknown as { sketch?: TableProfileJson } | undefined)?.sketch;
  return json && 'format_version' in json ? TableProfile.fromJSON(json) : null;
}

export const sketchCompare = {
  /**
   * The profile stored with a reference: built twice over the same rows so that the reference's
   * own decile counts are exact too (the second pass counts into the first pass's decile bins).
   */
  profile(columns: readonly Column[]): TableProfileJson {
    const kinds = Object.fromEntries(columns.map((c) => [c.name, c.kind]));
    const rows = columns[0]?.values.length ?? 0;
    const record = Object.fromEntries(columns.map((c) => [c.name, values(c, c.kind, rows)]));
    const first = TableProfile.fromColumns(record, { kinds });
    const exact = TableProfile.likeReference(first);
    exact.addColumns(record);
    return exact.toJSON();
  },

  start(profile: ReferenceProfile | undefined): SketchState {
    const reference = referenceOf(profile);
    return { reference, current: reference ? TableProfile.likeReference(reference) : null };
  },

  /** Adds a page of the window: the reference's columns only, absent ones as missing. */
  add(state: SketchState, t: WindowTable): void {
    if (!state.current) return;
    const byName = new Map(t.columns.map((c) => [c.name, c]));
    state.current.addColumns(Object.fromEntries(state.current.schema.map((s) => [s.name, values(byName.get(s.name), s.kind, t.rows)])));
  },

  compare(state: SketchState, profile: ReferenceProfile, roles: ReadonlyMap<string, 'feature' | 'prediction'>, spec: MonitorSpec): { verdicts: ColumnVerdict[]; statistics: SketchDriftReport | null } {
    if (!state.reference || !state.current) {
      return { verdicts: profile.columns.map((c) => ({ name: c.name, role: roles.get(c.name) ?? 'feature', method: null, score: null, test_drift: false, effect: null, drifted: false, skipped: 'the reference has no sketch' })), statistics: null };
    }
    const report = sketchDrift(state.reference, state.current);
    const verdicts = report.columns.map((c): ColumnVerdict => {
      const role = roles.get(c.name) ?? 'feature';
      if ('skipped' in c.drift) return { name: c.name, role, method: null, score: null, test_drift: false, effect: null, drifted: false, skipped: c.drift.skipped };
      const check = role === 'feature' ? spec.featureDrift : spec.predictionDrift;
      const numerical = c.drift.kind === 'numerical';
      const effect = c.drift.kind === 'numerical' ? c.drift.binned_q10.psi : c.drift.js_base2;
      const min = !check ? null : numerical ? check.minPsi : check.minJs;
      const d = c.drift.decision;
      return { name: c.name, role, method: d.auto_method, score: d.auto_score, test_drift: d.auto_drift_detected, effect, drifted: countsAsDrifted(d.auto_drift_detected, effect, min) };
    });
    return { verdicts, statistics: report };
  },
};
