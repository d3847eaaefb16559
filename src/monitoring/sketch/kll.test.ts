// KLL sketch: exactness below capacity, rank-error bounds, memory, merges, determinism, JSON.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KllSketch, upperBound } from './kll.js';
import { seededNormals, uniformSource } from '../seeded.js';

/** Exact count of values ≤ x in an ascending array. */
const exactRank = (sorted: Float64Array, x: number): number => upperBound(sorted, sorted.length, x);

/** Largest |R̂ − R| / n over `probes` values spread over the sample's quantiles. */
function maxRankError(s: KllSketch, sorted: Float64Array, probes = 1000): number {
  const n = sorted.length;
  let worst = 0;
  for (let p = 0; p < probes; p++) {
    const x = sorted[Math.floor(((p + 0.5) / probes) * n)];
    worst = Math.max(worst, Math.abs(s.rank(x) - exactRank(sorted, x)) / n);
  }
  return worst;
}

function sketchOf(values: Float64Array, k = 200, seed = 1, batch = 10_000): KllSketch {
  const s = new KllSketch(k, seed);
  for (let i = 0; i < values.length; i += batch) s.updateMany(values, i, Math.min(values.length, i + batch));
  return s;
}

const MILLION = seededNormals(1_000_000, 11);
const MILLION_SORTED = Float64Array.from(MILLION).sort();

describe('KllSketch below capacity', () => {
  it('is exact: ranks, quantiles and positions of a small sample', () => {
    const values = seededNormals(150, 3);
    const sorted = Float64Array.from(values).sort();
    const s = new KllSketch(200);
    for (const v of values) s.update(v);
    assert.equal(s.isExact, true);
    assert.equal(s.maxRankErrorBound(), 0);
    for (const x of sorted) assert.equal(s.rank(x), exactRank(sorted, x));
    sorted.forEach((x, j) => assert.equal(s.valueAtPosition(j), x));
    assert.equal(s.quantile(0.5), sorted[74]);
    assert.equal(s.quantile(0), sorted[0]);
    assert.equal(s.quantile(1), sorted[149]);
    assert.equal(s.cdf(sorted[0] - 1), 0);
    assert.equal(s.cdf(sorted[149]), 1);
  });

  it('handles empty, single-value and constant input', () => {
    const empty = new KllSketch();
    assert.equal(empty.n, 0);
    assert.ok(Number.isNaN(empty.quantile(0.5)));
    assert.ok(Number.isNaN(empty.cdf(0)));
    assert.equal(empty.rank(0), 0);
    assert.ok(Number.isNaN(empty.min));
    const one = new KllSketch();
    one.update(-2.5);
    assert.deepEqual([one.quantile(0), one.quantile(0.3), one.quantile(1), one.cdf(-2.5), one.cdf(-3)], [-2.5, -2.5, -2.5, 1, 0]);
    const constant = new KllSketch(50);
    constant.updateMany(new Float64Array(100_000).fill(7));
    assert.ok(!constant.isExact);
    assert.deepEqual([constant.quantile(0.01), constant.quantile(0.99), constant.cdf(7), constant.cdf(6.99)], [7, 7, 1, 0]);
  });

  it('rejects non-finite values and bad arguments', () => {
    const s = new KllSketch();
    assert.throws(() => s.update(NaN), RangeError);
    assert.throws(() => s.update(Infinity), RangeError);
    assert.throws(() => s.updateMany([1, -Infinity]), RangeError);
    assert.throws(() => s.quantile(1.5), RangeError);
    assert.throws(() => new KllSketch(4), RangeError);
  });
});

describe('KllSketch accuracy and memory', () => {
  it('keeps the max rank error over 1000 probes of 1M normals below 1 % for k = 200, within its bound', () => {
    const s = sketchOf(MILLION);
    const err = maxRankError(s, MILLION_SORTED);
    assert.ok(err < 0.01, `max rank error ${err}`);
    assert.ok(err <= s.maxRankErrorBound(), `error ${err} above the stated bound ${s.maxRankErrorBound()}`);
    assert.ok(s.rankErrorBound() < s.maxRankErrorBound());
    assert.ok(s.maxRankErrorBound() < 0.03, `bound ${s.maxRankErrorBound()}`);
    assert.equal(s.n, 1_000_000);
    assert.equal(s.min, MILLION_SORTED[0]);
    assert.equal(s.max, MILLION_SORTED[999_999]);
  });

  it('is accurate when fed one value at a time, and quantile inverts cdf', () => {
    const s = new KllSketch(200, 5);
    for (let i = 0; i < 200_000; i++) s.update(MILLION[i]);
    const sorted = Float64Array.from(MILLION.subarray(0, 200_000)).sort();
    assert.ok(maxRankError(s, sorted) < 0.01);
    for (const q of [0.01, 0.1, 0.25, 0.5, 0.9, 0.999]) assert.ok(Math.abs(exactRank(sorted, s.quantile(q)) / 2e5 - q) < 0.01, `q = ${q}`);
  });

  it('keeps O(k + log n) items: smaller k, larger error', () => {
    const big = sketchOf(MILLION, 200);
    const small = sketchOf(MILLION, 50);
    assert.ok(big.retainedItems <= 3 * 200 + 8 * big.numLevels, `retained ${big.retainedItems}`);
    assert.ok(big.numLevels <= Math.log2(1e6 / 200) + 3, `levels ${big.numLevels}`);
    assert.ok(small.retainedItems < big.retainedItems / 2);
    assert.ok(small.maxRankErrorBound() > 2 * big.maxRankErrorBound());
  });

  it('handles heavy ties (a few distinct values)', () => {
    const u = uniformSource(9);
    const values = Float64Array.from({ length: 300_000 }, () => Math.floor(u() * 4));
    const s = sketchOf(values);
    for (const x of [0, 1, 2]) {
      const exact = values.filter((v) => v <= x).length;
      assert.ok(Math.abs(s.rank(x) - exact) / values.length < 0.01, `value ${x}`);
    }
    assert.equal(s.rank(3), 300_000);
  });
});

describe('KllSketch merge, determinism and JSON', () => {
  it('merged parts match the whole within the bound, with exact n, min and max', () => {
    const parts = Array.from({ length: 8 }, (_, i) => sketchOf(MILLION.subarray(i * 125_000, (i + 1) * 125_000), 200, 100 + i));
    const merged = parts.reduce((acc, p) => acc.merge(p), new KllSketch(200, 99));
    assert.equal(merged.n, 1_000_000);
    assert.equal(merged.min, MILLION_SORTED[0]);
    assert.equal(merged.max, MILLION_SORTED[999_999]);
    const err = maxRankError(merged, MILLION_SORTED);
    assert.ok(err < 0.01 && err <= merged.maxRankErrorBound(), `merged error ${err}`);
    assert.ok(merged.retainedItems <= 3 * 200 + 8 * merged.numLevels);
  });

  it('merges associate up to the sketch error', () => {
    const [a, b, c] = [0, 1, 2].map((i) => sketchOf(MILLION.subarray(i * 300_000, (i + 1) * 300_000), 200, 7 + i));
    const left = a.clone().merge(b).merge(c);
    const right = a.clone().merge(b.clone().merge(c));
    const sorted = Float64Array.from(MILLION.subarray(0, 900_000)).sort();
    assert.equal(left.n, right.n);
    for (const s of [left, right]) assert.ok(maxRankError(s, sorted) < 0.01);
    for (const q of [0.05, 0.5, 0.95]) assert.ok(Math.abs(left.cdf(left.quantile(q)) - right.cdf(left.quantile(q))) < 0.015);
  });

  it('merging a sketch with itself doubles every count', () => {
    const s = sketchOf(MILLION.subarray(0, 100));
    s.merge(s);
    assert.equal(s.n, 200);
    assert.equal(s.rank(MILLION[0]), 2 * exactRank(Float64Array.from(MILLION.subarray(0, 100)).sort(), MILLION[0]));
  });

  it('is deterministic and survives a JSON round trip mid-stream', () => {
    const one = sketchOf(MILLION.subarray(0, 300_000), 100, 42);
    const other = sketchOf(MILLION.subarray(0, 300_000), 100, 42);
    assert.deepEqual(one.toJSON(), other.toJSON());
    const restored = KllSketch.fromJSON(JSON.parse(JSON.stringify(one.toJSON())));
    assert.deepEqual(restored.toJSON(), one.toJSON());
    one.updateMany(MILLION, 300_000, 400_000);
    restored.updateMany(MILLION, 300_000, 400_000);
    assert.deepEqual(restored.toJSON(), one.toJSON());
    const differentSeed = sketchOf(MILLION.subarray(0, 300_000), 100, 43);
    assert.notDeepEqual(differentSeed.toJSON().levels, other.toJSON().levels);
  });

  it('rejects inconsistent JSON', () => {
    const json = sketchOf(MILLION.subarray(0, 5000)).toJSON();
    assert.throws(() => KllSketch.fromJSON({ ...json, n: json.n + 1 }), TypeError);
    assert.throws(() => KllSketch.fromJSON({ ...json, levels: json.levels.map((l) => [...l].reverse()) }), TypeError);
    assert.throws(() => KllSketch.fromJSON({ ...json, pending_offsets: [] }), TypeError);
  });
});
