import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DEFAULT_LATENCY_BOUNDS_MS as BOUNDS,
  countAbove,
  histogramQuantile,
  latencySloBuckets,
  latencySummary,
  mergeHistograms,
} from './histogram.js';

// Bounds: 1 2 5 10 20 50 100 200 500 1000 2000 5000 +Inf
const COUNTS = [0, 0, 0, 10, 20, 30, 25, 9, 4, 2, 0, 0, 0]; // 100 requests

function close(got: number | null, exp: number, what: string): void {
  assert.ok(got !== null && Math.abs(got - exp) <= 1e-12 * Math.abs(exp), `${what}: got ${got}, expected ${exp}`);
}

describe('histogramQuantile', () => {
  it('interpolates linearly inside the bucket holding the rank', () => {
    // rank 50: 30 below 20 ms, 30 in (20, 50] → 20 + 30 × 20/30
    close(histogramQuantile(0.5, BOUNDS, COUNTS), 40, 'p50');
    // rank 95: 94 below 200 ms, 4 in (200, 500] → 200 + 300 × 1/4
    close(histogramQuantile(0.95, BOUNDS, COUNTS), 275, 'p95');
    // rank 99: 98 below 500 ms, 2 in (500, 1000] → 500 + 500 × 1/2
    close(histogramQuantile(0.99, BOUNDS, COUNTS), 750, 'p99');
    close(histogramQuantile(1, BOUNDS, COUNTS), 1000, 'max');
  });

  it('starts the first bucket at 0 and skips empty buckets for q = 0', () => {
    const counts = [10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    close(histogramQuantile(0.5, BOUNDS, counts), 0.5, 'first bucket');
    close(histogramQuantile(0, BOUNDS, COUNTS), 5, 'q = 0 is the lower bound of the first non-empty bucket');
  });

  it('answers the largest finite bound for a rank in the +Inf bucket, null when empty', () => {
    const counts = [...new Array<number>(12).fill(0), 3];
    assert.equal(histogramQuantile(0.5, BOUNDS, counts), 5000);
    assert.equal(histogramQuantile(0.99, BOUNDS, new Array<number>(13).fill(0)), null);
  });

  it('rejects bad input', () => {
    assert.throws(() => histogramQuantile(1.5, BOUNDS, COUNTS), /within \[0, 1\]/);
    assert.throws(() => histogramQuantile(0.5, [1, 2, 3], [1, 1, 1]), /\+Infinity/);
    assert.throws(() => histogramQuantile(0.5, [2, 1, Infinity], [1, 1, 1]), /strictly increasing/);
    assert.throws(() => histogramQuantile(0.5, BOUNDS, [1, 2]), /13 bounds/);
  });
});

describe('counts above a threshold', () => {
  it('sums the buckets above a bound and refuses a threshold that is not one', () => {
    assert.equal(countAbove(BOUNDS, COUNTS, 100), 15);
    assert.equal(countAbove(BOUNDS, COUNTS, 5000), 0);
    assert.equal(countAbove(BOUNDS, COUNTS, 5), 100);
    assert.throws(() => countAbove(BOUNDS, COUNTS, 300), /not a finite bucket bound/);
    assert.throws(() => countAbove(BOUNDS, COUNTS, Infinity), /not a finite bucket bound/);
  });

  it('turns per-minute histograms into latency SLO buckets and summaries', () => {
    const hists = [
      { minute: 100, counts: COUNTS },
      { minute: 101, counts: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1] },
    ];
    assert.deepEqual(latencySloBuckets(hists, BOUNDS, 200), [
      { minute: 100, total: 100, bad: 6 },
      { minute: 101, total: 2, bad: 2 },
    ]);
    assert.deepEqual(mergeHistograms(hists, BOUNDS, 101 * 60_000, 102 * 60_000), hists[1].counts);
    const s = latencySummary(hists, BOUNDS, 100 * 60_000, 101 * 60_000);
    assert.equal(s.count, 100);
    close(s.p95, 275, 'summary p95');
    assert.equal(latencySummary(hists, BOUNDS, 0, 60_000).p99, null);
  });
});
