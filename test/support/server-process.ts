import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file lives in test/support/). */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = join(ROOT, 'bin', 'capstan.js');
const BUILT_MAIN = join(ROOT, 'dist', 'src', 'cli', 'main.js');
const START_TIMEOUT_MS = 20_000;

function newestSourceMtimeMs(dir: string): number {
  let newest = 0;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const stat = statSync(path);
    if (stat.isDirectory()) newest = Math.max(newest, newestSourceMtimeMs(path));
    else if (name.endsWith('.ts') && !name.endsWith('.test.ts')) newest = Math.max(newest, stat.mtimeMs);
  }
  return newest;
}

let isBuildChecked = false;

/**
 * End-to-end tests run bin/capstan.js, which runs dist/. Testing a stale build would pass or fail for
 * the wrong code, so refuse with the command that fixes it. Checked once per test process.
 */
export function assertBuilt(): void {
  if (isBuildChecked) return;
  let builtMs: number;
  try {
    builtMs = statSync(BUILT_MAIN).mtimeMs;
  } catch {
    throw new Error(`${BUILT_MAIN} is missing; run: npx tsc -p tsconfig.json`);
  }
  if (newestSourceMtimeMs(join(ROOT, 'src')) > builtMs) throw new Error('dist/ is older than src/; run: npx tsc -p tsconfig.json');
  isBuildChecked = true;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('no port assigned'))));
    });
  });
}

/** The process environment minus CAPSTAN_* settings (config rejects unknown ones) plus `extra`. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('CAPSTAN_')) env[k] = v;
  return { ...env, ...extra };
}

export interface ServerProcess {
  url: string;
  port: number;
  child: ChildProcess;
  /** Everything written to stdout so far (the JSON log). */
  stdout(): string;
  stderr(): string;
  /** Parsed JSON log lines. */
  logLines(): Record<string, unknown>[];
  /** Resolves with the first log line matching `predicate`, waiting up to `timeoutMs` for it. */
  waitForLog(predicate: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Resolves with the exit code (or signal name) once the process has ended. */
  exited: Promise<number | string>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code or signal. */
  stop(graceMs?: number): Promise<number | string>;
}

export interface StartOptions {
  dataDir: string;
  port?: number;
  env?: Record<string, string>;
}

/** Starts `capstan up` as a child process and waits until /health answers OK. */
export async function startServer(options: StartOptions): Promise<ServerProcess> {
  assertBuilt();
  const port = options.port ?? (await freePort());
  const child = spawn(process.execPath, [BIN, 'up', '--host', '127.0.0.1', '--port', String(port), '--data', options.dataDir], {
    cwd: ROOT,
    env: cleanEnv(options.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (err += c));
  // 'close' rather than 'exit': it comes after stdout and stderr are drained, so the log is complete.
  const exited = new Promise<number | string>((resolve) => child.once('close', (code, signal) => resolve(code ?? signal ?? -1)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + START_TIMEOUT_MS;
  let isExited = false;
  void exited.then(() => (isExited = true));
  for (;;) {
    if (isExited) throw new Error(`capstan up exited early (${await exited}):\n${err}\n${out}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`capstan up did not become healthy within ${START_TIMEOUT_MS} ms:\n${err}\n${out}`);
    }
    try {
      const res = await fetch(`${url}/health`);
      if (res.ok && (await res.text()) === 'OK') break;
    } catch {
      // Not listening yet.
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const logLines = () =>
    out
      .split('\n')
      .filter((l) => l.startsWith('{') && l.endsWith('}'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return {
    url,
    port,
    child,
    stdout: () => out,
    stderr: () => err,
    logLines,
    async waitForLog(predicate, timeoutMs = 5_000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const found = logLines().find(predicate);
        if (found) return found;
        if (Date.now() > until) throw new Error(`no matching log line within ${timeoutMs} ms:\n${out.slice(-4000)}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    exited,
    async stop(graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
  };
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `capstan <args>` to completion; `input` is written to its stdin (passwords, secret values). */
export function runCli(args: string[], env: Record<string, string> = {}, cwd = ROOT, input?: string): Promise<CliResult> {
  assertBuilt();
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [BIN, ...args], { cwd, env: cleanEnv(env), timeout: 30_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
    child.stdin?.end(input ?? '');
  });
}

/** One HTTP request with a JSON body (when given); the answer's status, text, parsed JSON and headers. */
export async function httpRequest(base: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, text, json, headers: res.headers };
}
