// Error-free summation against Python's math.fsum (test/fixtures/drift/stats_expected.json) and by hand.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ExactSum, fsum, fsumSquaredDeviations } from './fsum.js';
import { uniformSource as uniforms } from '../seeded.js';

interface FsumCase {
  values: number[];
  expected: number;
  naive: number;
}

const FIXTURE = new URL('../../../test/fixtures/drift/stats_expected.json', import.meta.url);
const cases = (JSON.parse(readFileSync(FIXTURE, 'utf8')) as { fsum: FsumCase[] }).fsum;

/** A deterministic permutation (xorshift32-driven Fisher–Yates). */
function shuffled(values: number[], seed: number): number[] {
  const out = [...values];
  let s = seed >>> 0 || 1;
  for (let i = out.length - 1; i > 0; i--) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

describe('fsum against math.fsum', () => {
  it('gives the exact rounded sum of every fixture list, bit for bit', () => {
    assert.ok(cases.length >= 10);
    for (const [i, c] of cases.entries()) {
      assert.equal(fsum(c.values), c.expected, `case ${i}`);
      assert.equal(fsum(Float64Array.from(c.values)), c.expected, `case ${i} as Float64Array`);
    }
  });

  it('does not depend on the order of the terms', () => {
    for (const [i, c] of cases.entries()) {
      for (const seed of [1, 7, 12345]) assert.equal(fsum(shuffled(c.values, seed)), c.expected, `case ${i}, seed ${seed}`);
    }
  });

  it('beats the naive sum where the fixtures say it should', () => {
    const differing = cases.filter((c) => c.naive !== c.expected);
    assert.ok(differing.length >= 3);
  });
});

describe('fsum by hand', () => {
  it('handles the classic cases', () => {
    assert.equal(fsum([0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1]), 1);
    assert.equal(fsum([1, 1e100, 1, -1e100]), 2);
    assert.equal(fsum([]), 0);
    assert.equal(fsum([5]), 5);
    // Half-way between two doubles, pushed up by a tiny third term: rounds away from 2^53.
    assert.equal(fsum([2 ** 53, 1, 2 ** -60]), 2 ** 53 + 2);
    assert.equal(fsum([2 ** 53, 1, -(2 ** -60)]), 2 ** 53);
    // A plain half-way case rounds to even.
    assert.equal(fsum([2 ** 53, 1]), 2 ** 53);
    assert.equal(fsum([2 ** 53, 3]), 2 ** 53 + 4);
  });

  it('propagates infinities and NaN like a plain sum', () => {
    assert.equal(fsum([1, Infinity, 2]), Infinity);
    assert.equal(fsum([-Infinity, 1e308, 1e308]), -Infinity);
    assert.ok(Number.isNaN(fsum([Infinity, -Infinity])));
    assert.ok(Number.isNaN(fsum([1, NaN])));
  });

  it('ExactSum accumulates the same value as fsum', () => {
    const values = cases[cases.length - 1].values;
    const running = new ExactSum();
    for (const v of values) running.add(v);
    assert.equal(running.value(), fsum(values));
    assert.equal(new ExactSum().addAll(values).add(1).value(), fsum([...values, 1]));
  });

  it('sums 1e6 + small deviations exactly', () => {
    const values: number[] = [];
    for (let i = 0; i < 1000; i++) values.push(1e6 + (i % 7) * 0.1 - 0.3);
    // Each value cancels against its negation wherever it lands in the order.
    assert.equal(fsum([...values, ...values.map((v) => -v)]), 0);
    assert.equal(fsum([...values, ...values.map((v) => -v), 1e-30]), 1e-30);
  });
});


/** Lists meant to land near rounding boundaries: few significant bits, huge cancellations, subnormals, mixed scales. */
function awkwardList(u: () => number): number[] {
  const n = 1 + Math.floor(u() * 400);
  const style = Math.floor(u() * 5);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const sign = u() < 0.5 ? -1 : 1;
    if (style === 0) out.push(sign * 2 ** Math.floor(u() * 120 - 60));
    else if (style === 1) out.push(sign * Math.floor(u() * 16) * 2 ** Math.floor(u() * 8 - 60) + (u() < 0.1 ? 2 ** 53 : 0));
    else if (style === 2) out.push(sign * u() * 1e-310);
    else if (style === 3) out.push(sign * (1e6 + Math.floor(u() * 1000) / 8));
    else out.push(sign * u() * 10 ** Math.floor(u() * 40 - 20));
  }
  if (u() < 0.5) for (const v of out.slice()) out.push(-v * (u() < 0.9 ? 1 : 1 + 2 ** -52));
  return out;
}

describe('fsum fast path', () => {
  it('returns exactly what the error-free algorithm returns, near rounding boundaries too', () => {
    const u = uniforms(2024);
    for (let k = 0; k < 3000; k++) {
      const values = awkwardList(u);
      const exact = new ExactSum().addAll(values).value();
      assert.ok(Object.is(fsum(values), exact), `list ${k}: ${fsum(values)} vs ${exact}`);
      const center = values[0] ?? 0;
      const squares = new ExactSum();
      for (const v of values) squares.add((v - center) * (v - center));
      assert.ok(Object.is(fsumSquaredDeviations(values, center), squares.value()), `squares of list ${k}`);
    }
  });

  it('keeps the sign of a zero total and the exact halfway cases', () => {
    assert.ok(Object.is(fsum([-0, -0]), -0));
    assert.ok(Object.is(fsum([-0, 0]), 0));
    assert.equal(fsum([1, 2 ** -53]), 1);
    assert.equal(fsum([1, 2 ** -53, 2 ** -106]), 1 + 2 ** -52);
    assert.equal(fsum([-1, -(2 ** -53), -(2 ** -106)]), -(1 + 2 ** -52));
    assert.equal(fsum([2 ** 1000, 2 ** 1000, -(2 ** 1000)]), 2 ** 1000);
  });
});
