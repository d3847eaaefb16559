// Opt-in compatibility test: drives the real MLflow Python client against a Capstan server.
//
// Needs MLflow's source tree (the `mlflow/` directory of tag v2.12.2) extracted somewhere outside
// this repository, Debian's /usr/bin/python3 with MLflow's dependencies, and querystring-parser in
// /opt/querystring-parser:
//   MLFLOW_SOURCE=/opt/mlflow-2.12.2 node --import tsx --test test/compat/mlflow-client.test.ts
// Without MLFLOW_SOURCE the test is skipped.
import { spawn, type ChildProcess } from 'node:child_process';
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

function runCheck(root: string, trackingUri: string, mlflowSource: string): Promise<CheckResult> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PYTHONPATH: `${mlflowSource}:${QUERYSTRING_PARSER}`,
      MLFLOW_TRACKING_URI: trackingUri,
      PYTHONUNBUFFERED: '1',
    };
    const child = spawn(PYTHON, [path.join('test', 'compat', 'mlflow_client_check.py')], {
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

test('the MLflow 2.12 Python client works against Capstan', { skip: SKIP_REASON }, async () => {
  const mlflowSource = path.resolve(MLFLOW_SOURCE as string);
  assert.ok(
    existsSync(path.join(mlflowSource, 'mlflow', '__init__.py')),
    `MLFLOW_SOURCE=${mlflowSource} does not contain mlflow/__init__.py`,
  );
  assert.ok(existsSync(PYTHON), `${PYTHON} is missing`);

  const root = projectRoot();
  const data = await mkdtemp(path.join(tmpdir(), 'capstan-mlflow-compat-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const serverLog = new Tail();
  const server = spawn(
    process.execPath,
    ['bin/capstan.js', 'up', '--host', '127.0.0.1', '--port', String(port), '--data', data],
    { cwd: root, env: process.env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  server.stdout?.on('data', (chunk: Buffer) => serverLog.push(chunk));
  server.stderr?.on('data', (chunk: Buffer) => serverLog.push(chunk));
  const spawnError = new Promise<never>((_, reject) => server.once('error', reject));
  spawnError.catch(() => undefined);

  try {
    await Promise.race([waitForHealth(url, server, serverLog), spawnError]);
    const result = await runCheck(root, url, mlflowSource);
    assert.equal(
      result.code,
      0,
      `mlflow_client_check.py exited with code ${result.code} (signal ${result.signal})\n` +
        `--- check output ---\n${result.output}\n--- server output (tail) ---\n${serverLog}`,
    );
  } finally {
    await stopServer(server);
    await rm(data, { recursive: true, force: true });
  }
});
