#!/usr/bin/env node
// Pipeline scheduler benchmark over the HTTP API, against a server's local runner:
// `npm run -s bench -- pipelines [--steps 500] [--chain 50]`.
//   overhead  a chain of --chain no-op steps (each waits for the one before): wall time per step,
//             minus what starting `/bin/sh -c true` costs on this machine, is the scheduler's own
//             cost per step (tracked runs, step rows, logs, the artifact and cache bookkeeping).
//   dag       --steps no-op steps in layers of 25, each step needing two of the layer before.
//   cached    the same DAG again: every step answered from the cache.
// Targets from the issue: ≤ 20 ms overhead per step, the DAG ≤ 20 s, its cached re-run ≤ 2 s.
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';

const log = (line) => process.stderr.write(`[bench] ${line}\n`);
const { values } = parseArgs({ options: { url: { type: 'string' }, token: { type: 'string' }, steps: { type: 'string', default: '500' }, chain: { type: 'string', default: '50' } } });
if (!values.url) {
  process.stderr.write('usage: node bench/pipelines.mjs --url URL [--steps N] [--chain N] [--token T]\n');
  process.exit(2);
}
const BASE = values.url.replace(/\/+$/, '');
const headers = { 'content-type': 'application/json', ...(values.token ? { authorization: `Bearer ${values.token}` } : {}) };

async function api(method, path, body) {
  const res = await fetch(BASE + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const json = await res.json();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

/** Starts a run and waits for it; returns wall seconds from submit to the end, and the run. */
async function timed(yaml, cache = true) {
  const t0 = performance.now();
  const { run } = await api('POST', '/api/capstan/pipelines/runs/create', { yaml, cache });
  for (;;) {
    const v = await api('GET', `/api/capstan/pipelines/runs/get?run_id=${run.run_id}`);
    if (!['queued', 'running'].includes(v.run.status)) {
      if (v.run.status !== 'succeeded') throw new Error(`run ${run.run_id} ${v.run.status}: ${v.run.message}`);
      return { seconds: (performance.now() - t0) / 1000, view: v };
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

function chain(n, tag) {
  const steps = Array.from({ length: n }, (_, i) => `  s${i}:\n    run: "true"\n    cache: false\n${i ? `    needs: [s${i - 1}]\n` : ''}`);
  return `name: bench-chain-${tag}\nsteps:\n${steps.join('')}`;
}

function dag(n, tag) {
  const width = 25;
  const steps = Array.from({ length: n }, (_, i) => {
    const layer = Math.floor(i / width);
    const needs = layer === 0 ? [] : [...new Set([(layer - 1) * width + (i % width), (layer - 1) * width + ((i + 1) % width)])].map((j) => `s${j}`);
    return `  s${i}:\n    run: "echo ${tag} ${i}"\n${needs.length ? `    needs: [${needs.join(', ')}]\n` : ''}`;
  });
  return `name: bench-dag\nsteps:\n${steps.join('')}`;
}

/** What starting one no-op step process costs here, without any scheduler. */
function spawnCostMs(samples = 50) {
  const t0 = performance.now();
  for (let i = 0; i < samples; i++) spawnSync('/bin/sh', ['-c', 'true']);
  return (performance.now() - t0) / samples;
}

const CHAIN = Number(values.chain);
const STEPS = Number(values.steps);
const tag = Date.now().toString(36);
const spawnMs = spawnCostMs();
log(`spawning /bin/sh -c true costs ${spawnMs.toFixed(2)} ms here`);
await timed(chain(3, `${tag}-warm`), false);
log(`chain of ${CHAIN} steps`);
const c = await timed(chain(CHAIN, tag), false);
const perStepMs = (c.seconds * 1000) / CHAIN;
log(`DAG of ${STEPS} steps`);
const d = await timed(dag(STEPS, tag));
log('the same DAG, cached');
const again = await timed(dag(STEPS, tag));
const cachedSteps = again.view.steps.filter((s) => s.cached_from).length;

const r3 = (x) => Math.round(x * 1000) / 1000;
process.stdout.write(`${JSON.stringify({
  bench: 'pipelines',
  machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model ?? '', node: process.version },
  spawn_ms: r3(spawnMs),
  chain: { steps: CHAIN, seconds: r3(c.seconds), ms_per_step: r3(perStepMs), overhead_ms_per_step: r3(perStepMs - spawnMs), target_overhead_ms: 20 },
  dag: { steps: STEPS, seconds: r3(d.seconds), target_seconds: 20 },
  cached: { steps: STEPS, cached_steps: cachedSteps, seconds: r3(again.seconds), target_seconds: 2 },
}, null, 2)}\n`);
