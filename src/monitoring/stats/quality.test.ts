// Data-quality facts (drift-statistics.md §3) against numpy / math.fsum values in
// test/fixtures/drift/stats_expected.json, plus hand-checked cases.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { compareCodePoints, moments, qualityCategorical, qualityNumerical, type CategoricalQuality, type NumericalQuality } from './quality.js';

type NumCell = number | 'inf' | '-inf' | null;
interface Case<C, Q> {
  name: string;
  ref: C[];
  cur: C[];
  quality: { ref: Q; cur: Q };
}

const FIXTURE = new URL('../../../test/fixtures/drift/stats_expected.json', import.meta.url);
const fixture = JSON.parse(readFileSync(FIXTURE, 'utf8')) as {
  numerical: Case<NumCell, NumericalQuality>[];
  categorical: Case<string | null, CategoricalQuality>[];
};

function cellsOf(cells: NumCell[]): (number | null)[] {
  return cells.map((c) => (c === 'inf' ? Infinity : c === '-inf' ? -Infinity : c));
}

/** §6: |got − exp| ≤ 1e-9·|exp| + 1e-12. */
function assertStat(got: number | null, exp: number | null, what: string): void {
  if (exp === null) {
    assert.equal(got, null, what);
    return;
  }
  assert.equal(typeof got, 'number', `${what} is ${got}`);
  assert.ok(Math.abs(got! - exp) <= 1e-9 * Math.abs(exp) + 1e-12, `${what}: got ${got}, expected ${exp}`);
}

const EXACT_NUM = ['n_rows', 'missing_count', 'inf_count', 'finite_count', 'distinct_count', 'constant', 'zero_count'] as const;
const STATS_NUM = ['missing_share', 'min', 'max', 'mean', 'std_pop', 'std', 'p25', 'p50', 'p75'] as const;

describe('qualityNumerical against numpy', () => {
  it('matches every fixture column on both sides', () => {
    assert.ok(fixture.numerical.length >= 20);
    for (const c of fixture.numerical) {
      for (const side of ['ref', 'cur'] as const) {
        const got = qualityNumerical(cellsOf(c[side]));
        const exp = c.quality[side];
        assert.deepEqual(Object.keys(got).sort(), Object.keys(exp).sort(), `${c.name} ${side}: field names`);
        for (const k of EXACT_NUM) assert.equal(got[k], exp[k], `${c.name} ${side} ${k}`);
        for (const k of STATS_NUM) assertStat(got[k], exp[k], `${c.name} ${side} ${k}`);
      }
    }
  });

  it('keeps nine digits on values near 1e6 with unit spread', () => {
    const c = fixture.numerical.find((x) => x.name === 'big_mean_small_sigma')!;
    const got = qualityNumerical(cellsOf(c.ref));
    // Much tighter than §6: the two-pass exact sums agree with numpy to ~1e-13.
    assert.ok(Math.abs(got.std_pop! - c.quality.ref.std_pop!) <= 1e-12 * c.quality.ref.std_pop!);
    assert.ok(Math.abs(got.mean! - c.quality.ref.mean!) <= 0, 'the mean is fsum / n, exactly as in Python');
  });
});

describe('qualityNumerical by hand', () => {
  it('computes moments and quartiles of a small column', () => {
    const q = qualityNumerical([4, null, 1, 3, Infinity, 2, -Infinity, 0, 0]);
    assert.equal(q.n_rows, 9);
    assert.equal(q.missing_count, 1);
    assert.equal(q.missing_share, 1 / 9);
    assert.equal(q.inf_count, 2);
    assert.equal(q.finite_count, 6);
    assert.equal(q.distinct_count, 7); // 0, 1, 2, 3, 4, +∞, −∞
    assert.equal(q.constant, false);
    assert.equal(q.min, 0);
    assert.equal(q.max, 4);
    assert.equal(q.mean, 10 / 6);
    // sorted 0 0 1 2 3 4: positions 5·k/4 → 1.25, 2.5, 3.75
    assert.equal(q.p25, 0.25);
    assert.equal(q.p50, 1.5);
    assert.equal(q.p75, 2.75);
    assert.equal(q.zero_count, 2);
    const ss = [0, 0, 1, 2, 3, 4].reduce((s, x) => s + (x - 10 / 6) ** 2, 0);
    assert.ok(Math.abs(q.std_pop! - Math.sqrt(ss / 6)) < 1e-15);
    assert.ok(Math.abs(q.std! - Math.sqrt(ss / 5)) < 1e-15);
  });

  it('is exact where the textbook formula is not', () => {
    const m = moments([1e9 - 1, 1e9, 1e9 + 1]);
    assert.equal(m.mean, 1e9);
    assert.equal(m.std, 1);
    assert.equal(m.std_pop, Math.sqrt(2 / 3));
  });

  it('returns nulls without finite values and a null std for one value', () => {
    const none = qualityNumerical([null, Infinity, Infinity]);
    assert.deepEqual(
      [none.finite_count, none.distinct_count, none.constant, none.min, none.mean, none.std_pop, none.std, none.p50, none.zero_count],
      [0, 1, true, null, null, null, null, null, 0],
    );
    const one = qualityNumerical([-0, 0]);
    assert.deepEqual([one.distinct_count, one.constant, one.std_pop, one.std, one.zero_count], [1, true, 0, 0, 2]);
    const single = qualityNumerical([2.5]);
    assert.deepEqual([single.mean, single.std_pop, single.std, single.p25, single.p75], [2.5, 0, null, 2.5, 2.5]);
    assert.equal(qualityNumerical([]).missing_share, null);
  });
});

describe('qualityCategorical', () => {
  it('matches every fixture column on both sides', () => {
    for (const c of fixture.categorical) {
      for (const side of ['ref', 'cur'] as const) {
        const got = qualityCategorical(c[side]);
        assert.deepEqual(got, c.quality[side], `${c.name} ${side}`);
      }
    }
  });

  it('breaks ties by code point and hides more than 60 categories', () => {
    const q = qualityCategorical(['b', 'a', 'b', 'a', null, 'c']);
    assert.deepEqual(q, {
      n_rows: 6,
      missing_count: 1,
      missing_share: 1 / 6,
      distinct_count: 3,
      constant: false,
      top_value: 'a',
      top_count: 2,
      categories: ['a', 'b', 'c'],
      category_counts: [2, 2, 1],
    });
    const many = qualityCategorical(Array.from({ length: 61 }, (_, i) => `v${i}`));
    assert.equal(many.categories, null);
    assert.equal(many.category_counts, null);
    assert.equal(many.distinct_count, 61);
    assert.equal(qualityCategorical(Array.from({ length: 60 }, (_, i) => `v${i}`)).categories?.length, 60);
    const empty = qualityCategorical([null, null]);
    assert.deepEqual([empty.top_value, empty.top_count, empty.categories, empty.constant, empty.missing_share], [null, null, [], false, 1]);
  });

  it('keeps integer-looking values and blanks as strings', () => {
    const q = qualityCategorical(['10', '1', '00501', ' 1', '1']);
    assert.deepEqual(q.categories, [' 1', '00501', '1', '10']);
    assert.equal(q.top_value, '1');
  });
});

describe('compareCodePoints', () => {
  it('orders by code point where UTF-16 order differs', () => {
    const astral = '\u{1D518}'; // surrogate pair D835 DD18
    const fullwidth = '\uFF26';
    assert.ok(astral < fullwidth, 'UTF-16 order puts the surrogate first');
    assert.ok(compareCodePoints(fullwidth, astral) < 0);
    assert.ok(compareCodePoints(astral, fullwidth) > 0);
    assert.deepEqual(['b', astral, 'São Paulo', fullwidth, 'a', 'Sao', ''].sort(compareCodePoints), ['', 'Sao', 'São Paulo', 'a', 'b', fullwidth, astral]);
    assert.equal(compareCodePoints('x\u{1F600}', 'x\u{1F600}'), 0);
    assert.ok(compareCodePoints('x\u{1F600}', 'x\u{1F601}') < 0);
    assert.ok(compareCodePoints('ab', 'abc') < 0);
  });
});
