import { AppError } from '../errors/index.js';

const MAX_KEYS = 50_000;

/**
 * A token bucket per key (principal, or client IP before sign-in) in this process. With several
 * replicas behind a balancer each enforces its own bucket, so the effective limit is replicas ×
 * rate; documented in docs/access.md.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {}

  get isEnabled(): boolean {
    return this.perSecond > 0;
  }

  /** Takes one token for `key` or throws REQUEST_LIMIT_EXCEEDED with the seconds until one is free. */
  take(key: string): void {
    if (!this.isEnabled) return;
    const now = this.now();
    let bucket = this.buckets.get(key);
    if (!bucket) {
      if (this.buckets.size >= MAX_KEYS) this.buckets.delete(this.buckets.keys().next().value!);
      bucket = { tokens: this.burst, at: now };
      this.buckets.set(key, bucket);
    }
    bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.perSecond);
    bucket.at = now;
    if (bucket.tokens < 1) {
      const retryAfter = Math.max(1, Math.ceil((1 - bucket.tokens) / this.perSecond));
      throw new AppError('REQUEST_LIMIT_EXCEEDED', `More than ${this.perSecond} requests per second (burst ${this.burst}); retry in ${retryAfter} s.`, { details: { retry_after_seconds: retryAfter } });
    }
    bucket.tokens -= 1;
  }
}
