import { AppError } from '../errors/index.js';
import { Batcher, type BatchedResult, type BatcherOptions } from './batcher.js';
import { CircuitBreaker } from './circuit-breaker.js';
import { allocate, datatypeOfOrt, fromWire, toWire } from './datatypes.js';
import { RuntimeError, type WorkerPool } from './worker-pool.js';
import type { ModelState, Tensor, TensorSpec } from './types.js';
import type { WireSpec } from './worker-protocol.js';

/** Allowed lifecycle moves; anything else is a bug in the caller. */
const TRANSITIONS: Record<ModelState, readonly ModelState[]> = {
  loading: ['ready', 'failed', 'draining'],
  ready: ['draining'],
  draining: ['unloaded'],
  unloaded: [],
  failed: ['unloaded'],
};

export interface ServedModelOptions extends Omit<BatcherOptions, 'batchable' | 'concurrency'> {
  breakerFailures: number;
  breakerCooldownMs: number;
}

export interface ServingObserver {
  batch(model: ServedModel, rows: number, requests: number): void;
}

/** Triton-style counters, shown by the statistics endpoint and `capstan deployments get`. */
export interface ModelStats {
  inferenceCount: number;
  executionCount: number;
  success: number;
  fail: number;
  queueMs: number;
  computeMs: number;
  lastInference: number;
}

/**
 * One model version held by the inference threads: loading → ready → draining → unloaded, or
 * failed with a reason. It is ready only after a warm-up inference succeeded, so the first real
 * request never pays for lazy initialisation.
 */
export class ServedModel {
  state: ModelState = 'loading';
  reason = '';
  inputs: TensorSpec[] = [];
  outputs: TensorSpec[] = [];
  /** Outputs the V2 protocol cannot carry (ONNX sequences and maps), left out of every response. */
  skippedOutputs: string[] = [];
  readonly stats: ModelStats = { inferenceCount: 0, executionCount: 0, success: 0, fail: 0, queueMs: 0, computeMs: 0, lastInference: 0 };
  readonly breaker: CircuitBreaker;
  private batcher: Batcher | null = null;
  private draining: Promise<void> | null = null;
  private readonly listeners: ((m: ServedModel) => void)[] = [];

  constructor(
    readonly key: string,
    readonly name: string,
    readonly version: string,
    private readonly pool: WorkerPool,
    private readonly opts: ServedModelOptions,
    private readonly observer?: ServingObserver,
  ) {
    this.breaker = new CircuitBreaker({ failureThreshold: opts.breakerFailures, cooldownMs: opts.breakerCooldownMs });
  }

  get isReady(): boolean {
    return this.state === 'ready';
  }

  get queueDepth(): number {
    return this.batcher?.depth ?? 0;
  }

  onChange(listener: (m: ServedModel) => void): void {
    this.listeners.push(listener);
  }

  private move(to: ModelState, reason = ''): void {
    if (!TRANSITIONS[this.state].includes(to)) throw new Error(`model ${this.key}: ${this.state} → ${to} is not a lifecycle move`);
    this.state = to;
    this.reason = reason;
    for (const l of this.listeners) l(this);
  }

  /** Loads the bytes into every inference thread and warms up; never throws, ends ready or failed. */
  async load(bytes: Uint8Array): Promise<void> {
    try {
      const io = await this.pool.load(this.key, bytes);
      this.inputs = io.inputs.map((s) => this.spec(s, 'input'));
      const tensorOutputs = io.outputs.filter((s) => s.type !== 'non-tensor');
      this.skippedOutputs = io.outputs.filter((s) => s.type === 'non-tensor').map((s) => s.name);
      this.outputs = tensorOutputs.map((s) => this.spec(s, 'output'));
      const batchable = await this.warmUp();
      this.batcher = new Batcher((inputs) => this.execute(inputs), { ...this.opts, concurrency: this.pool.size, batchable }, {
        batch: (rows, requests) => this.observer?.batch(this, rows, requests),
      });
      if (this.state === 'loading') this.move('ready');
    } catch (err) {
      if (this.state === 'loading') this.move('failed', err instanceof Error ? err.message : String(err));
      await this.pool.unload(this.key).catch(() => undefined);
    }
  }

  private spec(s: WireSpec, what: string): TensorSpec {
    const datatype = datatypeOfOrt(s.type);
    if (!datatype) throw new Error(`${what} '${s.name}' has type ${s.type}, which the V2 protocol cannot carry`);
    return { name: s.name, datatype, shape: s.shape };
  }

  /**
   * Runs batch 1 and, when every tensor has a variable first dimension, batch 2: the model is
   * batched only if its outputs then have 2 rows.
   */
  private async warmUp(): Promise<boolean> {
    const zeros = (rows: number) =>
      this.inputs.map((s) => {
        const shape = s.shape.map((d, i) => (d >= 0 ? d : i === 0 ? rows : 1));
        return { name: s.name, datatype: s.datatype, shape, data: allocate(s.datatype, shape.reduce((a, b) => a * b, 1)) };
      });
    await this.execute(zeros(1));
    const leading = (s: TensorSpec) => s.shape.length > 0 && s.shape[0] === -1;
    if (!this.inputs.every(leading) || !this.outputs.every(leading) || this.opts.maxBatchRows <= 1) return false;
    const two = await this.execute(zeros(2));
    return two.tensors.every((t) => t.shape[0] === 2);
  }

  private async execute(inputs: Tensor[]) {
    const names = this.outputs.map((o) => o.name);
    const { tensors, computeMs } = await this.pool.run(this.key, inputs.map(toWire), this.skippedOutputs.length ? names : undefined);
    this.stats.executionCount++;
    return { tensors: tensors.map(fromWire), computeMs };
  }

  /** `inputs` must already match the model (checkAgainstModel) and be in its input order. */
  async infer(inputs: Tensor[]): Promise<BatchedResult> {
    if (this.state !== 'ready' || !this.batcher) {
      throw new AppError('MODEL_NOT_READY', `Model ${this.name} version ${this.version} is ${this.state}${this.reason ? `: ${this.reason}` : ''}.`, { details: { retry_after_seconds: 1, state: this.state } });
    }
    if (!this.breaker.admit()) {
      const seconds = Math.max(1, Math.ceil(this.breaker.retryAfterMs() / 1000));
      throw new AppError('MODEL_CIRCUIT_OPEN', `Model ${this.name} version ${this.version} failed repeatedly; its circuit breaker is open for ${seconds} s.`, { details: { retry_after_seconds: seconds } });
    }
    try {
      const result = await this.batcher.submit(inputs);
      this.breaker.success();
      this.record(true, inputs[0]?.shape[0] ?? 1, result);
      return result;
    } catch (err) {
      if (err instanceof AppError && err.code === 'MODEL_TIMEOUT') {
        this.breaker.failure();
        this.record(false, 0);
        throw err;
      }
      if (err instanceof RuntimeError) {
        this.breaker.failure();
        this.record(false, 0);
        throw new AppError('MODEL_INFERENCE_ERR', `Model ${this.name} version ${this.version} failed: ${err.message}`, { cause: err });
      }
      this.breaker.release();
      this.record(false, 0);
      throw err;
    }
  }

  private record(ok: boolean, rows: number, result?: BatchedResult): void {
    if (ok) {
      this.stats.success++;
      this.stats.inferenceCount += rows;
      this.stats.queueMs += result!.queueMs;
      this.stats.computeMs += result!.computeMs;
    } else this.stats.fail++;
    this.stats.lastInference = Date.now();
  }

  /** Stops taking requests, lets queued and running ones finish, then frees the sessions. */
  drain(): Promise<void> {
    this.draining ??= (async () => {
      if (this.state === 'unloaded') return;
      if (this.state === 'failed') return this.move('unloaded');
      this.move('draining');
      await this.batcher?.idle();
      await this.pool.unload(this.key);
      this.move('unloaded');
    })();
    return this.draining;
  }
}
