export type CircuitState = 'closed' | 'open' | 'half-open';

export interface CircuitBreakerOptions {
  /** Consecutive failures that open the breaker. */
  failureThreshold: number;
  /** How long the breaker stays open before it admits one trial request. */
  cooldownMs: number;
  now?: () => number;
}

/** What retryAfterMs() suggests while a half-open trial is in flight: the trial's outcome is unknown. */
const TRIAL_RETRY_MS = 1000;

/**
 * A circuit breaker for one model version: closed → open after `failureThreshold` consecutive
 * failures → half-open once `cooldownMs` has passed, admitting exactly one trial request at a time
 * → closed when the trial succeeds, open again (with a fresh cooldown) when it fails.
 *
 * Only failures that are the model's fault may be reported through failure(): runtime errors and
 * timeouts of the inference itself. Invalid inputs, rate-limit or load-shedding refusals and client
 * disconnects go through release() instead, or one bad client could take a healthy model offline
 * for everyone. Every admitted request must end in exactly one of success(), failure(), release().
 *
 * Outcomes of requests admitted before the breaker opened may arrive late; they are ignored while
 * open, and while half-open only an outcome reported during a trial counts (as the trial's).
 */
export class CircuitBreaker {
  private current: CircuitState = 'closed';
  private consecutiveFailures = 0;
  private openedAt = 0;
  private trialInFlight = false;
  private readonly failureThreshold: number;
  private readonly cooldownMs: number;
  private readonly now: () => number;

  constructor(options: CircuitBreakerOptions) {
    if (!Number.isInteger(options.failureThreshold) || options.failureThreshold < 1) {
      throw new RangeError(`failureThreshold must be an integer >= 1, got ${options.failureThreshold}`);
    }
    if (!Number.isFinite(options.cooldownMs) || options.cooldownMs < 0) {
      throw new RangeError(`cooldownMs must be a finite number >= 0, got ${options.cooldownMs}`);
    }
    this.failureThreshold = options.failureThreshold;
    this.cooldownMs = options.cooldownMs;
    this.now = options.now ?? Date.now;
  }

  get state(): CircuitState {
    this.refresh();
    return this.current;
  }

  /** True if a request may go to the model; false while open or while a half-open trial runs. */
  admit(): boolean {
    this.refresh();
    if (this.current === 'closed') return true;
    if (this.current === 'open' || this.trialInFlight) return false;
    this.trialInFlight = true;
    return true;
  }

  success(): void {
    this.refresh();
    if (this.current === 'closed') {
      this.consecutiveFailures = 0;
    } else if (this.current === 'half-open' && this.trialInFlight) {
      this.current = 'closed';
      this.consecutiveFailures = 0;
      this.trialInFlight = false;
    }
  }

  /** Reports a failure that is the model's fault (see the class comment). */
  failure(): void {
    this.refresh();
    if (this.current === 'closed') {
      this.consecutiveFailures += 1;
      if (this.consecutiveFailures >= this.failureThreshold) this.open();
    } else if (this.current === 'half-open' && this.trialInFlight) {
      this.open();
    }
  }

  /**
   * Ends an admitted request that says nothing about the model (invalid input, load shedding, a
   * client that went away). It must be called for those, or a half-open trial that ended so would
   * keep the breaker refusing forever; it frees the trial slot and changes nothing else.
   */
  release(): void {
    this.refresh();
    if (this.current === 'half-open') this.trialInFlight = false;
  }

  /** Milliseconds until admit() may return true again; 0 while closed or half-open with no trial running. */
  retryAfterMs(): number {
    this.refresh();
    if (this.current === 'open') return Math.max(0, this.openedAt + this.cooldownMs - this.now());
    if (this.current === 'half-open' && this.trialInFlight) return Math.min(TRIAL_RETRY_MS, Math.max(1, this.cooldownMs));
    return 0;
  }

  private open(): void {
    this.current = 'open';
    this.openedAt = this.now();
    this.trialInFlight = false;
  }

  /** The open → half-open transition is driven by time, so it happens lazily on each call. */
  private refresh(): void {
    if (this.current === 'open' && this.now() >= this.openedAt + this.cooldownMs) {
      this.current = 'half-open';
      this.trialInFlight = false;
    }
  }
}
