#!/usr/bin/env node
// Model-serving benchmark. This bench starts its own servers (bare node:http baselines from
// bench/lib/bare-server.mjs, `capstan up` and `capstan serve` from the build in dist/, each in a
// child process), all in one run so that every ratio compares figures from the same machine state.
// It reports, on loopback, with keep-alive connections from this process:
//   - bare_json: a bare server that parses the JSON body and answers a fixed JSON, req/s;
//   - bare_batched: the same server running tabular_mlp in a worker thread with 2 ms / 32-row
//     dynamic batching, req/s (the bare batched ceiling);
//   - capstan_v2_64: Capstan's V2 endpoint on a deployment of tabular_mlp (registered and deployed
//     through the API, default batching) at 64 connections: req/s, p50/p99, ratio to bare_batched;
//   - capstan_v2_1: the same at 1 connection, p50;
//   - overhead: Capstan's p50 at 1 connection minus a bare server's doing one inference per request
//     in a worker thread;
//   - batching_gain: wide_mlp (about 1 ms a row) deployed with max_batch_size 32 vs 1, req/s ratio;
//   - cold_start: spawning `capstan serve tabular_mlp.onnx` to its first correct V2 answer.
// One JSON object goes to stdout; progress and first errors to stderr.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createClient, createPoster, createTally, log, round, runForDuration, sleep } from './lib/load.mjs';
import { freePort, stopChild } from './lib/server.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CAPSTAN = path.join(ROOT, 'bin', 'capstan.js');
const BARE = path.join(ROOT, 'bench', 'lib', 'bare-server.mjs');
const ONNX = path.join(ROOT, 'test', 'fixtures', 'onnx');
const TABULAR = path.join(ONNX, 'tabular_mlp.onnx');
const WIDE = path.join(ONNX, 'wide_mlp.onnx');
const MLFLOW = '/api/2.0/mlflow';
const ARTIFACTS = '/api/2.0/mlflow-artifacts/artifacts';
const DEPLOYMENTS = '/api/capstan/deployments';
const JSON_BODY = { 'content-type': 'application/json' };
const FIGURES = ['bare_json', 'bare_batched', 'capstan_v2_64', 'capstan_v2_1', 'overhead', 'batching_gain', 'overload', 'cold_start'];
const TARGETS = { ratio_to_bare_batched: 0.85, p99_ms_at_64: 25, p50_ms_at_1: 1, added_p50_ms: 0.3, batching_gain: 3, cold_start_ms: 500, overload_p99_growth: 1.5, overload_rss_growth_mib: 64 };
// What the bare batched server and the batching figure compare (the deployment spec's own names).
const BARE_BATCHING = { max_batch_size: 32, max_queue_delay_ms: 2 };
const BASELINE = 'none: a baseline (meets_target is null)';
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 15_000;
const POLL_MS = 5; // cold start: how often the new server is asked
const CLK_TCK = 100; // Linux's USER_HZ: /proc reports CPU time in 1/100 s

const USAGE = `usage: node bench/serving.mjs [options]   (or: npm run -s bench -- serving [options])
  --seconds N        measured seconds per figure (default 5)
  --warmup N         warm-up seconds before each measurement, not counted (default 2: on a small
                     VM throughput still climbs for a few seconds after a server starts)
  --connections N    keep-alive connections for the loaded figures (default 64)
  --cold-starts N    cold starts timed; the median is reported (default 3)
  --only LIST        comma-separated subset of ${FIGURES.join(',')} (default: all;
                     a ratio brings in the figures it divides by)
  --log-level LEVEL  CAPSTAN_LOG_LEVEL of the Capstan server (default: Capstan's default, info)
Needs a current build (npx tsc -p tsconfig.json): the bench runs bin/capstan.js.
Exit status: 0 done (targets met or not: see meets_target), 1 a figure failed (its "error"), 2 bad usage.`;

function usageError(message) {
  process.stderr.write(`${message}\n${USAGE}\n`);
  process.exit(2);
}

function positive(name, text, integer = true) {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) usageError(`--${name} must be a positive ${integer ? 'integer' : 'number'}, got '${text}'`);
  return value;
}

function parseOptions(argv) {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        seconds: { type: 'string', default: '5' }, warmup: { type: 'string', default: '2' }, connections: { type: 'string', default: '64' },
        'cold-starts': { type: 'string', default: '3' }, only: { type: 'string' }, 'log-level': { type: 'string' }, help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    usageError(err.message);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const only = values.only ? values.only.split(',').map((s) => s.trim()).filter(Boolean) : FIGURES;
  const unknown = only.filter((f) => !FIGURES.includes(f));
  if (unknown.length) usageError(`--only: unknown figure${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}`);
  return {
    seconds: positive('seconds', values.seconds, false), warmup: Number(values.warmup), connections: positive('connections', values.connections),
    coldStarts: positive('cold-starts', values['cold-starts']), only: new Set(only), logLevel: values['log-level'],
  };
}

// ---------------------------------------------------------------------------------------------
// Requests and answers

/** tabular_mlp's sidecar rows, one V2 request each, with the answer each must get. */
function tabularExamples() {
  const sidecar = JSON.parse(readFileSync(path.join(ONNX, 'tabular_mlp.json'), 'utf8'));
  const examples = [];
  for (const ex of sidecar.examples) {
    const [rows, cols] = ex.inputs.input.shape;
    const outCols = ex.expected_outputs.probabilities.shape[1];
    for (let r = 0; r < rows; r++) {
      const data = ex.inputs.input.data.slice(r * cols, (r + 1) * cols);
      examples.push({
        payload: Buffer.from(JSON.stringify({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, cols], data }] })),
        expected: ex.expected_outputs.probabilities.data.slice(r * outCols, (r + 1) * outCols),
      });
    }
  }
  return { examples, tolerance: sidecar.tolerance };
}

const close = (got, want, { rtol, atol }) => got.length === want.length && got.every((g, i) => Math.abs(g - want[i]) <= atol + rtol * Math.abs(want[i]));

/** The FP32 [1, n] output of a V2 answer, or an error message. */
function outputOf(text) {
  let doc;
  try {
    doc = JSON.parse(text);
  } catch {
    return 'the answer is not JSON';
  }
  const out = doc.outputs?.find((o) => o.name === 'probabilities');
  if (!out || out.datatype !== 'FP32' || out.shape?.[0] !== 1 || !Array.isArray(out.data)) return `no FP32 [1, n] 'probabilities' output in ${text.slice(0, 200)}`;
  return out.data;
}

/** Sends every example once and checks the answers; throws on the first wrong one. */
async function checkAnswers(client, route, tab) {
  for (const ex of tab.examples) {
    const res = await client.send('POST', route, ex.payload, JSON_BODY);
    if (res.status !== 200) throw new Error(`POST ${route}: HTTP ${res.status}: ${res.text.slice(0, 300)}`);
    const got = outputOf(res.text);
    if (typeof got === 'string') throw new Error(`POST ${route}: ${got}`);
    if (!close(got, ex.expected, tab.tolerance)) throw new Error(`POST ${route}: answered ${JSON.stringify(got)}, expected ${JSON.stringify(ex.expected)}`);
  }
}

// ---------------------------------------------------------------------------------------------
// CPU accounting from /proc (Linux only; null elsewhere)

function ticksOf(file) {
  const stat = readFileSync(file, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]); // utime + stime
}

function cpuSnapshot(pid) {
  const snap = { at: performance.now(), self: process.cpuUsage(), machine: null, server: null };
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    snap.machine = { total: line.reduce((a, b) => a + b, 0), idle: line[3] + (line[4] ?? 0) };
    if (pid) {
      const threads = new Map();
      for (const tid of readdirSync(`/proc/${pid}/task`)) {
        try { threads.set(tid, ticksOf(`/proc/${pid}/task/${tid}/stat`)); } catch { /* the thread ended */ }
      }
      snap.server = { pid: String(pid), total: ticksOf(`/proc/${pid}/stat`), threads };
    }
  } catch {
    // not Linux, or the process is gone
  }
  return snap;
}

/**
 * Cores used between two snapshots: by the server process (its main thread; its busiest other
 * thread, the inference thread when it works), by this load generator, by the whole machine.
 */
function cpuBetween(a, b, requests) {
  const seconds = (b.at - a.at) / 1000;
  const cores = (ticks) => round(ticks / CLK_TCK / seconds, 2);
  const self = (b.self.user + b.self.system - a.self.user - a.self.system) / 1e6;
  const out = { server_cpu: null, load_generator_cores: round(self / seconds, 2) };
  if (a.machine && b.machine) {
    const total = b.machine.total - a.machine.total;
    out.machine_busy_cores = round(((total - (b.machine.idle - a.machine.idle)) / total) * os.cpus().length, 2);
  }
  if (a.server && b.server) {
    const total = b.server.total - a.server.total;
    const delta = [...b.server.threads].map(([tid, t]) => [tid, t - (a.server.threads.get(tid) ?? 0)]);
    const main = delta.find(([tid]) => tid === b.server.pid)?.[1] ?? 0;
    const others = delta.filter(([tid]) => tid !== b.server.pid).map(([, t]) => t).sort((x, y) => y - x);
    out.server_cpu = {
      process_cores: cores(total), main_thread_cores: cores(main), busiest_other_thread_cores: cores(others[0] ?? 0),
      other_threads_cores: cores(total - main), cpu_us_per_request: requests ? round((total / CLK_TCK / requests) * 1e6, 1) : null,
    };
    // Anything else on the machine (other work, an idle server) shows here; near 0 when quiet.
    if (out.machine_busy_cores !== undefined) out.other_processes_cores = round(Math.max(0, out.machine_busy_cores - out.server_cpu.process_cores - out.load_generator_cores), 2);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Load

function latencySummary(latencies) {
  if (!latencies.length) return null;
  const sorted = Float64Array.from(latencies).sort();
  const at = (p) => round(sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))], 3); // nearest rank
  return { p50: at(50), p90: at(90), p99: at(99), p999: at(99.9), max: round(sorted[sorted.length - 1], 3), mean: round(sorted.reduce((a, b) => a + b, 0) / sorted.length, 3) };
}

/**
 * `connections` keep-alive connections send the examples back to back: `warmup` seconds not
 * counted, then `seconds` measured. `stats` (optional) reads the server's counters before and after.
 */
async function measure(label, server, route, payloads, opts, connections, stats) {
  const poster = createPoster(server.url, connections);
  const bodies = payloads.map((p) => poster.payload(p));
  const request = (worker, i) => poster.post(route, bodies[(worker + i) % bodies.length]);
  const client = stats ? createClient(server.url, 1) : null;
  try {
    if (opts.warmup > 0) {
      const warm = createTally(`${label} (warm-up)`);
      await runForDuration(connections, opts.warmup, request, warm);
    }
    const before = stats ? await stats(client) : null;
    const tally = createTally(label);
    const cpu0 = cpuSnapshot(server.pid);
    const seconds = await runForDuration(connections, opts.seconds, request, tally);
    const cpu1 = cpuSnapshot(server.pid);
    const after = stats ? await stats(client) : null;
    const result = {
      connections, seconds: round(seconds, 2), requests: tally.ok, errors: tally.errors,
      req_per_s: round(tally.ok / seconds, 0), latency_ms: latencySummary(tally.latenciesMs),
      ...(before && after ? { server_counters: diffCounters(before, after) } : {}),
      ...cpuBetween(cpu0, cpu1, tally.ok + tally.errors),
    };
    const cpu = result.server_cpu;
    log(`${label}: ${result.req_per_s} req/s, p50 ${result.latency_ms?.p50} ms, p99 ${result.latency_ms?.p99} ms, ${tally.errors} errors` +
      (cpu ? `; server ${cpu.process_cores} cores (main thread ${cpu.main_thread_cores}), load generator ${result.load_generator_cores}, other ${result.other_processes_cores}` : ''));
    return result;
  } finally {
    poster.close();
    client?.close();
  }
}

function diffCounters(a, b) {
  const d = Object.fromEntries(Object.keys(b).map((k) => [k, b[k] - a[k]]));
  const out = { requests: d.requests, executions: d.executions, mean_batch_rows: d.executions ? round(d.rows / d.executions, 2) : null };
  if (d.queue_ns !== undefined) {
    out.mean_queue_ms = d.requests ? round(d.queue_ns / d.requests / 1e6, 3) : null;
    out.mean_compute_ms_per_request = d.requests ? round(d.compute_ns / d.requests / 1e6, 3) : null;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Servers

/** Servers running now and the bench's temporary directories, removed if the bench is interrupted. */
const running = new Set();
const tempDirs = [];
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, async () => {
    log(`${signal}: stopping ${running.size} server(s)`);
    await Promise.all([...running].map((stop) => stop()));
    await Promise.all(tempDirs.map((dir) => rm(dir, { recursive: true, force: true })));
    process.exit(128 + os.constants.signals[signal]);
  });
}

/**
 * Spawns a server process whose output goes to `logFile` (its stdout too unless `pipeStdout`), so
 * the load generator never reads a server's log; resolves once `ready(child)` answers its URL.
 */
async function startProcess(what, args, logFile, env, ready, pipeStdout = false) {
  const fd = openSync(logFile, 'a');
  const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', pipeStdout ? 'pipe' : fd, fd] });
  closeSync(fd);
  let gone = null;
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => { gone = { code, signal }; resolve(gone); }));
  const stop = async () => {
    await stopChild(child, exited, STOP_TIMEOUT_MS);
    running.delete(stop);
  };
  running.add(stop);
  const deadline = Date.now() + START_TIMEOUT_MS;
  try {
    while (!gone && Date.now() < deadline) {
      const url = await ready(child);
      if (url) return { url, pid: child.pid, stop };
      await sleep(50);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  await stop();
  const tail = readFileSync(logFile, 'utf8').slice(-4000);
  throw new Error(`${what} ${gone ? `exited (${gone.signal ?? `code ${gone.code}`})` : `was not ready within ${START_TIMEOUT_MS / 1000} s`}; its output ends:\n${tail}`);
}

/** A bare baseline (bench/lib/bare-server.mjs); it prints "listening PORT" when ready. */
function startBare(ctx, name, args) {
  let port = null;
  let seen = '';
  return startProcess(`bare server (${name})`, [BARE, ...args], path.join(ctx.workDir, `bare-${name}.log`), {}, (child) => {
    if (!child.stdout.listenerCount('data')) {
      child.stdout.setEncoding('utf8');
      child.stdout.on('data', (chunk) => { seen += chunk; port ??= /listening (\d+)/.exec(seen)?.[1] ?? null; });
    }
    return port ? `http://127.0.0.1:${port}` : null;
  }, true);
}

/** `capstan up` on a fresh data directory, with its log (one line per request at info) in a file. */
async function startCapstan(ctx) {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const env = ctx.opts.logLevel ? { CAPSTAN_LOG_LEVEL: ctx.opts.logLevel } : {};
  log(`starting Capstan on ${url} with data in ${ctx.dataDir}`);
  const server = await startProcess('Capstan', [CAPSTAN, 'up', '--host', '127.0.0.1', '--port', String(port), '--data', ctx.dataDir],
    path.join(ctx.workDir, 'capstan.log'), env, async () => {
      const res = await rawRequest(port, 'GET', '/health').catch(() => null);
      return res?.status === 200 && res.text.trim() === 'OK' ? url : null;
    });
  return server;
}

/** One request on a fresh connection (no agent): for probes that must not reuse a socket. */
function rawRequest(port, method, route, body, timeoutMs = 2_000) {
  return new Promise((resolve, reject) => {
    const headers = body ? { 'content-type': 'application/json', 'content-length': body.length } : {};
    const req = http.request({ host: '127.0.0.1', port, method, path: route, headers, agent: false, timeout: timeoutMs }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

/** Logs the file as model.onnx of a new run and registers it as a new version of `model`. */
async function registerModel(client, experimentId, model, file) {
  const { run } = await client.call('POST', `${MLFLOW}/runs/create`, { experiment_id: experimentId, start_time: Date.now() });
  const runId = run.info.run_id;
  const put = await client.send('PUT', `${ARTIFACTS}/${experimentId}/${runId}/artifacts/model/model.onnx`, readFileSync(file));
  if (put.status !== 200) throw new Error(`uploading ${path.basename(file)}: HTTP ${put.status}: ${put.text.slice(0, 300)}`);
  await client.send('POST', `${MLFLOW}/registered-models/create`, { name: model }); // already there after the first version
  const { model_version: mv } = await client.call('POST', `${MLFLOW}/model-versions/create`, { name: model, source: `runs:/${runId}/model`, run_id: runId });
  return Number(mv.version);
}

async function deploy(client, spec) {
  const { deployment } = await client.call('POST', `${DEPLOYMENTS}/apply`, { spec });
  const deadline = Date.now() + START_TIMEOUT_MS;
  while ((await client.send('GET', `/v2/models/${spec.name}/ready`)).status !== 200) {
    if (Date.now() > deadline) throw new Error(`deployment ${spec.name} was not ready within ${START_TIMEOUT_MS / 1000} s: ${JSON.stringify(deployment).slice(0, 500)}`);
    await sleep(100);
  }
  return deployment;
}

/** Capstan's counters for a deployment (the V2 statistics extension), summed over its versions. */
const capstanStats = (name) => async (client) => {
  const body = await client.call('GET', `/v2/models/${name}/stats`);
  const sum = (f) => body.model_stats.reduce((n, s) => n + f(s), 0);
  return {
    requests: sum((s) => s.inference_stats.success.count), executions: sum((s) => s.execution_count), rows: sum((s) => s.inference_count),
    queue_ns: sum((s) => s.inference_stats.queue.ns), compute_ns: sum((s) => s.inference_stats.success.ns),
  };
};

const bareStats = async (client) => client.call('GET', '/stats');

// ---------------------------------------------------------------------------------------------
// Figures

async function withBare(ctx, name, args, fn) {
  const server = await startBare(ctx, name, args);
  try {
    return await fn(server);
  } finally {
    await server.stop();
  }
}

async function barePlain(ctx) {
  return withBare(ctx, 'json', ['--mode', 'json'], async (server) => {
    const client = createClient(server.url, 1);
    const res = await client.send('POST', '/v2/models/bare/infer', ctx.tab.examples[0].payload, JSON_BODY).finally(() => client.close());
    if (res.status !== 200 || typeof outputOf(res.text) === 'string') throw new Error(`bare json server answered HTTP ${res.status}: ${res.text.slice(0, 200)}`);
    return measure('bare_json', server, '/v2/models/bare/infer', ctx.payloads, ctx.opts, ctx.opts.connections);
  });
}

function bareInfer(ctx, name, batching, connections) {
  const args = ['--mode', 'infer', '--model', TABULAR, '--max-batch', String(batching.max_batch_size), '--delay-ms', String(batching.max_queue_delay_ms)];
  return withBare(ctx, name, args, async (server) => {
    const client = createClient(server.url, 1);
    await checkAnswers(client, '/v2/models/bare/infer', ctx.tab).finally(() => client.close());
    return measure(name, server, '/v2/models/bare/infer', ctx.payloads, ctx.opts, connections, bareStats);
  });
}

async function capstanV2(ctx, label, deployment, connections) {
  const client = createClient(ctx.capstan.url, 1);
  await checkAnswers(client, `/v2/models/${deployment}/infer`, ctx.tab).finally(() => client.close());
  return measure(label, ctx.capstan, `/v2/models/${deployment}/infer`, ctx.payloads, ctx.opts, connections, capstanStats(deployment));
}

/** Resident memory of a process in MiB (Linux), or null. */
function rssMib(pid) {
  try {
    const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb ? round(Number(kb) / 1024, 1) : null;
  } catch {
    return null;
  }
}

/**
 * Four times the connections that saturate the server, against a deployment whose queue holds 32:
 * the excess must be shed at once (429), the accepted requests' p99 stay bounded, and memory flat
 * across two rounds (the second round's growth is what counts; the first warms allocators up).
 */
async function overload(ctx) {
  const connections = ctx.opts.connections * 4;
  const route = '/v2/models/mlp-shed/infer';
  const rss0 = rssMib(ctx.capstan.pid);
  const first = await measure('overload (round 1)', ctx.capstan, route, ctx.payloads, ctx.opts, connections);
  const rss1 = rssMib(ctx.capstan.pid);
  const m = await measure('overload (round 2)', ctx.capstan, route, ctx.payloads, ctx.opts, connections);
  const rss2 = rssMib(ctx.capstan.pid);
  return { ...m, round_1_p99_ms: first.latency_ms?.p99 ?? null, shed: m.errors, shed_share: round(m.errors / Math.max(1, m.errors + m.requests), 3), rss_mib: { before: rss0, after_round_1: rss1, after_round_2: rss2 }, rss_growth_round_2_mib: rss1 !== null && rss2 !== null ? round(rss2 - rss1, 1) : null };
}

/**
 * wide_mlp answers the same through both deployments, softmax rows that sum to 1: nothing more is
 * known about the answers of its random weights.
 */
async function checkWide(ctx) {
  const client = createClient(ctx.capstan.url, 1);
  try {
    for (const ex of ctx.tab.examples.slice(0, 3)) {
      const answers = [];
      for (const name of ['wide-b32', 'wide-b1']) {
        const res = await client.send('POST', `/v2/models/${name}/infer`, ex.payload, JSON_BODY);
        const got = res.status === 200 ? outputOf(res.text) : `HTTP ${res.status}: ${res.text.slice(0, 200)}`;
        if (typeof got === 'string') throw new Error(`${name}: ${got}`);
        if (got.length !== 2 || Math.abs(got[0] + got[1] - 1) > 1e-5) throw new Error(`${name}: answered ${JSON.stringify(got)}, not two probabilities`);
        answers.push(got);
      }
      if (!close(answers[0], answers[1], { rtol: 1e-4, atol: 1e-6 })) throw new Error(`wide-b32 answered ${JSON.stringify(answers[0])}, wide-b1 ${JSON.stringify(answers[1])}`);
    }
  } finally {
    client.close();
  }
}

/** Spawn to first correct answer of `capstan serve tabular_mlp.onnx`, polled on fresh connections. */
async function coldStart(ctx, attempt) {
  const port = await freePort();
  const route = '/v2/models/tabular_mlp/infer';
  const ex = ctx.tab.examples[0];
  const logFile = path.join(ctx.workDir, `cold-start-${attempt}.log`);
  const t0 = performance.now();
  let polls = 0;
  const server = await startProcess('capstan serve', [CAPSTAN, 'serve', TABULAR, '--host', '127.0.0.1', '--port', String(port)], logFile, {}, async (child) => {
    for (;;) { // startProcess waits 50 ms between calls to ready(); poll tighter than that here
      polls++;
      const res = await rawRequest(port, 'POST', route, ex.payload).catch(() => null);
      if (res) {
        const got = res.status === 200 ? outputOf(res.text) : `HTTP ${res.status}: ${res.text.slice(0, 200)}`;
        if (typeof got !== 'string' && close(got, ex.expected, ctx.tab.tolerance)) return `http://127.0.0.1:${port}`;
        if (res.status === 200) throw new Error(`capstan serve answered ${JSON.stringify(got)}, expected ${JSON.stringify(ex.expected)}`);
      }
      if (child.exitCode !== null || child.signalCode !== null || performance.now() - t0 > START_TIMEOUT_MS) return null;
      await sleep(POLL_MS);
    }
  });
  const ms = performance.now() - t0;
  await server.stop();
  log(`cold_start ${attempt + 1}/${ctx.opts.coldStarts}: ${round(ms, 0)} ms (${polls} polls)`);
  return ms;
}

/** One line per figure: the headline value beside its target. */
function summarize(results) {
  const line = (key, value, target, extra = {}) => {
    const r = results[key];
    if (!r) return undefined;
    if (r.error) return { error: r.error };
    return { ...value(r), ...extra, target: target ?? null, meets_target: r.meets_target ?? null };
  };
  const entries = {
    bare_json: line('bare_json', (r) => ({ req_per_s: r.req_per_s, load_generator_cores: r.load_generator_cores }), 'baseline'),
    bare_batched: line('bare_batched', (r) => ({ req_per_s: r.req_per_s, load_generator_cores: r.load_generator_cores }), 'baseline'),
    capstan_v2_64: line('capstan_v2_64', (r) => ({ req_per_s: r.req_per_s, ratio_to_bare_batched: r.ratio_to_bare_batched, p50_ms: r.latency_ms.p50, p99_ms: r.latency_ms.p99 }),
      `ratio >= ${TARGETS.ratio_to_bare_batched} and p99 <= ${TARGETS.p99_ms_at_64} ms`),
    capstan_v2_1: line('capstan_v2_1', (r) => ({ p50_ms: r.latency_ms.p50, p99_ms: r.latency_ms.p99, req_per_s: r.req_per_s }), `p50 <= ${TARGETS.p50_ms_at_1} ms`),
    overhead: line('overhead', (r) => ({ added_p50_ms: r.added_p50_ms, capstan_p50_ms: r.capstan_p50_ms, bare_p50_ms: r.bare_p50_ms }), `added p50 <= ${TARGETS.added_p50_ms} ms`),
    batching_gain: line('batching_gain', (r) => ({ gain: r.gain, batched_req_per_s: r.batched_req_per_s, single_req_per_s: r.single_req_per_s }), `gain >= ${TARGETS.batching_gain}`),
    overload: line('overload', (r) => ({ accepted_req_per_s: r.req_per_s, accepted_p99_ms: r.latency_ms?.p99, round_1_p99_ms: r.round_1_p99_ms, shed_share: r.shed_share, rss_growth_round_2_mib: r.rss_growth_round_2_mib }),
      `sheds; accepted p99 not growing (round 2 <= ${TARGETS.overload_p99_growth}x round 1); RSS growth in round 2 <= ${TARGETS.overload_rss_growth_mib} MiB`),
    cold_start: line('cold_start', (r) => ({ median_ms: r.median_ms, runs_ms: r.runs_ms }), `median <= ${TARGETS.cold_start_ms} ms`),
  };
  return Object.fromEntries(Object.entries(entries).filter(([, v]) => v !== undefined));
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

// ---------------------------------------------------------------------------------------------

function machine() {
  const cpus = os.cpus();
  return {
    cpus: cpus.length, model: cpus[0]?.model?.trim() ?? 'unknown', mem_gib: round(os.totalmem() / 2 ** 30),
    node: process.version, platform: `${os.platform()} ${os.release()}`, loadavg_1m_start: round(os.loadavg()[0], 2),
  };
}

async function main() {
  const opts = parseOptions(process.argv.slice(2));
  if (!existsSync(path.join(ROOT, 'dist', 'src', 'cli', 'main.js'))) usageError('dist/ is missing: build first with npx tsc -p tsconfig.json (the bench runs bin/capstan.js)');
  if (!existsSync(WIDE)) usageError(`${path.relative(ROOT, WIDE)} is missing: make it with python3 make_wide_mlp.py in ${path.relative(ROOT, ONNX)}`);
  const want = (...names) => names.some((n) => opts.only.has(n));
  const needs = {
    bareJson: want('bare_json'),
    bareBatched: want('bare_batched', 'capstan_v2_64'),
    capstan64: want('capstan_v2_64'),
    bareSingle: want('overhead'),
    capstan1: want('capstan_v2_1', 'overhead'),
    overload: want('overload'),
    wide: want('batching_gain'),
    cold: want('cold_start'),
  };
  const tab = tabularExamples();
  const ctx = {
    opts, tab, payloads: tab.examples.map((e) => e.payload),
    dataDir: await mkdtemp(path.join(os.tmpdir(), 'capstan-bench-serving-')),
    workDir: await mkdtemp(path.join(os.tmpdir(), 'capstan-bench-serving-logs-')),
  };
  tempDirs.push(ctx.dataDir, ctx.workDir);
  const report = {
    bench: 'serving', date: new Date().toISOString(), machine: machine(),
    settings: {
      seconds_per_measurement: opts.seconds, warmup_seconds: opts.warmup, connections: opts.connections, cold_starts: opts.coldStarts,
      model: 'tabular_mlp (MLP 30-64-32-2, about 0.05 ms a call)', heavy_model: 'wide_mlp (8 x 1024-wide MatMul+Relu, about 1 ms a row)',
      capstan: `capstan up, defaults${opts.logLevel ? ` but CAPSTAN_LOG_LEVEL=${opts.logLevel}` : ''} (SQLite, serving.workers 0 = cores - 1 = ${Math.max(1, os.availableParallelism() - 1)}); log to a file`,
      bare_batching: BARE_BATCHING,
    },
    results: {},
  };
  const results = report.results;
  const failed = (key, err) => {
    log(`${key}: failed: ${err.stack ?? err.message}`);
    results[key] = { error: err.message };
  };
  const raw = {};
  try {
    if (needs.capstan64 || needs.capstan1 || needs.wide || needs.overload) {
      try {
        ctx.capstan = await startCapstan(ctx);
        const client = createClient(ctx.capstan.url, 1);
        try {
          const { experiment_id: experimentId } = await client.call('POST', `${MLFLOW}/experiments/create`, { name: `bench-serving-${Date.now().toString(36)}` });
          if (needs.capstan64 || needs.capstan1 || needs.overload) {
            const v = await registerModel(client, experimentId, 'tabular-mlp', TABULAR);
            await deploy(client, { name: 'mlp', model: 'tabular-mlp', targets: { stable: { version: v } } });
            await deploy(client, { name: 'mlp-shed', model: 'tabular-mlp', targets: { stable: { version: v } }, limits: { max_queue: 32 } });
            log(`deployed tabular-mlp version ${v} as 'mlp' (default batching) and 'mlp-shed' (max_queue 32)`);
          }
          if (needs.wide) {
            const v = await registerModel(client, experimentId, 'wide-mlp', WIDE);
            await deploy(client, { name: 'wide-b32', model: 'wide-mlp', targets: { stable: { version: v } }, batching: { max_batch_size: 32 } });
            await deploy(client, { name: 'wide-b1', model: 'wide-mlp', targets: { stable: { version: v } }, batching: { max_batch_size: 1 } });
            log(`deployed wide-mlp version ${v} as 'wide-b32' (max_batch_size 32) and 'wide-b1' (max_batch_size 1)`);
          }
        } finally {
          client.close();
        }
      } catch (err) {
        for (const key of ['capstan_v2_64', 'capstan_v2_1', 'overhead', 'batching_gain', 'overload']) if (want(key)) failed(key, err);
        await ctx.capstan?.stop();
        ctx.capstan = null;
      }
    }

    if (needs.bareJson) {
      try {
        const m = await barePlain(ctx);
        results.bare_json = { what: 'bare node:http: JSON.parse of the body, a fixed JSON answer', ...m, target: BASELINE, meets_target: null };
      } catch (err) { failed('bare_json', err); }
    }

    if (needs.bareBatched) {
      try {
        raw.bareBatched = await bareInfer(ctx, 'bare_batched', BARE_BATCHING, opts.connections);
        if (want('bare_batched')) {
          results.bare_batched = {
            what: `bare node:http + tabular_mlp in one worker thread, ${BARE_BATCHING.max_queue_delay_ms} ms / ${BARE_BATCHING.max_batch_size}-row dynamic batching (the bare batched ceiling)`,
            ...raw.bareBatched, target: BASELINE, meets_target: null,
          };
        }
      } catch (err) { failed(want('bare_batched') ? 'bare_batched' : 'capstan_v2_64', err); }
    }

    if (needs.capstan64 && ctx.capstan) {
      try {
        const m = await capstanV2(ctx, 'capstan_v2_64', 'mlp', opts.connections);
        const ratio = raw.bareBatched ? round(m.req_per_s / raw.bareBatched.req_per_s, 3) : null;
        results.capstan_v2_64 = {
          what: "POST /v2/models/mlp/infer: tabular_mlp deployed through the API with default batching (max_batch_size 32, max_queue_delay_ms 0)",
          ...m, bare_batched_req_per_s: raw.bareBatched?.req_per_s ?? null, ratio_to_bare_batched: ratio,
          target: { ratio_to_bare_batched_min: TARGETS.ratio_to_bare_batched, p99_ms_max: TARGETS.p99_ms_at_64 },
          meets_target: m.errors === 0 && ratio !== null && ratio >= TARGETS.ratio_to_bare_batched && m.latency_ms.p99 <= TARGETS.p99_ms_at_64,
        };
      } catch (err) { failed('capstan_v2_64', err); }
    }

    if (needs.bareSingle) {
      try {
        raw.bareSingle = await bareInfer(ctx, 'bare_single_1', { max_batch_size: 1, max_queue_delay_ms: 0 }, 1);
      } catch (err) { failed('overhead', err); }
    }

    if (needs.capstan1 && ctx.capstan) {
      try {
        raw.capstan1 = await capstanV2(ctx, 'capstan_v2_1', 'mlp', 1);
        if (want('capstan_v2_1')) {
          results.capstan_v2_1 = {
            what: 'the same endpoint at 1 connection: one request at a time',
            ...raw.capstan1, target: { p50_ms_max: TARGETS.p50_ms_at_1 },
            meets_target: raw.capstan1.errors === 0 && raw.capstan1.latency_ms.p50 <= TARGETS.p50_ms_at_1,
          };
        }
      } catch (err) { failed(want('capstan_v2_1') ? 'capstan_v2_1' : 'overhead', err); }
    }

    if (want('overhead') && raw.bareSingle && raw.capstan1) {
      const added = round(raw.capstan1.latency_ms.p50 - raw.bareSingle.latency_ms.p50, 3);
      results.overhead = {
        what: "Capstan's p50 at 1 connection minus a bare node:http server's doing the same single inference in a worker thread",
        capstan_p50_ms: raw.capstan1.latency_ms.p50, bare_p50_ms: raw.bareSingle.latency_ms.p50, added_p50_ms: added,
        capstan_p99_ms: raw.capstan1.latency_ms.p99, bare_p99_ms: raw.bareSingle.latency_ms.p99,
        bare_single: raw.bareSingle,
        target: { added_p50_ms_max: TARGETS.added_p50_ms }, meets_target: raw.capstan1.errors === 0 && raw.bareSingle.errors === 0 && added <= TARGETS.added_p50_ms,
      };
    }

    if (needs.overload && ctx.capstan) {
      try {
        const m = await overload(ctx);
        results.overload = {
          what: `${opts.connections * 4} connections (4x the saturating ${opts.connections}) against tabular_mlp with max_queue 32: 429s are shed requests`,
          ...m, target: { sheds: true, accepted_p99_round_2_over_round_1_max: TARGETS.overload_p99_growth, rss_growth_round_2_mib_max: TARGETS.overload_rss_growth_mib },
          meets_target: m.shed > 0 && m.round_1_p99_ms !== null && m.latency_ms.p99 <= TARGETS.overload_p99_growth * m.round_1_p99_ms && m.rss_growth_round_2_mib !== null && m.rss_growth_round_2_mib <= TARGETS.overload_rss_growth_mib,
        };
      } catch (err) { failed('overload', err); }
    }

    if (needs.wide && ctx.capstan) {
      try {
        await checkWide(ctx);
        const batched = await measure('batching_gain (max_batch_size 32)', ctx.capstan, '/v2/models/wide-b32/infer', ctx.payloads, opts, opts.connections, capstanStats('wide-b32'));
        const single = await measure('batching_gain (max_batch_size 1)', ctx.capstan, '/v2/models/wide-b1/infer', ctx.payloads, opts, opts.connections, capstanStats('wide-b1'));
        const gain = round(batched.req_per_s / single.req_per_s, 2);
        results.batching_gain = {
          what: `wide_mlp through Capstan's V2 endpoint at ${opts.connections} connections: max_batch_size 32 vs 1 (one inference per request)`,
          batched_req_per_s: batched.req_per_s, single_req_per_s: single.req_per_s, gain,
          batched, single,
          target: { gain_min: TARGETS.batching_gain }, meets_target: batched.errors === 0 && single.errors === 0 && gain >= TARGETS.batching_gain,
        };
      } catch (err) { failed('batching_gain', err); }
    }
  } finally {
    await ctx.capstan?.stop();
  }

  if (needs.cold) {
    try {
      const runs = [];
      for (let i = 0; i < opts.coldStarts; i++) runs.push(await coldStart(ctx, i));
      const med = round(median(runs), 0);
      results.cold_start = {
        what: `"node bin/capstan.js serve tabular_mlp.onnx --port P" spawned until its first correct V2 answer (polled every ${POLL_MS} ms)`,
        median_ms: med, runs_ms: runs.map((x) => round(x, 0)),
        target: { median_ms_max: TARGETS.cold_start_ms }, meets_target: med <= TARGETS.cold_start_ms,
      };
    } catch (err) { failed('cold_start', err); }
  }

  await rm(ctx.dataDir, { recursive: true, force: true });
  await rm(ctx.workDir, { recursive: true, force: true });
  const targeted = Object.values(results).filter((r) => typeof r.meets_target === 'boolean');
  report.all_targets_met = targeted.length > 0 && targeted.every((r) => r.meets_target) && !Object.values(results).some((r) => r.error);
  report.summary = summarize(results);
  report.machine.loadavg_1m_end = round(os.loadavg()[0], 2);
  // The summary first: the details below it are long.
  const { summary, all_targets_met: allMet, ...rest } = report;
  process.stdout.write(`${JSON.stringify({ bench: rest.bench, date: rest.date, all_targets_met: allMet, summary, ...rest }, null, 2)}\n`);
  process.exitCode = Object.values(results).some((r) => r.error) ? 1 : 0;
}

await main();
