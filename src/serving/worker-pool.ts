import { Worker } from 'node:worker_threads';
import type { WireSpec, WireTensor, WorkerReply, WorkerRequest } from './worker-protocol.js';

type Pending = { resolve(reply: WorkerReply & { ok: true }): void; reject(err: Error): void };
type Outgoing = Omit<WorkerRequest & { op: 'run' }, 'id'> | Omit<WorkerRequest & { op: 'load' }, 'id'> | Omit<WorkerRequest & { op: 'unload' }, 'id'>;

interface Slot {
  worker: Worker;
  pending: Map<number, Pending>;
  busy: number;
}

export interface PoolOptions {
  size: number;
  executionProviders: string[];
  intraOpThreads: number;
}

export interface ModelIO {
  inputs: WireSpec[];
  outputs: WireSpec[];
}

/** Raised for a failure inside onnxruntime (bad graph, kernel error); the caller maps it. */
export class RuntimeError extends Error {
  override name = 'RuntimeError';
}

/**
 * In the built package the worker is the compiled .js file. Under tsx (tests, development) it is
 * the .ts source, and a worker thread does not inherit the parent's loader hooks: it registers
 * them itself before importing the source.
 */
function startWorker(): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./inference-worker.js', import.meta.url));
  const source = new URL('./inference-worker.ts', import.meta.url).href;
  const api = import.meta.resolve('tsx/esm/api');
  return new Worker(`import(${JSON.stringify(api)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(source)}); });`, { eval: true });
}

/**
 * A fixed set of inference threads. Every loaded model has a session in every thread, so any idle
 * thread can run any model; a run goes to the thread with the fewest runs in flight. A thread that
 * dies fails only its runs in flight; it is replaced and its models are loaded again.
 */
export class WorkerPool {
  private readonly slots: Slot[] = [];
  private readonly models = new Map<string, Uint8Array>();
  private nextId = 1;
  private closed = false;

  constructor(private readonly opts: PoolOptions) {
    for (let i = 0; i < Math.max(1, opts.size); i++) this.slots.push(this.spawn());
  }

  get size(): number {
    return this.slots.length;
  }

  /** Runs in flight across all threads. */
  get busy(): number {
    let n = 0;
    for (const s of this.slots) n += s.busy;
    return n;
  }

  private spawn(): Slot {
    const worker = startWorker();
    const slot: Slot = { worker, pending: new Map(), busy: 0 };
    worker.on('message', (reply: WorkerReply) => {
      const p = slot.pending.get(reply.id);
      if (!p) return;
      slot.pending.delete(reply.id);
      if (reply.ok) p.resolve(reply);
      else p.reject(new RuntimeError(reply.error));
    });
    worker.on('error', (err) => this.replace(slot, err));
    worker.on('exit', (code) => this.replace(slot, new Error(`inference thread exited with code ${code}`)));
    return slot;
  }

  private replace(slot: Slot, err: Error): void {
    const index = this.slots.indexOf(slot);
    if (index < 0) return;
    for (const p of slot.pending.values()) p.reject(new RuntimeError(`inference thread failed: ${err.message}`));
    slot.pending.clear();
    if (this.closed) return;
    const fresh = this.spawn();
    this.slots[index] = fresh;
    for (const [key, bytes] of this.models) {
      this.send(fresh, { op: 'load', key, bytes, executionProviders: this.opts.executionProviders, intraOpThreads: this.opts.intraOpThreads }).catch(() => undefined);
    }
  }

  private send(slot: Slot, msg: Outgoing, transfer: ArrayBuffer[] = []): Promise<WorkerReply & { ok: true }> {
    const id = this.nextId++;
    slot.busy++;
    return new Promise<WorkerReply & { ok: true }>((resolve, reject) => {
      slot.pending.set(id, { resolve, reject });
      try {
        slot.worker.postMessage({ ...msg, id }, transfer);
      } catch (err) {
        slot.pending.delete(id);
        reject(new RuntimeError(`could not send the request to the inference thread: ${(err as Error).message}`));
      }
    }).finally(() => slot.busy--);
  }

  /** Creates a session for `key` in every thread; answers the graph's inputs and outputs. */
  async load(key: string, bytes: Uint8Array): Promise<ModelIO> {
    if (this.closed) throw new RuntimeError('the inference pool is closed');
    const replies = await Promise.all(
      this.slots.map((slot) => this.send(slot, { op: 'load', key, bytes, executionProviders: this.opts.executionProviders, intraOpThreads: this.opts.intraOpThreads })),
    );
    this.models.set(key, bytes);
    return { inputs: replies[0].inputs ?? [], outputs: replies[0].outputs ?? [] };
  }

  async run(key: string, feeds: WireTensor[], outputs?: string[]): Promise<{ tensors: WireTensor[]; computeMs: number }> {
    let slot = this.slots[0];
    for (const s of this.slots) if (s.busy < slot.busy) slot = s;
    // Only whole, attached buffers move to the thread: a detached one (byteLength 0) would make Node
    // drop the message silently, and a view into a larger buffer must not take the rest with it.
    const transfer = feeds.flatMap((f) => (ArrayBuffer.isView(f.data) && f.data.buffer instanceof ArrayBuffer && f.data.byteLength > 0 && f.data.byteLength === f.data.buffer.byteLength ? [f.data.buffer] : []));
    const reply = await this.send(slot, { op: 'run', key, feeds, outputs }, transfer);
    return { tensors: reply.tensors ?? [], computeMs: reply.computeMs ?? 0 };
  }

  async unload(key: string): Promise<void> {
    this.models.delete(key);
    await Promise.allSettled(this.slots.map((slot) => this.send(slot, { op: 'unload', key })));
  }

  /**
   * Releases every session first: stopping a thread that still holds one can crash the process.
   * So can stopping one still loading onnxruntime (a pool closed right after it was made, as
   * `capstan keys rotate` does): every thread answers one message before it is stopped.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    for (const key of [...this.models.keys()]) await this.unload(key);
    const settled = (slot: Slot) => new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 10_000);
      this.send(slot, { op: 'unload', key: '' }).catch(() => undefined).finally(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    await Promise.all(this.slots.map(settled));
    this.closed = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}
