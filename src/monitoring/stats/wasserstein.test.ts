// Wasserstein-1 and its normed variant (drift-statistics.md §4.4) against
// scipy.stats.wasserstein_distance / np.std values in test/fixtures/drift/stats_expected.json.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertStat, finiteOf, presentOf, statsFixture, type NumCell } from '../../../test/support/drift.js';
import { wasserstein, wassersteinDistance, type Wasserstein } from './wasserstein.js';

interface NumericalCase {
  name: string;
  ref: NumCell[];
  cur: NumCell[];
  drift: { skipped: string } | { wasserstein: Wasserstein };
}

const fixture = statsFixture<{ numerical: NumericalCase[] }>();



describe('wasserstein against SciPy', () => {
  it('matches distance, ref_std_pop, norm and normed for every numerical column', () => {
    let checked = 0;
    for (const c of fixture.numerical) {
      if ('skipped' in c.drift) continue;
      const got = wasserstein(finiteOf(c.ref), finiteOf(c.cur));
      const exp = c.drift.wasserstein;
      for (const k of ['distance', 'ref_std_pop', 'norm', 'normed'] as const) assertStat(got[k], exp[k], `${c.name} ${k}`);
      checked++;
    }
    assert.ok(checked >= 20);
  });

  it('is symmetric and does not depend on the input order', () => {
    const c = fixture.numerical.find((x) => x.name === 'normal_shift_small')!;
    const ref = finiteOf(c.ref);
    const cur = finiteOf(c.cur);
    const d = wassersteinDistance(ref, cur);
    assert.equal(wassersteinDistance(cur, ref), d);
    assert.equal(wassersteinDistance([...ref].reverse(), cur), d);
  });
});

describe('wasserstein by hand', () => {
  it('is the mean shift between translated samples', () => {
    assert.equal(wassersteinDistance([0, 1, 3], [5, 6, 8]), 5);
    assert.equal(wassersteinDistance([0], [1]), 1);
    assert.equal(wassersteinDistance([0, 1], [1, 0]), 0);
    // F_ref − F_cur on [0, 1): 1/2 − 0; on [1, 2): 1/2 − 1/2 ... ref {0, 2}, cur {1}: ½·1 + ½·1 = 1
    assert.equal(wassersteinDistance([0, 2], [1]), 1);
    // Unequal sizes: ref {0, 1, 2, 3}, cur {0, 0}: ∫|F_ref − 1| = ¾ + ½ + ¼ = 1.5
    assert.equal(wassersteinDistance([3, 1, 2, 0], [0, 0]), 1.5);
  });

  it('divides by 0.001 for a constant reference', () => {
    const w = wasserstein([2, 2, 2], [3, 3]);
    assert.deepEqual(w, { distance: 1, ref_std_pop: 0, norm: 0.001, normed: 1000 });
    const s = wasserstein([0, 2], [1, 1]);
    assert.deepEqual(s, { distance: 1, ref_std_pop: 1, norm: 1, normed: 1 });
  });

  it('rejects empty samples', () => {
    assert.throws(() => wassersteinDistance([], [1]), RangeError);
  });
});
