#!/usr/bin/env node
// Access-control overhead. This bench starts its own servers: the same build with authentication
// off and on, side by side on one machine, and reports
//   - per_request: p50/p99 of a cheap authorized read (GET experiments/get) in-process, off vs on,
//     and the cost of authenticate (cached token) + authorize alone;
//   - log_batch: metrics/s through HTTP with auth off vs on (a write: authorization, project lookup
//     and the audit event in the same transaction), alternating rounds to share the machine's noise.
// One JSON object goes to stdout.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { createClient, createTally, log, percentile, round, runForDuration } from './lib/load.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = (p) => import(pathToFileURL(path.join(ROOT, 'dist/src', p)).href);
const { values } = parseArgs({ options: { seconds: { type: 'string', default: '8' }, rounds: { type: 'string', default: '3' }, clients: { type: 'string', default: '4' }, requests: { type: 'string', default: '20000' } } });
const SECONDS = Number(values.seconds);
const ROUNDS = Number(values.rounds);
const CLIENTS = Number(values.clients);
const REQUESTS = Number(values.requests);
const OWNER = { name: 'bench-owner', password: 'bench-owner-password' };

const { loadConfig } = await dist('config/index.js');
const { createLogger } = await dist('observability/logger.js');
const { createPlatform } = await dist('server/platform.js');
const { authorize } = await dist('access/index.js');

async function start(authOn) {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), `capstan-bench-auth-${authOn ? 'on' : 'off'}-`));
  const flags = { data_dir: dataDir, 'log.level': 'silent', 'server.rate_limit_rps': 0 };
  if (authOn) Object.assign(flags, { 'auth.mode': 'on', 'auth.bootstrap_owner': OWNER.name, 'auth.bootstrap_password': OWNER.password });
  const platform = await createPlatform(loadConfig({ flags }), createLogger('silent'));
  const url = await platform.app.listen({ host: '127.0.0.1', port: 0 });
  let token;
  if (authOn) {
    // A robot editor with a write token: the ordinary CI case, not the owner shortcut.
    const login = await fetch(`${url}/api/capstan/auth/login`, { method: 'POST', body: JSON.stringify({ username: OWNER.name, password: OWNER.password }) }).then((r) => r.json());
    const h = { authorization: `Bearer ${login.token}`, 'content-type': 'application/json' };
    await fetch(`${url}/api/capstan/accounts`, { method: 'POST', headers: h, body: JSON.stringify({ name: 'bench-bot', kind: 'robot' }) });
    await fetch(`${url}/api/capstan/projects/default/members/bench-bot`, { method: 'PUT', headers: h, body: JSON.stringify({ role: 'editor' }) });
    token = (await fetch(`${url}/api/capstan/tokens`, { method: 'POST', headers: h, body: JSON.stringify({ name: 'bench', scopes: ['write'], account: 'bench-bot' }) }).then((r) => r.json())).token;
  }
  return { platform, url, token, close: async () => { await platform.close(); rmSync(dataDir, { recursive: true, force: true }); } };
}

async function injectLatencies(server) {
  const headers = server.token ? { authorization: `Bearer ${server.token}` } : {};
  const times = new Array(REQUESTS);
  for (let i = 0; i < REQUESTS; i++) {
    const t = performance.now();
    const res = await server.platform.app.inject({ method: 'GET', url: '/api/2.0/mlflow/experiments/get?experiment_id=0', headers });
    times[i] = (performance.now() - t) * 1000;
    if (res.statusCode !== 200) throw new Error(`read failed with ${res.statusCode}: ${res.body}`);
  }
  return times.slice(REQUESTS / 10); // the first tenth warms the JIT and caches
}

async function authOnlyMicros(server) {
  const authenticator = server.platform.access.request.authenticator;
  const credentials = { kind: 'bearer', token: server.token };
  const resource = { kind: 'experiment', id: '0', projectId: 1 };
  const times = [];
  for (let i = 0; i < REQUESTS; i++) {
    const t = performance.now();
    authorize(await authenticator.authenticate(credentials), 'write', resource);
    times.push((performance.now() - t) * 1000);
  }
  return times.slice(REQUESTS / 10);
}

async function logBatchRate(server) {
  const client = createClient(server.url, CLIENTS, '/api/2.0/mlflow', server.token);
  const runIds = [];
  for (let w = 0; w < CLIENTS; w++) runIds.push((await client.call('POST', '/runs/create', { experiment_id: '0', start_time: Date.now() })).run.info.run_id);
  const tally = createTally('log_batch');
  const t0 = Date.now();
  const elapsed = await runForDuration(CLIENTS, SECONDS, (w, i) => {
    const metrics = Array.from({ length: 1000 }, (_, j) => ({ key: `m${j % 10}`, value: j / 7, timestamp: t0 + i, step: i * 100 + Math.floor(j / 10) }));
    return client.send('POST', '/runs/log-batch', { run_id: runIds[w], metrics });
  }, tally);
  client.close();
  if (tally.errors) throw new Error(`${tally.errors} log-batch requests failed (first error above)`);
  return (tally.ok * 1000) / elapsed;
}

const median = (xs) => percentile(xs, 50);
const off = await start(false);
const on = await start(true);
try {
  log(`per-request: ${REQUESTS} in-process reads each, auth off then on`);
  const latOff = await injectLatencies(off);
  const latOn = await injectLatencies(on);
  const micro = await authOnlyMicros(on);
  const offRates = [];
  const onRates = [];
  for (let r = 0; r < ROUNDS; r++) {
    log(`log_batch round ${r + 1}/${ROUNDS}: ${CLIENTS} clients x ${SECONDS} s, off then on`);
    offRates.push(await logBatchRate(off));
    onRates.push(await logBatchRate(on));
  }
  const result = {
    bench: 'auth',
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, node: process.version },
    per_request: {
      read_p50_us_off: round(median(latOff)), read_p50_us_on: round(median(latOn)),
      added_p50_us: round(median(latOn) - median(latOff)),
      read_p99_us_off: round(percentile(latOff, 99)), read_p99_us_on: round(percentile(latOn, 99)),
      authenticate_cached_plus_authorize_p50_us: round(median(micro), 2),
    },
    log_batch: {
      metrics_per_s_off: round(median(offRates), 0), metrics_per_s_on: round(median(onRates), 0),
      rounds_off: offRates.map((x) => round(x, 0)), rounds_on: onRates.map((x) => round(x, 0)),
      overhead_pct: round((1 - median(onRates) / median(offRates)) * 100, 1),
      clients: CLIENTS, seconds_per_round: SECONDS,
    },
  };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
} finally {
  await off.close();
  await on.close();
}
