// Load-generation pieces shared by Capstan's benchmarks: a keep-alive HTTP client, worker pools,
// latency tallies and percentiles. Node built-ins only, so a benchmark runs without a build step.
import http from 'node:http';
import https from 'node:https';
import { performance } from 'node:perf_hooks';

const REQUEST_TIMEOUT_MS = 300_000;
const RETRY_ATTEMPTS = 4;
const PROGRESS_EVERY_MS = 10_000;

export const log = (line) => process.stderr.write(`[bench] ${line}\n`);
export const round = (x, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export class HttpError extends Error {
  constructor(status, text) {
    super(`HTTP ${status}: ${text.slice(0, 300)}`);
    this.status = status;
  }
}

// One keep-alive connection per client; `send` never throws for an HTTP status, `call` does.
// A Buffer (or other Uint8Array) body goes out as given, as application/octet-stream unless
// `extraHeaders` say otherwise, so a load loop can encode its payload once; others go as JSON.
/** `token`: sent as a Bearer credential (a Capstan or MLflow token) when given. */
export function createClient(baseUrl, clients, apiPrefix = '', token = undefined) {
  const url = new URL(baseUrl);
  const transport = url.protocol === 'https:' ? https : http;
  const agent = new transport.Agent({ keepAlive: true, maxSockets: clients });
  const target = { protocol: url.protocol, hostname: url.hostname.replace(/^\[|\]$/g, ''), port: url.port };
  const prefix = url.pathname.replace(/\/+$/, '') + apiPrefix;
  const send = (method, path, body, extraHeaders = undefined) => new Promise((resolve, reject) => {
    const raw = body instanceof Uint8Array;
    const payload = body === undefined || raw ? body : JSON.stringify(body);
    const headers = payload === undefined ? {} :
      { 'content-type': raw ? 'application/octet-stream' : 'application/json', 'content-length': Buffer.byteLength(payload) };
    if (token) headers.authorization = `Bearer ${token}`;
    if (extraHeaders) Object.assign(headers, extraHeaders);
    const req = transport.request({ ...target, agent, method, path: prefix + path, headers, timeout: REQUEST_TIMEOUT_MS }, (res) => {
      const chunks = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no response within ${REQUEST_TIMEOUT_MS} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
  const call = async (method, path, body, extraHeaders = undefined) => {
    const res = await send(method, path, body, extraHeaders);
    if (res.status !== 200) throw new HttpError(res.status, res.text);
    return JSON.parse(res.text);
  };
  return { send, call, close: () => agent.destroy() };
}

// A lean keep-alive POST loop for closed-loop load, where the load generator's own CPU counts (on a
// 2-core machine it shares the cores with the server): bodies and headers are encoded once
// (`payload`), there is no per-request timer (the agent's sockets time out instead), and a 200's
// body is read and dropped; any other answer keeps its text for the error report. It costs about
// half the CPU per request of `createClient().send`.
export function createPoster(baseUrl, connections, timeoutMs = REQUEST_TIMEOUT_MS) {
  const url = new URL(baseUrl);
  const transport = url.protocol === 'https:' ? https : http;
  const agent = new transport.Agent({ keepAlive: true, maxSockets: connections, timeout: timeoutMs });
  const target = { protocol: url.protocol, hostname: url.hostname.replace(/^\[|\]$/g, ''), port: url.port, agent, method: 'POST' };
  const prefix = url.pathname.replace(/\/+$/, '');
  const payload = (body, contentType = 'application/json') => ({ body, headers: { 'content-type': contentType, 'content-length': body.length } });
  const post = (path, { body, headers }) => new Promise((resolve, reject) => {
    const req = transport.request({ ...target, path: prefix + path, headers }, (res) => {
      if (res.statusCode === 200) {
        res.on('end', () => resolve({ status: 200, text: '' }));
        res.resume();
      } else {
        const chunks = [];
        res.on('data', (chunk) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString('utf8') }));
      }
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no response within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
  return { payload, post, close: () => agent.destroy() };
}

// Retries only answers that say "try again" (429, 5xx); a lost connection could hide a success.
export async function withRetry(fn) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const retryable = err instanceof HttpError && (err.status === 429 || err.status >= 500);
      if (!retryable || attempt >= RETRY_ATTEMPTS) throw err;
      await sleep(250 * 2 ** attempt);
    }
  }
}

// Runs task(0..count-1) on `clients` workers; the first failure stops the others and is rethrown.
export async function forEachIndex(count, clients, task) {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      try { await task(i); } catch (err) { next = count; throw err; }
    }
  };
  await Promise.all(Array.from({ length: Math.min(clients, count) }, worker));
}

export function createTally(figure) {
  const latenciesMs = [];
  let errors = 0;
  return {
    latenciesMs,
    get ok() { return latenciesMs.length; },
    get errors() { return errors; },
    record(status, text, ms) {
      if (status === 200) { latenciesMs.push(ms); return; }
      if (errors++ === 0) log(`${figure}: first error: ${status ? `HTTP ${status}` : 'request failed'}: ${text.slice(0, 300)}`);
    },
  };
}

// `clients` workers each send request(worker, i) back to back until `seconds` have passed.
export async function runForDuration(clients, seconds, request, tally) {
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(Array.from({ length: clients }, async (_, worker) => {
    for (let i = 0; performance.now() < deadline; i++) {
      const t0 = performance.now();
      try {
        const res = await request(worker, i);
        tally.record(res.status, res.text, performance.now() - t0);
      } catch (err) {
        tally.record(0, err.message, performance.now() - t0);
      }
    }
  }));
  return (performance.now() - started) / 1000;
}

export function percentile(values, p) {
  if (!values.length) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length) - 1; // nearest rank
  return round(sorted[Math.min(sorted.length - 1, Math.max(0, rank))]);
}

export function progress(label, total, done) {
  const started = performance.now();
  const timer = setInterval(() => {
    const s = (performance.now() - started) / 1000;
    log(`${label}: ${done()}/${total} after ${Math.round(s)} s`);
  }, PROGRESS_EVERY_MS);
  timer.unref();
  return () => clearInterval(timer);
}

