#!/usr/bin/env node
// Tracking-server benchmark. It speaks only the MLflow REST API, so one script measures Capstan and
// a real MLflow server alike. One JSON object goes to stdout; progress and first errors to stderr.
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { createClient, createTally, forEachIndex, log, percentile, progress, round, runForDuration, withRetry } from './lib/load.mjs';

const API = '/api/2.0/mlflow';
const FIGURES = ['batch', 'single', 'history', 'search'];
const METRIC_KEYS = 10; // log_batch writes m0..m9, each over consecutive steps
const MAX_BATCH = 1000; // MLflow's limit on metrics per runs/log-batch
const HISTORY_FETCHES = 5;
const SEARCH_ITERATIONS = 20;
const SEARCH_PAGE = 1000;
const SEARCH_FILTER = "metrics.acc > 0.9 and params.lr = '0.01'";
const LEARNING_RATES = ['0.0001', '0.0003', '0.001', '0.003', '0.01', '0.03', '0.1', '0.3', '1', '3'];
const RUNS_TAG = 'capstan.bench.runs'; // set on a search experiment once it is fully seeded
const MAX_HISTORY_PAGES = 100_000;

const USAGE = `usage: node bench/tracking.mjs --url URL [options]
  --url URL             MLflow-compatible tracking server to measure (required)
  --only LIST           comma-separated subset of ${FIGURES.join(',')} (default: all)
  --clients N           concurrent clients (default 4)
  --seconds S           length of each timed write loop (default 10)
  --seed-batch N        metrics per runs/log-batch request, at most ${MAX_BATCH} (default ${MAX_BATCH})
  --history-points N    points in the metric history that get_history reads (default 100000)
  --runs N              runs seeded for the search figures (default 100000)
  --experiment-id ID    search an experiment seeded by an earlier invocation instead of seeding
  --token TOKEN         Bearer token for a server with authentication on (default: MLFLOW_TRACKING_TOKEN)
Exit status: 0 done, 1 a figure failed (see its "error" field), 2 bad usage.`;


function usageError(message) {
  process.stderr.write(`${message}\n${USAGE}\n`);
  process.exit(2);
}

function positive(name, text, { integer = true, max = Infinity } = {}) {
  const value = Number(text);
  const valid = (integer ? Number.isInteger(value) : Number.isFinite(value)) && value > 0 && value <= max;
  const kind = `a positive ${integer ? 'integer' : 'number'}${max < Infinity ? ` up to ${max}` : ''}`;
  if (!valid) usageError(`--${name} must be ${kind}, got '${text}'`);
  return value;
}

function parseOptions(argv) {
  const str = (fallback) => ({ type: 'string', default: fallback });
  let values;
  try {
    ({ values } = parseArgs({ args: argv, strict: true, options: {
      url: { type: 'string' }, only: str(FIGURES.join(',')), clients: str('4'), seconds: str('10'),
      'seed-batch': str(String(MAX_BATCH)), 'history-points': str('100000'), runs: str('100000'),
      'experiment-id': { type: 'string' }, token: { type: 'string' }, help: { type: 'boolean', short: 'h' },
    } }));
  } catch (err) {
    usageError(err.message);
  }
  if (values.help) { process.stdout.write(`${USAGE}\n`); process.exit(0); }
  if (!values.url) usageError('--url is required');
  try { new URL(values.url); } catch { usageError(`--url is not a URL: '${values.url}'`); }
  const only = values.only.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = only.filter((name) => !FIGURES.includes(name));
  if (unknown.length || !only.length) usageError(`--only takes ${FIGURES.join(', ')}; got '${values.only}'`);
  return {
    url: values.url.replace(/\/+$/, ''), only,
    clients: positive('clients', values.clients, { max: 1024 }),
    seconds: positive('seconds', values.seconds, { integer: false }),
    seedBatch: positive('seed-batch', values['seed-batch'], { max: MAX_BATCH }),
    historyPoints: positive('history-points', values['history-points']),
    runs: positive('runs', values.runs),
    experimentId: values['experiment-id'],
    token: values.token,
  };
}

async function createExperiment(ctx, figure, purpose) {
  const name = `bench-${purpose}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  const { experiment_id: id } = await ctx.client.call('POST', '/experiments/create', { name });
  log(`${figure}: created experiment ${id} (${name})`);
  return id;
}

async function createRuns(ctx, count, runName) {
  ctx.scratchExperiment ??= createExperiment(ctx, 'writes', 'tracking');
  const experimentId = await ctx.scratchExperiment;
  const runs = [];
  for (let i = 0; i < count; i++) {
    const body = { experiment_id: experimentId, run_name: `${runName}-${i}`, start_time: Date.now() };
    runs.push((await ctx.client.call('POST', '/runs/create', body)).run.info.run_id);
  }
  return runs;
}

function writeLoopResult(tally, seconds, extra) {
  return {
    ...extra, seconds: round(seconds, 2), requests: tally.ok, errors: tally.errors,
    p50_ms: percentile(tally.latenciesMs, 50), p99_ms: percentile(tally.latenciesMs, 99),
  };
}

// Request i carries steps [i*s, (i+1)*s) for every key, so each request inserts new rows.
function batchMetrics(requestIndex, size, t0) {
  const stepsPerRequest = Math.ceil(size / METRIC_KEYS);
  const metrics = new Array(size);
  for (let j = 0; j < size; j++) {
    const step = requestIndex * stepsPerRequest + Math.floor(j / METRIC_KEYS);
    metrics[j] = { key: `m${j % METRIC_KEYS}`, value: 1 / (1 + step) + j, timestamp: t0 + step, step };
  }
  return metrics;
}

async function benchLogBatch(ctx) {
  const { clients, seconds, seedBatch } = ctx.opts;
  const runIds = await createRuns(ctx, clients, 'log-batch');
  log(`log_batch: ${clients} clients x ${seconds} s, ${seedBatch} metrics per request`);
  const t0 = Date.now();
  const tally = createTally('log_batch');
  const elapsed = await runForDuration(clients, seconds, (w, i) =>
    ctx.client.send('POST', '/runs/log-batch', { run_id: runIds[w], metrics: batchMetrics(i, seedBatch, t0) }), tally);
  const rate = round((tally.ok * seedBatch) / elapsed, 0);
  return { log_batch: writeLoopResult(tally, elapsed, { metrics_per_s: rate, clients, batch_size: seedBatch }) };
}

async function benchLogMetric(ctx) {
  const { clients, seconds } = ctx.opts;
  const runIds = await createRuns(ctx, clients, 'log-metric');
  log(`log_metric: ${clients} clients x ${seconds} s`);
  const t0 = Date.now();
  const tally = createTally('log_metric');
  const elapsed = await runForDuration(clients, seconds, (w, i) =>
    ctx.client.send('POST', '/runs/log-metric', { run_id: runIds[w], key: 'loss', value: 1 / (1 + i), timestamp: t0 + i, step: i }), tally);
  return { log_metric: writeLoopResult(tally, elapsed, { requests_per_s: round(tally.ok / elapsed), clients }) };
}

// Follows next_page_token when the server pages; 2.x MLflow answers everything in one page.
async function fetchHistory(client, runId, key) {
  let token;
  let points = 0;
  let pages = 0;
  do {
    const query = new URLSearchParams({ run_id: runId, metric_key: key });
    if (token) query.set('page_token', token);
    const body = await client.call('GET', `/metrics/get-history?${query}`);
    points += (body.metrics ?? []).length;
    pages++;
    token = body.next_page_token;
  } while (token && pages < MAX_HISTORY_PAGES);
  return { points, pages };
}

async function benchGetHistory(ctx) {
  const { clients, seedBatch, historyPoints: total } = ctx.opts;
  const [runId] = await createRuns(ctx, 1, 'history');
  const requests = Math.ceil(total / seedBatch);
  log(`get_history: logging ${total} points of 'loss' in ${requests} log-batch requests`);
  const t0 = Date.now();
  let sent = 0;
  const seedStarted = performance.now();
  const stop = progress('get_history: seeded requests', requests, () => sent);
  await forEachIndex(requests, clients, async (r) => {
    const count = Math.min(seedBatch, total - r * seedBatch);
    const metrics = Array.from({ length: count }, (_, j) => {
      const step = r * seedBatch + j;
      return { key: 'loss', value: 1 / (1 + step), timestamp: t0 + step, step };
    });
    await withRetry(() => ctx.client.call('POST', '/runs/log-batch', { run_id: runId, metrics }));
    sent++;
  }).finally(stop);
  const seedSeconds = (performance.now() - seedStarted) / 1000;
  const timings = [];
  let fetched;
  for (let k = 0; k < HISTORY_FETCHES; k++) {
    const t = performance.now();
    fetched = await fetchHistory(ctx.client, runId, 'loss');
    timings.push(performance.now() - t);
    log(`get_history: fetch ${k + 1}/${HISTORY_FETCHES}: ${fetched.points} points in ${Math.round(timings[k])} ms`);
  }
  const result = {
    points: total, p50_ms: percentile(timings, 50), min_ms: round(Math.min(...timings)), max_ms: round(Math.max(...timings)),
    runs: HISTORY_FETCHES, pages: fetched.pages, seed_seconds: round(seedSeconds, 2), seed_batch: seedBatch,
  };
  if (fetched.points !== total) result.error = `server returned ${fetched.points} points, expected ${total}`;
  return { get_history: result };
}

// A small seeded PRNG (mulberry32); seeding run i from i keeps the data independent of worker timing.
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function searchRunData(i) {
  const rand = prng(0x5eed0000 + i);
  const acc = rand();
  return {
    params: {
      lr: LEARNING_RATES[i % LEARNING_RATES.length],
      optimizer: Math.floor(i / 10) % 2 ? 'sgd' : 'adam',
      layers: String(1 + (Math.floor(i / 20) % 8)),
    },
    metrics: { acc, loss: 1 - acc + rand() * 0.1, f1: rand(), precision: rand(), recall: rand() },
    tags: { team: `team-${i % 4}`, dataset: `dataset-${i % 3}` },
  };
}

const pairs = (object) => Object.entries(object).map(([key, value]) => ({ key, value }));

async function seedSearchExperiment(ctx) {
  const { clients, runs: total } = ctx.opts;
  const experimentId = await createExperiment(ctx, 'search', `search-${total}`);
  log(`search: seeding ${total} runs into experiment ${experimentId} with ${clients} clients`);
  const t0 = Date.now();
  let done = 0;
  const started = performance.now();
  const stop = progress('search: seeded runs', total, () => done);
  await forEachIndex(total, clients, async (i) => {
    const create = { experiment_id: experimentId, run_name: `run-${i}`, start_time: t0 + i };
    const { run } = await withRetry(() => ctx.client.call('POST', '/runs/create', create));
    const data = searchRunData(i);
    const metrics = pairs(data.metrics).map((m) => ({ ...m, timestamp: t0 + i, step: 0 }));
    const batch = { run_id: run.info.run_id, metrics, params: pairs(data.params), tags: pairs(data.tags) };
    await withRetry(() => ctx.client.call('POST', '/runs/log-batch', batch));
    done++;
  }).finally(stop);
  const seconds = (performance.now() - started) / 1000;
  const tag = { experiment_id: experimentId, key: RUNS_TAG, value: String(total) };
  await ctx.client.call('POST', '/experiments/set-experiment-tag', tag);
  log(`search: seeded experiment ${experimentId}; pass --experiment-id ${experimentId} to reuse it`);
  const runsPerS = round(total / seconds);
  return { experiment_id: experimentId, runs: total, clients, seconds: round(seconds, 2), runs_per_s: runsPerS, reused: false };
}

async function reuseSearchExperiment(ctx, experimentId) {
  const { experiment } = await ctx.client.call('GET', `/experiments/get?${new URLSearchParams({ experiment_id: experimentId })}`);
  const tag = (experiment.tags ?? []).find((t) => t.key === RUNS_TAG);
  const note = tag ? `${tag.value} runs` : 'no run-count tag, so counts are not checked';
  log(`search: reusing experiment ${experimentId} (${note})`);
  return { experiment_id: experimentId, runs: tag ? Number(tag.value) : null, reused: true };
}

// What the seeded data must produce: matches of SEARCH_FILTER and the highest acc overall.
function expectedSearch(total) {
  let matches = 0;
  let maxAcc = -Infinity;
  let maxAccMatching = -Infinity;
  for (let i = 0; i < total; i++) {
    const { params, metrics } = searchRunData(i);
    maxAcc = Math.max(maxAcc, metrics.acc);
    if (metrics.acc > 0.9 && params.lr === '0.01') { matches++; maxAccMatching = Math.max(maxAccMatching, metrics.acc); }
  }
  return { matches, maxAcc, maxAccMatching };
}

const valueOf = (list, key) => (list ?? []).find((item) => item.key === key)?.value;

function checkSearchPage(runs, { filtered, ordered, expected }) {
  const accs = runs.map((run) => valueOf(run.data?.metrics, 'acc'));
  if (filtered) {
    const bad = runs.findIndex((run, k) => !(accs[k] > 0.9 && valueOf(run.data?.params, 'lr') === '0.01'));
    if (bad >= 0) return `run ${runs[bad].info?.run_id} does not match the filter`;
  }
  if (ordered && accs.some((acc, k) => k > 0 && !(acc <= accs[k - 1]))) return 'runs are not ordered by metrics.acc DESC';
  if (!expected) return undefined;
  const wanted = filtered ? Math.min(expected.matches, SEARCH_PAGE) : Math.min(expected.runs, SEARCH_PAGE);
  if (runs.length !== wanted) return `first page has ${runs.length} runs, expected ${wanted}`;
  const top = filtered ? expected.maxAccMatching : expected.maxAcc;
  if (ordered && runs.length && accs[0] !== top) return `first run has acc ${accs[0]}, expected ${top}`;
  return undefined;
}

// A failed search is counted, not fatal: one query outlasting a server's worker timeout should not
// hide the other figures.
async function timeSearch(ctx, name, seed, request) {
  const body = { experiment_ids: [seed.experiment_id], max_results: SEARCH_PAGE, ...request };
  const timings = [];
  const failures = [];
  let firstPage;
  for (let k = 0; k < SEARCH_ITERATIONS; k++) {
    const t = performance.now();
    try {
      const page = await ctx.client.call('POST', '/runs/search', body);
      timings.push(performance.now() - t);
      firstPage ??= page;
    } catch (err) {
      failures.push(err.message);
      if (failures.length === 1) log(`${name}: search failed after ${Math.round(performance.now() - t)} ms: ${err.message}`);
    }
  }
  return { timings, failures, firstPage };
}

function searchResult(seed, request, expected, { timings, failures, firstPage }) {
  const runs = firstPage?.runs ?? [];
  const result = {
    runs: seed.runs, experiment_id: seed.experiment_id, filter: request.filter ?? null, order_by: request.order_by ?? [],
    max_results: SEARCH_PAGE, iterations: SEARCH_ITERATIONS, errors: failures.length,
    p50_ms: percentile(timings, 50), p95_ms: percentile(timings, 95), min_ms: percentile(timings, 0),
    returned: firstPage ? runs.length : null, next_page_token: Boolean(firstPage?.next_page_token),
  };
  const problems = [];
  if (failures.length) problems.push(`${failures.length} of ${SEARCH_ITERATIONS} searches failed, first: ${failures[0]}`);
  const mismatch = firstPage && checkSearchPage(runs, { filtered: Boolean(request.filter), ordered: Boolean(request.order_by), expected });
  if (mismatch) problems.push(mismatch);
  if (problems.length) result.error = problems.join('; ');
  return result;
}

async function benchSearch(ctx) {
  const seed = ctx.opts.experimentId ? await reuseSearchExperiment(ctx, ctx.opts.experimentId) : await seedSearchExperiment(ctx);
  const expected = seed.runs ? { runs: seed.runs, ...expectedSearch(seed.runs) } : undefined;
  if (expected) log(`search: ${expected.matches} of ${seed.runs} runs match "${SEARCH_FILTER}"`);
  const variants = {
    search_filter: { filter: SEARCH_FILTER },
    search_order_by_metric: { filter: SEARCH_FILTER, order_by: ['metrics.acc DESC'] },
    search_order_by_metric_no_filter: { order_by: ['metrics.acc DESC'] },
  };
  const results = { search_seed: seed };
  for (const [name, request] of Object.entries(variants)) {
    log(`${name}: ${SEARCH_ITERATIONS} searches`);
    results[name] = searchResult(seed, request, expected, await timeSearch(ctx, name, seed, request));
    log(`${name}: p50 ${results[name].p50_ms} ms, ${results[name].returned} runs, ${results[name].errors} errors`);
  }
  return results;
}

const BENCHES = { batch: benchLogBatch, single: benchLogMetric, history: benchGetHistory, search: benchSearch };
const FIGURE_KEYS = { batch: 'log_batch', single: 'log_metric', history: 'get_history', search: 'search' };

function machine() {
  const cpus = os.cpus();
  return {
    cpus: cpus.length, model: cpus[0]?.model?.trim() ?? 'unknown', mem_gib: round(os.totalmem() / 2 ** 30),
    node: process.version, platform: `${os.platform()} ${os.release()}`,
  };
}

async function main() {
  const opts = parseOptions(process.argv.slice(2));
  const client = createClient(opts.url, opts.clients, API, opts.token ?? process.env.MLFLOW_TRACKING_TOKEN);
  const ctx = { opts, client };
  const report = { server: opts.url, date: new Date().toISOString(), machine: machine(), results: {} };
  try {
    await client.call('POST', '/experiments/search', { max_results: 1 });
  } catch (err) {
    log(`cannot use the tracking server at ${opts.url}: ${err.message}`);
    client.close();
    process.exit(1);
  }
  for (const name of opts.only) {
    try {
      Object.assign(report.results, await BENCHES[name](ctx));
    } catch (err) {
      log(`${FIGURE_KEYS[name]}: failed: ${err.message}`);
      report.results[FIGURE_KEYS[name]] = { error: err.message };
    }
  }
  client.close();
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  process.exitCode = Object.values(report.results).some((r) => r.error) ? 1 : 0;
}

await main();
