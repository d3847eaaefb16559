// Decile binning, PSI, Jensen–Shannon and Hellinger (drift-statistics.md §4.3) against
// test/fixtures/drift/stats_expected.json (SciPy's jensenshannon, the spec's edge rule) and by hand.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertStat, finiteOf, presentOf, statsFixture, type NumCell } from '../../../test/support/drift.js';
import { binBelow, binnedQ10, hellinger, jsDistance, psi, quantileEdgesRaw, type BinnedQ10 } from './binning.js';

interface NumericalCase {
  name: string;
  ref: NumCell[];
  cur: NumCell[];
  drift: { skipped: string } | { n_ref: number; n_cur: number; binned_q10: BinnedQ10 };
}

const fixture = statsFixture<{ numerical: NumericalCase[] }>();



describe('binnedQ10 against the fixtures', () => {
  it('reproduces edges, counts, PSI, JS and Hellinger of every numerical column', () => {
    let checked = 0;
    for (const c of fixture.numerical) {
      if ('skipped' in c.drift) continue;
      const ref = finiteOf(c.ref);
      const cur = finiteOf(c.cur);
      assert.equal(ref.length, c.drift.n_ref, c.name);
      const got = binnedQ10(ref, cur);
      const exp = c.drift.binned_q10;
      assert.equal(got.edges.length, exp.edges.length, `${c.name} edges`);
      got.edges.forEach((e, i) => assertStat(e, exp.edges[i], `${c.name} edge ${i}`));
      assert.deepEqual(got.ref_counts, exp.ref_counts, `${c.name} ref_counts`);
      assert.deepEqual(got.cur_counts, exp.cur_counts, `${c.name} cur_counts`);
      assertStat(got.psi, exp.psi, `${c.name} psi`);
      assertStat(got.js_base2, exp.js_base2, `${c.name} js_base2`);
      assertStat(got.hellinger, exp.hellinger, `${c.name} hellinger`);
      checked++;
    }
    assert.ok(checked >= 20);
  });

  it('uses the integer-position rule bit for bit', () => {
    for (const c of fixture.numerical) {
      if ('skipped' in c.drift) continue;
      const raw = quantileEdgesRaw(finiteOf(c.ref).sort(), 10);
      const distinct = raw.filter((e, i) => i === 0 || e !== raw[i - 1]);
      assert.deepEqual(distinct, c.drift.binned_q10.edges, c.name);
    }
  });
});

describe('decile edges and bins by hand', () => {
  it('places the deciles of 0..10 on the integers', () => {
    const xs = Float64Array.from({ length: 11 }, (_, i) => i);
    assert.deepEqual(quantileEdgesRaw(xs, 10), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.deepEqual(quantileEdgesRaw(Float64Array.of(0, 10), 4), [2.5, 5, 7.5]);
    assert.deepEqual(quantileEdgesRaw(Float64Array.of(3), 10), Array(9).fill(3));
    // n = 4: positions 3k/10 → lo = 0,0,0,1,1,1,2,2,2 with r = 3,6,9,2,5,8,1,4,7
    assert.deepEqual(quantileEdgesRaw(Float64Array.of(0, 10, 20, 30), 10), [3, 6, 9, 12, 15, 18, 21, 24, 27]);
  });

  it('sends a value equal to an edge to the lower bin and keeps tied mass together', () => {
    assert.equal(binBelow([1, 2, 3], 1), 0);
    assert.equal(binBelow([1, 2, 3], 1.5), 1);
    assert.equal(binBelow([1, 2, 3], 3), 2);
    assert.equal(binBelow([1, 2, 3], 3.5), 3);
    const b = binnedQ10(Float64Array.of(0, 0, 0, 0, 0, 0, 0, 0, 1, 2), Float64Array.of(0, 5));
    // positions 9k/10: k ≤ 7 land among the zeros; k = 8 → 7.2: 0 + 0.2·(1 − 0); k = 9 → 8.1: 1 + 0.1·(2 − 1)
    assert.deepEqual(b.edges, [0, 0.2, 1 + 0.1]);
    // 0 → (−∞, 0]; 1 → (0.2, 1.1]; 2 → (1.1, ∞)
    assert.deepEqual(b.ref_counts, [8, 0, 1, 1]);
    assert.deepEqual(b.cur_counts, [1, 0, 0, 1]);
  });

  it('computes PSI with the 1e-4 fill only for exact zeros', () => {
    const got = psi([0.5, 0.5, 0], [1, 0, 0]);
    const exp = (1 - 0.5) * Math.log(1 / 0.5) + (1e-4 - 0.5) * Math.log(1e-4 / 0.5) + 0;
    assert.ok(Math.abs(got - exp) < 1e-15);
    assert.equal(psi([0.25, 0.75], [0.25, 0.75]), 0);
  });

  it('bounds JS and Hellinger by 1 on disjoint supports and gives 0 on equal ones', () => {
    assert.ok(Math.abs(jsDistance([1, 0], [0, 1], 2) - 1) < 1e-15);
    assert.ok(Math.abs(jsDistance([1, 0], [0, 1]) - Math.sqrt(Math.LN2)) < 1e-15);
    assert.ok(Math.abs(hellinger([1, 0], [0, 1]) - 1) < 1e-15);
    assert.equal(jsDistance([0.2, 0.8], [0.2, 0.8], 2), 0);
    assert.equal(hellinger([0.2, 0.8], [0.2, 0.8]), 0);
    // A worked value: p = (½, ½), q = (1, 0): KL(p‖m) = ½ln(2/3) + ½ln 2, KL(q‖m) = ln(4/3).
    const exp = Math.sqrt((0.5 * (0.5 * Math.log(2 / 3) + 0.5 * Math.log(2)) + 0.5 * Math.log(4 / 3)) / Math.LN2);
    assert.ok(Math.abs(jsDistance([0.5, 0.5], [1, 0], 2) - exp) < 1e-15);
    // Unnormalised inputs are normalised first, as SciPy does.
    assert.ok(Math.abs(jsDistance([1, 1], [2, 0], 2) - exp) < 1e-15);
  });

  it('stays accurate when p and q almost coincide', () => {
    const p = [0.3, 0.7];
    const q = [0.3 + 1e-9, 0.7 - 1e-9];
    // JS divergence ≈ Σ (p − q)² / (8·p) for small differences, in nats.
    const approx = Math.sqrt(((1e-9) ** 2 / 8) * (1 / 0.3 + 1 / 0.7));
    assert.ok(Math.abs(jsDistance(p, q) - approx) <= 1e-6 * approx);
  });

  it('rejects empty samples and mismatched lengths', () => {
    assert.throws(() => binnedQ10(new Float64Array(0), Float64Array.of(1)), RangeError);
    assert.throws(() => psi([1], [0.5, 0.5]), RangeError);
  });
});
