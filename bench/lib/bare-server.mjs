#!/usr/bin/env node
// The serving bench's bare baselines: a plain node:http server doing the work and nothing else, run
// in its own process so it does not share the load generator's event loop.
//   --mode json    parses the JSON body and answers a fixed V2-shaped JSON document;
//   --mode infer   parses a V2 request of FP32 rows, runs them through one onnxruntime-node session
//                  in one worker thread and answers the V2 response. Dynamic batching: a batch
//                  leaves when the thread is free and either --max-batch rows are queued or the
//                  oldest request has waited --delay-ms (--max-batch 1 --delay-ms 0: one inference
//                  per request).
// GET /stats answers {requests, executions, rows}. Prints "listening PORT" on stdout when ready.
// This file is also the inference thread: onnxruntime's session.run blocks the thread that calls it.
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

async function inferenceThread() {
  const ort = await import('onnxruntime-node');
  const session = await ort.InferenceSession.create(workerData.model, { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
  const [input] = session.inputNames;
  const [output] = session.outputNames;
  const features = session.inputMetadata.find((m) => m.name === input)?.shape?.[1];
  if (!Number.isInteger(features)) throw new Error(`input '${input}' of ${workerData.model} is not [batch, features]`);
  const run = async (rows, data) => (await session.run({ [input]: new ort.Tensor('float32', data, [rows, features]) }))[output];
  await run(1, new Float32Array(features)); // warm-up: the first run initialises the kernels
  parentPort.on('message', async (msg) => {
    if (msg.release) {
      await session.release(); // a thread stopped while it holds a session can take the process down
      parentPort.postMessage({ released: true });
      return;
    }
    const out = await run(msg.rows, msg.data);
    parentPort.postMessage({ data: out.data, cols: out.dims[1] ?? 1 });
  });
  parentPort.postMessage({ ready: true, features, output });
}

async function main() {
  const { values } = parseArgs({
    options: {
      mode: { type: 'string', default: 'json' }, model: { type: 'string' }, port: { type: 'string', default: '0' },
      'max-batch': { type: 'string', default: '32' }, 'delay-ms': { type: 'string', default: '2' },
    },
  });
  const infer = values.mode === 'infer';
  if (!infer && values.mode !== 'json') throw new Error(`--mode must be json or infer, got '${values.mode}'`);
  if (infer && !values.model) throw new Error('--mode infer needs --model FILE.onnx');
  const maxBatch = Number(values['max-batch']);
  const delayMs = Number(values['delay-ms']);
  const stats = { requests: 0, executions: 0, rows: 0 };
  const FIXED = JSON.stringify({ model_name: 'bare', model_version: '1', outputs: [{ name: 'probabilities', datatype: 'FP32', shape: [1, 2], data: [0.25, 0.75] }] });

  const reply = (res, status, body) => {
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };

  let worker = null;
  let features = 0;
  let outputName = '';
  if (infer) {
    worker = new Worker(new URL(import.meta.url), { workerData: { model: values.model } });
    worker.on('error', (err) => { process.stderr.write(`inference thread failed: ${err.stack ?? err}\n`); process.exit(1); });
    const ready = await new Promise((resolve) => worker.once('message', resolve));
    features = ready.features;
    outputName = ready.output;
  }

  // Dynamic batching over the one inference thread.
  const queue = [];
  let queuedRows = 0;
  let inFlight = null;
  let timer = null;
  const pump = () => {
    if (inFlight || queue.length === 0) return;
    const waited = performance.now() - queue[0].at;
    if (queuedRows < maxBatch && waited < delayMs) {
      timer ??= setTimeout(() => { timer = null; pump(); }, delayMs - waited);
      return;
    }
    const batch = [queue.shift()];
    let rows = batch[0].rows;
    while (queue.length > 0 && rows + queue[0].rows <= maxBatch) {
      rows += queue[0].rows;
      batch.push(queue.shift());
    }
    queuedRows -= rows;
    const data = new Float32Array(rows * features);
    let offset = 0;
    for (const job of batch) {
      data.set(job.data, offset);
      offset += job.data.length;
    }
    inFlight = batch;
    stats.executions++;
    stats.rows += rows;
    worker.postMessage({ rows, data }, [data.buffer]);
  };
  worker?.on('message', ({ data, cols, released }) => {
    if (released) return; // the shutdown's answer, below
    const batch = inFlight;
    inFlight = null;
    pump(); // the next batch goes to the thread before this one's answers are written
    let row = 0;
    for (const job of batch) {
      const out = Array.from(data.subarray(row * cols, (row + job.rows) * cols));
      row += job.rows;
      reply(job.res, 200, JSON.stringify({ model_name: 'bare', model_version: '1', ...(job.id === undefined ? {} : { id: job.id }), outputs: [{ name: outputName, datatype: 'FP32', shape: [job.rows, cols], data: out }] }));
    }
  });

  const server = http.createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/stats') return reply(res, 200, JSON.stringify(stats));
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      let doc;
      try {
        doc = JSON.parse((chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)).toString('utf8'));
      } catch {
        return reply(res, 400, '{"error":"malformed JSON body"}');
      }
      stats.requests++;
      if (!infer) return reply(res, 200, FIXED);
      const input = doc?.inputs?.[0];
      const rows = input?.shape?.[0];
      if (input?.datatype !== 'FP32' || !Array.isArray(input.data) || input.shape.length !== 2 || input.shape[1] !== features || !(rows >= 1) || input.data.length !== rows * features) {
        return reply(res, 400, `{"error":"expected one FP32 input of shape [rows, ${features}]"}`);
      }
      queue.push({ rows, data: input.data, id: doc.id, res, at: performance.now() });
      queuedRows += rows;
      pump();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise((resolve) => server.listen(Number(values.port), '127.0.0.1', resolve));
  process.stdout.write(`listening ${server.address().port}\n`);

  process.once('SIGTERM', async () => {
    server.close();
    server.closeAllConnections();
    if (worker) {
      while (inFlight) await new Promise((resolve) => setTimeout(resolve, 5));
      worker.postMessage({ release: true });
      await new Promise((resolve) => worker.on('message', (m) => m.released && resolve()));
      await worker.terminate();
    }
    process.exit(0);
  });
}

if (isMainThread) await main();
else await inferenceThread();
