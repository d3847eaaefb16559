// Windows too large for exact statistics are compared through constant-memory summaries: per
// numerical column a KLL quantile sketch, moments, and exact counts in the reference's decile bins;
// per categorical column a capped frequency table. The reference keeps the same summaries.
import type { DriftCheck, MonitorSpec } from './monitor-spec.js';
import type { ColumnVerdict } from './monitor-checks.js';
import type { ReferenceProfile } from './reference.js';
import { FixedBins } from './sketch/bins.js';
import { KllSketch, type KllJson } from './sketch/kll.js';
import { chi2Gof } from './stats/categorical.js';
import { autoMethod, DISTANCE_THRESHOLD, P_VALUE_THRESHOLD } from './stats/evidently.js';
import { hellinger, jsDistance, proportions, psi, quantileEdgesRaw } from './stats/binning.js';
import { kstwoSf } from './stats/kstwo.js';
import type { Column, WindowTable } from './window.js';

const MAX_CATEGORIES = 1000;
const OTHER = '__other__';
const FEW_DISTINCT = 6;

interface NumericSummary {
  kind: 'numerical';
  n: number;
  mean: number;
  m2: number;
  kll: KllSketch;
  bins: FixedBins | null;
  /** Up to FEW_DISTINCT distinct values: enough to tell a flag column from a continuous one. */
  distinct: Set<number>;
}

interface CategoricalSummary {
  kind: 'categorical';
  n: number;
  counts: Map<string, number>;
}

type Summary = NumericSummary | CategoricalSummary;

/** A reference column as stored (JSON). */
export interface StoredSummary {
  kind: 'numerical' | 'categorical';
  n: number;
  mean?: number;
  m2?: number;
  kll?: KllJson;
  edges?: number[];
  ref_counts?: number[];
  distinct?: number[];
  counts?: Record<string, number>;
}

export interface SketchState {
  columns: Map<string, Summary>;
  edges: Map<string, number[]>;
}

function numeric(edges: number[] | undefined): NumericSummary {
  return { kind: 'numerical', n: 0, mean: 0, m2: 0, kll: new KllSketch(), bins: edges && edges.length ? new FixedBins(edges) : null, distinct: new Set() };
}

function addColumn(s: Summary, c: Column): void {
  if (s.kind === 'categorical') {
    for (const v of c.values) {
      if (v === null) continue;
      const key = String(v);
      s.n++;
      s.counts.set(s.counts.has(key) || s.counts.size < MAX_CATEGORIES ? key : OTHER, (s.counts.get(key) ?? s.counts.get(OTHER) ?? 0) + 1);
    }
    return;
  }
  for (const v of c.values) {
    if (typeof v !== 'number' || !Number.isFinite(v)) continue;
    s.n++;
    const d = v - s.mean;
    s.mean += d / s.n;
    s.m2 += d * (v - s.mean);
    s.kll.update(v);
    s.bins?.add(v);
    if (s.distinct.size < FEW_DISTINCT) s.distinct.add(v);
  }
}

/** The stored summary of reference columns (exact deciles and counts: all reference values are at hand). */
function profileColumns(columns: readonly Column[]): Record<string, StoredSummary> {
  const out: Record<string, StoredSummary> = {};
  for (const c of columns) {
    if (c.kind === 'categorical') {
      const s: CategoricalSummary = { kind: 'categorical', n: 0, counts: new Map() };
      addColumn(s, c);
      out[c.name] = { kind: 'categorical', n: s.n, counts: Object.fromEntries(s.counts) };
      continue;
    }
    const finite = Float64Array.from(c.values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v))).sort();
    const edges = finite.length ? [...new Set(quantileEdgesRaw(finite, 10))] : [];
    const s = numeric(edges);
    addColumn(s, c);
    out[c.name] = { kind: 'numerical', n: s.n, mean: s.mean, m2: s.m2, kll: s.kll.toJSON(), edges, ref_counts: s.bins?.counts ?? [], distinct: [...s.distinct] };
  }
  return out;
}

function stored(profile: ReferenceProfile | undefined): Record<string, StoredSummary> {
  return ((profile as unknown as { sketch?: Record<string, StoredSummary> } | undefined)?.sketch) ?? {};
}

/** Kolmogorov–Smirnov statistic between two sketches: the largest CDF gap at any retained item. */
function sketchKs(a: KllSketch, b: KllSketch): number {
  let d = 0;
  for (const sk of [a, b]) {
    const view = sk.sortedView();
    for (let i = 0; i < view.values.length; i++) {
      const x = view.values[i];
      d = Math.max(d, Math.abs(a.cdf(x) - b.cdf(x)));
    }
  }
  return d;
}

/** ∫₀¹ |Q_ref(u) − Q_cur(u)| du on a 1000-point midpoint grid. */
function sketchWasserstein(a: KllSketch, b: KllSketch): number {
  const steps = 1000;
  let sum = 0;
  for (let i = 0; i < steps; i++) {
    const u = (i + 0.5) / steps;
    sum += Math.abs(a.quantile(u) - b.quantile(u));
  }
  return sum / steps;
}

function numericDrift(ref: StoredSummary, cur: NumericSummary) {
  const refKll = KllSketch.fromJSON(ref.kll!);
  const m = ref.n;
  const n = cur.n;
  const d = sketchKs(refKll, cur.kll);
  const en = Math.round((m * n) / (m + n));
  const pvalue = kstwoSf(d, en);
  const refStd = Math.sqrt((ref.m2 ?? 0) / Math.max(1, m));
  const w = sketchWasserstein(refKll, cur.kll);
  const normed = refStd > 0 ? w / refStd : null;
  const edges = ref.edges ?? [];
  const curCounts = cur.bins?.counts ?? [];
  const p = proportions(ref.ref_counts ?? [], m);
  const q = proportions(curCounts, n);
  const union = new Set([...(ref.distinct ?? []), ...cur.distinct]).size;
  const method = autoMethod('numerical', m, union > 5 ? 6 : union);
  const score = method === 'ks' ? pvalue : method === 'wasserstein' ? normed : null;
  const drift = method === 'ks' ? pvalue <= P_VALUE_THRESHOLD : method === 'wasserstein' ? (normed ?? 0) >= DISTANCE_THRESHOLD : jsDistance(p, q) >= DISTANCE_THRESHOLD;
  return {
    n_ref: m, n_cur: n,
    ks: { statistic: d, pvalue, method_used: 'sketch', statistic_error_bound: refKll.maxRankErrorBound() + cur.kll.maxRankErrorBound() },
    binned_q10: edges.length ? { edges, ref_counts: ref.ref_counts, cur_counts: curCounts, psi: psi(p, q), js_base2: jsDistance(p, q, 2), hellinger: hellinger(p, q) } : null,
    wasserstein: { distance: w, ref_std_pop: refStd, normed },
    evidently: { auto_method: method, auto_score: method === 'jensenshannon' ? jsDistance(p, q) : score, auto_drift_detected: drift },
    current: { mean: cur.mean, std_pop: Math.sqrt(cur.m2 / Math.max(1, n)), min: cur.kll.n ? cur.kll.min : null, max: cur.kll.n ? cur.kll.max : null },
  };
}

function categoricalDrift(ref: StoredSummary, cur: CategoricalSummary) {
  const categories = [...new Set([...Object.keys(ref.counts ?? {}), ...cur.counts.keys()])].sort();
  const refCounts = categories.map((c) => ref.counts?.[c] ?? 0);
  const curCounts = categories.map((c) => cur.counts.get(c) ?? 0);
  const p = proportions(refCounts, ref.n);
  const q = proportions(curCounts, cur.n);
  const method = autoMethod('categorical', ref.n, categories.length);
  const gof = refCounts.every((c) => c > 0) ? chi2Gof(refCounts, curCounts) : null;
  const js = jsDistance(p, q);
  const score = method === 'jensenshannon' ? js : gof?.pvalue ?? null;
  const drift = method === 'jensenshannon' ? js >= DISTANCE_THRESHOLD : score !== null && score <= P_VALUE_THRESHOLD;
  return {
    n_ref: ref.n, n_cur: cur.n, categories, ref_counts: refCounts, cur_counts: curCounts,
    new_in_current: categories.filter((c) => !(ref.counts && c in ref.counts)), psi: psi(p, q), js_base2: jsDistance(p, q, 2), hellinger: hellinger(p, q),
    chi2_gof: gof, evidently: { auto_method: method, auto_score: score, auto_drift_detected: drift },
  };
}

export const sketchCompare = {
  /** The sketches stored with a reference profile. */
  profile: profileColumns,

  start(profile: ReferenceProfile | undefined): SketchState {
    return { columns: new Map(), edges: new Map(Object.entries(stored(profile)).filter(([, s]) => s.edges).map(([k, s]) => [k, s.edges!])) };
  },

  add(state: SketchState, t: WindowTable): void {
    for (const c of t.columns) {
      let s = state.columns.get(c.name);
      if (!s) state.columns.set(c.name, (s = c.kind === 'categorical' ? { kind: 'categorical', n: 0, counts: new Map() } : numeric(state.edges.get(c.name))));
      addColumn(s, c);
    }
  },

  compare(state: SketchState, profile: ReferenceProfile, roles: ReadonlyMap<string, 'feature' | 'prediction'>, spec: MonitorSpec) {
    const refs = stored(profile);
    const statistics: Record<string, unknown> = {};
    const verdicts: ColumnVerdict[] = [];
    for (const col of profile.columns) {
      const role = roles.get(col.name) ?? 'feature';
      const check: DriftCheck | null = role === 'feature' ? spec.featureDrift : spec.predictionDrift;
      const ref = refs[col.name];
      const cur = state.columns.get(col.name);
      if (!ref || !cur || ref.n === 0 || cur.n === 0 || ref.kind !== cur.kind) {
        const skipped = !ref ? 'no reference sketch' : !cur || cur.n === 0 ? 'empty current' : ref.n === 0 ? 'empty reference' : 'kind differs';
        verdicts.push({ name: col.name, role, method: null, score: null, test_drift: false, effect: null, drifted: false, skipped });
        continue;
      }
      const d = cur.kind === 'numerical' ? numericDrift(ref, cur) : categoricalDrift(ref, cur as CategoricalSummary);
      statistics[col.name] = d;
      const effect = 'binned_q10' in d ? d.binned_q10?.psi ?? null : (d as { js_base2: number }).js_base2;
      const min = !check ? Infinity : 'binned_q10' in d ? check.minPsi : check.minJs;
      const effectOk = effect === null ? d.evidently.auto_drift_detected : effect >= min;
      verdicts.push({ name: col.name, role, method: d.evidently.auto_method, score: d.evidently.auto_score, test_drift: d.evidently.auto_drift_detected, effect, drifted: d.evidently.auto_drift_detected && effectOk });
    }
    return { verdicts, statistics };
  },
};
