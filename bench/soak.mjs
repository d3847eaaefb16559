#!/usr/bin/env node
// Soak: one Capstan process under mixed load for --minutes (default 30), starts its own servers
// (`npm run -s bench -- soak [--minutes 30] [--clients 4]`). The load, spread over --clients
// workers: tracking (runs, log-batch, search, metric history), the registry (a model version
// registered and verified every few seconds), inference on a deployment of the ONNX fixture, and
// a small pipeline run every 20 s. Every 10 s it samples the server's resident memory, V8 heap
// (from /metrics) and open file descriptors (/proc/PID/fd). It prints the samples' summary and the
// growth per hour fitted over the second half of the run (after warm-up): a leak shows as a slope
// that does not flatten. Linux only (it reads /proc).
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startServer } from './lib/server.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const log = (line) => process.stderr.write(`[bench] ${line}\n`);
const { values } = parseArgs({ options: { minutes: { type: 'string', default: '30' }, clients: { type: 'string', default: '4' } } });
const minutes = Number(values.minutes);
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'capstan-soak-'));
const server = await startServer(dataDir);
const BASE = server.url;

async function api(method, p, body, raw) {
  const res = await fetch(BASE + p, { method, headers: raw ? { 'content-type': 'application/octet-stream' } : { 'content-type': 'application/json' }, body: raw ?? (body === undefined ? undefined : JSON.stringify(body)) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${p}: ${res.status} ${text.slice(0, 300)}`);
  return text ? JSON.parse(text) : {};
}

const rssOf = (pid) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
const fdsOf = (pid) => readdirSync(`/proc/${pid}/fd`).length;
async function heapOf() {
  const text = await (await fetch(`${BASE}/metrics`)).text();
  return Number(/^capstan_process_nodejs_heap_size_used_bytes (\S+)$/m.exec(text)?.[1] ?? NaN);
}

/** Least-squares slope of y over x (per unit of x). */
function slope(xs, ys) {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return den ? num / den : 0;
}

try {
  // Setup: a model version served by a deployment, and a pipeline applied.
  const { experiment_id: exp } = await api('POST', '/api/2.0/mlflow/experiments/create', { name: 'soak' });
  const { run } = await api('POST', '/api/2.0/mlflow/runs/create', { experiment_id: exp, run_name: 'model' });
  const onnx = readFileSync(path.join(ROOT, 'test/fixtures/onnx/tabular_mlp.onnx'));
  const sidecar = JSON.parse(readFileSync(path.join(ROOT, 'test/fixtures/onnx/tabular_mlp.json'), 'utf8'));
  const root = run.info.artifact_uri.replace(/^mlflow-artifacts:\/+/, '');
  await api('PUT', `/api/2.0/mlflow-artifacts/artifacts/${root}/model/model.onnx`, undefined, onnx);
  await api('POST', '/api/2.0/mlflow/registered-models/create', { name: 'soak' });
  await api('POST', '/api/2.0/mlflow/model-versions/create', { name: 'soak', source: `runs:/${run.info.run_id}/model`, run_id: run.info.run_id });
  await api('POST', '/api/capstan/deployments/apply', { yaml: 'name: soak\nmodel: soak\ntargets:\n  a: {version: 1}\nprediction_log: {sample_rate: 0.01}\n' });
  await api('POST', '/api/capstan/pipelines/apply', { yaml: 'name: soak\nsteps:\n  a:\n    run: echo a\n    cache: false\n  b:\n    needs: [a]\n    run: echo "::metric m=1"\n    cache: false\n    outputs: {metrics: [m]}\n' });
  const tensor = { name: 'input', ...sidecar.examples[0].inputs.input };

  const until = Date.now() + minutes * 60_000;
  const counts = { tracking: 0, inference: 0, registry: 0, pipelines: 0, errors: 0 };
  const errors = [];
  const guard = (kind, fn) => fn().then(() => counts[kind]++, (err) => { counts.errors++; if (errors.length < 10) errors.push(String(err)); });
  const worker = async (w) => {
    let i = 0;
    while (Date.now() < until) {
      i++;
      await guard('tracking', async () => {
        const { run: r } = await api('POST', '/api/2.0/mlflow/runs/create', { experiment_id: exp, run_name: `w${w}-${i}` });
        await api('POST', '/api/2.0/mlflow/runs/log-batch', { run_id: r.info.run_id, params: [{ key: 'w', value: String(w) }], metrics: Array.from({ length: 100 }, (_, s) => ({ key: 'loss', value: Math.random(), timestamp: Date.now(), step: s })) });
        if (i % 10 === 0) {
          await api('POST', '/api/2.0/mlflow/runs/search', { experiment_ids: [exp], filter: `params.w = '${w}'`, max_results: 100 });
          await api('GET', `/api/2.0/mlflow/metrics/get-history?run_id=${r.info.run_id}&metric_key=loss`);
        }
      });
      for (let k = 0; k < 5; k++) await guard('inference', () => api('POST', '/v2/models/soak/infer', { inputs: [tensor] }));
      if (w === 0 && i % 20 === 0) {
        await guard('registry', async () => {
          const { model_version: v } = await api('POST', '/api/2.0/mlflow/model-versions/create', { name: 'soak', source: `runs:/${run.info.run_id}/model`, run_id: run.info.run_id });
          await api('POST', '/api/capstan/registry/model-versions/verify', { name: 'soak', version: v.version });
        });
      }
    }
  };
  const pipelines = async () => {
    while (Date.now() < until) {
      await guard('pipelines', () => api('POST', '/api/capstan/pipelines/runs/create', { pipeline: 'soak' }));
      await new Promise((r) => setTimeout(r, 20_000));
    }
  };
  const samples = [];
  const t0 = Date.now();
  const sampler = async () => {
    while (Date.now() < until) {
      samples.push({ t: (Date.now() - t0) / 3_600_000, rss: rssOf(server.pid), heap: await heapOf(), fds: fdsOf(server.pid) });
      await new Promise((r) => setTimeout(r, 10_000));
    }
  };
  log(`${minutes} min of mixed load on ${BASE}`);
  await Promise.all([...Array.from({ length: Number(values.clients) }, (_, w) => worker(w)), pipelines(), sampler()]);
  const late = samples.slice(Math.floor(samples.length / 2));
  const mb = (b) => Math.round((b / 1048576) * 10) / 10;
  const summary = (key) => ({ first: samples[0][key], last: samples.at(-1)[key], max: Math.max(...samples.map((s) => s[key])) });
  const rss = summary('rss');
  const heap = summary('heap');
  console.log(JSON.stringify({
    bench: 'soak', minutes, clients: Number(values.clients), operations: counts, first_errors: errors, samples: samples.length,
    rss_mb: { first: mb(rss.first), last: mb(rss.last), max: mb(rss.max), growth_mb_per_hour_second_half: mb(slope(late.map((s) => s.t), late.map((s) => s.rss))) },
    heap_used_mb: { first: mb(heap.first), last: mb(heap.last), max: mb(heap.max), growth_mb_per_hour_second_half: mb(slope(late.map((s) => s.t), late.map((s) => s.heap))) },
    open_fds: { ...summary('fds'), growth_per_hour_second_half: Math.round(slope(late.map((s) => s.t), late.map((s) => s.fds))) },
  }, null, 2));
} finally {
  await server.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
