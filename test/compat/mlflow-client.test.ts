// Opt-in compatibility test: drives the real MLflow Python client against a Capstan server, once
// with authentication off (mlflow_client_check.py), once with it on (mlflow_auth_check.py: API
// tokens, HTTP Basic, refusals, and a project chosen by the tracking URI's /projects/<name> prefix),
// and once through the model registry with an ONNX model (mlflow_registry_check.py).
//
// Needs MLflow's source tree (the `mlflow/` directory of tag v2.12.2) extracted somewhere outside
// this repository, Debian's /usr/bin/python3 with MLflow's dependencies, and querystring-parser in
// /opt/querystring-parser:
//   MLFLOW_SOURCE=/opt/mlflow-2.12.2 node --import tsx --test test/compat/mlflow-client.test.ts
// Without MLFLOW_SOURCE the test is skipped.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { freePort } from '../support/server-process.js';

const MLFLOW_SOURCE = process.env.MLFLOW_SOURCE;
const PYTHON = '/usr/bin/python3';
const QUERYSTRING_PARSER = '/opt/querystring-parser';
const HEALTH_TIMEOUT_MS = 20_000;
const CHECK_TIMEOUT_MS = 5 * 60_000;
const STOP_TIMEOUT_MS = 10_000;
const OUTPUT_TAIL = 64 * 1024;

const SKIP_REASON = MLFLOW_SOURCE
  ? false
  : 'MLFLOW_SOURCE is unset: point it at an extracted MLflow 2.12.2 source tree (e.g. /opt/mlflow-2.12.2) to run the MLflow client check';

/** The project root: the nearest directory above this file whose package.json names capstan. */
function projectRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = path.join(dir, 'package.json');
    if (existsSync(manifest)) {
      const pkg = JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string };
      if (pkg.name === 'capstan') return dir;
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('cannot find the capstan package root');
    dir = parent;
  }
}


function isHealthy(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get(`${url}/health`, { timeout: 2_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve(res.statusCode === 200 && body.trim() === 'OK'));
      res.on('error', () => resolve(false));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

/** Keeps the last `limit` characters written by a child process. */
class Tail {
  private text = '';
  constructor(private readonly limit = OUTPUT_TAIL) {}
  push(chunk: Buffer | string): void {
    this.text += chunk.toString();
    if (this.text.length > this.limit) this.text = this.text.slice(-this.limit);
  }
  toString(): string {
    return this.text;
  }
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

async function waitForHealth(url: string, server: ChildProcess, log: Tail): Promise<void> {
  const deadline = Date.now() + HEALTH_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (exited(server)) {
      throw new Error(
        `Capstan server exited early (code ${server.exitCode}, signal ${server.signalCode})\n${log}`,
      );
    }
    if (await isHealthy(url)) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`GET ${url}/health did not answer OK within ${HEALTH_TIMEOUT_MS} ms\n${log}`);
}

async function stopServer(server: ChildProcess): Promise<void> {
  if (exited(server)) return;
  const done = new Promise<void>((resolve) => server.once('exit', () => resolve()));
  server.kill('SIGTERM');
  const timer = setTimeout(() => {
    if (!exited(server)) server.kill('SIGKILL');
  }, STOP_TIMEOUT_MS);
  await done;
  clearTimeout(timer);
}

interface CheckResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
}

/** Runs one of the Python check scripts in this directory with MLFLOW_TRACKING_URI and `extraEnv`. */
function runCheck(
  root: string,
  script: string,
  trackingUri: string,
  mlflowSource: string,
  extraEnv: Record<string, string> = {},
): Promise<CheckResult> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PYTHONPATH: `${mlflowSource}:${QUERYSTRING_PARSER}`,
      MLFLOW_TRACKING_URI: trackingUri,
      PYTHONUNBUFFERED: '1',
      ...extraEnv,
    };
    const child = spawn(PYTHON, [path.join('test', 'compat', script)], {
      cwd: root,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output = new Tail();
    child.stdout.on('data', (chunk: Buffer) => output.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => output.push(chunk));
    const timer = setTimeout(() => {
      output.push(`\n[check timed out after ${CHECK_TIMEOUT_MS} ms]\n`);
      child.kill('SIGKILL');
    }, CHECK_TIMEOUT_MS);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, output: output.toString() });
    });
  });
}

interface RunningServer {
  url: string;
  log: Tail;
  server: ChildProcess;
}

/**
 * Starts `capstan up` on a free loopback port with a fresh data directory, runs `body` once /health
 * answers OK, then stops the server and removes the data directory.
 */
async function withServer(
  root: string,
  settings: Record<string, string>,
  body: (running: RunningServer) => Promise<void>,
): Promise<void> {
  const data = await mkdtemp(path.join(tmpdir(), 'capstan-mlflow-compat-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const log = new Tail();
  const server = spawn(
    process.execPath,
    ['bin/capstan.js', 'up', '--host', '127.0.0.1', '--port', String(port), '--data', data],
    { cwd: root, env: { ...process.env, ...settings }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  server.stdout?.on('data', (chunk: Buffer) => log.push(chunk));
  server.stderr?.on('data', (chunk: Buffer) => log.push(chunk));
  const spawnError = new Promise<never>((_, reject) => server.once('error', reject));
  spawnError.catch(() => undefined);

  try {
    await Promise.race([waitForHealth(url, server, log), spawnError]);
    await body({ url, log, server });
  } finally {
    await stopServer(server);
    await rm(data, { recursive: true, force: true });
  }
}

function assertCheckPassed(script: string, result: CheckResult, serverLog: Tail): void {
  assert.equal(
    result.code,
    0,
    `${script} exited with code ${result.code} (signal ${result.signal})\n` +
      `--- check output ---\n${result.output}\n--- server output (tail) ---\n${serverLog}`,
  );
}

/** The MLflow source tree named by MLFLOW_SOURCE, checked to hold the client. */
function mlflowSourceTree(): string {
  const mlflowSource = path.resolve(MLFLOW_SOURCE as string);
  assert.ok(
    existsSync(path.join(mlflowSource, 'mlflow', '__init__.py')),
    `MLFLOW_SOURCE=${mlflowSource} does not contain mlflow/__init__.py`,
  );
  assert.ok(existsSync(PYTHON), `${PYTHON} is missing`);
  return mlflowSource;
}

test('the MLflow 2.12 Python client works against Capstan', { skip: SKIP_REASON }, async () => {
  const mlflowSource = mlflowSourceTree();
  const root = projectRoot();
  await withServer(root, {}, async ({ url, log }) => {
    const result = await runCheck(root, 'mlflow_client_check.py', url, mlflowSource);
    assertCheckPassed('mlflow_client_check.py', result, log);
  });
});

/** A JSON call to Capstan's own API as `token`; fails the test on anything but 2xx. */
async function capstanApi(url: string, method: string, route: string, token: string | null, body?: unknown): Promise<any> {
  const headers: Record<string, string> = {};
  if (token !== null) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${url}${route}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  assert.ok(res.ok, `${method} ${route} answered ${res.status}: ${text}`);
  return text ? JSON.parse(text) : {};
}

const randomPassword = () => `pw-${randomBytes(12).toString('base64url')}`;

test('the MLflow 2.12 Python client signs in to Capstan with auth on', { skip: SKIP_REASON }, async () => {
  const mlflowSource = mlflowSourceTree();
  const root = projectRoot();
  const ownerPassword = randomPassword();
  const settings = {
    CAPSTAN_AUTH_MODE: 'on',
    CAPSTAN_AUTH_BOOTSTRAP_OWNER: 'root-owner',
    CAPSTAN_AUTH_BOOTSTRAP_PASSWORD: ownerPassword,
    CAPSTAN_SERVER_RATE_LIMIT_RPS: '0',
  };
  await withServer(root, settings, async ({ url, log }) => {
    const { token: owner } = await capstanApi(url, 'POST', '/api/capstan/auth/login', null, {
      username: 'root-owner',
      password: ownerPassword,
    });
    assert.ok(typeof owner === 'string' && owner.length > 0, 'login gave no token');

    const alicePassword = randomPassword();
    await capstanApi(url, 'POST', '/api/capstan/accounts', owner, { name: 'alice', kind: 'user', password: alicePassword });
    await capstanApi(url, 'POST', '/api/capstan/accounts', owner, { name: 'ci', kind: 'robot' });
    await capstanApi(url, 'POST', '/api/capstan/accounts', owner, { name: 'dashboard', kind: 'robot' });
    await capstanApi(url, 'PUT', '/api/capstan/projects/default/members/alice', owner, { role: 'editor' });
    await capstanApi(url, 'PUT', '/api/capstan/projects/default/members/ci', owner, { role: 'editor' });
    await capstanApi(url, 'PUT', '/api/capstan/projects/default/members/dashboard', owner, { role: 'viewer' });
    await capstanApi(url, 'POST', '/api/capstan/projects', owner, { name: 'vision' });
    await capstanApi(url, 'PUT', '/api/capstan/projects/vision/members/alice', owner, { role: 'editor' });
    const { token: writeToken } = await capstanApi(url, 'POST', '/api/capstan/tokens', owner, {
      name: 'ci-write',
      scopes: ['write'],
      account: 'ci',
    });
    const { token: readToken } = await capstanApi(url, 'POST', '/api/capstan/tokens', owner, {
      name: 'dashboard-read',
      scopes: ['read'],
      account: 'dashboard',
    });
    assert.ok(typeof writeToken === 'string' && typeof readToken === 'string', 'token creation gave no token values');

    const result = await runCheck(root, 'mlflow_auth_check.py', url, mlflowSource, {
      COMPAT_WRITE_TOKEN: writeToken,
      COMPAT_READ_TOKEN: readToken,
      COMPAT_USER: 'alice',
      COMPAT_PASSWORD: alicePassword,
      COMPAT_PROJECT: 'vision',
    });
    assertCheckPassed('mlflow_auth_check.py', result, log);
  });
});

test('the MLflow 2.12 Python client drives the Capstan model registry', { skip: SKIP_REASON }, async () => {
  const mlflowSource = mlflowSourceTree();
  const root = projectRoot();
  await withServer(root, {}, async ({ url, log }) => {
    const result = await runCheck(root, 'mlflow_registry_check.py', url, mlflowSource);
    assertCheckPassed('mlflow_registry_check.py', result, log);
  });
});
