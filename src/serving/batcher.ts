import { AppError } from '../errors/index.js';
import { allocate } from './datatypes.js';
import type { Tensor, TensorData } from './types.js';

export interface BatcherOptions {
  /** Rows one execution may carry; 1 turns batching off. */
  maxBatchRows: number;
  /** With a thread free but a batch not yet full, wait this long for more requests (0: never wait). */
  maxQueueDelayMs: number;
  /** Requests that may wait; beyond it new ones are refused with MODEL_OVERLOADED. */
  maxQueue: number;
  /** Executions in flight at once (the pool's thread count). */
  concurrency: number;
  /** Whole-request deadline, queue wait included; 0 = none. */
  timeoutMs: number;
  /** False when the model's tensors do not all have a leading batch dimension. */
  batchable: boolean;
}

export interface Execution {
  tensors: Tensor[];
  computeMs: number;
}

export interface BatchedResult {
  outputs: Tensor[];
  queueMs: number;
  computeMs: number;
  batchRows: number;
}

export interface BatchObserver {
  batch(rows: number, requests: number): void;
}

interface Job {
  inputs: Tensor[];
  rows: number;
  group: string;
  enqueuedAt: number;
  settled: boolean;
  timer?: NodeJS.Timeout;
  resolve(r: BatchedResult): void;
  reject(e: unknown): void;
}

/**
 * Dynamic batching for one model version. A request is dispatched as soon as an inference thread is
 * free, together with whatever compatible requests queued behind it (up to maxBatchRows): at low
 * load nothing waits, at high load batches grow by themselves while the threads are busy. Requests
 * are compatible when every input has the same non-batch dimensions. A failed batch of several
 * requests is retried one request at a time, so one bad input fails only its own request.
 */
export class Batcher {
  private readonly queue: Job[] = [];
  private inFlight = 0;
  private delayTimer: NodeJS.Timeout | null = null;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly execute: (inputs: Tensor[]) => Promise<Execution>,
    private readonly opts: BatcherOptions,
    private readonly observer?: BatchObserver,
  ) {}

  get depth(): number {
    return this.queue.length;
  }

  get busy(): number {
    return this.inFlight;
  }

  /** `inputs` are in the model's input order and share their first dimension (the rows). */
  submit(inputs: Tensor[]): Promise<BatchedResult> {
    if (this.queue.length >= this.opts.maxQueue) {
      return Promise.reject(new AppError('MODEL_OVERLOADED', `The model's queue is full (${this.opts.maxQueue} requests waiting); retry shortly.`, { details: { retry_after_seconds: 1 } }));
    }
    return new Promise<BatchedResult>((resolve, reject) => {
      const job: Job = { inputs, rows: inputs[0]?.shape[0] ?? 1, group: groupOf(inputs), enqueuedAt: performance.now(), settled: false, resolve, reject };
      if (this.opts.timeoutMs > 0) job.timer = setTimeout(() => this.expire(job), this.opts.timeoutMs);
      this.queue.push(job);
      this.pump();
    });
  }

  /** Resolves once nothing is queued or running (used when draining a version). */
  idle(): Promise<void> {
    if (this.queue.length === 0 && this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private expire(job: Job): void {
    const at = this.queue.indexOf(job);
    if (at >= 0) this.queue.splice(at, 1);
    this.settle(job, null, new AppError('MODEL_TIMEOUT', `The inference did not finish within ${this.opts.timeoutMs} ms.`));
    this.notifyIdle();
  }

  private settle(job: Job, result: BatchedResult | null, err?: unknown): void {
    if (job.settled) return;
    job.settled = true;
    if (job.timer) clearTimeout(job.timer);
    if (result) job.resolve(result);
    else job.reject(err);
  }

  private pump(): void {
    while (this.inFlight < this.opts.concurrency && this.queue.length > 0) {
      if (this.shouldWait()) return;
      if (this.delayTimer) clearTimeout(this.delayTimer);
      this.delayTimer = null;
      const batch = this.take();
      this.inFlight++;
      this.run(batch).finally(() => {
        this.inFlight--;
        this.pump();
        this.notifyIdle();
      });
    }
  }

  /** Waits (once, up to maxQueueDelayMs) for a batch to fill when a delay is configured. */
  private shouldWait(): boolean {
    if (this.opts.maxQueueDelayMs <= 0 || !this.opts.batchable) return false;
    const waited = performance.now() - this.queue[0].enqueuedAt;
    if (this.queuedRows() >= this.opts.maxBatchRows || waited >= this.opts.maxQueueDelayMs) return false;
    if (!this.delayTimer) {
      this.delayTimer = setTimeout(() => {
        this.delayTimer = null;
        this.pump();
      }, Math.max(0, this.opts.maxQueueDelayMs - waited));
    }
    return true;
  }

  private queuedRows(): number {
    let rows = 0;
    for (const j of this.queue) rows += j.rows;
    return rows;
  }

  private take(): Job[] {
    const first = this.queue.shift()!;
    const batch = [first];
    if (!this.opts.batchable) return batch;
    let rows = first.rows;
    for (let i = 0; i < this.queue.length && rows < this.opts.maxBatchRows; ) {
      const j = this.queue[i];
      if (j.group === first.group && rows + j.rows <= this.opts.maxBatchRows) {
        batch.push(j);
        rows += j.rows;
        this.queue.splice(i, 1);
      } else i++;
    }
    return batch;
  }

  private async run(batch: Job[]): Promise<void> {
    const live = batch.filter((j) => !j.settled);
    if (live.length === 0) return;
    const started = performance.now();
    const rows = live.reduce((n, j) => n + j.rows, 0);
    this.observer?.batch(rows, live.length);
    try {
      const exec = await this.execute(live.length === 1 ? live[0].inputs : concatInputs(live.map((j) => j.inputs), rows));
      const parts = live.length === 1 ? [exec.tensors] : splitOutputs(exec.tensors, live.map((j) => j.rows), rows);
      live.forEach((job, i) => this.settle(job, { outputs: parts[i], queueMs: started - job.enqueuedAt, computeMs: exec.computeMs, batchRows: rows }));
    } catch (err) {
      if (live.length === 1) return this.settle(live[0], null, err);
      for (const job of live) await this.run([job]);
    }
  }

  private notifyIdle(): void {
    if (this.queue.length > 0 || this.inFlight > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}

function groupOf(inputs: Tensor[]): string {
  let key = '';
  for (const t of inputs) key += `${t.datatype}[${t.shape.slice(1).join(',')}];`;
  return key;
}

function concatInputs(jobs: Tensor[][], rows: number): Tensor[] {
  return jobs[0].map((first, k) => {
    const total = jobs.reduce((n, inputs) => n + inputs[k].data.length, 0);
    const data = allocate(first.datatype, total);
    let offset = 0;
    for (const inputs of jobs) {
      const part = inputs[k].data;
      if (Array.isArray(data)) for (let i = 0; i < part.length; i++) data[offset + i] = (part as string[])[i];
      else (data as Exclude<TensorData, string[]> & { set(a: ArrayLike<unknown>, o: number): void }).set(part as never, offset);
      offset += part.length;
    }
    return { name: first.name, datatype: first.datatype, shape: [rows, ...first.shape.slice(1)], data };
  });
}

function splitOutputs(tensors: Tensor[], rowsPerJob: number[], rows: number): Tensor[][] {
  const parts: Tensor[][] = rowsPerJob.map(() => []);
  for (const t of tensors) {
    if (t.shape[0] !== rows) throw new AppError('MODEL_INFERENCE_ERR', `Output '${t.name}' has ${t.shape[0]} rows for a batch of ${rows}; the model cannot be batched.`);
    const perRow = t.data.length / rows;
    let row = 0;
    rowsPerJob.forEach((n, i) => {
      const data = Array.isArray(t.data) ? t.data.slice(row * perRow, (row + n) * perRow) : t.data.subarray(row * perRow, (row + n) * perRow);
      parts[i].push({ name: t.name, datatype: t.datatype, shape: [n, ...t.shape.slice(1)], data: data as TensorData });
      row += n;
    });
  }
  return parts;
}
