// Crash safety of log-batch: concurrent writers, `kill -9` of the server mid-load, restart on the same
// data. Every acknowledged point must be there afterwards and no batch may be half-written.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testDatabases } from '../support/databases.js';
import { startServer, type ServerProcess } from '../support/server-process.js';

const CLIENTS = 4;
const KEYS_PER_CLIENT = 4;
const MLFLOW = '/api/2.0/mlflow';

interface Batch {
  client: number;
  seq: number;
  /** Every point of the batch carries this as its value, so the history shows which batch wrote it. */
  id: number;
  size: number;
}

interface LoadResult {
  acked: Batch[];
  /** Sent but never answered 200: in flight at the kill, so either fully written or not at all. */
  unknown: Batch[];
  /** Answered with a non-200 status before the kill: a server fault under load. */
  rejected: { batch: Batch; status: number; body: string }[];
}

const keyOf = (client: number, i: number) => `c${client}.k${i % KEYS_PER_CLIENT}`;
/** Unique (key, step) per point: the batch's sequence number times 1000 plus the point's index. */
const stepOf = (seq: number, i: number) => seq * 1000 + i;

function batchBody(runId: string, b: Batch) {
  const metrics = Array.from({ length: b.size }, (_, i) => ({ key: keyOf(b.client, i), value: b.id, timestamp: 1_700_000_000_000 + b.seq, step: stepOf(b.seq, i) }));
  return JSON.stringify({ run_id: runId, metrics });
}

async function post(url: string, path: string, body: string): Promise<Response> {
  return fetch(`${url}${MLFLOW}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
}

/**
 * Runs `CLIENTS` writers, each until a request fails because the server is gone; kills the server with
 * SIGKILL after `killAfterMs` while they are still sending.
 */
async function loadAndKill(server: ServerProcess, runId: string, killAfterMs: number): Promise<LoadResult> {
  const result: LoadResult = { acked: [], unknown: [], rejected: [] };
  let isKilled = false;
  const writer = async (client: number) => {
    for (let seq = 0; ; seq++) {
      const batch: Batch = { client, seq, id: client * 1_000_000 + seq, size: 100 + Math.floor(Math.random() * 901) };
      try {
        const res = await post(server.url, '/runs/log-batch', batchBody(runId, batch));
        const text = await res.text();
        if (res.status === 200) result.acked.push(batch);
        else if (isKilled) result.unknown.push(batch);
        else result.rejected.push({ batch, status: res.status, body: text.slice(0, 300) });
      } catch {
        result.unknown.push(batch);
        return;
      }
    }
  };
  const writers = Array.from({ length: CLIENTS }, (_, c) => writer(c));
  await new Promise((r) => setTimeout(r, killAfterMs));
  isKilled = true;
  server.child.kill('SIGKILL');
  assert.equal(await server.exited, 'SIGKILL');
  await Promise.all(writers);
  return result;
}

async function history(url: string, runId: string, key: string): Promise<{ value: number; step: number }[]> {
  const points: { value: number; step: number }[] = [];
  let token: string | undefined;
  do {
    const q = new URLSearchParams({ run_id: runId, metric_key: key, max_results: '25000', ...(token ? { page_token: token } : {}) });
    const res = await fetch(`${url}${MLFLOW}/metrics/get-history?${q}`);
    assert.equal(res.status, 200, await res.clone().text());
    const page = (await res.json()) as { metrics?: { value: number; step: number }[]; next_page_token?: string };
    points.push(...(page.metrics ?? []));
    token = page.next_page_token;
  } while (token);
  return points;
}

/** Checks the restarted server's data against what the writers saw; returns how many in-flight batches landed. */
async function verify(url: string, runId: string, load: LoadResult): Promise<number> {
  assert.deepEqual(load.rejected, [], 'log-batch failed under load before the kill');
  assert.ok(load.acked.length >= CLIENTS, `too few batches acknowledged (${load.acked.length}) to say anything`);
  const found = new Map<number, number>();
  for (let c = 0; c < CLIENTS; c++) {
    for (let k = 0; k < KEYS_PER_CLIENT; k++) {
      const key = keyOf(c, k);
      const points = await history(url, runId, key);
      const steps = new Set<number>();
      for (const p of points) {
        assert.ok(!steps.has(p.step), `${key} step ${p.step} stored twice`);
        steps.add(p.step);
        const seq = Math.floor(p.step / 1000);
        assert.equal(p.value, c * 1_000_000 + seq, `${key} step ${p.step} carries the value of another batch`);
        found.set(p.value, (found.get(p.value) ?? 0) + 1);
      }
    }
  }
  const sent = new Map([...load.acked, ...load.unknown].map((b) => [b.id, b]));
  for (const id of found.keys()) assert.ok(sent.has(id), `points of batch ${id}, which was never sent`);
  for (const b of load.acked) assert.equal(found.get(b.id) ?? 0, b.size, `acknowledged batch ${b.id} (${b.size} points) lost points after kill -9`);
  let landed = 0;
  for (const b of load.unknown) {
    const n = found.get(b.id) ?? 0;
    assert.ok(n === 0 || n === b.size, `batch ${b.id} is half-written: ${n} of ${b.size} points`);
    if (n) landed++;
  }
  return landed;
}

async function createRun(url: string): Promise<string> {
  const exp = await post(url, '/experiments/create', JSON.stringify({ name: `kill9-${Date.now()}` }));
  assert.equal(exp.status, 200);
  const { experiment_id } = (await exp.json()) as { experiment_id: string };
  const run = await post(url, '/runs/create', JSON.stringify({ experiment_id, start_time: Date.now() }));
  assert.equal(run.status, 200);
  return ((await run.json()) as { run: { info: { run_id: string } } }).run.info.run_id;
}

async function crashAndRecover(opts: { env?: Record<string, string>; loadMs: number }): Promise<string> {
  const dataDir = mkdtempSync(join(tmpdir(), 'capstan-kill9-'));
  let restarted: ServerProcess | undefined;
  try {
    const server = await startServer({ dataDir, env: opts.env });
    const runId = await createRun(server.url);
    const load = await loadAndKill(server, runId, opts.loadMs);
    restarted = await startServer({ dataDir, env: opts.env, port: server.port });
    const run = await fetch(`${restarted.url}${MLFLOW}/runs/get?run_id=${runId}`);
    assert.equal(run.status, 200, 'the run is gone after restart');
    const landed = await verify(restarted.url, runId, load);
    const points = load.acked.reduce((n, b) => n + b.size, 0);
    return `${load.acked.length} batches (${points} points) acknowledged; ${load.unknown.length} in flight at the kill, ${landed} of them written whole`;
  } finally {
    await restarted?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

describe('kill -9 during concurrent log-batch', { timeout: 60_000 }, async () => {
  const backends = await testDatabases();
  const pg = backends.find((b) => b.db.name === 'postgres')!;
  const drops: (() => Promise<void>)[] = [];
  after(async () => {
    for (const drop of drops) await drop();
  });

  it('SQLite: every acknowledged point survives and no batch is half-written', async (t) => {
    t.diagnostic(await crashAndRecover({ loadMs: 3_000 }));
  });

  it('PostgreSQL: the same after a shorter load', { skip: pg.skip }, async (t) => {
    const { uri, drop } = await pg.db.create();
    drops.push(drop);
    t.diagnostic(await crashAndRecover({ env: { CAPSTAN_STORE_DATABASE_URI: uri }, loadMs: 1_500 }));
  });
});
