import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { downsample, smooth } from '../../web/src/lib/downsample.js';

describe('ui: chart downsampling', () => {
  it('keeps every point of short series, aligned on the union of their x values', () => {
    const d = downsample([{ label: 'a', x: [0, 2], y: [1, 3] }, { label: 'b', x: [1, 2], y: [5, 6] }], 100);
    assert.deepEqual(d.x, [0, 1, 2]);
    assert.deepEqual(d.ys, [[1, null, 3], [null, 5, 6]]);
    assert.equal(d.points, 4);
  });

  it('turns 1M points into two per bucket and keeps each bucket’s extremes, spikes included', () => {
    const n = 1_000_000;
    const x = new Float64Array(n);
    const y = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      x[i] = i;
      y[i] = Math.sin(i / 1000);
    }
    y[123_456] = 50; // a single spike
    y[654_321] = -50;
    const d = downsample([{ label: 's', x, y }], 1000);
    assert.equal(d.x.length, 2000);
    assert.equal(d.points, n);
    const values = d.ys[0].filter((v): v is number => v !== null);
    assert.equal(Math.max(...values), 50);
    assert.equal(Math.min(...values), -50);
    // The spike stays in its own bucket, at the right place along x.
    const at = d.ys[0].indexOf(50);
    assert.ok(Math.abs(d.x[at] - 123_456) <= 1000, `spike drawn at ${d.x[at]}`);
  });

  it('puts the first-occurring extreme of a bucket first, so the line keeps its shape', () => {
    const x = Array.from({ length: 40 }, (_, i) => i);
    const down = [9, 1, ...Array(18).fill(5)]; // bucket 0: max before min
    const up = [1, 9, ...Array(18).fill(5)]; // bucket 1: min before max
    const d = downsample([{ label: 's', x, y: [...down, ...up] }], 2);
    assert.deepEqual(d.ys[0], [9, 1, 1, 9]);
  });

  it('drops values a log scale cannot show, and non-finite values', () => {
    const d = downsample([{ label: 'a', x: [0, 1, 2, 3], y: [1, 0, -1, NaN] }], 100, true);
    assert.deepEqual(d.ys[0], [1, null, null, null]);
  });

  it('smooths with a debiased moving average (weight 0 leaves the series unchanged)', () => {
    assert.deepEqual([...smooth([1, 2, 3], 0)], [1, 2, 3]);
    const s = smooth([10, 10, 10], 0.9);
    for (const v of s) assert.ok(Math.abs(v - 10) < 1e-9); // debiasing: a constant stays constant
    const step = smooth([0, 0, 0, 10, 10, 10], 0.5);
    assert.ok(step[3] > 0 && step[3] < 10 && step[5] > step[4]);
  });
});
