#!/usr/bin/env node
// `npm run bench -- <name> [args...]` runs bench/<name>.mjs. Without --url it boots a Capstan server
// on a free loopback port with a fresh data directory, points the bench at it, and removes both after.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BENCH_DIR = path.join(ROOT, 'bench');
const HEALTH_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 15_000;
const SERVER_LOG_TAIL_BYTES = 64 * 1024;

const log = (line) => process.stderr.write(`[bench] ${line}\n`);

function listBenches() {
  return readdirSync(BENCH_DIR).filter((f) => f.endsWith('.mjs')).map((f) => f.slice(0, -'.mjs'.length)).sort();
}

function printBenches(stream) {
  stream.write('usage: npm run -s bench -- <name> [args...]\n');
  stream.write('  Without --url a Capstan server is started for the run; -s keeps npm\'s banner off stdout.\n');
  stream.write(`benches:\n${listBenches().map((name) => `  ${name}`).join('\n')}\n`);
}

function freePort() {
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

// Keeps the last bytes of the server's output, shown only if it fails to come up.
function captureTail(server) {
  let tail = '';
  const keep = (chunk) => { tail = (tail + chunk).slice(-SERVER_LOG_TAIL_BYTES); };
  server.stdout.on('data', keep);
  server.stderr.on('data', keep);
  return () => tail;
}

async function startCapstan() {
  const port = await freePort();
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'capstan-bench-'));
  const args = [path.join(ROOT, 'bin', 'capstan.js'), 'up', '--host', '127.0.0.1', '--port', String(port), '--data', dataDir];
  const server = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const output = captureTail(server);
  const exited = new Promise((resolve) => server.once('exit', (code, signal) => resolve({ code, signal })));
  const url = `http://127.0.0.1:${port}`;
  const handle = { server, dataDir, url, exited, output };
  log(`starting Capstan on ${url} with data in ${dataDir}`);
  const deadline = Date.now() + HEALTH_TIMEOUT_MS;
  let gone = null;
  exited.then((status) => { gone = status; });
  while (!gone && Date.now() < deadline) {
    if (await isHealthy(url)) return handle;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const why = gone ? `exited (${gone.signal ?? `code ${gone.code}`})` : `did not answer ${url}/health within ${HEALTH_TIMEOUT_MS / 1000} s`;
  process.stderr.write(output());
  await stopCapstan(handle);
  throw new Error(`Capstan ${why}`);
}

async function stopCapstan(handle) {
  const { server, dataDir, exited } = handle;
  if (server.exitCode === null && server.signalCode === null) {
    server.kill('SIGTERM');
    const timer = setTimeout(() => server.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  }
  rmSync(dataDir, { recursive: true, force: true });
}

// Signals meant for this launcher go on to the bench, so cleanup below still runs.
function runBench(name, args) {
  const child = spawn(process.execPath, [path.join(BENCH_DIR, `${name}.mjs`), ...args], { cwd: ROOT, stdio: 'inherit' });
  const forward = (signal) => child.kill(signal);
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  return new Promise((resolve) => child.once('exit', (code, signal) => {
    process.off('SIGINT', forward);
    process.off('SIGTERM', forward);
    resolve(code ?? 128 + (os.constants.signals[signal] ?? 0));
  }));
}

async function main() {
  const [name, ...args] = process.argv.slice(2);
  if (!name) { printBenches(process.stdout); return 0; }
  if (!listBenches().includes(name)) {
    process.stderr.write(`unknown bench '${name}'\n`);
    printBenches(process.stderr);
    return 2;
  }
  if (args.some((arg) => arg === '--url' || arg.startsWith('--url='))) return runBench(name, args);
  // Benches that start the servers they compare say so in their first lines.
  if (readFileSync(path.join(BENCH_DIR, `${name}.mjs`), 'utf8').slice(0, 400).includes('starts its own servers')) return runBench(name, args);
  const handle = await startCapstan();
  try {
    return await runBench(name, [...args, '--url', handle.url]);
  } finally {
    await stopCapstan(handle);
    log('Capstan stopped');
  }
}

main().then((code) => { process.exitCode = code; }, (err) => { log(err.message); process.exitCode = 1; });
