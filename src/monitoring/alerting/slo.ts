// Service-level objectives over per-minute event counts: error budgets, burn rates and
// multi-window, multi-burn-rate alert conditions.
//
// A bucket counts the events of one minute: `total` requests and, of those, `bad` ones (errors for
// an availability SLO, requests slower than the threshold for a latency SLO). A window [from, to)
// holds the buckets whose minute starts at or after `from` and before `to`.
//
// Burn rate is how fast the error budget is being spent relative to the pace that would spend it
// exactly over the SLO period: (bad / total) / (1 − objective). A burn rate of 1 sustained for the
// whole period spends the whole budget; 14.4 sustained for one hour spends 2 % of a 30-day budget.
import { invalidParam } from '../../errors/index.js';
import type { Severity } from './alerts.js';

export const MS_PER_MINUTE = 60_000;
export const MINUTES_PER_DAY = 1440;
export const DEFAULT_SLO_WINDOW_DAYS = 30;

export interface SloBucket {
  /** Epoch minute: Math.floor(epochMs / 60000). */
  minute: number;
  total: number;
  bad: number;
}

export interface SloSpec {
  name: string;
  /** Target good fraction, strictly between 0 and 1 (0.999 = "three nines"). */
  objective: number;
  /** Length of the rolling SLO period; 30 when omitted. */
  windowDays?: number;
}

/** Checks a spec and fills the default period. */
export function normalizeSpec(spec: SloSpec): Required<SloSpec> {
  if (!spec.name) throw invalidParam('SLO name must not be empty');
  errorBudget(spec.objective);
  const windowDays = spec.windowDays ?? DEFAULT_SLO_WINDOW_DAYS;
  if (!Number.isFinite(windowDays) || windowDays <= 0) {
    throw invalidParam(`SLO ${spec.name}: windowDays must be a positive number, got ${windowDays}`);
  }
  return { name: spec.name, objective: spec.objective, windowDays };
}

/** The allowed bad fraction, 1 − objective. */
export function errorBudget(objective: number): number {
  if (!Number.isFinite(objective) || objective <= 0 || objective >= 1) {
    throw invalidParam(`SLO objective must be strictly between 0 and 1, got ${objective}`);
  }
  return 1 - objective;
}

export interface WindowCounts {
  total: number;
  bad: number;
}

/**
 * Buckets sorted by minute (duplicates of a minute added together) with running sums, so that any
 * window's counts take two binary searches.
 */
export class BucketSeries {
  private readonly minutes: number[] = [];
  private readonly cumTotal: number[] = [0];
  private readonly cumBad: number[] = [0];

  constructor(buckets: readonly SloBucket[]) {
    const sorted = [...buckets].sort((a, b) => a.minute - b.minute);
    for (const b of sorted) {
      checkBucket(b);
      const last = this.minutes.length - 1;
      if (last >= 0 && this.minutes[last] === b.minute) {
        this.cumTotal[last + 1] += b.total;
        this.cumBad[last + 1] += b.bad;
        continue;
      }
      this.minutes.push(b.minute);
      this.cumTotal.push(this.cumTotal[last + 1] + b.total);
      this.cumBad.push(this.cumBad[last + 1] + b.bad);
    }
  }

  /** Counts of the buckets whose minute starts in [fromMs, toMs). */
  counts(fromMs: number, toMs: number): WindowCounts {
    const i = this.firstAtOrAfter(Math.ceil(fromMs / MS_PER_MINUTE));
    const j = this.firstAtOrAfter(Math.ceil(toMs / MS_PER_MINUTE));
    if (j <= i) return { total: 0, bad: 0 };
    return { total: this.cumTotal[j] - this.cumTotal[i], bad: this.cumBad[j] - this.cumBad[i] };
  }

  private firstAtOrAfter(minute: number): number {
    let lo = 0;
    let hi = this.minutes.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.minutes[mid] < minute) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

function checkBucket(b: SloBucket): void {
  const ok = Number.isInteger(b.minute) && b.total >= 0 && b.bad >= 0 && b.bad <= b.total;
  if (!ok || !Number.isFinite(b.total) || !Number.isFinite(b.bad)) {
    throw invalidParam(`invalid SLO bucket at minute ${b.minute}: total ${b.total}, bad ${b.bad}`);
  }
}

function seriesOf(buckets: readonly SloBucket[] | BucketSeries): BucketSeries {
  return buckets instanceof BucketSeries ? buckets : new BucketSeries(buckets);
}

/** Burn rate of the counts: bad fraction over the budget; 0 when there was no traffic. */
export function burnRateOf(counts: WindowCounts, objective: number): number {
  const budget = errorBudget(objective);
  return counts.total === 0 ? 0 : counts.bad / counts.total / budget;
}

/** Burn rate over the window [fromMs, toMs). */
export function burnRate(
  buckets: readonly SloBucket[] | BucketSeries,
  fromMs: number,
  toMs: number,
  objective: number,
): number {
  return burnRateOf(seriesOf(buckets).counts(fromMs, toMs), objective);
}

export interface BudgetReport {
  slo: string;
  objective: number;
  window_days: number;
  from_ms: number;
  to_ms: number;
  good: number;
  total: number;
  bad: number;
  /** good / total; null without traffic. */
  sli: number | null;
  /** Allowed bad fraction, 1 − objective. */
  error_budget: number;
  /** Bad events the period allows at this traffic: total × (1 − objective). */
  budget_total: number;
  /** bad / budget_total; 0 without traffic. Above 1 once the budget is overspent. */
  budget_consumed_fraction: number;
  /** 1 − budget_consumed_fraction; negative once the budget is overspent. */
  budget_remaining_fraction: number;
}

/** Error-budget standing over the SLO period ending at nowMs. */
export function budgetReport(
  buckets: readonly SloBucket[] | BucketSeries,
  spec: SloSpec,
  nowMs: number,
): BudgetReport {
  const s = normalizeSpec(spec);
  const fromMs = nowMs - s.windowDays * MINUTES_PER_DAY * MS_PER_MINUTE;
  const { total, bad } = seriesOf(buckets).counts(fromMs, nowMs);
  const budget = errorBudget(s.objective);
  const budgetTotal = total * budget;
  const consumed = total === 0 ? 0 : bad / budgetTotal;
  return {
    slo: s.name,
    objective: s.objective,
    window_days: s.windowDays,
    from_ms: fromMs,
    to_ms: nowMs,
    good: total - bad,
    total,
    bad,
    sli: total === 0 ? null : (total - bad) / total,
    error_budget: budget,
    budget_total: budgetTotal,
    budget_consumed_fraction: consumed,
    budget_remaining_fraction: 1 - consumed,
  };
}

/** One row of the multi-window, multi-burn-rate table, sized for a 30-day SLO period. */
export interface BurnRateRule {
  name: string;
  severity: Severity;
  action: 'page' | 'ticket';
  longWindowMinutes: number;
  /** The confirming window: the condition must still hold over the recent past. */
  shortWindowMinutes: number;
  /** Both windows must burn at least this fast. */
  burnRate: number;
}

/** The period the rule table's windows are sized for. */
export const BURN_RATE_TABLE_WINDOW_DAYS = 30;

/**
 * The recommended table for a 30-day SLO. Each row fires once a fixed share of the budget is gone:
 * 14.4 × 1 h = 2 %, 6 × 6 h = 5 %, 3 × 1 d = 10 %, 1 × 3 d = 10 % of 30 days.
 */
export const DEFAULT_BURN_RATE_RULES: readonly BurnRateRule[] = Object.freeze<BurnRateRule[]>([
  { name: 'burn_1h_5m', severity: 'P1', action: 'page', longWindowMinutes: 60, shortWindowMinutes: 5, burnRate: 14.4 },
  { name: 'burn_6h_30m', severity: 'P1', action: 'page', longWindowMinutes: 360, shortWindowMinutes: 30, burnRate: 6 },
  { name: 'burn_1d_2h', severity: 'P2', action: 'ticket', longWindowMinutes: 1440, shortWindowMinutes: 120, burnRate: 3 },
  { name: 'burn_3d_6h', severity: 'P3', action: 'ticket', longWindowMinutes: 4320, shortWindowMinutes: 360, burnRate: 1 },
]);

/**
 * Relative slack when comparing a burn rate with its threshold: 1 − 0.999 is 0.0010000000000000009
 * in binary, so traffic burning at exactly the threshold would otherwise fall a few ulps short.
 */
export const BURN_RATE_TOLERANCE = 1e-9;

function reaches(rate: number, threshold: number): boolean {
  return rate >= threshold * (1 - BURN_RATE_TOLERANCE);
}

/** Share of the period's budget a rule lets burn before it fires: burnRate × long window / period. */
export function budgetConsumedAtFiring(rule: BurnRateRule, windowDays: number): number {
  return (rule.burnRate * rule.longWindowMinutes) / (windowDays * MINUTES_PER_DAY);
}

/**
 * Fits a table sized for `tableWindowDays` to an SLO period of `windowDays`: both windows scale
 * with the period (whole minutes, at least one) while the burn-rate thresholds stay, so each row
 * still fires after the same share of the budget is spent. A 7-day SLO's fastest row looks at
 * 14 minutes instead of one hour.
 */
export function scaleBurnRateRules(
  rules: readonly BurnRateRule[],
  windowDays: number,
  tableWindowDays = BURN_RATE_TABLE_WINDOW_DAYS,
): BurnRateRule[] {
  const factor = windowDays / tableWindowDays;
  const scale = (minutes: number) => Math.max(1, Math.round(minutes * factor));
  return rules.map((r) => ({
    ...r,
    longWindowMinutes: scale(r.longWindowMinutes),
    shortWindowMinutes: scale(r.shortWindowMinutes),
  }));
}

export interface WindowBurn {
  minutes: number;
  from_ms: number;
  to_ms: number;
  total: number;
  bad: number;
  burn_rate: number;
}

export interface BurnRateCheck {
  slo: string;
  rule: string;
  severity: Severity;
  action: 'page' | 'ticket';
  threshold: number;
  /** Share of the period's budget spent when the long window just reaches the threshold. */
  budget_consumed_fraction: number;
  firing: boolean;
  long_window: WindowBurn;
  short_window: WindowBurn;
}

export interface BurnRateOptions {
  /** Table sized for `tableWindowDays` (30 by default); DEFAULT_BURN_RATE_RULES when omitted. */
  rules?: readonly BurnRateRule[];
  tableWindowDays?: number;
}

function windowBurn(series: BucketSeries, minutes: number, nowMs: number, objective: number): WindowBurn {
  const fromMs = nowMs - minutes * MS_PER_MINUTE;
  const counts = series.counts(fromMs, nowMs);
  return { minutes, from_ms: fromMs, to_ms: nowMs, ...counts, burn_rate: burnRateOf(counts, objective) };
}

/** Every rule of the (scaled) table checked at nowMs, firing or not. */
export function checkBurnRates(
  buckets: readonly SloBucket[] | BucketSeries,
  spec: SloSpec,
  nowMs: number,
  options: BurnRateOptions = {},
): BurnRateCheck[] {
  const s = normalizeSpec(spec);
  const series = seriesOf(buckets);
  const tableDays = options.tableWindowDays ?? BURN_RATE_TABLE_WINDOW_DAYS;
  const base = options.rules ?? DEFAULT_BURN_RATE_RULES;
  return scaleBurnRateRules(base, s.windowDays, tableDays).map((rule, i) => {
    const long = windowBurn(series, rule.longWindowMinutes, nowMs, s.objective);
    const short = windowBurn(series, rule.shortWindowMinutes, nowMs, s.objective);
    return {
      slo: s.name,
      rule: rule.name,
      severity: rule.severity,
      action: rule.action,
      threshold: rule.burnRate,
      budget_consumed_fraction: budgetConsumedAtFiring(base[i], tableDays),
      firing: reaches(long.burn_rate, rule.burnRate) && reaches(short.burn_rate, rule.burnRate),
      long_window: long,
      short_window: short,
    };
  });
}

/** The rules firing at nowMs: both the long and the short window burn at or above the threshold. */
export function evaluateBurnRates(
  buckets: readonly SloBucket[] | BucketSeries,
  spec: SloSpec,
  nowMs: number,
  options: BurnRateOptions = {},
): BurnRateCheck[] {
  return checkBurnRates(buckets, spec, nowMs, options).filter((c) => c.firing);
}
