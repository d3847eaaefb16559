import { after, before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { REDIS_URL, redisUnreachable } from '../../../test/support/redis.js';
import type { StepAttempt, StepTask } from '../run/task.js';
import { requirementsOf, StepQueue, type LogStream, type StepQueueOptions } from './queue.js';

function task(n: number, attempt = 1): StepTask {
  return {
    id: `run-1/${n}`, pipelineRunId: 'run-1', projectId: 1, step: 'train', instance: `train[n=${n}]`, attempt,
    run: { kind: 'shell', command: 'echo hi' }, image: null, env: { A: '1' }, secretEnv: { TOKEN: 's3cret' },
    resources: { cpuMillis: null, memoryBytes: null, gpu: 0, nodeLabels: {} }, timeoutMs: 0, mlflowRunId: `m${n}`, inputs: [], outputs: [],
  };
}

const ok: StepAttempt = { outcome: 'succeeded', exitCode: 0, metrics: { acc: 0.9 }, metricErrors: [], outputs: {}, message: '' };

describe('requirementsOf', () => {
  it('adds gpu to the node labels only when GPUs are asked for', () => {
    assert.deepEqual(requirementsOf({ cpuMillis: null, memoryBytes: null, gpu: 2, nodeLabels: { zone: 'a' } }), { zone: 'a', gpu: '2' });
    assert.deepEqual(requirementsOf({ cpuMillis: 500, memoryBytes: null, gpu: 0, nodeLabels: { zone: 'a' } }), { zone: 'a' });
  });
});

describe('StepQueue against Redis', () => {
  let unreachable: string | null = null;
  const queues: StepQueue[] = [];
  const prefixes: string[] = [];
  let admin: Redis | null = null;

  before(async () => {
    unreachable = await redisUnreachable();
    if (!unreachable) admin = new Redis(REDIS_URL);
  });

  after(async () => {
    await Promise.all(queues.map((q) => q.close()));
    if (admin) {
      for (const prefix of prefixes) {
        const keys = await admin.keys(`${prefix}*`);
        if (keys.length) await admin.del(...keys);
      }
      admin.disconnect();
    }
  });

  /** False (after skipping or failing the test) when there is no Redis to test against. */
  function haveRedis(t: TestContext): boolean {
    if (!unreachable) return true;
    if (process.env.CI) assert.fail(`${unreachable}; CI requires it`);
    t.skip(unreachable);
    return false;
  }

  /** `count` queues sharing a fresh prefix, each with its own connections (as separate processes would have). */
  function open(count: number, options: StepQueueOptions = {}): StepQueue[] {
    const prefix = `capstan:test:steps:${process.pid}:${randomBytes(4).toString('hex')}:`;
    prefixes.push(prefix);
    const made = Array.from({ length: count }, () => new StepQueue(REDIS_URL, { prefix, onError: (err) => assert.fail(String(err)), ...options }));
    queues.push(...made);
    return made;
  }

  it('matches labels: strings equal, numbers at least, a missing label refuses', async (t) => {
    if (!haveRedis(t)) return;
    const [q] = open(1);
    await q.enqueue(task(1), { zone: 'a' });
    await q.enqueue(task(2), { gpu: '2' });
    await q.enqueue(task(3), { gpu: '1', zone: 'b' });
    assert.equal(await q.claim('w-none', {}, 0), null);
    assert.equal(await q.claim('w-zone-c', { zone: 'c', gpu: '1' }, 0), null);
    assert.equal(await q.claim('w-one-gpu', { gpu: '1.5', zone: 'x' }, 0), null);
    assert.equal(await q.claim('w-word', { gpu: 'many', zone: 'A' }, 0), null);
    assert.equal((await q.claim('w-b', { gpu: '2', zone: 'b' }, 0))?.id, 'run-1/2'); // oldest it satisfies
    assert.equal((await q.claim('w-b', { gpu: '4', zone: 'b' }, 0))?.id, 'run-1/3');
    assert.equal((await q.claim('w-a', { zone: 'a', extra: 'yes' }, 0))?.id, 'run-1/1');
    assert.equal(await q.claim('w-a', { zone: 'a' }, 0), null);
  });

  it('returns the task as enqueued and enqueues each id and attempt once', async (t) => {
    if (!haveRedis(t)) return;
    const [q] = open(1);
    assert.equal(await q.enqueue(task(1), {}), true);
    assert.equal(await q.enqueue(task(1), {}), false);
    assert.equal(await q.enqueue(task(1, 2), {}), true);
    assert.deepEqual(await q.claim('w1', {}, 0), task(1));
    assert.equal(await q.enqueue(task(1), {}), false); // claimed
    assert.equal(await q.complete('run-1/1', 1, ok), true);
    assert.equal(await q.enqueue(task(1), {}), false); // finished
    assert.deepEqual(await q.claim('w1', {}, 0), task(1, 2));
    assert.equal(await q.claim('w1', {}, 0), null);
  });

  it('hands each of 50 tasks to exactly one of 4 claimers on separate connections', async (t) => {
    if (!haveRedis(t)) return;
    const [engine, ...workers] = open(5);
    for (let i = 0; i < 50; i++) await engine.enqueue(task(i), {});
    const got: string[][] = workers.map(() => []);
    await Promise.all(workers.map(async (w, i) => {
      for (let next = await w.claim(`w${i}`, {}, 0); next; next = await w.claim(`w${i}`, {}, 0)) got[i].push(next.id);
    }));
    const all = got.flat();
    assert.equal(all.length, 50);
    assert.equal(new Set(all).size, 50);
  });

  it('wakes a blocked claim when a task arrives, and gives up after blockMs', async (t) => {
    if (!haveRedis(t)) return;
    const [engine, worker] = open(2, { pollMs: 5000 });
    let started = Date.now();
    assert.equal(await worker.claim('w1', {}, 150), null);
    assert.ok(Date.now() - started >= 140);
    started = Date.now();
    const claimed = worker.claim('w1', {}, 4000);
    await delay(100);
    await engine.enqueue(task(7), {});
    assert.equal((await claimed)?.id, 'run-1/7');
    assert.ok(Date.now() - started < 2000, 'woken by the enqueue, not by the poll');
  });

  it('delivers log lines in order and the result to a waiter on another connection, then cleans up', async (t) => {
    if (!haveRedis(t)) return;
    const [engine, worker] = open(2);
    await engine.enqueue(task(1), {});
    const claimed = await worker.claim('w1', {}, 0);
    assert.ok(claimed);
    await worker.appendLog(claimed.id, 1, 'stdout', 'line 0'); // before anyone waits
    const lines: string[] = [];
    const result = engine.waitResult('run-1/1', 1, undefined, (stream: LogStream, line) => lines.push(`${stream}:${line}`));
    for (let i = 1; i < 200; i++) await worker.appendLog(claimed.id, 1, i % 10 ? 'stdout' : 'stderr', `line ${i}`);
    assert.equal(await worker.complete(claimed.id, 1, ok, 'w1'), true);
    assert.deepEqual(await result, ok);
    assert.deepEqual(lines, Array.from({ length: 200 }, (_, i) => `${i % 10 || i === 0 ? 'stdout' : 'stderr'}:line ${i}`));
    assert.equal(await admin!.exists(`${prefixes.at(-1)}log:run-1/1#1`), 0);
    assert.equal(await worker.complete(claimed.id, 1, ok), false, 'a second result is refused');
    await assert.rejects(engine.waitResult('run-1/99', 1), { code: 'RESOURCE_DOES_NOT_EXIST' });
    await assert.rejects(engine.waitResult('run-1/1', 1), { code: 'RESOURCE_DOES_NOT_EXIST' }, 'read already');
  });

  it('serves several waiters at once and rejects one whose signal aborts', async (t) => {
    if (!haveRedis(t)) return;
    const [engine, worker] = open(2);
    for (let i = 0; i < 3; i++) await engine.enqueue(task(i), {});
    const abort = new AbortController();
    const waits = [0, 1, 2].map((i) => engine.waitResult(`run-1/${i}`, 1, i === 1 ? abort.signal : undefined));
    const aborted = assert.rejects(waits[1], { name: 'AbortError' });
    abort.abort();
    await aborted;
    for (let i = 0; i < 3; i++) await worker.claim('w1', {}, 0);
    await worker.complete('run-1/2', 1, { ...ok, metrics: { n: 2 } });
    await worker.complete('run-1/0', 1, { ...ok, metrics: { n: 0 } });
    assert.deepEqual((await waits[0]).metrics, { n: 0 });
    assert.deepEqual((await waits[2]).metrics, { n: 2 });
  });

  it('re-queues the task of a worker whose heartbeat stopped, at the head, for another worker', async (t) => {
    if (!haveRedis(t)) return;
    const [engine, dying, healthy] = open(3, { deadAfterMs: 300 });
    await engine.enqueue(task(1), {});
    await engine.enqueue(task(2), {});
    assert.equal((await dying.claim('w-dying', {}, 0))?.id, 'run-1/1');
    await healthy.heartbeat('w-healthy', { zone: 'a' });
    assert.deepEqual((await engine.workers()).map((w) => [w.id, w.task?.taskId ?? null]), [['w-dying', 'run-1/1'], ['w-healthy', null]]);
    assert.deepEqual(await engine.reap(), { requeued: [], lost: [] });
    await delay(400);
    await healthy.heartbeat('w-healthy', { zone: 'a' });
    const lines: string[] = [];
    const result = engine.waitResult('run-1/1', 1, undefined, (_s, line) => lines.push(line));
    const reaps = await Promise.all([engine.reap(), healthy.reap(), dying.reap()]); // replicas reaping at once
    assert.deepEqual(reaps.flatMap((r) => r.requeued), [{ taskId: 'run-1/1', attempt: 1 }]);
    assert.deepEqual((await engine.workers()).map((w) => w.id), ['w-healthy']);
    assert.equal((await healthy.claim('w-healthy', { zone: 'a' }, 0))?.id, 'run-1/1'); // ahead of run-1/2
    // The first worker comes back: it is told to stop, and its late result is refused.
    await dying.heartbeat('w-dying', {});
    assert.equal(await dying.isCancelled('run-1/1', 1, 'w-dying'), true);
    assert.equal(await healthy.isCancelled('run-1/1', 1, 'w-healthy'), false);
    assert.equal(await dying.complete('run-1/1', 1, { ...ok, message: 'late' }, 'w-dying'), false);
    assert.equal(await healthy.complete('run-1/1', 1, ok, 'w-healthy'), true);
    assert.deepEqual(await result, ok);
    assert.match(lines[0], /^worker w-dying stopped answering \(no heartbeat for 300 ms\); step re-queued \(1 of 3\)$/);
  });

  it('reports a task lost once it has been re-queued maxRequeues times', async (t) => {
    if (!haveRedis(t)) return;
    const [engine, worker] = open(2, { deadAfterMs: 100, maxRequeues: 2 });
    await engine.enqueue(task(1), {});
    const result = engine.waitResult('run-1/1', 1);
    for (let i = 0; i < 3; i++) {
      assert.equal((await worker.claim(`w${i}`, {}, 0))?.id, 'run-1/1');
      await delay(150);
      const reaped = await engine.reap();
      assert.equal(reaped[i < 2 ? 'requeued' : 'lost'].length, 1);
    }
    const lost = await result;
    assert.equal(lost.outcome, 'failed');
    assert.equal(lost.lost, true);
    assert.equal(lost.exitCode, null);
    assert.equal(lost.message, 'worker w2 stopped answering (no heartbeat for 100 ms); the step had already been re-queued 2 times');
    assert.equal(await worker.claim('w3', {}, 0), null);
  });

  it('cancels a queued task outright and flags a claimed one for its worker', async (t) => {
    if (!haveRedis(t)) return;
    const [engine, worker] = open(2);
    await engine.enqueue(task(1), {});
    await engine.enqueue(task(2), {});
    const queued = engine.waitResult('run-1/1', 1);
    assert.equal(await engine.cancel('run-1/1', 1), 'removed');
    assert.equal((await queued).outcome, 'cancelled');
    assert.equal((await worker.claim('w1', {}, 0))?.id, 'run-1/2');
    assert.equal(await worker.isCancelled('run-1/2', 1, 'w1'), false);
    assert.equal(await engine.cancel('run-1/2', 1), 'flagged');
    assert.equal(await worker.isCancelled('run-1/2', 1, 'w1'), true);
    const claimed = engine.waitResult('run-1/2', 1);
    await worker.complete('run-1/2', 1, { ...ok, outcome: 'cancelled', exitCode: null, message: 'cancelled' }, 'w1');
    assert.equal((await claimed).outcome, 'cancelled');
    assert.equal(await engine.cancel('run-1/2', 1), 'unknown');
    assert.equal(await engine.cancel('run-1/3', 1), 'unknown');
  });

  it('refuses bad worker ids, labels and attempts with INVALID_PARAMETER_VALUE', async (t) => {
    if (!haveRedis(t)) return;
    const [q] = open(1);
    await assert.rejects(q.claim('has space', {}, 0), { code: 'INVALID_PARAMETER_VALUE' });
    await assert.rejects(q.heartbeat('w1', { gpu: 1 as unknown as string }), { code: 'INVALID_PARAMETER_VALUE' });
    await assert.rejects(q.enqueue(task(1, 0), {}), { code: 'INVALID_PARAMETER_VALUE' });
  });
});
