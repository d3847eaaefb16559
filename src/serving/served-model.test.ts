import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { AppError } from '../errors/index.js';
import { ServedModel, type ServedModelOptions } from './served-model.js';
import type { ModelState, Tensor } from './types.js';
import { RuntimeError, WorkerPool } from './worker-pool.js';

const FIXTURES = new URL('../../test/fixtures/onnx/', import.meta.url);
const MLP = readFileSync(new URL('tabular_mlp.onnx', FIXTURES));
const SIDECAR = JSON.parse(readFileSync(new URL('tabular_mlp.json', FIXTURES), 'utf8'));

const OPTS: ServedModelOptions = { maxBatchRows: 8, maxQueueDelayMs: 0, maxQueue: 16, timeoutMs: 10_000, breakerFailures: 2, breakerCooldownMs: 60_000 };

/** The sidecar example `id` as the model's input tensor, and what it should answer. */
function example(id: string): { input: Tensor; expected: number[]; rows: number } {
  const ex = SIDECAR.examples.find((e: { id: string }) => e.id === id);
  const { shape, data } = ex.inputs.input;
  return { input: { name: 'input', datatype: 'FP32', shape, data: Float32Array.from(data) }, expected: ex.expected_outputs.probabilities.data, rows: shape[0] };
}

function assertClose(got: ArrayLike<number>, want: number[], rtol: number, atol: number): void {
  assert.equal(got.length, want.length);
  for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i] - want[i]) <= atol + rtol * Math.abs(want[i]), `[${i}]: got ${got[i]}, expected ${want[i]}`);
}

/** Asserts `p` rejects with an AppError of `code`; answers it. */
async function rejectsWith(p: Promise<unknown>, code: string): Promise<AppError> {
  const err = await p.then(() => assert.fail(`expected ${code}`), (e: unknown) => e);
  assert.ok(err instanceof AppError, String(err));
  assert.equal(err.code, code, err.message);
  return err;
}

/** Calls the private lifecycle move, to check the transition table guards it. */
const move = (m: ServedModel, to: ModelState) => (m as unknown as { move(to: ModelState): void }).move(to);

describe('ServedModel', () => {
  const pool = new WorkerPool({ size: 1, executionProviders: ['cpu'], intraOpThreads: 1 });
  let n = 0;
  /** A new model version on the shared pool, with the states it passes through. */
  const model = (opts: Partial<ServedModelOptions> = {}) => {
    const m = new ServedModel(`test/m#${++n}`, 'mlp', String(n), pool, { ...OPTS, ...opts });
    const states: ModelState[] = [];
    m.onChange((x) => states.push(x.state));
    return { m, states };
  };
  after(() => pool.close());

  it('loads, warms up and becomes ready with the graph inputs and outputs', async () => {
    const { m, states } = model();
    assert.equal(m.state, 'loading');
    assert.equal(m.isReady, false);
    await m.load(MLP);
    assert.equal(m.state, 'ready', m.reason);
    assert.equal(m.isReady, true);
    assert.equal(m.reason, '');
    assert.deepEqual(states, ['ready']);
    assert.deepEqual(m.inputs, [{ name: 'input', datatype: 'FP32', shape: [-1, 30] }]);
    assert.deepEqual(m.outputs, [{ name: 'probabilities', datatype: 'FP32', shape: [-1, 2] }]);
    assert.deepEqual(m.skippedOutputs, []);
    // Warm-up ran batch 1 and batch 2; no request has been counted.
    assert.deepEqual({ ...m.stats }, { inferenceCount: 0, executionCount: 2, success: 0, fail: 0, queueMs: 0, computeMs: 0, lastInference: 0 });
    await m.drain();
  });

  it('answers the sidecar examples within tolerance and counts them', async () => {
    const { m } = model();
    await m.load(MLP);
    const before = Date.now();
    let rows = 0;
    for (const id of ['ex0', 'ex1', 'ex2']) {
      const ex = example(id);
      const result = await m.infer([ex.input]);
      rows += ex.rows;
      assert.equal(result.outputs.length, 1);
      const [out] = result.outputs;
      assert.equal(out.name, 'probabilities');
      assert.equal(out.datatype, 'FP32');
      assert.deepEqual(out.shape, [ex.rows, 2]);
      assertClose(out.data as Float32Array, ex.expected, SIDECAR.tolerance.rtol, SIDECAR.tolerance.atol);
      assert.equal(result.batchRows, ex.rows);
    }
    assert.equal(m.stats.success, 3);
    assert.equal(m.stats.fail, 0);
    assert.equal(m.stats.inferenceCount, rows);
    assert.equal(rows, 7);
    assert.equal(m.stats.executionCount, 2 + 3);
    assert.ok(m.stats.computeMs > 0);
    assert.ok(m.stats.queueMs >= 0);
    assert.ok(m.stats.lastInference >= before && m.stats.lastInference <= Date.now());
    assert.equal(m.queueDepth, 0);
    await m.drain();
  });

  it('maps a runtime failure to MODEL_INFERENCE_ERR, counts it and opens the breaker after breakerFailures', async () => {
    const { m } = model();
    await m.load(MLP);
    // A fresh tensor each time: the inference thread takes over the buffers it is given.
    const wrongWidth = (): Tensor => ({ name: 'input', datatype: 'FP32', shape: [1, 29], data: new Float32Array(29) });
    for (let i = 0; i < 2; i++) {
      const err = await rejectsWith(m.infer([wrongWidth()]), 'MODEL_INFERENCE_ERR');
      assert.match(err.message, new RegExp(`^Model mlp version ${m.version} failed: `));
      assert.ok(err.cause instanceof RuntimeError);
    }
    assert.equal(m.stats.fail, 2);
    assert.equal(m.breaker.state, 'open');
    const open = await rejectsWith(m.infer([example('ex0').input]), 'MODEL_CIRCUIT_OPEN');
    assert.deepEqual(open.details, { retry_after_seconds: 60 });
    assert.equal(open.status, 503);
    assert.equal(m.stats.success, 0);
    await m.drain();
  });

  it('ends failed with a reason for bytes that are not a model, and answers MODEL_NOT_READY', async () => {
    const { m, states } = model();
    await m.load(Buffer.from('this is not an ONNX model'));
    assert.equal(m.state, 'failed');
    assert.match(m.reason, /protobuf parsing failed/);
    assert.deepEqual(states, ['failed']);
    const err = await rejectsWith(m.infer([example('ex0').input]), 'MODEL_NOT_READY');
    assert.equal(err.status, 503);
    assert.equal(err.message, `Model mlp version ${m.version} is failed: ${m.reason}.`);
    assert.deepEqual(err.details, { retry_after_seconds: 1, state: 'failed' });
    assert.deepEqual({ ...m.stats }, { inferenceCount: 0, executionCount: 0, success: 0, fail: 0, queueMs: 0, computeMs: 0, lastInference: 0 });
    await m.drain();
    assert.equal(m.state, 'unloaded');
    assert.deepEqual(states, ['failed', 'unloaded']);
  });

  it('refuses lifecycle moves outside the table', async () => {
    const { m } = model();
    assert.throws(() => move(m, 'unloaded'), { message: `model ${m.key}: loading → unloaded is not a lifecycle move` });
    await m.load(MLP);
    assert.throws(() => move(m, 'loading'), { message: `model ${m.key}: ready → loading is not a lifecycle move` });
    assert.throws(() => move(m, 'failed'), { message: `model ${m.key}: ready → failed is not a lifecycle move` });
    assert.throws(() => move(m, 'unloaded'), { message: `model ${m.key}: ready → unloaded is not a lifecycle move` });
    assert.equal(m.state, 'ready', 'a refused move changes nothing');
    await m.drain();
    for (const to of ['loading', 'ready', 'draining', 'failed', 'unloaded'] as const) {
      assert.throws(() => move(m, to), { message: `model ${m.key}: unloaded → ${to} is not a lifecycle move` });
    }
  });

  it('drains: lets the running request finish, frees the session, then answers MODEL_NOT_READY', async () => {
    const { m, states } = model();
    await m.load(MLP);
    const ex = example('ex2');
    const order: string[] = [];
    const running = m.infer([ex.input]).then((r) => {
      order.push('infer');
      return r;
    });
    const drained = m.drain().then(() => void order.push('drain'));
    assert.equal(m.state, 'draining');
    await rejectsWith(m.infer([ex.input]), 'MODEL_NOT_READY');
    const result = await running;
    await drained;
    assert.deepEqual(order, ['infer', 'drain']);
    assertClose(result.outputs[0].data as Float32Array, ex.expected, SIDECAR.tolerance.rtol, SIDECAR.tolerance.atol);
    assert.equal(m.state, 'unloaded');
    assert.deepEqual(states, ['ready', 'draining', 'unloaded']);
    const err = await rejectsWith(m.infer([ex.input]), 'MODEL_NOT_READY');
    assert.deepEqual(err.details, { retry_after_seconds: 1, state: 'unloaded' });
    // The inference thread no longer holds a session for it.
    await assert.rejects(pool.run(m.key, [{ name: 'input', type: 'float32', dims: [1, 30], data: new Float32Array(30) }]), { name: 'RuntimeError', message: `model ${m.key} is not loaded in this worker` });
    await m.drain(); // a second drain of an unloaded model is a no-op
    assert.deepEqual(states, ['ready', 'draining', 'unloaded']);
    // Refusals before the queue (not ready) are not inferences: only the one that ran is counted.
    assert.equal(m.stats.success, 1);
    assert.equal(m.stats.fail, 0);
    assert.equal(m.stats.inferenceCount, 4);
  });

  it('fails fast, not by timeout, when an input buffer was already handed to the inference thread', async () => {
    const { m } = model({ timeoutMs: 300 });
    await m.load(MLP);
    const input = example('ex0').input;
    await m.infer([input]);
    assert.equal(input.data.length, 0, 'the first run took the buffer over');
    const err = await m.infer([input]).then(() => null, (e: unknown) => e as AppError);
    assert.notEqual(err?.code, 'MODEL_TIMEOUT');
    assert.ok(err instanceof AppError);
  });

  it('survives two drains at once', async () => {
    const { m, states } = model();
    await m.load(MLP);
    await Promise.all([m.drain(), m.drain()]);
    assert.equal(m.state, 'unloaded');
    assert.deepEqual(states, ['ready', 'draining', 'unloaded']);
  });
});
