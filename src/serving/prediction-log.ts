import type { Logger } from 'pino';
import type { Db } from '../store/sql/index.js';
import type { Tensor } from './types.js';

export interface PredictionRecord {
  projectId: number;
  deployment: string;
  model: string;
  version: string;
  /** 'target:<name>' for answers returned, 'shadow:<name>' for shadow answers never returned. */
  role: string;
  requestId: string;
  time: number;
  latencyMs: number;
  inputs: string;
  outputs: string;
}

export interface LoggedPrediction extends Omit<PredictionRecord, 'inputs' | 'outputs'> {
  logId: number;
  inputs: unknown;
  outputs: unknown;
}

const MAX_PENDING = 20_000;

/** Where the runtime hands sampled predictions; `flush` writes what is buffered. */
export interface PredictionSink {
  add(record: PredictionRecord): void;
  flush(): Promise<void>;
}

/** Tensors as JSON text: 64-bit integers as decimal strings, non-finite floats as strings. */
export function tensorsToJson(tensors: readonly Tensor[]): string {
  return JSON.stringify(tensors.map((t) => ({
    name: t.name, datatype: t.datatype, shape: t.shape,
    data: Array.from(t.data as ArrayLike<unknown>, (v) => (typeof v === 'bigint' ? v.toString() : typeof v === 'number' && !Number.isFinite(v) ? String(v) : v)),
  })));
}

/**
 * Sampled requests and answers, for monitoring. Records are buffered and written in one
 * transaction per flush, off the request path; when the database cannot keep up the oldest
 * unwritten records are dropped (and counted) rather than slowing inference down.
 */
export class PredictionLog implements PredictionSink {
  private pending: PredictionRecord[] = [];
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> | null = null;
  dropped = 0;

  constructor(
    private readonly db: Db,
    private readonly logger: Logger,
    private readonly flushMs = 500,
  ) {}

  add(record: PredictionRecord): void {
    if (this.pending.length >= MAX_PENDING) {
      this.pending.shift();
      this.dropped++;
    }
    this.pending.push(record);
    if (!this.timer) {
      this.timer = setTimeout(() => void this.flush(), this.flushMs);
      this.timer.unref();
    }
  }

  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.flushing;
    const rows = this.pending;
    this.pending = [];
    if (rows.length === 0) return;
    this.flushing = this.db
      .transaction((tx) => tx.runMany(
        'INSERT INTO prediction_logs (project_id, deployment, model, version, role, request_id, time, latency_ms, inputs, outputs) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
        rows.map((r) => [r.projectId, r.deployment, r.model, r.version, r.role, r.requestId, r.time, r.latencyMs, r.inputs, r.outputs]),
      ))
      .catch((err) => {
        this.dropped += rows.length;
        this.logger.warn({ err, rows: rows.length }, 'prediction log write failed; records dropped');
      })
      .finally(() => (this.flushing = null));
    await this.flushing;
  }

  async recent(projectId: number, deployment: string, limit: number, requestId?: string): Promise<LoggedPrediction[]> {
    const where = requestId ? 'AND request_id = ?' : '';
    const rows = await this.db.all<Record<string, unknown>>(
      `SELECT log_id, project_id, deployment, model, version, role, request_id, time, latency_ms, inputs, outputs FROM prediction_logs
       WHERE project_id = ? AND deployment = ? ${where} ORDER BY log_id DESC LIMIT ?`,
      requestId ? [projectId, deployment, requestId, limit] : [projectId, deployment, limit],
    );
    return rows.map((r) => ({
      logId: Number(r.log_id), projectId: Number(r.project_id), deployment: String(r.deployment), model: String(r.model), version: String(r.version),
      role: String(r.role), requestId: String(r.request_id), time: Number(r.time), latencyMs: Number(r.latency_ms),
      inputs: JSON.parse(String(r.inputs)), outputs: JSON.parse(String(r.outputs)),
    }));
  }
}
