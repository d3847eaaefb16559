import { afterEach, describe, it, mock } from 'node:test';
import assert from 'node:assert/strict';
import { AppError } from '../errors/index.js';
import { Batcher, type BatcherOptions, type Execution } from './batcher.js';
import type { Tensor } from './types.js';

const OPTS: BatcherOptions = { maxBatchRows: 8, maxQueueDelayMs: 0, maxQueue: 100, concurrency: 1, timeoutMs: 0, batchable: true };

/** An FP32 input `x` of `rows` × `cols`, its values start, start+1, … */
function fp32(rows: number, cols: number, start: number, name = 'x'): Tensor {
  return { name, datatype: 'FP32', shape: [rows, cols], data: Float32Array.from({ length: rows * cols }, (_, i) => start + i) };
}

/** Settles later, from the outside. */
function deferred<T = void>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

/**
 * A model that echoes every input back as `<name>_out` and adds `row_sum` (one FP64 per row: the
 * sum of the first input's row). It can hold an execution until released and fail on a poisoned
 * value (-1 anywhere in the first input).
 */
class FakeModel {
  readonly calls: Tensor[][] = [];
  private readonly gates: Promise<void>[] = [];
  computeMs = 3;

  /** The next execution started waits for the returned release function. */
  hold(): () => void {
    const d = deferred();
    this.gates.push(d.promise);
    return () => d.resolve();
  }

  readonly execute = async (inputs: Tensor[]): Promise<Execution> => {
    this.calls.push(inputs);
    const gate = this.gates.shift();
    if (gate) await gate;
    const first = inputs[0];
    if (Array.from(first.data as Float32Array).includes(-1)) throw new Error('poisoned input');
    const rows = first.shape[0];
    const perRow = first.data.length / rows;
    const sums = new Float64Array(rows);
    for (let r = 0; r < rows; r++) for (let c = 0; c < perRow; c++) sums[r] += Number(first.data[r * perRow + c]);
    const echoes = inputs.map((t) => ({ ...t, name: `${t.name}_out` }));
    return { tensors: [...echoes, { name: 'row_sum', datatype: 'FP64', shape: [rows], data: sums }], computeMs: this.computeMs };
  };

  /** Rows of every execution, in order. */
  rows(): number[] {
    return this.calls.map((c) => c[0].shape[0]);
  }
}

function observer() {
  const seen: [number, number][] = [];
  return { seen, batch: (rows: number, requests: number) => void seen.push([rows, requests]) };
}

/** The FP32 values of a tensor as a plain array. */
const values = (t: Tensor) => Array.from(t.data as Float32Array);

/** What FakeModel answers for a request with input `x` alone. */
function expectedFor(x: Tensor) {
  const perRow = x.shape[1];
  const xs = values(x);
  const sums = Array.from({ length: x.shape[0] }, (_, r) => xs.slice(r * perRow, (r + 1) * perRow).reduce((a, b) => a + b, 0));
  return { echo: xs, shape: x.shape, sums };
}

function assertAnswer(outputs: Tensor[], x: Tensor): void {
  const want = expectedFor(x);
  assert.deepEqual(outputs.map((t) => t.name), ['x_out', 'row_sum']);
  assert.deepEqual(outputs[0].shape, want.shape);
  assert.deepEqual(values(outputs[0]), want.echo);
  assert.deepEqual(outputs[1].shape, [x.shape[0]]);
  assert.deepEqual(Array.from(outputs[1].data as Float64Array), want.sums);
}

/** Asserts `p` rejects with an AppError of `code`; answers it. */
async function rejectsWith(p: Promise<unknown> | (() => Promise<unknown>), code: string): Promise<AppError> {
  let caught: unknown;
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof AppError, `expected AppError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code);
  return caught;
}

describe('Batcher', () => {
  afterEach(() => mock.timers.reset());

  it('dispatches a request at once when a slot is free, alone and unchanged', async () => {
    const model = new FakeModel();
    const obs = observer();
    const b = new Batcher(model.execute, OPTS, obs);
    const x = fp32(3, 2, 10);
    const pending = b.submit([x]);
    // Called synchronously from submit: nothing waited for a timer or a tick.
    assert.equal(model.calls.length, 1);
    assert.equal(model.calls[0][0], x, 'a single request goes to the model as it came');
    assert.equal(b.busy, 1);
    assert.equal(b.depth, 0);
    const result = await pending;
    assertAnswer(result.outputs, x);
    assert.equal(result.batchRows, 3);
    assert.equal(result.computeMs, 3);
    assert.ok(result.queueMs >= 0 && result.queueMs < 50, `queueMs ${result.queueMs}`);
    assert.deepEqual(obs.seen, [[3, 1]]);
    await b.idle();
    assert.equal(b.busy, 0);
  });

  it('merges requests queued behind a busy slot up to maxBatchRows, only within a group, and splits the answers back', async () => {
    const model = new FakeModel();
    const obs = observer();
    const b = new Batcher(model.execute, OPTS, obs);
    const release = model.hold();
    const a = fp32(2, 4, 0);
    const pa = b.submit([a]); // runs now and holds the only slot
    const xb = fp32(1, 4, 100);
    const xc = fp32(2, 3, 200); // other non-batch dims: another group
    const xd = fp32(3, 4, 300);
    const xe = fp32(5, 4, 400); // 1 + 3 + 5 > 8: does not fit with b and d
    const xf = fp32(4, 4, 500); // 1 + 3 + 4 = 8: fits exactly
    const xg: Tensor = { name: 'x', datatype: 'INT32', shape: [1, 4], data: Int32Array.of(1, 2, 3, 4) }; // other datatype: another group
    const pending = [xb, xc, xd, xe, xf].map((x) => b.submit([x]));
    const pg = b.submit([xg]).catch((e: unknown) => e);
    assert.equal(b.depth, 6);
    assert.equal(model.calls.length, 1);
    release();
    const results = await Promise.all([pa, ...pending]);
    await pg;
    // a; then b+d+f (8 rows); then c alone; then e; then g.
    assert.deepEqual(model.rows(), [2, 8, 2, 5, 1]);
    assert.deepEqual(obs.seen, [[2, 1], [8, 3], [2, 1], [5, 1], [1, 1]]);
    const merged = model.calls[1][0];
    assert.deepEqual(merged.shape, [8, 4]);
    assert.deepEqual(values(merged), [...values(xb), ...values(xd), ...values(xf)]);
    assert.equal(model.calls[4][0].datatype, 'INT32');
    const [ra, rb, rc, rd, re, rf] = results;
    for (const [r, x] of [[ra, a], [rb, xb], [rc, xc], [rd, xd], [re, xe], [rf, xf]] as const) assertAnswer(r.outputs, x);
    assert.deepEqual([rb.batchRows, rd.batchRows, rf.batchRows, rc.batchRows, re.batchRows], [8, 8, 8, 2, 5]);
    assert.equal(b.depth, 0);
  });

  it('concatenates every input of a multi-input model (BYTES too) and keys groups on all of them', async () => {
    const model = new FakeModel();
    const b = new Batcher(model.execute, OPTS);
    const release = model.hold();
    const req = (rows: number, start: number, width = 2): Tensor[] => [
      fp32(rows, 2, start),
      { name: 'tag', datatype: 'BYTES', shape: [rows, width], data: Array.from({ length: rows * width }, (_, i) => `s${start + i}`) },
    ];
    const first = b.submit(req(1, 0));
    const r1 = req(1, 10);
    const r2 = req(2, 20, 3); // second input differs in its non-batch dims: not merged
    const r3 = req(2, 30);
    const pending = [r1, r2, r3].map((r) => b.submit(r));
    release();
    const [, a1, a2, a3] = await Promise.all([first, ...pending]);
    assert.deepEqual(model.rows(), [1, 3, 2]);
    const [x, tag] = model.calls[1];
    assert.deepEqual(x.shape, [3, 2]);
    assert.deepEqual(values(x), [10, 11, 30, 31, 32, 33]);
    assert.deepEqual(tag.shape, [3, 2]);
    assert.deepEqual(tag.data, ['s10', 's11', 's30', 's31', 's32', 's33']);
    assert.deepEqual(a1.outputs[1], { name: 'tag_out', datatype: 'BYTES', shape: [1, 2], data: ['s10', 's11'] });
    assert.deepEqual(a3.outputs[1], { name: 'tag_out', datatype: 'BYTES', shape: [2, 2], data: ['s30', 's31', 's32', 's33'] });
    assert.deepEqual(a2.outputs[1].shape, [2, 3]);
    assert.deepEqual(Array.from(a3.outputs[2].data as Float64Array), [30 + 31, 32 + 33]);
  });

  it('never merges when the model is not batchable', async () => {
    const model = new FakeModel();
    const b = new Batcher(model.execute, { ...OPTS, batchable: false });
    const release = model.hold();
    const all = [fp32(1, 2, 0), fp32(1, 2, 10), fp32(1, 2, 20)].map((x) => b.submit([x]));
    release();
    await Promise.all(all);
    assert.deepEqual(model.rows(), [1, 1, 1]);
  });

  it('retries a failed batch one request at a time so only the bad request fails', async () => {
    const model = new FakeModel();
    const obs = observer();
    const b = new Batcher(model.execute, OPTS, obs);
    const release = model.hold();
    const first = b.submit([fp32(1, 2, 0)]);
    const good1 = fp32(1, 2, 10);
    const bad: Tensor = { name: 'x', datatype: 'FP32', shape: [1, 2], data: Float32Array.of(5, -1) };
    const good2 = fp32(2, 2, 20);
    const outcomes = Promise.allSettled([good1, bad, good2].map((x) => b.submit([x])));
    release();
    await first;
    const [o1, o2, o3] = await outcomes;
    assert.equal(o1.status, 'fulfilled');
    assertAnswer(o1.value.outputs, good1);
    assert.equal(o1.value.batchRows, 1, 'the retry ran it alone');
    assert.equal(o2.status, 'rejected');
    assert.equal((o2.reason as Error).message, 'poisoned input');
    assert.equal(o3.status, 'fulfilled');
    assertAnswer(o3.value.outputs, good2);
    assert.deepEqual(model.rows(), [1, 4, 1, 1, 2]);
    assert.deepEqual(obs.seen, [[1, 1], [4, 3], [1, 1], [1, 1], [2, 1]]);
  });

  it('retries one by one when the outputs cannot be split by rows', async () => {
    let calls = 0;
    const execute = async (inputs: Tensor[]): Promise<Execution> => {
      calls++;
      return { tensors: [{ name: 'total', datatype: 'FP32', shape: [1], data: Float32Array.of(inputs[0].shape[0]) }], computeMs: 1 };
    };
    const gate = deferred();
    const b = new Batcher(async (inputs) => {
      if (calls === 0) {
        calls++;
        await gate.promise;
        return { tensors: [], computeMs: 0 };
      }
      return execute(inputs);
    }, OPTS);
    const first = b.submit([fp32(1, 2, 0)]);
    const pending = [fp32(1, 2, 1), fp32(2, 2, 2)].map((x) => b.submit([x]));
    gate.resolve();
    await first;
    const [r1, r2] = await Promise.all(pending);
    assert.equal(calls, 4, 'the merged batch and then each request alone');
    assert.deepEqual(Array.from(r1.outputs[0].data as Float32Array), [1]);
    assert.deepEqual(Array.from(r2.outputs[0].data as Float32Array), [2]);
  });

  it('refuses with MODEL_OVERLOADED and retry_after_seconds once maxQueue requests wait', async () => {
    const model = new FakeModel();
    const b = new Batcher(model.execute, { ...OPTS, maxQueue: 2 });
    const release = model.hold();
    const accepted = [b.submit([fp32(1, 2, 0)]), b.submit([fp32(1, 2, 1)]), b.submit([fp32(1, 2, 2)])];
    assert.equal(b.depth, 2, 'the running request does not count against the queue');
    const err = await rejectsWith(async () => b.submit([fp32(1, 2, 3)]), 'MODEL_OVERLOADED');
    assert.equal(err.status, 429);
    assert.deepEqual(err.details, { retry_after_seconds: 1 });
    assert.match(err.message, /queue is full \(2 requests waiting\)/);
    assert.equal(b.depth, 2);
    release();
    await Promise.all(accepted);
    assert.equal(model.calls.length, 2, 'the refused request never ran');
  });

  it('times out with MODEL_TIMEOUT, queue wait included, and a timed-out queued request never executes', async () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    const model = new FakeModel();
    const b = new Batcher(model.execute, { ...OPTS, timeoutMs: 1000 });
    const release = model.hold();
    const running = b.submit([fp32(1, 2, 0)]).catch((e: unknown) => e);
    const early = b.submit([fp32(1, 2, 10)]).catch((e: unknown) => e);
    mock.timers.tick(500);
    const late = b.submit([fp32(1, 2, 20)]);
    mock.timers.tick(499);
    assert.equal(b.depth, 2, 'nothing expired before its deadline');
    mock.timers.tick(1);
    for (const p of [running, early]) {
      const err = await p;
      assert.ok(err instanceof AppError);
      assert.equal(err.code, 'MODEL_TIMEOUT');
      assert.equal(err.status, 504);
      assert.equal(err.message, 'The inference did not finish within 1000 ms.');
    }
    assert.equal(b.depth, 1, 'the expired request left the queue');
    release();
    const result = await late;
    assertAnswer(result.outputs, fp32(1, 2, 20));
    await b.idle();
    assert.equal(model.calls.length, 2, 'the first (already running) and the late one; the expired one never ran');
    assert.deepEqual(values(model.calls[1][0]), [20, 21]);
    // The late request's timer was cleared when it was answered.
    mock.timers.tick(5000);
    assert.equal(model.calls.length, 2);
  });

  it('with maxQueueDelayMs, waits for a fuller batch instead of dispatching at once', async () => {
    // Real timers: the delay is what is under test (the batcher measures it with performance.now).
    const model = new FakeModel();
    const obs = observer();
    const b = new Batcher(model.execute, { ...OPTS, maxBatchRows: 4, maxQueueDelayMs: 40 }, obs);
    const started = performance.now();
    const p1 = b.submit([fp32(1, 2, 0)]);
    const p2 = b.submit([fp32(1, 2, 10)]);
    assert.equal(model.calls.length, 0, 'a slot is free but the batch is not full: it waits');
    assert.equal(b.depth, 2);
    const [r1, r2] = await Promise.all([p1, p2]);
    const waited = performance.now() - started;
    assert.ok(waited >= 35, `dispatched after ${waited} ms`);
    assert.ok(waited < 1000, `dispatched after ${waited} ms`);
    assert.deepEqual(model.rows(), [2]);
    assert.deepEqual(obs.seen, [[2, 2]]);
    assert.equal(r1.batchRows, 2);
    assertAnswer(r2.outputs, fp32(1, 2, 10));
  });

  it('with maxQueueDelayMs, dispatches at once when the batch is full', async () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    const model = new FakeModel();
    const b = new Batcher(model.execute, { ...OPTS, maxBatchRows: 4, maxQueueDelayMs: 10_000 });
    const p1 = b.submit([fp32(1, 2, 0)]);
    assert.equal(model.calls.length, 0);
    const p2 = b.submit([fp32(3, 2, 10)]);
    assert.equal(model.calls.length, 1, 'four rows fill the batch: no waiting');
    await Promise.all([p1, p2]);
    assert.deepEqual(model.rows(), [4]);
  });

  it('idle() resolves at once when empty and otherwise only after everything queued and running is done', async () => {
    const model = new FakeModel();
    const b = new Batcher(model.execute, OPTS);
    await b.idle();
    const release = model.hold();
    const order: string[] = [];
    const requests = [b.submit([fp32(1, 2, 0)]), b.submit([fp32(1, 2, 1)]), b.submit([fp32(1, 2, 2)])].map((p, i) => p.then(() => void order.push(`r${i}`)));
    const idle = b.idle().then(() => void order.push('idle'));
    await Promise.resolve();
    assert.deepEqual(order, []);
    release();
    await Promise.all([idle, ...requests]);
    assert.equal(order.at(-1), 'idle');
    assert.deepEqual([...order].sort(), ['idle', 'r0', 'r1', 'r2']);
    assert.equal(b.busy, 0);
    assert.equal(b.depth, 0);
  });
});
