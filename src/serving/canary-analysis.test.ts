import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decide, predictionShift, SlidingWindow, type CanarySlo, type WindowSummary } from './canary-analysis.js';

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);
const repeat = (value: number, times: number) => new Array<number>(times).fill(value);

function assertClose(actual: number | undefined, expected: number, tolerance = 1e-12): void {
  assert.ok(actual !== undefined && Math.abs(actual - expected) <= tolerance, `${actual} is not ${expected}`);
}

describe('SlidingWindow', () => {
  it('summarises requests, errors, nearest-rank p95 and the predictions of successes', () => {
    const w = new SlidingWindow({ windowMs: 60_000 });
    for (let i = 1; i <= 20; i++) {
      const ok = i !== 7 && i !== 13;
      w.record(1000 + i, ok, i, ok ? i / 100 : null);
    }
    const s = w.summary(2000);
    assert.equal(s.requests, 20);
    assert.equal(s.errors, 2);
    assert.equal(s.errorRate, 0.1);
    // ceil(0.95 × 20) = 19th smallest of 1..20.
    assert.equal(s.p95LatencyMs, 19);
    assert.equal(s.predictions.length, 18);
    assert.deepEqual(s.predictions.slice(0, 7), [0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.08]);
  });

  it('leaves out failed requests, null and non-finite predictions from the predictions', () => {
    const w = new SlidingWindow({ windowMs: 1000 });
    w.record(1, false, 5, 0.9);
    w.record(2, true, 5, null);
    w.record(3, true, 5, Number.NaN);
    w.record(4, true, 5, 0.4);
    assert.deepEqual(w.summary(10).predictions, [0.4]);
  });

  it('keeps only the last windowMs', () => {
    const w = new SlidingWindow({ windowMs: 1000 });
    w.record(0, false, 100, null);
    w.record(500, true, 10, 1);
    const s = w.summary(1000);
    assert.equal(s.requests, 1);
    assert.equal(s.errors, 0);
    assert.equal(s.p95LatencyMs, 10);
    assert.equal(w.size, 1);
    assert.deepEqual(w.summary(1500), { requests: 0, errors: 0, errorRate: 0, p95LatencyMs: 0, predictions: [] });
    assert.equal(w.size, 0);
  });

  it('excludes an expired sample recorded out of order behind a newer one', () => {
    const w = new SlidingWindow({ windowMs: 100 });
    w.record(100, true, 1, 1);
    w.record(50, false, 2, null);
    const s = w.summary(160);
    assert.equal(s.requests, 1);
    assert.equal(s.errors, 0);
  });

  it('caps the samples held, dropping the oldest', () => {
    const w = new SlidingWindow({ windowMs: 60_000, maxSamples: 5 });
    for (let i = 0; i < 8; i++) w.record(i, true, i, i);
    assert.equal(w.size, 5);
    const s = w.summary(10);
    assert.equal(s.requests, 5);
    assert.deepEqual(s.predictions, [3, 4, 5, 6, 7]);
    assert.equal(s.p95LatencyMs, 7);
  });

  it('rejects a non-positive window or sample cap', () => {
    assert.throws(() => new SlidingWindow({ windowMs: 0 }), RangeError);
    assert.throws(() => new SlidingWindow({ windowMs: 10, maxSamples: 0 }), RangeError);
  });
});

describe('predictionShift', () => {
  it('is null when either side has fewer than 30 values', () => {
    assert.equal(predictionShift(range(0, 29), range(0, 100)), null);
    assert.equal(predictionShift(range(0, 100), range(0, 29)), null);
    assert.equal(predictionShift([...range(0, 29), Number.NaN], range(0, 100)), null);
    assert.notEqual(predictionShift(range(0, 30), range(0, 30)), null);
  });

  it('is 0 for the same distribution', () => {
    assert.deepEqual(predictionShift(range(0, 100), range(0, 100)), { psi: 0, method: 'deciles' });
    assert.deepEqual(predictionShift([...repeat(0, 40), ...repeat(1, 60)], [...repeat(1, 30), ...repeat(0, 20)]), { psi: 0, method: 'categorical' });
  });

  it('matches a hand computation on deciles', () => {
    // Stable 0..99: edges at its deciles 9.9, 19.8, …, 89.1, ten bins of 10% each. Canary 5..104:
    // 5..9 fall in the first bin (5%), 90..104 in the last (15%), the eight middle bins hold 10%.
    // PSI = (0.05 − 0.1)·ln(0.05/0.1) + (0.15 − 0.1)·ln(0.15/0.1) = 0.05·ln 2 + 0.05·ln 1.5 = 0.05·ln 3.
    const shift = predictionShift(range(0, 100), range(5, 105));
    assert.equal(shift?.method, 'deciles');
    assertClose(shift?.psi, 0.054930614433405484);
  });

  it('smooths empty bins with a 1e-4 share', () => {
    // Canary 0..49 twice: the five lower bins hold 20% each, the five upper bins none (1e-4).
    const expected = 5 * (0.2 - 0.1) * Math.log(2) + 5 * (1e-4 - 0.1) * Math.log(1e-4 / 0.1);
    assertClose(expected, 3.796997, 1e-6);
    assertClose(predictionShift(range(0, 100), [...range(0, 50), ...range(0, 50)])?.psi, expected);
  });

  it('puts values beyond the stable range into the end bins', () => {
    // All canary values in one end bin: 0.9·ln(10) + 9·(1e-4 − 0.1)·ln(1e-3).
    const expected = 0.9 * Math.log(10) + 9 * (1e-4 - 0.1) * Math.log(1e-3);
    assertClose(expected, 8.283089, 1e-6);
    assertClose(predictionShift(range(0, 100), repeat(1000, 40))?.psi, expected);
    assertClose(predictionShift(range(0, 100), repeat(-1000, 40))?.psi, expected);
  });

  it('treats integral predictions with few values as categories', () => {
    // 60/40 → 50/50: 0.1·ln(0.5/0.4) − 0.1·ln(0.5/0.6) = 0.1·ln 1.5.
    const shift = predictionShift([...repeat(0, 60), ...repeat(1, 40)], [...repeat(0, 50), ...repeat(1, 50)]);
    assert.equal(shift?.method, 'categorical');
    assertClose(shift?.psi, 0.1 * Math.log(1.5));
  });

  it('gives a class the stable arm never predicted a 1e-4 stable share', () => {
    const shift = predictionShift([...repeat(0, 50), ...repeat(1, 50)], [...repeat(0, 45), ...repeat(1, 45), ...repeat(2, 10)]);
    const expected = 2 * (0.45 - 0.5) * Math.log(0.9) + (0.1 - 1e-4) * Math.log(0.1 / 1e-4);
    assertClose(expected, 0.700621, 1e-6);
    assertClose(shift?.psi, expected);
  });

  it('bins on deciles when values are fractional or have more than 20 distinct values', () => {
    assert.equal(predictionShift(range(0, 21).concat(range(0, 21)), range(0, 40))?.method, 'deciles');
    assert.equal(predictionShift(repeat(0.5, 40), repeat(0.5, 40))?.method, 'deciles');
    assert.equal(predictionShift(range(0, 20).concat(range(0, 20)), range(0, 20).concat(range(0, 20)))?.method, 'categorical');
  });
});

function summary(overrides: Partial<WindowSummary> = {}): WindowSummary {
  return { requests: 1000, errors: 0, errorRate: 0, p95LatencyMs: 50, predictions: range(0, 100), ...overrides };
}

const SLO: CanarySlo = { maxErrorRate: 0.01, maxLatencyP95Ms: 200, maxPredictionPsi: 0.2, minRequests: 100 };

describe('decide', () => {
  it('waits while the canary has fewer than minRequests', () => {
    const d = decide(SLO, summary(), summary({ requests: 99, errors: 50, errorRate: 50 / 99 }));
    assert.equal(d.verdict, 'wait');
    assert.deepEqual(d.reasons, ['canary has 99 requests in the window, 100 needed']);
  });

  it('passes within every SLO, thresholds included, and reports what it saw', () => {
    const d = decide(SLO, summary({ errorRate: 0.002, p95LatencyMs: 40 }), summary({ requests: 100, errorRate: 0.01, p95LatencyMs: 200 }));
    assert.equal(d.verdict, 'pass');
    assert.deepEqual(d.reasons, []);
    assert.deepEqual(d.observed, {
      stableRequests: 1000,
      canaryRequests: 100,
      stableErrorRate: 0.002,
      canaryErrorRate: 0.01,
      stableP95LatencyMs: 40,
      canaryP95LatencyMs: 200,
      predictionPsi: 0,
      psiMethod: 'deciles',
    });
  });

  it('fails on the absolute error rate', () => {
    const d = decide(SLO, summary(), summary({ errors: 120, errorRate: 0.12 }));
    assert.equal(d.verdict, 'fail');
    assert.deepEqual(d.reasons, ['canary error rate 0.120 > 0.010']);
  });

  it('fails on an error rate increase over the stable arm when one is set', () => {
    const slo = { ...SLO, maxErrorRate: 0.05, maxErrorRateIncrease: 0.02 };
    const d = decide(slo, summary({ errorRate: 0.01 }), summary({ errorRate: 0.04 }));
    assert.equal(d.verdict, 'fail');
    assert.deepEqual(d.reasons, ['canary error rate 0.040 > stable 0.010 + allowed increase 0.020']);
    assert.equal(decide(slo, summary({ errorRate: 0.01 }), summary({ errorRate: 0.025 })).verdict, 'pass');
  });

  it('skips the increase check, and says so, when the stable arm has too few requests', () => {
    const slo = { ...SLO, maxErrorRate: 0.05, maxErrorRateIncrease: 0.02 };
    const d = decide(slo, summary({ requests: 10, errorRate: 0 }), summary({ errorRate: 0.04 }));
    assert.equal(d.verdict, 'pass');
    assert.deepEqual(d.reasons, ['error rate increase not checked: stable has 10 requests in the window, 100 needed']);
  });

  it('fails on p95 latency', () => {
    assert.deepEqual(decide(SLO, summary(), summary({ p95LatencyMs: 250 })).reasons, ['canary p95 latency 250 ms > 200 ms']);
    assert.deepEqual(decide(SLO, summary(), summary({ p95LatencyMs: 212.25 })).reasons, ['canary p95 latency 212.3 ms > 200 ms']);
  });

  it('fails on prediction shift', () => {
    const d = decide(SLO, summary(), summary({ predictions: range(5, 105) }));
    assert.equal(d.verdict, 'pass');
    const shifted = decide(SLO, summary(), summary({ predictions: [...range(0, 50), ...range(0, 50)] }));
    assert.equal(shifted.verdict, 'fail');
    assert.deepEqual(shifted.reasons, ['prediction shift PSI 3.797 (deciles) > 0.200']);
    assertClose(shifted.observed.predictionPsi ?? undefined, 3.796997, 1e-6);
  });

  it('lists every violated SLO', () => {
    const d = decide(SLO, summary(), summary({ errorRate: 0.5, p95LatencyMs: 900, predictions: repeat(1000, 50) }));
    assert.equal(d.verdict, 'fail');
    assert.deepEqual(d.reasons, [
      'canary error rate 0.500 > 0.010',
      'canary p95 latency 900 ms > 200 ms',
      'prediction shift PSI 8.283 (deciles) > 0.200',
    ]);
  });

  it('passes with a note when there are too few predictions to measure a shift', () => {
    const d = decide(SLO, summary(), summary({ predictions: range(0, 10) }));
    assert.equal(d.verdict, 'pass');
    assert.deepEqual(d.reasons, ['prediction shift not checked: fewer than 30 predictions on an arm']);
    assert.equal(d.observed.predictionPsi, null);
    assert.equal(d.observed.psiMethod, null);
  });
});
