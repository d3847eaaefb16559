import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Db } from '../store/sql/index.js';

/** Upper bounds (ms) of the latency buckets kept per minute; the last bucket is everything slower. */
export const LATENCY_BOUNDS_MS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000] as const;

/** Answers that count against availability: the platform failed, not the caller. */
export const SERVER_FAULTS = new Set(['MODEL_INFERENCE_ERR', 'MODEL_TIMEOUT', 'MODEL_NOT_READY', 'MODEL_CIRCUIT_OPEN', 'MODEL_OVERLOADED', 'INTERNAL_ERROR']);

interface MinuteCounts {
  projectId: number;
  deployment: string;
  model: string;
  version: string;
  minute: number;
  requests: number;
  errors: number;
  latency: number[];
  computeMs: number;
  dirty: boolean;
}

/** The bucket a latency falls in: the first bound it does not exceed, else the overflow bucket. */
export function latencyBucket(ms: number): number {
  let i = 0;
  while (i < LATENCY_BOUNDS_MS.length && ms > LATENCY_BOUNDS_MS[i]) i++;
  return i;
}

/**
 * Requests, server errors, a latency histogram and inference compute time per deployment, version
 * and minute: what SLOs, cost and idle reports read. Counted in memory on the request path and
 * written every `flushMs` as this replica's own rows (replaced, never incremented, so replicas
 * never contend and a retried write cannot double count). Counts of a minute a crash interrupts
 * before its flush are lost; nothing else is.
 */
export class UsageMeter {
  readonly replica = randomUUID();
  private readonly minutes = new Map<string, MinuteCounts>();
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly db: Db,
    private readonly logger: Logger,
    private readonly flushMs = 5000,
    private readonly now: () => number = Date.now,
  ) {}

  record(projectId: number, deployment: string, model: string, version: string, latencyMs: number, computeMs: number, failed: boolean): void {
    const minute = Math.floor(this.now() / 60_000);
    const key = `${projectId}\u0000${deployment}\u0000${model}\u0000${version}\u0000${minute}`;
    let m = this.minutes.get(key);
    if (!m) {
      m = { projectId, deployment, model, version, minute, requests: 0, errors: 0, latency: new Array(LATENCY_BOUNDS_MS.length + 1).fill(0), computeMs: 0, dirty: true };
      this.minutes.set(key, m);
    }
    m.requests++;
    if (failed) m.errors++;
    m.latency[latencyBucket(latencyMs)]++;
    m.computeMs += computeMs;
    m.dirty = true;
    if (!this.timer) {
      this.timer = setTimeout(() => void this.flush(), this.flushMs);
      this.timer.unref();
    }
  }

  /** Writes every changed minute; minutes before the current one are forgotten once written. */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.flushing = this.flushing.then(() => this.write());
    return this.flushing;
  }

  private async write(): Promise<void> {
    const changed = [...this.minutes.entries()].filter(([, m]) => m.dirty);
    if (changed.length === 0) return;
    for (const [, m] of changed) m.dirty = false;
    try {
      await this.db.transaction((tx) => tx.runMany(
        `INSERT INTO serving_minutes (project_id, deployment, model, version, minute, replica, requests, errors, latency_counts, compute_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (project_id, deployment, minute, model, version, replica) DO UPDATE SET requests = excluded.requests, errors = excluded.errors, latency_counts = excluded.latency_counts, compute_ms = excluded.compute_ms`,
        changed.map(([, m]) => [m.projectId, m.deployment, m.model, m.version, m.minute, this.replica, m.requests, m.errors, JSON.stringify(m.latency), m.computeMs]),
      ));
    } catch (err) {
      for (const [, m] of changed) m.dirty = true;
      this.logger.warn({ err, minutes: changed.length }, 'usage counts not written; retried at the next flush');
      if (!this.timer) {
        this.timer = setTimeout(() => void this.flush(), this.flushMs);
        this.timer.unref();
      }
      return;
    }
    const current = Math.floor(this.now() / 60_000);
    for (const [key, m] of changed) if (m.minute < current && !m.dirty) this.minutes.delete(key);
  }
}
