import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CircuitBreaker } from './circuit-breaker.js';

function breaker(failureThreshold = 3, cooldownMs = 5000) {
  const clock = { t: 1_000_000 };
  const cb = new CircuitBreaker({ failureThreshold, cooldownMs, now: () => clock.t });
  return { cb, clock };
}

/** Drives a fresh breaker to open with `threshold` admitted failures. */
function openIt(cb: CircuitBreaker, threshold: number): void {
  for (let i = 0; i < threshold; i++) {
    assert.equal(cb.admit(), true);
    cb.failure();
  }
}

describe('CircuitBreaker', () => {
  it('starts closed and admits everything', () => {
    const { cb } = breaker();
    assert.equal(cb.state, 'closed');
    for (let i = 0; i < 10; i++) assert.equal(cb.admit(), true);
    assert.equal(cb.retryAfterMs(), 0);
  });

  it('opens after exactly failureThreshold consecutive failures', () => {
    const { cb } = breaker(3);
    cb.failure();
    cb.failure();
    assert.equal(cb.state, 'closed');
    cb.failure();
    assert.equal(cb.state, 'open');
    assert.equal(cb.admit(), false);
  });

  it('a success resets the consecutive failure count', () => {
    const { cb } = breaker(3);
    cb.failure();
    cb.failure();
    cb.success();
    cb.failure();
    cb.failure();
    assert.equal(cb.state, 'closed');
    cb.failure();
    assert.equal(cb.state, 'open');
  });

  it('reports the remaining cooldown while open', () => {
    const { cb, clock } = breaker(2, 5000);
    openIt(cb, 2);
    assert.equal(cb.retryAfterMs(), 5000);
    clock.t += 1200;
    assert.equal(cb.retryAfterMs(), 3800);
    assert.equal(cb.admit(), false);
    clock.t += 3799;
    assert.equal(cb.state, 'open');
    assert.equal(cb.retryAfterMs(), 1);
  });

  it('goes half-open after the cooldown and admits exactly one trial at a time', () => {
    const { cb, clock } = breaker(2, 5000);
    openIt(cb, 2);
    clock.t += 5000;
    assert.equal(cb.state, 'half-open');
    assert.equal(cb.retryAfterMs(), 0);
    assert.equal(cb.admit(), true);
    assert.equal(cb.admit(), false);
    assert.equal(cb.admit(), false);
    assert.equal(cb.retryAfterMs(), 1000);
    assert.equal(cb.state, 'half-open');
  });

  it('closes when the trial succeeds', () => {
    const { cb, clock } = breaker(2, 5000);
    openIt(cb, 2);
    clock.t += 5000;
    assert.equal(cb.admit(), true);
    cb.success();
    assert.equal(cb.state, 'closed');
    assert.equal(cb.admit(), true);
    assert.equal(cb.admit(), true);
    // The failure count restarted: one failure does not reopen a threshold-2 breaker.
    cb.failure();
    assert.equal(cb.state, 'closed');
  });

  it('reopens with a fresh cooldown when the trial fails', () => {
    const { cb, clock } = breaker(2, 5000);
    openIt(cb, 2);
    clock.t += 7000;
    assert.equal(cb.admit(), true);
    cb.failure();
    assert.equal(cb.state, 'open');
    assert.equal(cb.retryAfterMs(), 5000);
    assert.equal(cb.admit(), false);
    clock.t += 5000;
    assert.equal(cb.admit(), true);
  });

  it('ignores late outcomes of requests admitted before it opened', () => {
    const { cb, clock } = breaker(2, 5000);
    openIt(cb, 2);
    cb.success();
    assert.equal(cb.state, 'open');
    clock.t += 1000;
    cb.failure();
    // A late failure does not extend the cooldown.
    assert.equal(cb.retryAfterMs(), 4000);
    clock.t += 4000;
    // Half-open with no trial running: a stray success does not close it.
    cb.success();
    assert.equal(cb.state, 'half-open');
    cb.failure();
    assert.equal(cb.state, 'half-open');
    assert.equal(cb.admit(), true);
  });

  it('release() frees the half-open trial slot without deciding the state', () => {
    const { cb, clock } = breaker(2, 5000);
    openIt(cb, 2);
    clock.t += 5000;
    assert.equal(cb.admit(), true);
    assert.equal(cb.admit(), false);
    cb.release();
    assert.equal(cb.state, 'half-open');
    assert.equal(cb.admit(), true);
    cb.success();
    assert.equal(cb.state, 'closed');
  });

  it('release() neither counts nor clears failures while closed', () => {
    const { cb } = breaker(2);
    cb.failure();
    cb.release();
    assert.equal(cb.state, 'closed');
    cb.failure();
    assert.equal(cb.state, 'open');
    cb.release();
    assert.equal(cb.state, 'open');
  });

  it('caps the half-open retry hint by a short cooldown', () => {
    const { cb, clock } = breaker(1, 200);
    openIt(cb, 1);
    clock.t += 200;
    assert.equal(cb.admit(), true);
    assert.equal(cb.retryAfterMs(), 200);
  });

  it('rejects invalid options', () => {
    assert.throws(() => new CircuitBreaker({ failureThreshold: 0, cooldownMs: 1 }), RangeError);
    assert.throws(() => new CircuitBreaker({ failureThreshold: 1.5, cooldownMs: 1 }), RangeError);
    assert.throws(() => new CircuitBreaker({ failureThreshold: 1, cooldownMs: -1 }), RangeError);
    assert.throws(() => new CircuitBreaker({ failureThreshold: 1, cooldownMs: Number.NaN }), RangeError);
  });
});
