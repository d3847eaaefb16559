/** What one arm (stable or canary) did within the window. */
export interface WindowSummary {
  requests: number;
  errors: number;
  /** errors / requests; 0 with no requests. */
  errorRate: number;
  /** Nearest-rank p95 over all requests, failed ones included; 0 with no requests. */
  p95LatencyMs: number;
  /** Finite predictions of the successful requests, oldest first. */
  predictions: number[];
}

export interface SlidingWindowOptions {
  windowMs: number;
  /** Samples kept; the oldest is dropped beyond it, so a traffic spike cannot grow memory. Default 20,000. */
  maxSamples?: number;
}

/**
 * The requests of one arm over the last `windowMs`, in a fixed-size ring: memory is bounded by
 * `maxSamples` whatever the traffic, at the cost of a shorter effective window under heavy load.
 */
export class SlidingWindow {
  private readonly windowMs: number;
  private readonly capacity: number;
  private readonly at: Float64Array;
  private readonly ok: Uint8Array;
  private readonly latency: Float64Array;
  /** NaN where a request had no prediction. */
  private readonly prediction: Float64Array;
  private head = 0;
  private count = 0;

  constructor(options: SlidingWindowOptions) {
    const maxSamples = options.maxSamples ?? 20_000;
    if (!(options.windowMs > 0)) throw new RangeError(`windowMs must be > 0, got ${options.windowMs}`);
    if (!Number.isInteger(maxSamples) || maxSamples < 1) throw new RangeError(`maxSamples must be an integer >= 1, got ${maxSamples}`);
    this.windowMs = options.windowMs;
    this.capacity = maxSamples;
    this.at = new Float64Array(maxSamples);
    this.ok = new Uint8Array(maxSamples);
    this.latency = new Float64Array(maxSamples);
    this.prediction = new Float64Array(maxSamples);
  }

  /** Samples currently held (some may have aged out since the last record or summary). */
  get size(): number {
    return this.count;
  }

  record(atMs: number, ok: boolean, latencyMs: number, prediction: number | null): void {
    this.prune(atMs);
    if (this.count === this.capacity) {
      this.head = (this.head + 1) % this.capacity;
      this.count -= 1;
    }
    const i = (this.head + this.count) % this.capacity;
    this.at[i] = atMs;
    this.ok[i] = ok ? 1 : 0;
    this.latency[i] = latencyMs;
    this.prediction[i] = prediction !== null && Number.isFinite(prediction) ? prediction : Number.NaN;
    this.count += 1;
  }

  summary(now: number): WindowSummary {
    this.prune(now);
    const since = now - this.windowMs;
    const latencies: number[] = [];
    const predictions: number[] = [];
    let errors = 0;
    for (let k = 0; k < this.count; k++) {
      const i = (this.head + k) % this.capacity;
      // Samples recorded slightly out of order may sit behind a newer one and escape prune().
      if (this.at[i] <= since) continue;
      latencies.push(this.latency[i]);
      if (this.ok[i] === 0) errors += 1;
      else if (!Number.isNaN(this.prediction[i])) predictions.push(this.prediction[i]);
    }
    const requests = latencies.length;
    return { requests, errors, errorRate: requests ? errors / requests : 0, p95LatencyMs: percentile(latencies, 0.95), predictions };
  }

  private prune(now: number): void {
    const since = now - this.windowMs;
    while (this.count > 0 && this.at[this.head] <= since) {
      this.head = (this.head + 1) % this.capacity;
      this.count -= 1;
    }
  }
}

/** Nearest-rank percentile; 0 for no values. */
function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)];
}

/** Fewer values than this on either side make PSI too noisy to act on. */
export const PSI_MIN_SAMPLES = 30;
/** The share given to an empty bin so PSI stays finite. */
export const PSI_EMPTY_SHARE = 1e-4;
const MAX_CATEGORIES = 20;

export interface PredictionShift {
  psi: number;
  method: 'categorical' | 'deciles';
}

/**
 * Population stability index of the canary's predictions against the stable's:
 * Σ (canary share − stable share) × ln(canary share / stable share) over bins. Integral
 * predictions with at most 20 distinct values on each side (class labels) are binned by value;
 * anything else into the stable sample's deciles. Null when either side has fewer than 30 values.
 */
export function predictionShift(stable: number[], canary: number[]): PredictionShift | null {
  const s = stable.filter(Number.isFinite);
  const c = canary.filter(Number.isFinite);
  if (s.length < PSI_MIN_SAMPLES || c.length < PSI_MIN_SAMPLES) return null;
  if (isCategorical(s) && isCategorical(c)) return { psi: categoricalPsi(s, c), method: 'categorical' };
  return { psi: decilePsi(s, c), method: 'deciles' };
}

function isCategorical(values: number[]): boolean {
  const distinct = new Set<number>();
  for (const v of values) {
    if (!Number.isInteger(v)) return false;
    distinct.add(v);
    if (distinct.size > MAX_CATEGORIES) return false;
  }
  return true;
}

function psiOfCounts(stableCounts: number[], canaryCounts: number[], stableTotal: number, canaryTotal: number): number {
  let psi = 0;
  for (let b = 0; b < stableCounts.length; b++) {
    const s = stableCounts[b] === 0 ? PSI_EMPTY_SHARE : stableCounts[b] / stableTotal;
    const c = canaryCounts[b] === 0 ? PSI_EMPTY_SHARE : canaryCounts[b] / canaryTotal;
    psi += (c - s) * Math.log(c / s);
  }
  return psi;
}

function categoricalPsi(stable: number[], canary: number[]): number {
  const categories = [...new Set([...stable, ...canary])];
  const index = new Map(categories.map((v, i) => [v, i]));
  const count = (values: number[]) => {
    const counts = new Array<number>(categories.length).fill(0);
    for (const v of values) counts[index.get(v)!] += 1;
    return counts;
  };
  return psiOfCounts(count(stable), count(canary), stable.length, canary.length);
}

function decilePsi(stable: number[], canary: number[]): number {
  const sorted = Float64Array.from(stable).sort();
  // Ties in the stable sample give repeated edges; one copy gives the same bins without empty ones.
  const edges = [...new Set(Array.from({ length: 9 }, (_, k) => quantile(sorted, (k + 1) / 10)))];
  const count = (values: number[]) => {
    const counts = new Array<number>(edges.length + 1).fill(0);
    for (const v of values) counts[binOf(edges, v)] += 1;
    return counts;
  };
  return psiOfCounts(count(stable), count(canary), stable.length, canary.length);
}

/** Linear-interpolation quantile of a sorted sample (numpy's default). */
function quantile(sorted: Float64Array, p: number): number {
  const h = (sorted.length - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

/** Bins are (−∞, e0], (e0, e1], …, (e_last, ∞): the index is the number of edges below v. */
function binOf(edges: number[], v: number): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (edges[mid] < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export interface CanarySlo {
  maxErrorRate: number;
  maxLatencyP95Ms: number;
  maxPredictionPsi: number;
  /** Canary requests in the window before any verdict but 'wait'. */
  minRequests: number;
  /** When set, the canary also fails if its error rate exceeds the stable's by more than this. */
  maxErrorRateIncrease?: number;
}

/** The numbers behind a verdict, for the audit log. */
export interface CanaryObserved {
  stableRequests: number;
  canaryRequests: number;
  stableErrorRate: number;
  canaryErrorRate: number;
  stableP95LatencyMs: number;
  canaryP95LatencyMs: number;
  /** Null when either arm had fewer than PSI_MIN_SAMPLES predictions. */
  predictionPsi: number | null;
  psiMethod: PredictionShift['method'] | null;
}

export interface CanaryDecision {
  verdict: 'pass' | 'fail' | 'wait';
  /** Why: the unmet requirement for 'wait', each violated SLO for 'fail', checks that could not run for 'pass'. */
  reasons: string[];
  observed: CanaryObserved;
}

/** Compares the canary arm with the stable arm over the same window. */
export function decide(slo: CanarySlo, stable: WindowSummary, canary: WindowSummary): CanaryDecision {
  const shift = predictionShift(stable.predictions, canary.predictions);
  const observed: CanaryObserved = {
    stableRequests: stable.requests,
    canaryRequests: canary.requests,
    stableErrorRate: stable.errorRate,
    canaryErrorRate: canary.errorRate,
    stableP95LatencyMs: stable.p95LatencyMs,
    canaryP95LatencyMs: canary.p95LatencyMs,
    predictionPsi: shift?.psi ?? null,
    psiMethod: shift?.method ?? null,
  };
  if (canary.requests < slo.minRequests) {
    return { verdict: 'wait', reasons: [`canary has ${canary.requests} requests in the window, ${slo.minRequests} needed`], observed };
  }
  const failures = [...errorRateFailures(slo, stable, canary), ...latencyFailures(slo, canary), ...shiftFailures(slo, shift)];
  if (failures.length > 0) return { verdict: 'fail', reasons: failures, observed };
  return { verdict: 'pass', reasons: skippedChecks(slo, stable, shift), observed };
}

const rate = (x: number) => x.toFixed(3);
const ms = (x: number) => (Number.isInteger(x) ? String(x) : x.toFixed(1));

function errorRateFailures(slo: CanarySlo, stable: WindowSummary, canary: WindowSummary): string[] {
  const reasons: string[] = [];
  if (canary.errorRate > slo.maxErrorRate) reasons.push(`canary error rate ${rate(canary.errorRate)} > ${rate(slo.maxErrorRate)}`);
  if (relativeCheckApplies(slo, stable) && canary.errorRate > stable.errorRate + slo.maxErrorRateIncrease!) {
    reasons.push(
      `canary error rate ${rate(canary.errorRate)} > stable ${rate(stable.errorRate)} + allowed increase ${rate(slo.maxErrorRateIncrease!)}`,
    );
  }
  return reasons;
}

/** A stable arm with fewer requests than the canary needs has too noisy an error rate to compare against. */
function relativeCheckApplies(slo: CanarySlo, stable: WindowSummary): boolean {
  return slo.maxErrorRateIncrease !== undefined && stable.requests >= slo.minRequests;
}

function latencyFailures(slo: CanarySlo, canary: WindowSummary): string[] {
  if (canary.p95LatencyMs <= slo.maxLatencyP95Ms) return [];
  return [`canary p95 latency ${ms(canary.p95LatencyMs)} ms > ${ms(slo.maxLatencyP95Ms)} ms`];
}

function shiftFailures(slo: CanarySlo, shift: PredictionShift | null): string[] {
  if (shift === null || shift.psi <= slo.maxPredictionPsi) return [];
  return [`prediction shift PSI ${shift.psi.toFixed(3)} (${shift.method}) > ${slo.maxPredictionPsi.toFixed(3)}`];
}

function skippedChecks(slo: CanarySlo, stable: WindowSummary, shift: PredictionShift | null): string[] {
  const notes: string[] = [];
  if (slo.maxErrorRateIncrease !== undefined && !relativeCheckApplies(slo, stable)) {
    notes.push(`error rate increase not checked: stable has ${stable.requests} requests in the window, ${slo.minRequests} needed`);
  }
  if (shift === null) notes.push(`prediction shift not checked: fewer than ${PSI_MIN_SAMPLES} predictions on an arm`);
  return notes;
}
