// What one monitor run concludes from a window of traffic and its reference: which columns
// drifted (with the effect-size rule), which data-quality limits were broken. Pure functions.
import type { DriftCheck, QualityCheck, Severity } from './monitor-spec.js';
import type { ColumnReport, DriftReport } from './stats/report.js';
import type { Column } from './window.js';

export interface Finding {
  /** feature_drift, prediction_drift, data_quality, model_quality, slo:<name>, … */
  rule: string;
  severity: Severity;
  summary: string;
  value: number | null;
}

export interface ColumnVerdict {
  name: string;
  role: 'feature' | 'prediction';
  method: string | null;
  score: number | null;
  /** The column's own test (Evidently's rule) said drifted. */
  test_drift: boolean;
  /** The effect measure the minimum applies to: PSI on reference deciles (numerical) or JS distance (categorical). */
  effect: number | null;
  drifted: boolean;
  skipped?: string;
}

/**
 * The effect-size rule: a column whose test says drift counts only if its effect reaches `min`
 * (no check: never counts). An effect that cannot be measured leaves the test's verdict.
 */
export function countsAsDrifted(testDrift: boolean, effect: number | null, min: number | null): boolean {
  if (!testDrift || min === null) return false;
  return effect === null || !Number.isFinite(effect) ? true : effect >= min;
}

/** Per column: the test's verdict and whether the effect is large enough to count. */
export function verdicts(report: DriftReport, roles: ReadonlyMap<string, 'feature' | 'prediction'>, checks: { feature: DriftCheck | null; prediction: DriftCheck | null }): ColumnVerdict[] {
  return report.columns.map((c: ColumnReport): ColumnVerdict => {
    const role = roles.get(c.name) ?? 'feature';
    const check = role === 'feature' ? checks.feature : checks.prediction;
    if ('skipped' in c.drift) return { name: c.name, role, method: null, score: null, test_drift: false, effect: null, drifted: false, skipped: c.drift.skipped };
    const ev = c.drift.evidently;
    const effect = 'binned_q10' in c.drift ? c.drift.binned_q10.psi : c.drift.js_base2;
    const min = !check ? null : 'binned_q10' in c.drift ? check.minPsi : check.minJs;
    return { name: c.name, role, method: ev.auto_method, score: ev.auto_score, test_drift: ev.auto_drift_detected, effect, drifted: countsAsDrifted(ev.auto_drift_detected, effect, min) };
  });
}

/** The drift finding for one role: fires when the share of drifted columns reaches the check's share. */
export function driftFinding(role: 'feature' | 'prediction', all: readonly ColumnVerdict[], check: DriftCheck | null): { share: number; drifted: string[]; finding: Finding | null } {
  const cols = all.filter((v) => v.role === role && !v.skipped);
  const drifted = cols.filter((v) => v.drifted).map((v) => v.name);
  const share = cols.length ? drifted.length / cols.length : 0;
  if (!check || cols.length === 0 || share < check.driftShare || drifted.length === 0) return { share, drifted, finding: null };
  const what = role === 'feature' ? 'features' : 'prediction columns';
  return {
    share, drifted,
    finding: { rule: `${role}_drift`, severity: check.severity, value: share, summary: `${drifted.length} of ${cols.length} ${what} drifted (${(share * 100).toFixed(0)}% ≥ ${(check.driftShare * 100).toFixed(0)}%): ${drifted.slice(0, 8).join(', ')}${drifted.length > 8 ? ', …' : ''}` },
  };
}

export interface ReferenceColumnFacts {
  name: string;
  kind: 'numerical' | 'categorical';
  min?: number | null;
  max?: number | null;
  categories?: string[];
}

export interface ColumnQuality {
  name: string;
  rows: number;
  missing_share: number;
  out_of_range_share?: number;
  unseen_share?: number;
  unseen_values?: string[];
  problems: string[];
}

interface Tally {
  rows: number;
  missing: number;
  outside: number;
  unseen: Map<string, number>;
}

/**
 * Data quality of the window's feature columns against what the reference looked like, counted
 * page by page (constant memory: counts, and unseen categories up to a cap).
 */
export class QualityTally {
  private readonly tallies = new Map<string, Tally>();
  private readonly seenColumns = new Set<string>();
  private readonly known: Map<string, Set<string>>;

  constructor(private readonly reference: readonly ReferenceColumnFacts[]) {
    this.known = new Map(reference.filter((r) => r.categories).map((r) => [r.name, new Set(r.categories)]));
    for (const r of reference) this.tallies.set(r.name, { rows: 0, missing: 0, outside: 0, unseen: new Map() });
  }

  add(window: readonly Column[]): void {
    for (const c of window) if (c.role === 'feature') this.seenColumns.add(c.name);
    for (const r of this.reference) {
      const c = window.find((w) => w.name === r.name && w.role === 'feature');
      const t = this.tallies.get(r.name)!;
      if (!c) continue;
      t.rows += c.values.length;
      const known = this.known.get(r.name);
      for (const v of c.values) {
        if (v === null) t.missing++;
        else if (r.kind === 'numerical' && typeof v === 'number' && r.min != null && r.max != null && (v < r.min || v > r.max)) t.outside++;
        else if (r.kind === 'categorical' && known && !known.has(String(v)) && (t.unseen.size < 1000 || t.unseen.has(String(v)))) t.unseen.set(String(v), (t.unseen.get(String(v)) ?? 0) + 1);
      }
    }
  }

  result(check: QualityCheck): { columns: ColumnQuality[]; schema: string[]; finding: Finding | null } {
    const schema: string[] = [];
    for (const r of this.reference) if (!this.seenColumns.has(r.name)) schema.push(`column '${r.name}' is in the reference but not in the traffic`);
    for (const name of this.seenColumns) if (!this.reference.some((r) => r.name === name)) schema.push(`column '${name}' is in the traffic but not in the reference`);
    const columns: ColumnQuality[] = [];
    for (const r of this.reference) {
      const t = this.tallies.get(r.name)!;
      if (!this.seenColumns.has(r.name)) continue;
      const present = t.rows - t.missing;
      const q: ColumnQuality = { name: r.name, rows: t.rows, missing_share: t.rows ? t.missing / t.rows : 0, problems: [] };
      if (q.missing_share > check.maxMissingShare) q.problems.push(`missing share ${q.missing_share.toFixed(3)} > ${check.maxMissingShare}`);
      if (r.kind === 'numerical') {
        q.out_of_range_share = present ? t.outside / present : 0;
        if (q.out_of_range_share > check.maxOutOfRangeShare) q.problems.push(`share outside the reference range [${r.min}, ${r.max}] ${q.out_of_range_share.toFixed(3)} > ${check.maxOutOfRangeShare}`);
      } else {
        const count = [...t.unseen.values()].reduce((a, b) => a + b, 0);
        q.unseen_share = present ? count / present : 0;
        q.unseen_values = [...t.unseen.entries()].sort((a, b) => b[1] - a[1]).slice(0, 10).map(([v]) => v);
        if (q.unseen_share > check.maxUnseenShare) q.problems.push(`share of categories never seen in the reference ${q.unseen_share.toFixed(3)} > ${check.maxUnseenShare}`);
      }
      columns.push(q);
    }
    const bad = columns.filter((c) => c.problems.length);
    const count = bad.length + schema.length;
    return {
      columns, schema,
      finding: count === 0 ? null : {
        rule: 'data_quality', severity: check.severity, value: count,
        summary: [...schema, ...bad.map((c) => `${c.name}: ${c.problems.join('; ')}`)].slice(0, 6).join(' · '),
      },
    };
  }
}
