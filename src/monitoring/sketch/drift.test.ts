// Drift from profiles: identical to the exact statistics (SciPy fixtures) while the sketches are
// exact, within the stated bounds of them on large seeded samples, and the edge cases.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertStat, statsFixture, type NumCell } from '../../../test/support/drift.js';
import { binnedQ10, countLeftOpen } from '../stats/binning.js';
import type { CategoricalDrift } from '../stats/categorical.js';
import type { EvidentlyBlock } from '../stats/evidently.js';
import { ks2samp } from '../stats/ks.js';
import { kstwoSf } from '../stats/kstwo.js';
import type { NumericalQuality } from '../stats/quality.js';
import { wasserstein, type Wasserstein } from '../stats/wasserstein.js';
import { OTHER_CATEGORY, sketchDrift, type SketchCategoricalDrift, type SketchNumericalDrift, type SketchSkipped } from './drift.js';
import { TableProfile, type ColumnValues, type NumericalFacts, type NumericProfile } from './profile.js';
import { seededNormals, uniformSource } from '../seeded.js';

interface NumericalCase {
  name: string;
  ref: NumCell[];
  cur: NumCell[];
  quality: { ref: NumericalQuality; cur: NumericalQuality };
  drift: SketchSkipped | { binned_q10: { edges: number[]; ref_counts: number[]; cur_counts: number[]; psi: number; js_base2: number; hellinger: number }; wasserstein: Wasserstein; ks_pvalue: number; evidently: EvidentlyBlock };
}
interface CategoricalCase {
  name: string;
  ref: (string | null)[];
  cur: (string | null)[];
  drift: SketchSkipped | { categorical: CategoricalDrift; evidently: EvidentlyBlock };
}
const fixture = statsFixture<{ numerical: NumericalCase[]; categorical: CategoricalCase[] }>();

const numbers = (cells: NumCell[]): (number | null)[] => cells.map((c) => (c === 'inf' ? Infinity : c === '-inf' ? -Infinity : c));

/** Drift of one column profiled on each side (k large enough for the sketches to stay exact). */
function driftOf(kind: 'numerical' | 'categorical', ref: ColumnValues, cur: ColumnValues, k = 5000) {
  const options = { k, kinds: { v: kind } };
  return sketchDrift(TableProfile.fromColumns({ v: ref }, options), TableProfile.fromColumns({ v: cur }, options)).columns[0];
}

function assertDecision(got: SketchNumericalDrift['decision'], exp: EvidentlyBlock, what: string): void {
  assert.equal(got.auto_method, exp.auto_method, `${what} auto_method`);
  assert.equal(got.n_values_union, exp.n_values_union, `${what} n_values_union`);
  assert.ok(Math.abs(got.auto_score - exp.auto_score) <= 1e-6 * Math.max(1, Math.abs(exp.auto_score)), `${what} auto_score ${got.auto_score} vs ${exp.auto_score}`);
  assert.equal(got.auto_drift_detected, exp.auto_drift_detected, `${what} auto_drift_detected`);
}

describe('sketchDrift while the sketches are exact', () => {
  it('reproduces every numerical fixture: bins, distances, KS p-value, decision, quality facts', () => {
    let checked = 0;
    for (const c of fixture.numerical) {
      const col = driftOf('numerical', numbers(c.ref), numbers(c.cur));
      if ('skipped' in c.drift) {
        assert.deepEqual(col.drift, c.drift, c.name);
        continue;
      }
      const got = col.drift as SketchNumericalDrift;
      const exp = c.drift;
      assert.deepEqual([got.binned_q10.ref_counts_source, got.binned_q10.cur_counts_source], ['sketch', 'sketch']);
      assert.deepEqual(got.binned_q10.ref_counts, exp.binned_q10.ref_counts, `${c.name} ref_counts`);
      assert.deepEqual(got.binned_q10.cur_counts, exp.binned_q10.cur_counts, `${c.name} cur_counts`);
      got.binned_q10.edges.forEach((e, i) => assertStat(e, exp.binned_q10.edges[i], `${c.name} edge ${i}`));
      for (const key of ['psi', 'js_base2', 'hellinger'] as const) assertStat(got.binned_q10[key], exp.binned_q10[key], `${c.name} ${key}`);
      for (const key of ['distance', 'ref_std_pop', 'norm', 'normed'] as const) assertStat(got.wasserstein[key], exp.wasserstein[key], `${c.name} ${key}`);
      assert.ok(Math.abs(got.ks.pvalue - exp.ks_pvalue) <= 1e-6, `${c.name} ks p ${got.ks.pvalue} vs ${exp.ks_pvalue}`);
      assert.equal(got.ks.statistic_error_bound, 0);
      assertDecision(got.decision, exp.evidently, c.name);
      const facts = col.quality.reference as NumericalFacts;
      for (const key of ['min', 'max', 'mean', 'std_pop', 'std', 'p25', 'p50', 'p75'] as const) assertStat(facts[key]!, c.quality.ref[key]!, `${c.name} ${key}`);
      assert.equal(facts.missing_share, c.quality.ref.missing_share);
      checked++;
    }
    assert.ok(checked >= 20);
  });

  it('reproduces every categorical fixture', () => {
    let checked = 0;
    for (const c of fixture.categorical) {
      const col = driftOf('categorical', c.ref, c.cur);
      if ('skipped' in c.drift) {
        assert.deepEqual(col.drift, c.drift, c.name);
        continue;
      }
      const got = col.drift as SketchCategoricalDrift;
      const exp = c.drift.categorical;
      assert.deepEqual(got.categories, exp.categories, c.name);
      if (exp.ref_counts) assert.deepEqual([got.ref_counts, got.cur_counts], [exp.ref_counts, exp.cur_counts], c.name);
      assert.deepEqual([got.new_in_current, got.missing_in_current], [exp.new_in_current, exp.missing_in_current], c.name);
      for (const key of ['psi', 'js_base2', 'hellinger', 'l_infinity'] as const) assertStat(got[key], exp[key], `${c.name} ${key}`);
      assert.deepEqual(got.chi2_gof.statistic === 'Infinity', exp.chi2_gof.statistic === 'Infinity', c.name);
      assert.ok(Math.abs(got.chi2_gof.pvalue - exp.chi2_gof.pvalue) <= 1e-6, `${c.name} gof p`);
      assertStat(got.chi2_contingency.statistic, exp.chi2_contingency.statistic, `${c.name} contingency`);
      assertDecision(got.decision, c.drift.evidently, c.name);
      checked++;
    }
    assert.ok(checked >= 15);
  });
});

describe('sketchDrift on sketched samples against the exact statistics', () => {
  const ref = seededNormals(100_000, 1);
  const cur = seededNormals(80_000, 2, 0.05, 1.1);
  const refProfile = TableProfile.fromColumns({ x: ref });
  const curSketched = TableProfile.fromColumns({ x: cur }, { seed: 9 });
  // Profiling the reference a second time like itself (same data, order and seed) gives the same
  // sketch, hence the same edges, and exact reference bins as well.
  const refBinned = TableProfile.likeReference(refProfile);
  refBinned.addColumns({ x: ref });
  const curBinned = TableProfile.likeReference(refProfile);
  curBinned.addColumns({ x: cur });
  const numerical = (a: TableProfile, b: TableProfile) => sketchDrift(a, b).columns[0].drift as SketchNumericalDrift;
  const sketched = numerical(refProfile, curSketched);
  const halfExact = numerical(refProfile, curBinned);
  const exactBins = numerical(refBinned, curBinned);
  const exact = { ks: ks2samp(ref, cur), binned: binnedQ10(ref, cur), w: wasserstein(ref, cur) };

  it('KS statistic within the stated bound of ks2samp, p-value from kstwo at N = round(mn/(m+n))', () => {
    for (const d of [sketched, halfExact]) {
      assert.equal(d.ks.method_used, 'sketch');
      assert.ok(d.ks.statistic_error_bound > 0 && d.ks.statistic_error_bound < 0.05);
      const off = Math.abs(d.ks.statistic - exact.ks.statistic);
      assert.ok(off <= d.ks.statistic_error_bound, `KS ${d.ks.statistic} vs ${exact.ks.statistic} ± ${d.ks.statistic_error_bound}`);
      assert.ok(off < 0.012, `KS off by ${off}`);
      assert.equal(d.ks.en_rounded, Math.round((1e5 * 8e4) / 1.8e5));
      assert.equal(d.ks.pvalue, kstwoSf(d.ks.statistic, d.ks.en_rounded));
    }
  });

  it('binned_q10: exact counts where recorded, PSI / JS close to the exact values', () => {
    assert.deepEqual([halfExact.binned_q10.ref_counts_source, halfExact.binned_q10.cur_counts_source], ['sketch', 'exact']);
    assert.deepEqual([exactBins.binned_q10.ref_counts_source, exactBins.binned_q10.cur_counts_source], ['exact', 'exact']);
    assert.deepEqual(halfExact.binned_q10.cur_counts, countLeftOpen(halfExact.binned_q10.edges, cur));
    assert.deepEqual(exactBins.binned_q10.ref_counts, countLeftOpen(exactBins.binned_q10.edges, ref));
    const sketch = (refProfile.column('x')!.profile as NumericProfile).sketch;
    const bound = 2 * sketch.maxRankErrorBound() * ref.length;
    exactBins.binned_q10.ref_counts.forEach((c, i) => assert.ok(Math.abs(c - halfExact.binned_q10.ref_counts[i]) <= bound, `bin ${i}`));
    const rel = (a: number, b: number): number => Math.abs(a - b) / b;
    assert.ok(rel(exactBins.binned_q10.psi, exact.binned.psi) < 0.02, `psi ${exactBins.binned_q10.psi} vs ${exact.binned.psi}`);
    assert.ok(rel(exactBins.binned_q10.js_base2, exact.binned.js_base2) < 0.02);
    assert.ok(rel(sketched.binned_q10.psi, exact.binned.psi) < 0.25, `sketched psi ${sketched.binned_q10.psi}`);
  });

  it('Wasserstein within a small relative error and its bound; moments exact', () => {
    for (const d of [sketched, exactBins]) {
      const off = Math.abs(d.wasserstein.distance - exact.w.distance);
      assert.ok(off / exact.w.distance < 0.1, `W1 ${d.wasserstein.distance} vs ${exact.w.distance}`);
      assert.ok(off <= d.wasserstein.distance_error_bound);
      assert.ok(Math.abs(d.wasserstein.ref_std_pop - exact.w.ref_std_pop) <= 1e-12 * exact.w.ref_std_pop);
    }
    assert.equal(sketched.decision.auto_method, 'wasserstein');
  });
});

describe('sketchDrift categorical overflow and edge cases', () => {
  it('puts untracked values of both sides in __other__ and keeps counts consistent', () => {
    const u = uniformSource(3);
    const draw = (n: number, shift: number) => Array.from({ length: n }, () => `v${Math.floor(u() * 30) + shift}`);
    const options = { maxCategories: 10 };
    const ref = TableProfile.fromColumns({ c: draw(5000, 0) }, options);
    const cur = TableProfile.fromColumns({ c: [...draw(4000, 5), 'brand-new'] }, options);
    const d = sketchDrift(ref, cur).columns[0].drift as SketchCategoricalDrift;
    assert.ok(d.categories.includes(OTHER_CATEGORY));
    assert.equal(d.ref_counts.reduce((a, b) => a + b, 0), 5000);
    assert.equal(d.cur_counts.reduce((a, b) => a + b, 0), 4001);
    assert.ok(!d.new_in_current.includes(OTHER_CATEGORY) && !d.missing_in_current.includes(OTHER_CATEGORY));
    assert.ok(d.ref_overflow > 0 && d.cur_overflow > 0);
    assert.equal(d.ref_counts[d.categories.indexOf(OTHER_CATEGORY)], d.ref_overflow);
    assert.equal(d.cur_counts[d.categories.indexOf(OTHER_CATEGORY)], d.cur_overflow);
    assert.ok(d.decision.auto_drift_detected);
  });

  it('skips empty sides, missing and mismatched columns; reports the dataset share', () => {
    const ref = TableProfile.fromColumns(
      { allMissing: [null, null, null], onlyInf: [Infinity, -Infinity, NaN], same: [1, 2, 3], moved: [1, 2, 3], gone: ['a', 'b', 'c'], kind: [1, 2, 3] },
      { kinds: { allMissing: 'numerical' } },
    );
    const cur = TableProfile.fromColumns(
      { allMissing: [1, 2], onlyInf: [1, 2], same: [1, 2], moved: [50, 60], kind: ['x', 'y'], extra: [1, 2] },
    );
    const report = sketchDrift(ref, cur);
    const reasons = report.columns.map((c) => ('skipped' in c.drift ? c.drift.skipped : c.drift.decision.auto_drift_detected));
    assert.deepEqual(reasons, ['empty reference', 'empty reference', false, true, 'missing in current', 'kind differs']);
    assert.deepEqual(report.unmatched_current_columns, ['extra']);
    assert.deepEqual(report.dataset, { n_columns_tested: 2, n_drifted: 1, share_drifted: 0.5, dataset_drift: true });
    const emptyCurrent = sketchDrift(cur, TableProfile.fromColumns({ allMissing: [null], onlyInf: [Infinity], same: [NaN], moved: [null], kind: [null], extra: [null] }, { kinds: { allMissing: 'numerical', moved: 'numerical', extra: 'numerical' } }));
    assert.ok(emptyCurrent.columns.every((c) => 'skipped' in c.drift && c.drift.skipped === 'empty current'));
    assert.deepEqual(emptyCurrent.dataset, { n_columns_tested: 0, n_drifted: 0, share_drifted: null, dataset_drift: false });
  });

  it('handles constant and single-value columns past the exact range', () => {
    const constant = driftOf('numerical', new Float64Array(100_000).fill(5), new Float64Array(80_000).fill(5), 200);
    const d = constant.drift as SketchNumericalDrift;
    assert.deepEqual([d.ks.statistic, d.binned_q10.psi, d.wasserstein.distance, d.binned_q10.edges], [0, 0, 0, [5]]);
    assert.equal(d.decision.auto_drift_detected, false);
    const single = driftOf('numerical', [7], [8], 200).drift as SketchNumericalDrift;
    assert.deepEqual([single.ks.statistic, single.wasserstein.distance, single.binned_q10.cur_counts], [1, 1, [0, 1]]);
  });
});
