// A Capstan server in its own process for benchmarks that start their own servers: `capstan up` on a
// free loopback port over a data directory the caller owns, so the server can be stopped, the data
// changed underneath it, and the server started again on the same directory.
import { spawn } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { log, sleep } from './load.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const HEALTH_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 15_000;
const OUTPUT_TAIL_BYTES = 64 * 1024;

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function isHealthy(url) {
  return new Promise((resolve) => {
    const req = http.get(`${url}/health`, { timeout: 2_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => { body += chunk; });
      res.on('end', () => resolve(res.statusCode === 200 && body.trim() === 'OK'));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

/**
 * Starts `bin/capstan.js up` on `dataDir` and waits for /health. `env` adds CAPSTAN_* settings.
 * The server's output is kept (its tail) and printed only if it fails to come up.
 */
export async function startServer(dataDir, env = {}) {
  const port = await freePort();
  const args = [path.join(ROOT, 'bin', 'capstan.js'), 'up', '--host', '127.0.0.1', '--port', String(port), '--data', dataDir];
  const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let tail = '';
  const keep = (chunk) => { tail = (tail + chunk).slice(-OUTPUT_TAIL_BYTES); };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  let gone = null;
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => { gone = { code, signal }; resolve(gone); }));
  const url = `http://127.0.0.1:${port}`;
  const stop = () => stopChild(child, exited, STOP_TIMEOUT_MS);
  log(`starting Capstan on ${url} with data in ${dataDir}`);
  const deadline = Date.now() + HEALTH_TIMEOUT_MS;
  while (!gone && Date.now() < deadline) {
    if (await isHealthy(url)) return { url, pid: child.pid, stop, output: () => tail };
    await sleep(100);
  }
  const why = gone ? `exited (${gone.signal ?? `code ${gone.code}`})` : `did not answer ${url}/health within ${HEALTH_TIMEOUT_MS / 1000} s`;
  process.stderr.write(tail);
  await stop();
  throw new Error(`Capstan ${why}`);
}

/** SIGTERM, then SIGKILL if `child` has not exited within `timeoutMs`; resolves once it has. */
export async function stopChild(child, exited, timeoutMs) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  await exited;
  clearTimeout(timer);
}
