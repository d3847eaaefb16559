import { createHash } from 'node:crypto';

export interface TakeResult {
  allowed: boolean;
  /** 0 when allowed; otherwise whole seconds (at least 1) until a token is free, for Retry-After. */
  retryAfterSeconds: number;
}

/**
 * Token buckets for serving, per key (e.g. `token:<id>` or `deployment:<name>`). The rate and
 * burst come with each call, so a changed limit applies on the next request; a bucket never holds
 * more than the burst it was last taken with.
 */
export interface TokenBuckets {
  take(key: string, ratePerSecond: number, burst: number): Promise<TakeResult>;
}

const DEFAULT_MAX_KEYS = 50_000;

function checkLimits(ratePerSecond: number, burst: number): void {
  if (!Number.isFinite(ratePerSecond) || ratePerSecond <= 0) {
    throw new RangeError(`ratePerSecond must be a finite number > 0, got ${ratePerSecond}`);
  }
  if (!Number.isFinite(burst) || burst < 1) throw new RangeError(`burst must be a finite number >= 1, got ${burst}`);
}

function refused(retryAfterMs: number): TakeResult {
  return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(retryAfterMs / 1000)) };
}

export interface MemoryTokenBucketsOptions {
  now?: () => number;
  /** Buckets kept; the least recently used is dropped beyond it. */
  maxKeys?: number;
}

/** Buckets in this process: with N replicas the effective limit is N × rate. */
export class MemoryTokenBuckets implements TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly now: () => number;
  private readonly maxKeys: number;

  constructor(options: MemoryTokenBucketsOptions = {}) {
    this.now = options.now ?? Date.now;
    this.maxKeys = options.maxKeys ?? DEFAULT_MAX_KEYS;
  }

  get size(): number {
    return this.buckets.size;
  }

  async take(key: string, ratePerSecond: number, burst: number): Promise<TakeResult> {
    return this.takeSync(key, ratePerSecond, burst);
  }

  /** take() without the promise, for callers already on a synchronous path. */
  takeSync(key: string, ratePerSecond: number, burst: number): TakeResult {
    checkLimits(ratePerSecond, burst);
    const now = this.now();
    const bucket = this.buckets.get(key) ?? { tokens: burst, at: now };
    // Re-inserting moves the key to the end of the Map's order, so eviction drops the least recently used.
    this.buckets.delete(key);
    this.buckets.set(key, bucket);
    if (this.buckets.size > this.maxKeys) this.buckets.delete(this.buckets.keys().next().value!);
    bucket.tokens = Math.min(burst, bucket.tokens + (Math.max(0, now - bucket.at) / 1000) * ratePerSecond);
    bucket.at = now;
    if (bucket.tokens < 1) return refused(((1 - bucket.tokens) / ratePerSecond) * 1000);
    bucket.tokens -= 1;
    return { allowed: true, retryAfterSeconds: 0 };
  }
}

/**
 * Refills and takes in one step on the server. TIME is the Redis server's clock, so replicas with
 * skewed clocks agree. Returns {allowed 0|1, ms until a token is free}; Lua numbers become
 * integers in replies, hence whole milliseconds.
 */
export const TAKE_SCRIPT = `
-- Redis < 5 refuses writes after TIME unless effects are replicated; later versions ignore this.
if redis.replicate_commands then redis.replicate_commands() end
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil or at == nil then
  tokens = burst
  at = now
end
tokens = math.min(burst, tokens + math.max(0, now - at) / 1000 * rate)
local allowed = 0
local wait_ms = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  wait_ms = math.ceil((1 - tokens) / rate * 1000)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return {allowed, wait_ms}
`;

const TAKE_SHA = createHash('sha1').update(TAKE_SCRIPT).digest('hex');

/** The part of an ioredis client (Redis or Cluster) the buckets use. */
export interface RedisScriptClient {
  evalsha(sha: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
  eval(script: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
}

export interface RedisTokenBucketsOptions {
  /** Prepended to every key; default `capstan:rl:`. */
  prefix?: string;
  /** A Redis call slower than this counts as failed and the take is answered from memory; default 200. */
  timeoutMs?: number;
  /** Called once when Redis starts failing, and again only after it has answered in between. */
  onError?: (err: unknown) => void;
  /** Clock of the in-memory fallback (Redis uses its own). */
  now?: () => number;
}

/**
 * Buckets shared by all replicas through Redis. When Redis fails or is slow the take is answered
 * by a per-process MemoryTokenBuckets instead: rate limiting must not take serving down, so during
 * an outage the limit is per replica.
 */
export class RedisTokenBuckets implements TokenBuckets {
  private readonly prefix: string;
  private readonly timeoutMs: number;
  private readonly onError?: (err: unknown) => void;
  private readonly fallback: MemoryTokenBuckets;
  private failing = false;

  constructor(private readonly redis: RedisScriptClient, options: RedisTokenBucketsOptions = {}) {
    this.prefix = options.prefix ?? 'capstan:rl:';
    this.timeoutMs = options.timeoutMs ?? 200;
    this.onError = options.onError;
    this.fallback = new MemoryTokenBuckets({ now: options.now });
  }

  async take(key: string, ratePerSecond: number, burst: number): Promise<TakeResult> {
    checkLimits(ratePerSecond, burst);
    let reply: unknown;
    try {
      reply = await withTimeout(this.run(this.prefix + key, ratePerSecond, burst), this.timeoutMs);
    } catch (err) {
      if (!this.failing) this.onError?.(err);
      this.failing = true;
      return this.fallback.takeSync(key, ratePerSecond, burst);
    }
    this.failing = false;
    const [allowed, waitMs] = reply as [number, number];
    return allowed === 1 ? { allowed: true, retryAfterSeconds: 0 } : refused(waitMs);
  }

  private async run(key: string, ratePerSecond: number, burst: number): Promise<unknown> {
    const args = [String(ratePerSecond), String(burst)];
    try {
      return await this.redis.evalsha(TAKE_SHA, 1, key, ...args);
    } catch (err) {
      if (!String((err as Error)?.message).startsWith('NOSCRIPT')) throw err;
      // EVAL also caches the script, so the next EVALSHA finds it.
      return await this.redis.eval(TAKE_SCRIPT, 1, key, ...args);
    }
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Redis did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
