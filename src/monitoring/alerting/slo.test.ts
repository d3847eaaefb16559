import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DEFAULT_BURN_RATE_RULES,
  MS_PER_MINUTE,
  budgetConsumedAtFiring,
  budgetReport,
  burnRate,
  checkBurnRates,
  errorBudget,
  evaluateBurnRates,
  scaleBurnRateRules,
  type BurnRateRule,
  type SloBucket,
} from './slo.js';

const NOW_MINUTE = 29_000_000; // 2025-02-20 in epoch minutes
const NOW = NOW_MINUTE * MS_PER_MINUTE;
const SPEC = { name: 'availability', objective: 0.999 };

/** One bucket per minute for the `minutes` minutes ending `endAgo` minutes before now. */
function traffic(minutes: number, perMinute: number, badPerMinute: number, endAgo = 0): SloBucket[] {
  const out: SloBucket[] = [];
  for (let m = NOW_MINUTE - endAgo - minutes; m < NOW_MINUTE - endAgo; m++) {
    out.push({ minute: m, total: perMinute, bad: badPerMinute });
  }
  return out;
}

function close(got: number, exp: number, what: string): void {
  assert.ok(Math.abs(got - exp) <= 1e-9 * Math.abs(exp) + 1e-12, `${what}: got ${got}, expected ${exp}`);
}

describe('error budget and burn rate', () => {
  it('errorBudget is 1 − objective and rejects objectives outside (0, 1)', () => {
    close(errorBudget(0.999), 0.001, 'budget');
    for (const bad of [0, 1, 1.5, -0.1, Number.NaN]) assert.throws(() => errorBudget(bad), /strictly between 0 and 1/);
  });

  it('burnRate is the bad fraction over the budget, 0 without traffic', () => {
    const buckets = traffic(60, 1000, 5);
    close(burnRate(buckets, NOW - 3_600_000, NOW, 0.999), 5, 'burn');
    assert.equal(burnRate([], NOW - 3_600_000, NOW, 0.999), 0);
    assert.equal(burnRate(buckets, NOW, NOW + 3_600_000, 0.999), 0);
  });

  it('windows are [from, to) on bucket start times and duplicate minutes add up', () => {
    const buckets: SloBucket[] = [
      { minute: NOW_MINUTE - 2, total: 10, bad: 1 },
      { minute: NOW_MINUTE - 1, total: 10, bad: 0 },
      { minute: NOW_MINUTE - 1, total: 10, bad: 2 },
      { minute: NOW_MINUTE, total: 1000, bad: 1000 },
    ];
    close(burnRate(buckets, NOW - 2 * MS_PER_MINUTE, NOW, 0.9), 3 / 30 / 0.1, 'two minutes');
    close(burnRate(buckets, NOW - MS_PER_MINUTE - 1, NOW, 0.9), 2 / 20 / 0.1, 'start rounds up to a minute');
  });

  it('rejects impossible buckets', () => {
    assert.throws(() => burnRate([{ minute: 1, total: 1, bad: 2 }], 0, NOW, 0.9), /invalid SLO bucket/);
    assert.throws(() => burnRate([{ minute: 1.5, total: 1, bad: 0 }], 0, NOW, 0.9), /invalid SLO bucket/);
  });
});

describe('budgetReport', () => {
  it('counts the 30-day window and reports the budget consumed', () => {
    const buckets: SloBucket[] = [
      { minute: NOW_MINUTE - 30 * 1440 - 1, total: 5000, bad: 5000 }, // before the window
      { minute: NOW_MINUTE - 30 * 1440, total: 60_000, bad: 100 },
      { minute: NOW_MINUTE - 1, total: 40_000, bad: 150 },
      { minute: NOW_MINUTE, total: 7, bad: 7 }, // starts at now: after the window
    ];
    const r = budgetReport(buckets, { name: 'api', objective: 0.99 }, NOW);
    assert.equal(r.total, 100_000);
    assert.equal(r.bad, 250);
    assert.equal(r.good, 99_750);
    assert.equal(r.window_days, 30);
    assert.equal(r.to_ms - r.from_ms, 30 * 86_400_000);
    close(r.sli!, 0.9975, 'sli');
    close(r.budget_total, 1000, 'budget_total');
    close(r.budget_consumed_fraction, 0.25, 'consumed');
    close(r.budget_remaining_fraction, 0.75, 'remaining');
  });

  it('goes negative once overspent and is neutral without traffic', () => {
    const over = budgetReport(traffic(10, 100, 1), { name: 'x', objective: 0.999, windowDays: 7 }, NOW);
    close(over.budget_consumed_fraction, 10, 'consumed');
    close(over.budget_remaining_fraction, -9, 'remaining');
    const empty = budgetReport([], SPEC, NOW);
    assert.equal(empty.sli, null);
    assert.equal(empty.budget_consumed_fraction, 0);
    assert.equal(empty.budget_remaining_fraction, 1);
  });

  it('rejects a bad spec', () => {
    assert.throws(() => budgetReport([], { name: 'x', objective: 0.9, windowDays: 0 }, NOW), /windowDays/);
    assert.throws(() => budgetReport([], { name: '', objective: 0.9 }, NOW), /name/);
  });
});

describe('multi-window, multi-burn-rate alerts', () => {
  const baseline = traffic(30 * 1440, 1000, 0);

  it('a one-hour 20x burn pages P1 on the fast rule only', () => {
    const buckets = [...baseline.filter((b) => b.minute < NOW_MINUTE - 60), ...traffic(60, 1000, 20)];
    const firing = evaluateBurnRates(buckets, SPEC, NOW);
    assert.deepEqual(
      firing.map((f) => [f.rule, f.severity, f.action]),
      [['burn_1h_5m', 'P1', 'page']],
    );
    close(firing[0].long_window.burn_rate, 20, 'long');
    close(firing[0].short_window.burn_rate, 20, 'short');
    assert.equal(firing[0].long_window.minutes, 60);
    assert.equal(firing[0].short_window.minutes, 5);
    close(firing[0].budget_consumed_fraction, 0.02, 'budget share');
  });

  it('a slow 2x burn over four days opens a P3 ticket only', () => {
    const buckets = traffic(4 * 1440, 1000, 2);
    const firing = evaluateBurnRates(buckets, SPEC, NOW);
    assert.deepEqual(
      firing.map((f) => [f.rule, f.severity]),
      [['burn_3d_6h', 'P3']],
    );
    close(firing[0].long_window.burn_rate, 2, 'long');
  });

  it('no traffic fires nothing', () => {
    assert.deepEqual(evaluateBurnRates([], SPEC, NOW), []);
    const checks = checkBurnRates([], SPEC, NOW);
    assert.equal(checks.length, 4);
    assert.ok(checks.every((c) => !c.firing && c.long_window.burn_rate === 0 && c.short_window.burn_rate === 0));
  });

  it('needs the short window too: a burn that stopped 10 minutes ago does not page', () => {
    const buckets = [...traffic(60, 1000, 20, 10), ...traffic(10, 1000, 0)];
    const [fast] = checkBurnRates(buckets, SPEC, NOW);
    assert.ok(fast.long_window.burn_rate > 14.4);
    assert.equal(fast.short_window.burn_rate, 0);
    assert.equal(fast.firing, false);
  });

  it('a burn at exactly the threshold fires despite 1 − 0.999 not being 0.001', () => {
    const firing = evaluateBurnRates(traffic(60, 10_000, 144), SPEC, NOW);
    assert.ok(firing.some((f) => f.rule === 'burn_1h_5m'));
  });

  it('the table describes 2 %, 5 %, 10 % and 10 % of a 30-day budget', () => {
    const shares = DEFAULT_BURN_RATE_RULES.map((r) => budgetConsumedAtFiring(r, 30));
    [0.02, 0.05, 0.1, 0.1].forEach((s, i) => close(shares[i], s, DEFAULT_BURN_RATE_RULES[i].name));
  });

  it('scales the windows to the SLO period and keeps the thresholds', () => {
    const scaled = scaleBurnRateRules(DEFAULT_BURN_RATE_RULES, 7);
    assert.deepEqual(
      scaled.map((r) => [r.longWindowMinutes, r.shortWindowMinutes, r.burnRate]),
      [
        [14, 1, 14.4],
        [84, 7, 6],
        [336, 28, 3],
        [1008, 84, 1],
      ],
    );
    const checks = checkBurnRates([], { ...SPEC, windowDays: 7 }, NOW);
    assert.deepEqual(
      checks.map((c) => c.long_window.minutes),
      [14, 84, 336, 1008],
    );
    close(checks[0].budget_consumed_fraction, 0.02, 'share stays');
  });

  it('a 20x burn over the last 20 minutes pages on a 7-day SLO but not on a 30-day one', () => {
    const buckets = [...traffic(7 * 1440 - 20, 1000, 0, 20), ...traffic(20, 1000, 20)];
    assert.deepEqual(
      evaluateBurnRates(buckets, { ...SPEC, windowDays: 7 }, NOW).map((f) => f.rule),
      ['burn_1h_5m'],
    );
    assert.deepEqual(evaluateBurnRates(buckets, SPEC, NOW), []);
  });

  it('takes an overriding table', () => {
    const rules: BurnRateRule[] = [
      { name: 'any_burn', severity: 'P2', action: 'ticket', longWindowMinutes: 10, shortWindowMinutes: 1, burnRate: 0.5 },
    ];
    const firing = evaluateBurnRates(traffic(10, 100, 10), { ...SPEC, objective: 0.9 }, NOW, { rules });
    assert.deepEqual(
      firing.map((f) => [f.rule, f.threshold]),
      [['any_burn', 0.5]],
    );
    close(firing[0].long_window.burn_rate, 1, 'burn');
    assert.deepEqual(evaluateBurnRates(traffic(10, 100, 4), { ...SPEC, objective: 0.9 }, NOW, { rules }), []);
  });
});
