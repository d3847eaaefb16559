// The Evidently-compatible block and dataset share (drift-statistics.md §4.6, §4.7) against values
// built with numpy / SciPy in test/fixtures/drift/stats_expected.json, and by hand.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertStat, finiteOf, presentOf, statsFixture, type NumCell } from '../../../test/support/drift.js';
import {
  autoMethod,
  datasetDrift,
  evidentlyBlock,
  evidentlyPsi,
  evidentlyZeroFill,
  histogramCounts,
  sturgesEdges,
  zTestPvalue,
  type EvidentlyBlock,
} from './evidently.js';

type Drift = { skipped: string } | { n_ref: number; n_cur: number; ks_pvalue?: number; evidently: EvidentlyBlock };
interface Case<C> {
  name: string;
  ref: C[];
  cur: C[];
  drift: Drift;
}
interface DatasetCase {
  name: string;
  columns: ['numerical' | 'categorical', string][];
  expected: ReturnType<typeof datasetDrift>;
}

const fixture = statsFixture<{
  numerical: Case<NumCell>[];
  categorical: Case<string | null>[];
  datasets: DatasetCase[];
}>();

const P_VALUE_METHODS = new Set(['ks', 'chisquare', 'z']);




function assertBlock(got: EvidentlyBlock, exp: EvidentlyBlock, what: string): void {
  assert.deepEqual(Object.keys(got).sort(), Object.keys(exp).sort(), `${what}: field names`);
  assert.equal(got.n_values_union, exp.n_values_union, `${what} n_values_union`);
  assert.equal(got.auto_method, exp.auto_method, `${what} auto_method`);
  if (P_VALUE_METHODS.has(exp.auto_method)) assert.ok(Math.abs(got.auto_score - exp.auto_score) <= 1e-6, `${what} auto_score ${got.auto_score} vs ${exp.auto_score}`);
  else assertStat(got.auto_score, exp.auto_score, `${what} auto_score`);
  assert.equal(got.auto_drift_detected, exp.auto_drift_detected, `${what} auto_drift_detected`);
  assert.equal(got.psi.binning, exp.psi.binning, `${what} psi.binning`);
  assert.equal(got.psi.edges === undefined, exp.psi.edges === undefined, `${what} psi.edges presence`);
  if (exp.psi.edges) {
    assert.equal(got.psi.edges!.length, exp.psi.edges.length, `${what} number of Sturges edges`);
    got.psi.edges!.forEach((e, i) => assertStat(e, exp.psi.edges![i], `${what} psi.edges[${i}]`));
  }
  assert.deepEqual(got.psi.ref_counts, exp.psi.ref_counts, `${what} psi.ref_counts`);
  assert.deepEqual(got.psi.cur_counts, exp.psi.cur_counts, `${what} psi.cur_counts`);
  assertStat(got.psi.value, exp.psi.value, `${what} psi.value`);
  assertStat(got.jensenshannon_natural_log.value, exp.jensenshannon_natural_log.value, `${what} jensenshannon_natural_log`);
}

function numericalBlock(c: Case<NumCell>): EvidentlyBlock | null {
  if ('skipped' in c.drift) return null;
  const ks = c.drift.ks_pvalue!;
  return evidentlyBlock('numerical', finiteOf(c.ref), finiteOf(c.cur), () => ks);
}

function categoricalBlock(c: Case<string | null>): EvidentlyBlock | null {
  if ('skipped' in c.drift) return null;
  return evidentlyBlock('categorical', presentOf(c.ref), presentOf(c.cur));
}

describe('evidentlyBlock against the fixtures', () => {
  it('matches every numerical column', () => {
    const methods = new Set<string>();
    for (const c of fixture.numerical) {
      const got = numericalBlock(c);
      if ('skipped' in c.drift) continue;
      assertBlock(got!, c.drift.evidently, c.name);
      methods.add(`${got!.auto_method}/${got!.psi.binning}`);
    }
    for (const m of ['ks/sturges_on_combined', 'ks/distinct_values', 'chisquare/distinct_values', 'z/distinct_values', 'wasserstein/sturges_on_combined', 'wasserstein/distinct_values', 'jensenshannon/distinct_values']) {
      assert.ok(methods.has(m), `no fixture column exercises ${m}`);
    }
  });

  it('matches every categorical column', () => {
    const methods = new Set<string>();
    for (const c of fixture.categorical) {
      const got = categoricalBlock(c);
      if ('skipped' in c.drift) continue;
      assertBlock(got!, c.drift.evidently, c.name);
      methods.add(got!.auto_method);
    }
    assert.deepEqual([...methods].sort(), ['chisquare', 'jensenshannon', 'z']);
  });

  it('asks for the KS p-value only when KS is the chosen test', () => {
    for (const c of fixture.numerical) {
      if ('skipped' in c.drift) continue;
      let calls = 0;
      const ks = c.drift.ks_pvalue!;
      const block = evidentlyBlock('numerical', finiteOf(c.ref), finiteOf(c.cur), () => {
        calls++;
        return ks;
      });
      assert.equal(calls, block.auto_method === 'ks' ? 1 : 0, c.name);
    }
  });

  it('keeps numpy’s extra Sturges bin where log₂N + 1 is an integer', () => {
    for (const name of ['sturges_n1024_extra_bin', 'sturges_n4096_extra_bin']) {
      const c = fixture.numerical.find((x) => x.name === name)!;
      const ref = finiteOf(c.ref);
      const cur = finiteOf(c.cur);
      const edges = sturgesEdges(ref, cur);
      assert.equal(edges.length - 1, Math.log2(ref.length + cur.length) + 2, name);
    }
  });
});

describe('datasetDrift', () => {
  it('matches the fixture groups', () => {
    const blocks = new Map<string, EvidentlyBlock | null>();
    for (const c of fixture.numerical) blocks.set(`numerical/${c.name}`, numericalBlock(c));
    for (const c of fixture.categorical) blocks.set(`categorical/${c.name}`, categoricalBlock(c));
    for (const g of fixture.datasets) {
      const got = datasetDrift(g.columns.map(([kind, name]) => blocks.get(`${kind}/${name}`)!));
      assert.deepEqual(got, g.expected, g.name);
    }
  });

  it('counts exactly half as drift (≥ 0.5) and ignores skipped columns', () => {
    const yes = { auto_drift_detected: true };
    const no = { auto_drift_detected: false };
    assert.deepEqual(datasetDrift([yes, yes, no, no]), { n_columns_tested: 4, n_drifted: 2, share_drifted: 0.5, dataset_drift: true });
    assert.deepEqual(datasetDrift([yes, yes, no, no, no]), { n_columns_tested: 5, n_drifted: 2, share_drifted: 0.4, dataset_drift: false });
    assert.deepEqual(datasetDrift([yes, { skipped: 'empty current' }, null, no]), { n_columns_tested: 2, n_drifted: 1, share_drifted: 0.5, dataset_drift: true });
    assert.deepEqual(datasetDrift([null]), { n_columns_tested: 0, n_drifted: 0, share_drifted: null, dataset_drift: false });
  });
});

describe('Evidently pieces by hand', () => {
  it('selects the test by reference size, kind and number of values', () => {
    assert.equal(autoMethod('numerical', 1000, 6), 'ks');
    assert.equal(autoMethod('numerical', 1000, 5), 'chisquare');
    assert.equal(autoMethod('numerical', 1000, 3), 'chisquare');
    assert.equal(autoMethod('numerical', 1000, 2), 'z');
    assert.equal(autoMethod('categorical', 1000, 100), 'chisquare');
    assert.equal(autoMethod('categorical', 10, 1), 'z');
    assert.equal(autoMethod('numerical', 1001, 6), 'wasserstein');
    assert.equal(autoMethod('numerical', 1001, 5), 'jensenshannon');
    assert.equal(autoMethod('categorical', 1001, 100), 'jensenshannon');
  });

  it('fills zeros with m / 10⁶ or 1e-4', () => {
    assert.deepEqual(evidentlyZeroFill([0.5, 0.5, 0]), [0.5, 0.5, 1e-4]);
    assert.deepEqual(evidentlyZeroFill([1e-4, 1 - 1e-4, 0]), [1e-4, 1 - 1e-4, 1e-4 / 1e6]);
    assert.deepEqual(evidentlyZeroFill([0, 0]), [0, 0]);
    const v = evidentlyPsi([0.5, 0.5], [1, 0]);
    assert.ok(Math.abs(v - ((0.5 - 1) * Math.log(0.5) + (0.5 - 1e-4) * Math.log(0.5 / 1e-4))) < 1e-15);
  });

  it('bins like numpy.histogram: half-open bins, the last one closed', () => {
    const edges = [0, 1, 2, 3];
    assert.deepEqual(histogramCounts(edges, [0, 0.5, 1, 2.999, 3, -1, 4]), [2, 1, 2]);
    const e = sturgesEdges([0, 1, 2, 3, 4, 5, 6, 7], []);
    // N = 8: log₂8 + 1 = 4 bins of width 7/4.
    assert.deepEqual(e, [0, 1.75, 3.5, 5.25, 7]);
  });

  it('Z-test: symmetric, 1 for one value, extreme for disjoint sides', () => {
    // ref 30 × A, 70 × B; cur 50 / 50: p̂ = 0.7, 0.5, pooled 0.6, z = 0.2 / √(0.24 · 0.02)
    const p = zTestPvalue([30, 70], [50, 50]);
    assert.ok(Math.abs(p - 0.0038924171227786) < 1e-16, `p = ${p}`); // 2·Φ(−2.886751345948129)
    assert.ok(Math.abs(zTestPvalue([70, 30], [50, 50]) - p) < 1e-16);
    assert.equal(zTestPvalue([12], [5]), 1);
    assert.ok(zTestPvalue([300, 0], [0, 200]) < 1e-100);
  });

  it('builds a categorical block on a tiny example', () => {
    const b = evidentlyBlock('categorical', ['a', 'a', 'b'], ['a', 'c']);
    assert.equal(b.n_values_union, 3);
    assert.equal(b.auto_method, 'chisquare');
    assert.equal(b.auto_score, 0); // 'c' unseen in the reference
    assert.equal(b.auto_drift_detected, true);
    assert.deepEqual(b.psi, { binning: 'distinct_values', ref_counts: [2, 1, 0], cur_counts: [1, 0, 1], value: b.psi.value });
    assert.throws(() => evidentlyBlock('numerical', [1, 2, 3, 4, 5, 6], [1], undefined as unknown as () => number), TypeError);
  });
});
