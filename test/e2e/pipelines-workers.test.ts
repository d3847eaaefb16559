// The workers runner end to end: a server whose steps go to the Redis queue, two `capstan worker`
// processes taking them (inputs downloaded from and outputs uploaded to the server over HTTP), and
// one worker killed with SIGKILL mid-step — its step is re-queued and finished by the other.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { httpRequest, ROOT, startServer, type ServerProcess } from '../support/server-process.js';

const REDIS = 'redis://127.0.0.1:6379/7';

async function redisReachable(): Promise<string | false> {
  const r = new Redis(REDIS, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  try {
    await r.connect();
    await r.ping();
    return false;
  } catch (err) {
    if (process.env.CI === 'true') throw new Error(`Redis at ${REDIS} is unreachable; CI requires it`);
    return `Redis at ${REDIS} is unreachable (${(err as Error).message})`;
  } finally {
    r.disconnect();
  }
}

interface Worker { child: ChildProcess; log: () => string }

function startWorker(dir: string, name: string): Worker {
  let log = '';
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'capstan.js'), 'worker', '--redis', REDIS, '--labels', 'zone=a,gpu=1', '--dead-after', '2', '--work-dir', join(dir, name)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stderr!.on('data', (c) => (log += String(c)));
  child.stdout!.on('data', (c) => (log += String(c)));
  return { child, log: () => log };
}

const skip = await redisReachable();

describe('pipelines on workers', { skip }, () => {
  let dir: string;
  let server: ServerProcess;
  const workers: Worker[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'capstan-workers-'));
    const r = new Redis(REDIS);
    await r.flushdb();
    r.disconnect();
    server = await startServer({ dataDir: join(dir, 'data'), env: { CAPSTAN_PIPELINES_RUNNER: 'workers', CAPSTAN_PIPELINES_REDIS_URL: REDIS, CAPSTAN_PIPELINES_TICK_MS: '100' } });
    workers.push(startWorker(dir, 'w1'), startWorker(dir, 'w2'));
  });
  after(async () => {
    for (const w of workers) w.child.kill('SIGKILL');
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs steps on workers whose labels match, and re-queues the step of a worker killed mid-step', async () => {
    const yaml = `name: on-workers
steps:
  prep:
    run: "printf 'a\\\\nb\\\\nc\\\\n' > table.txt"
    outputs: {artifacts: {table: table.txt}}
    resources: {node_labels: {zone: a}}
  slow:
    run: "echo rows=$(wc -l < \${{ steps.prep.outputs.table }}); sleep 3; mkdir -p out; echo trained > out/model.txt; echo '::metric rows=3'"
    outputs: {artifacts: {model: out/model.txt}, metrics: [rows]}
    resources: {gpu: 1, node_labels: {zone: a}}
    cache: false
`;
    let listed: any[] = [];
    for (let i = 0; i < 100 && listed.length < 2; i++) {
      listed = (await httpRequest(server.url, 'GET', '/api/capstan/pipelines/workers')).json.workers;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(listed.length, 2);
    assert.deepEqual(listed[0].labels, { zone: 'a', gpu: '1' });
    const created = await httpRequest(server.url, 'POST', '/api/capstan/pipelines/runs/create', { yaml });
    assert.equal(created.status, 200, JSON.stringify(created.json));
    const runId = created.json.run.run_id;
    let victim: Worker | undefined;
    for (let i = 0; i < 300 && !victim; i++) {
      victim = workers.find((w) => /took slow/.test(w.log()));
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(victim, `no worker took the step: ${workers.map((w) => w.log()).join('\n')}`);
    await new Promise((r) => setTimeout(r, 500));
    victim.child.kill('SIGKILL');
    const survivor = workers.find((w) => w !== victim)!;
    let v: any;
    for (let i = 0; i < 400; i++) {
      v = (await httpRequest(server.url, 'GET', `/api/capstan/pipelines/runs/get?run_id=${runId}`)).json;
      if (!['queued', 'running'].includes(v.run.status)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(v.run.status, 'succeeded', JSON.stringify(v) + survivor.log());
    assert.match(survivor.log(), /took slow/);
    const slow = v.steps.find((s: any) => s.step === 'slow');
    assert.deepEqual(slow.metrics, { rows: 3 });
    assert.deepEqual(slow.outputs.model.files, ['model.txt']);
    const logs = (await httpRequest(server.url, 'GET', `/api/capstan/pipelines/runs/logs?run_id=${runId}&step=slow`)).json.lines.map((l: any) => l.line);
    assert.ok(logs.includes('rows=3'), logs.join('\n'));
    assert.ok(logs.some((l: string) => /re-queued|stopped answering/i.test(l)), logs.join('\n'));
  });
});
