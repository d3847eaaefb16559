// Chi-square survival, erfc and the normal distribution against SciPy / Python values in
// test/fixtures/drift/stats_expected.json. The chi-square grid also carries a 50-digit reference
// (decimal module); SciPy's own relative error there reaches a few 1e-12 in the far tail.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { chi2Sf, erf, erfc, gammaP, gammaQ, lgamma, normCdf, normSf } from './special.js';

interface Chi2Row {
  x: number;
  dof: number;
  scipy: number;
  exact: number;
}

const FIXTURE = new URL('../../../test/fixtures/drift/stats_expected.json', import.meta.url);
const fixture = JSON.parse(readFileSync(FIXTURE, 'utf8')) as {
  chi2_sf: Chi2Row[];
  normal: { x: number; cdf: number; sf: number; exact_cdf: number; exact_sf: number }[];
  erfc: { x: number; erfc: number; erf: number }[];
};

/** Relative error, with values below the normal range compared absolutely. */
function relErr(got: number, exp: number): number {
  return Math.abs(got - exp) / Math.max(Math.abs(exp), 2.2250738585072014e-308 * 1e8);
}

describe('chi2Sf', () => {
  it('agrees with the 50-digit reference to 1e-12 relative over the grid', () => {
    assert.ok(fixture.chi2_sf.length > 500);
    const dofs = new Set(fixture.chi2_sf.map((r) => r.dof));
    assert.ok(dofs.has(1) && dofs.has(100000));
    for (const r of fixture.chi2_sf) {
      const got = chi2Sf(r.x, r.dof);
      assert.ok(relErr(got, r.exact) <= 1e-12, `chi2Sf(${r.x}, ${r.dof}) = ${got}, reference ${r.exact}`);
    }
  });

  it('agrees with SciPy to 1e-6 absolute (§6) and 5e-12 relative', () => {
    for (const r of fixture.chi2_sf) {
      const got = chi2Sf(r.x, r.dof);
      assert.ok(Math.abs(got - r.scipy) <= 1e-6, `chi2Sf(${r.x}, ${r.dof})`);
      assert.ok(relErr(got, r.scipy) <= 5e-12, `chi2Sf(${r.x}, ${r.dof}) = ${got}, SciPy ${r.scipy}`);
    }
  });

  it('has the closed forms for one and two degrees of freedom', () => {
    for (const x of [0.01, 0.5, 1, 3.84, 10, 50, 200]) {
      assert.ok(relErr(chi2Sf(x, 2), Math.exp(-x / 2)) <= 1e-14, `dof 2, x ${x}`);
      assert.ok(relErr(chi2Sf(x, 1), erfc(Math.sqrt(x / 2))) <= 1e-13, `dof 1, x ${x}`);
    }
    assert.ok(Math.abs(chi2Sf(3.841458820694124, 1) - 0.05) < 1e-15);
  });

  it('handles the ends of the range', () => {
    assert.equal(chi2Sf(0, 3), 1);
    assert.equal(chi2Sf(-1, 3), 1);
    assert.equal(chi2Sf(Infinity, 3), 0);
    assert.equal(chi2Sf(1e6, 3), 0);
    assert.ok(Number.isNaN(chi2Sf(1, 0)));
    assert.ok(Number.isNaN(chi2Sf(NaN, 2)));
  });
});

describe('incomplete gamma and log-gamma', () => {
  it('P + Q = 1 on both sides of the series / fraction switch', () => {
    for (const a of [0.5, 1, 2.5, 14.5, 15, 40, 1e3, 1e5]) {
      for (const f of [0.5, 0.99, 1, 1.01, 2]) {
        const x = a * f + (f === 1 ? 1 : 0);
        assert.ok(Math.abs(gammaP(a, x) + gammaQ(a, x) - 1) < 1e-14, `a ${a}, x ${x}`);
      }
    }
  });

  it('satisfies Q(a + 1, x) = Q(a, x) + x^a e^(−x) / Γ(a + 1)', () => {
    for (const [a, x] of [[3, 2], [10, 12], [20.5, 18], [100, 130]]) {
      const step = Math.exp(a * Math.log(x) - x - lgamma(a + 1));
      assert.ok(relErr(gammaQ(a + 1, x), gammaQ(a, x) + step) < 1e-13, `a ${a}, x ${x}`);
    }
  });

  it('knows Γ at integers and halves', () => {
    assert.ok(Math.abs(lgamma(1)) < 1e-14);
    assert.ok(Math.abs(lgamma(2)) < 1e-14);
    assert.ok(Math.abs(lgamma(0.5) - 0.5 * Math.log(Math.PI)) < 1e-14);
    assert.ok(relErr(lgamma(10), Math.log(362880)) < 1e-15);
    assert.ok(relErr(lgamma(171), 706.5730622457874) < 1e-15);
    assert.ok(Number.isNaN(lgamma(0)));
  });
});

describe('erfc and the normal distribution', () => {
  it('erfc and erf match Python math.erfc / math.erf to ~1e-15 relative', () => {
    for (const r of fixture.erfc) {
      if (r.erfc > 1e-300) assert.ok(relErr(erfc(r.x), r.erfc) <= 1e-15, `erfc(${r.x}) = ${erfc(r.x)}, expected ${r.erfc}`);
      else assert.ok(Math.abs(erfc(r.x) - r.erfc) <= 1e-300);
      if (r.erf !== 0) assert.ok(relErr(erf(r.x), r.erf) <= 1e-15, `erf(${r.x})`);
    }
  });

  it('normCdf / normSf match the 50-digit reference to 1e-15 and scipy.stats.norm to 1e-13', () => {
    for (const r of fixture.normal) {
      assert.ok(relErr(normCdf(r.x), r.exact_cdf) <= 1e-15, `cdf(${r.x}) = ${normCdf(r.x)}, reference ${r.exact_cdf}`);
      assert.ok(relErr(normSf(r.x), r.exact_sf) <= 1e-15, `sf(${r.x}) = ${normSf(r.x)}, reference ${r.exact_sf}`);
      assert.ok(relErr(normCdf(r.x), r.cdf) <= 1e-13, `cdf(${r.x}) = ${normCdf(r.x)}, SciPy ${r.cdf}`);
      assert.ok(relErr(normSf(r.x), r.sf) <= 1e-13, `sf(${r.x}) = ${normSf(r.x)}, SciPy ${r.sf}`);
    }
    assert.equal(normCdf(0), 0.5);
    assert.ok(Math.abs(2 * normSf(1.959963984540054) - 0.05) < 1e-16);
  });
});
