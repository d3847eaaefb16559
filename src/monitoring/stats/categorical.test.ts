// Categorical drift statistics (drift-statistics.md §4.5) against SciPy's chisquare /
// chi2_contingency / jensenshannon values in test/fixtures/drift/stats_expected.json, and by hand.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { alignedCounts, categoricalDrift, chi2Contingency, chi2Gof, type CategoricalDrift } from './categorical.js';

interface CategoricalCase {
  name: string;
  ref: (string | null)[];
  cur: (string | null)[];
  drift: { skipped: string } | { n_ref: number; n_cur: number; categorical: CategoricalDrift };
}

const FIXTURE = new URL('../../../test/fixtures/drift/stats_expected.json', import.meta.url);
const fixture = JSON.parse(readFileSync(FIXTURE, 'utf8')) as { categorical: CategoricalCase[] };

function present(cells: (string | null)[]): string[] {
  return cells.filter((c): c is string => c !== null);
}

function assertStat(got: number | string, exp: number | string, what: string): void {
  if (typeof exp === 'string') {
    assert.equal(got, exp, what);
    return;
  }
  assert.equal(typeof got, 'number', what);
  assert.ok(Math.abs((got as number) - exp) <= 1e-9 * Math.abs(exp) + 1e-12, `${what}: got ${got}, expected ${exp}`);
}

function assertP(got: number, exp: number, what: string): void {
  assert.ok(Math.abs(got - exp) <= 1e-6, `${what}: got ${got}, expected ${exp}`);
}

describe('categoricalDrift against SciPy', () => {
  it('matches every fixture column', () => {
    let checked = 0;
    for (const c of fixture.categorical) {
      if ('skipped' in c.drift) continue;
      const got = categoricalDrift(present(c.ref), present(c.cur));
      const exp = c.drift.categorical;
      assert.deepEqual(Object.keys(got).sort(), Object.keys(exp).sort(), `${c.name}: field names`);
      for (const k of ['categories', 'ref_counts', 'cur_counts', 'new_in_current', 'missing_in_current'] as const) {
        assert.deepEqual(got[k], exp[k], `${c.name} ${k}`);
      }
      for (const k of ['psi', 'js_base2', 'hellinger', 'l_infinity'] as const) assertStat(got[k], exp[k], `${c.name} ${k}`);
      assertStat(got.chi2_gof.statistic, exp.chi2_gof.statistic, `${c.name} chi2_gof.statistic`);
      assertP(got.chi2_gof.pvalue, exp.chi2_gof.pvalue, `${c.name} chi2_gof.pvalue`);
      assert.equal(got.chi2_gof.dof, exp.chi2_gof.dof, `${c.name} chi2_gof.dof`);
      const gc = got.chi2_contingency;
      const ec = exp.chi2_contingency;
      assertStat(gc.statistic, ec.statistic, `${c.name} chi2_contingency.statistic`);
      assertStat(gc.statistic_no_yates, ec.statistic_no_yates, `${c.name} chi2_contingency.statistic_no_yates`);
      assertP(gc.pvalue, ec.pvalue, `${c.name} chi2_contingency.pvalue`);
      assertP(gc.pvalue_no_yates, ec.pvalue_no_yates, `${c.name} chi2_contingency.pvalue_no_yates`);
      assert.deepEqual([gc.dof, gc.yates], [ec.dof, ec.yates], `${c.name} chi2_contingency dof / yates`);
      checked++;
    }
    assert.ok(checked >= 14);
  });

  it('covers the cases the spec calls out', () => {
    const byName = new Map(fixture.categorical.map((c) => [c.name, c]));
    const stats = (name: string) => {
      const d = byName.get(name)!.drift;
      assert.ok(!('skipped' in d));
      return d.categorical;
    };
    assert.equal(stats('cities_small_unseen').chi2_gof.statistic, 'Infinity');
    assert.ok(stats('cities_small_unseen').categories.includes('with,comma'));
    assert.ok(stats('cities_small_unseen').categories.includes(' leading space'));
    assert.ok(stats('cities_small_unseen').categories.includes('São Paulo'));
    assert.equal(stats('many_small').ref_counts, null);
    assert.equal(stats('single_same').chi2_gof.dof, 0);
    assert.equal(stats('two_small').chi2_contingency.yates, true);
  });
});

describe('categorical statistics by hand', () => {
  it('aligns counts on the code-point-sorted union', () => {
    const got = alignedCounts(['b', '\u{1D518}', 'b'], ['\uFF26', 'a']);
    assert.deepEqual(got, { categories: ['a', 'b', '\uFF26', '\u{1D518}'], ref_counts: [0, 2, 0, 1], cur_counts: [1, 0, 1, 0] });
  });

  it('chi2Gof: expected from reference proportions, Infinity for unseen categories, k = 1', () => {
    // ref 10/30, cur 20/20 → expected 10, 30; χ² = 100/10 + 100/30
    const g = chi2Gof([10, 30], [20, 20]);
    assert.ok(Math.abs((g.statistic as number) - (10 + 10 / 3)) < 1e-13);
    assert.equal(g.dof, 1);
    assert.deepEqual(chi2Gof([5, 0], [3, 1]), { statistic: 'Infinity', pvalue: 0, dof: 1 });
    assert.deepEqual(chi2Gof([5], [3]), { statistic: 0, pvalue: 1, dof: 0 });
  });

  it('chi2Contingency: Yates on 2 × 2, plain Pearson beyond', () => {
    // [[10, 20], [20, 10]]: E = 15 everywhere; |O − E| = 5 → 4.5 after Yates.
    const t = chi2Contingency([10, 20], [20, 10]);
    assert.equal(t.dof, 1);
    assert.equal(t.yates, true);
    assert.ok(Math.abs(t.statistic - (4 * 4.5 ** 2) / 15) < 1e-13);
    assert.ok(Math.abs(t.statistic_no_yates - (4 * 25) / 15) < 1e-13);
    assert.ok(t.pvalue > t.pvalue_no_yates);
    // |O − E| below 0.5 moves all the way to E: statistic 0.
    const small = chi2Contingency([5, 5], [5, 6]);
    assert.equal(small.statistic, 0);
    assert.equal(small.pvalue, 1);
    const three = chi2Contingency([10, 20, 30], [30, 20, 10]);
    assert.deepEqual([three.dof, three.yates, three.statistic], [2, false, three.statistic_no_yates]);
    assert.deepEqual(chi2Contingency([4], [9]), { statistic: 0, pvalue: 1, dof: 0, yates: false, statistic_no_yates: 0, pvalue_no_yates: 1 });
  });

  it('lists new and vanished categories and keeps statistics above 60 categories', () => {
    const ref = Array.from({ length: 70 }, (_, i) => `c${String(i).padStart(2, '0')}`);
    const cur = [...ref.slice(1), 'zz'];
    const d = categoricalDrift(ref, cur);
    assert.equal(d.categories.length, 71);
    assert.equal(d.ref_counts, null);
    assert.equal(d.cur_counts, null);
    assert.deepEqual(d.new_in_current, ['zz']);
    assert.deepEqual(d.missing_in_current, ['c00']);
    assert.equal(d.chi2_gof.statistic, 'Infinity');
    assert.ok(Math.abs(d.l_infinity - 1 / 70) < 1e-15);
    assert.ok(d.chi2_contingency.statistic > 0 && Number.isFinite(d.chi2_contingency.statistic));
  });

  it('rejects an empty side', () => {
    assert.throws(() => categoricalDrift([], ['a']), RangeError);
  });
});
