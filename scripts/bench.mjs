#!/usr/bin/env node
// `npm run bench -- <name> [args...]` runs bench/<name>.mjs. Without --url it boots a Capstan server
// on a free loopback port with a fresh data directory, points the bench at it, and removes both after.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from '../bench/lib/server.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BENCH_DIR = path.join(ROOT, 'bench');

const log = (line) => process.stderr.write(`[bench] ${line}\n`);

function listBenches() {
  return readdirSync(BENCH_DIR).filter((f) => f.endsWith('.mjs')).map((f) => f.slice(0, -'.mjs'.length)).sort();
}

function printBenches(stream) {
  stream.write('usage: npm run -s bench -- <name> [args...]\n');
  stream.write('  Without --url a Capstan server is started for the run; -s keeps npm\'s banner off stdout.\n');
  stream.write(`benches:\n${listBenches().map((name) => `  ${name}`).join('\n')}\n`);
}

/** A throwaway Capstan on a fresh data directory, removed when it stops. */
async function startCapstan() {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'capstan-bench-'));
  try {
    const server = await startServer(dataDir);
    return { ...server, dataDir };
  } catch (err) {
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
}

async function stopCapstan(handle) {
  await handle.stop();
  rmSync(handle.dataDir, { recursive: true, force: true });
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
