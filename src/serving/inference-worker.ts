/**
 * One inference thread. onnxruntime's `session.run` blocks the thread that calls it, so sessions
 * live here and never on the HTTP thread. The pool (worker-pool.ts) sends `load`, `run` and
 * `unload` messages; every reply carries the message's `id`.
 */
import { parentPort } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import type { WorkerReply, WorkerRequest, WireTensor } from './worker-protocol.js';

const sessions = new Map<string, ort.InferenceSession>();

function toOrt(t: WireTensor): ort.Tensor {
  return new ort.Tensor(t.type as ort.Tensor.Type, t.data as ort.Tensor.DataType, t.dims);
}

function fromOrt(name: string, t: ort.Tensor): WireTensor {
  return { name, type: t.type, dims: [...t.dims], data: t.data as WireTensor['data'] };
}

function describe(meta: readonly ort.InferenceSession.ValueMetadata[]) {
  return meta.map((m) =>
    m.isTensor
      ? { name: m.name, type: m.type as string, shape: m.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : -1)) }
      : { name: m.name, type: 'non-tensor', shape: [] },
  );
}

async function handle(msg: WorkerRequest): Promise<{ reply: WorkerReply; transfer: ArrayBuffer[] }> {
  switch (msg.op) {
    case 'load': {
      const session = await ort.InferenceSession.create(new Uint8Array(msg.bytes), {
        executionProviders: msg.executionProviders as ort.InferenceSession.ExecutionProviderConfig[],
        intraOpNumThreads: msg.intraOpThreads,
        interOpNumThreads: 1,
        graphOptimizationLevel: 'all',
        // Runtime errors reach the caller as MODEL_INFERENCE_ERR; onnxruntime's own stderr lines would only repeat them.
        logSeverityLevel: 4,
      });
      await sessions.get(msg.key)?.release();
      sessions.set(msg.key, session);
      return { reply: { id: msg.id, ok: true, inputs: describe(session.inputMetadata), outputs: describe(session.outputMetadata) }, transfer: [] };
    }
    case 'run': {
      const session = sessions.get(msg.key);
      if (!session) throw new Error(`model ${msg.key} is not loaded in this worker`);
      const feeds: Record<string, ort.Tensor> = {};
      for (const t of msg.feeds) feeds[t.name] = toOrt(t);
      const started = performance.now();
      const result = msg.outputs ? await session.run(feeds, msg.outputs) : await session.run(feeds);
      const computeMs = performance.now() - started;
      const tensors = (msg.outputs ?? session.outputNames).map((name) => fromOrt(name, result[name]));
      const transfer = tensors.flatMap((o) => (ArrayBuffer.isView(o.data) && o.data.buffer instanceof ArrayBuffer ? [o.data.buffer] : []));
      return { reply: { id: msg.id, ok: true, tensors, computeMs }, transfer };
    }
    case 'unload': {
      await sessions.get(msg.key)?.release();
      sessions.delete(msg.key);
      return { reply: { id: msg.id, ok: true }, transfer: [] };
    }
  }
}

parentPort!.on('message', (msg: WorkerRequest) => {
  handle(msg).then(
    ({ reply, transfer }) => parentPort!.postMessage(reply, transfer),
    (err: unknown) => parentPort!.postMessage({ id: msg.id, ok: false, error: err instanceof Error ? err.message : String(err) } satisfies WorkerReply),
  );
});
