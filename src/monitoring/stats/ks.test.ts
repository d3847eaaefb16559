import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ks2samp, ksEqualSizeSeries, ksLatticeOutsideProb } from './ks.js';
import { kstwoSf, kstwoSfWithBranch, smirnovSf } from './kstwo.js';

// Expected values come from SciPy 1.10.1 (test/fixtures/drift/make_ks_expected.py).

interface Recipe {
  kind: 'modseq';
  count: number;
  terms: [number, number, number][];
  scale: number;
  offset: number;
}
type Side = { values: number[] } | { recipe: Recipe };
interface KsCase {
  id: string;
  note: string;
  ref: Side;
  cur: Side;
  n_ref: number;
  n_cur: number;
  statistic: number;
  pvalue: number;
  statistic_location: number;
  statistic_sign: 1 | -1;
  method_used: string;
  pvalue_branch: string;
}
interface Fixture {
  ks_cases: KsCase[];
  kstwo_grid: { d: number; n: number; sf: number; branch: string }[];
  smirnov_grid: { n: number; x: number; sf: number }[];
}

const fixture = JSON.parse(
  readFileSync(new URL('../../../test/fixtures/drift/ks_expected.json', import.meta.url), 'utf8'),
) as Fixture;

/** value_i = offset + scale·Σ ((a·i + b) mod M)/M, the same IEEE operations as the generator. */
function buildRecipe(r: Recipe): Float64Array {
  const out = new Float64Array(r.count);
  for (let i = 0; i < r.count; i++) {
    let acc = 0;
    for (const [a, b, m] of r.terms) acc = acc + ((a * i + b) % m) / m;
    out[i] = r.offset + r.scale * acc;
  }
  return out;
}

const sample = (s: Side): Float64Array => ('values' in s ? Float64Array.from(s.values) : buildRecipe(s.recipe));

/** Spec §6: statistics |got − exp| ≤ 1e-9·|exp| + 1e-12; p-values 1e-6 absolute. */
function assertStat(got: number, exp: number, what: string): void {
  assert.ok(Math.abs(got - exp) <= 1e-9 * Math.abs(exp) + 1e-12, `${what}: got ${got}, expected ${exp}`);
}
function assertP(got: number, exp: number, what: string): void {
  assert.ok(Math.abs(got - exp) <= 1e-6, `${what}: got ${got}, expected ${exp}`);
}

describe('ks2samp against SciPy ks_2samp', () => {
  for (const c of fixture.ks_cases) {
    it(`${c.id} (${c.n_ref}x${c.n_cur}, ${c.method_used})`, () => {
      const ref = sample(c.ref);
      const cur = sample(c.cur);
      const refCopy = ref.slice();
      const curCopy = cur.slice();
      const r = ks2samp(ref, cur);
      assert.deepEqual(ref, refCopy, 'ref was modified');
      assert.deepEqual(cur, curCopy, 'cur was modified');
      assert.equal(r.n_ref, c.n_ref);
      assert.equal(r.n_cur, c.n_cur);
      assertStat(r.statistic, c.statistic, 'statistic');
      assertP(r.pvalue, c.pvalue, 'pvalue');
      assert.equal(r.method_used, c.method_used);
      assert.equal(r.pvalue_branch, c.pvalue_branch);
      assert.equal(r.statistic_sign, c.statistic_sign);
      assertStat(r.statistic_location, c.statistic_location, 'statistic_location');
    });
  }

  it('covers every method and every branch', () => {
    const methods = new Set(fixture.ks_cases.map((c) => c.method_used));
    assert.deepEqual([...methods].sort(), ['asymp', 'asymp (exact failed)', 'exact']);
    const branches = new Set([...fixture.ks_cases.map((c) => c.pvalue_branch), ...fixture.kstwo_grid.map((r) => r.branch)]);
    for (const b of [
      'exact_zero_statistic', 'exact_equal_size_series', 'exact_lattice', 'kstwo_d_ge_1', 'kstwo_nd_le_half',
      'kstwo_ruben_gambino_small_nd', 'kstwo_ruben_gambino_large_nd', 'kstwo_smirnov_d_ge_half',
      'kstwo_durbin_matrix', 'kstwo_pomeranz', 'kstwo_smirnov', 'kstwo_zero_tail', 'kstwo_pelz_good',
    ]) {
      assert.ok(branches.has(b), `no fixture reaches ${b}`);
    }
  });

  it('rejects empty samples', () => {
    assert.throws(() => ks2samp(new Float64Array(0), Float64Array.of(1)), RangeError);
    assert.throws(() => ks2samp(Float64Array.of(1), new Float64Array(0)), RangeError);
  });
});

describe('kstwoSf against SciPy kstwo.sf', () => {
  it(`matches ${fixture.kstwo_grid.length} (d, n) points, each on the expected branch`, () => {
    for (const row of fixture.kstwo_grid) {
      const got = kstwoSfWithBranch(row.d, row.n);
      assertP(got.sf, row.sf, `kstwo.sf(${row.d}, ${row.n})`);
      assert.equal(got.branch, row.branch, `branch for (${row.d}, ${row.n})`);
      assert.equal(kstwoSf(row.d, row.n), got.sf);
    }
  });

  it('matches SciPy special.smirnov (one-sided tail)', () => {
    for (const row of fixture.smirnov_grid) {
      const got = smirnovSf(row.n, row.x);
      assert.ok(Math.abs(got - row.sf) <= 1e-9, `smirnov(${row.n}, ${row.x}): got ${got}, expected ${row.sf}`);
    }
  });

  it('is NaN for invalid n and d', () => {
    assert.ok(Number.isNaN(kstwoSf(NaN, 10)));
    assert.ok(Number.isNaN(kstwoSf(0.1, 2.5)));
    assert.ok(Number.isNaN(kstwoSf(0.1, 0)));
  });
});

describe('exact two-sample distribution', () => {
  it('the lattice recursion agrees with the equal-size series wherever the series is valid', () => {
    for (const n of [1, 2, 3, 6, 10, 25, 64, 200, 1000]) {
      for (const h of [1, 2, 3, Math.ceil(n / 7), Math.ceil(n / 3), Math.ceil(n / 2), n]) {
        if (h < 1 || h > n) continue;
        const series = ksEqualSizeSeries(n, h);
        if (series > 1) continue;
        const lattice = ksLatticeOutsideProb(n, n, h);
        assert.ok(Math.abs(series - lattice) <= 1e-14, `n=${n} h=${h}: ${series} vs ${lattice}`);
      }
    }
  });

  it('is symmetric in the two sizes', () => {
    for (const [m, n, h] of [[7, 3, 10], [12, 18, 20], [100, 37, 900]] as const) {
      assert.equal(ksLatticeOutsideProb(m, n, h), ksLatticeOutsideProb(n, m, h));
    }
  });
});

describe('ks2samp properties', () => {
  const values = fc.oneof(
    fc.integer({ min: -5, max: 5 }),
    fc.double({ min: -1e6, max: 1e6, noNaN: true, noDefaultInfinity: true }),
  );
  const arr = fc.array(values, { minLength: 1, maxLength: 60 });

  it('D and p do not depend on which sample is the reference', () => {
    fc.assert(
      fc.property(arr, arr, (xs, ys) => {
        const a = Float64Array.from(xs);
        const b = Float64Array.from(ys);
        const ab = ks2samp(a, b);
        const ba = ks2samp(b, a);
        assert.equal(ab.statistic, ba.statistic);
        assert.equal(ab.pvalue, ba.pvalue);
        assert.equal(ab.method_used, ba.method_used);
        assert.ok(ab.statistic >= 0 && ab.statistic <= 1);
        assert.ok(ab.pvalue >= 0 && ab.pvalue <= 1);
      }),
      { numRuns: 300, seed: 20240611 },
    );
  });

  it('D is symmetric for large samples too (asymptotic branch)', () => {
    const a = buildRecipe({ kind: 'modseq', count: 30011, terms: [[7919, 1, 1000003]], scale: 1, offset: 0 });
    const b = buildRecipe({ kind: 'modseq', count: 12000, terms: [[104729, 5, 999983]], scale: 1.1, offset: -0.02 });
    const ab = ks2samp(a, b);
    const ba = ks2samp(b, a);
    assert.equal(ab.statistic, ba.statistic);
    assert.equal(ab.pvalue, ba.pvalue);
    assert.equal(ab.statistic_sign, -ba.statistic_sign);
    assert.equal(ab.method_used, 'asymp');
  });
});
