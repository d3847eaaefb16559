// `capstan worker`: a process on any machine that takes pipeline steps whose resources its labels
// satisfy from the Redis queue, runs each like the local runner (inputs fetched from and outputs
// uploaded to the Capstan server over HTTP), streams its log lines back and heartbeats meanwhile.
import { hostname } from 'node:os';
import { LocalRunner } from '../run/local-runner.js';
import type { StepAttempt, StepTask } from '../run/task.js';
import { HttpTransfer } from './http-transfer.js';
import type { StepQueue } from './queue.js';

export interface WorkerOptions {
  queue: StepQueue;
  labels: Record<string, string>;
  workRoot: string;
  id?: string;
  /** Steps run at once. */
  concurrency?: number;
  heartbeatMs?: number;
  signal: AbortSignal;
  say?(line: string): void;
}

export const workerId = () => `${hostname()}:${process.pid}`;

async function runOne(opts: WorkerOptions, id: string, task: StepTask): Promise<void> {
  const { queue } = opts;
  const transfer = new HttpTransfer({ url: task.env.CAPSTAN_URL ?? '', token: task.env.CAPSTAN_TOKEN, project: task.env.CAPSTAN_PROJECT, outputsUrl: task.env.CAPSTAN_OUTPUTS_URL ?? '' });
  const runner = new LocalRunner({ workRoot: opts.workRoot, transfer });
  const stop = new AbortController();
  const cancelled = setInterval(() => {
    queue.isCancelled(task.id, task.attempt, id).then((yes) => yes && stop.abort(), () => undefined);
  }, 1000);
  const onShutdown = () => stop.abort();
  opts.signal.addEventListener('abort', onShutdown, { once: true });
  let result: StepAttempt;
  try {
    result = await runner.runAttempt(task, { signal: stop.signal, log: (stream, line) => void queue.appendLog(task.id, task.attempt, stream, line).catch(() => undefined) });
  } catch (err) {
    result = { outcome: 'failed', exitCode: null, metrics: {}, metricErrors: [], outputs: {}, message: `worker ${id} could not run the step: ${(err as Error).message}` };
  } finally {
    clearInterval(cancelled);
    opts.signal.removeEventListener('abort', onShutdown);
  }
  // A worker shutting down hands the step back by not answering: the server re-queues it.
  if (opts.signal.aborted && result.outcome === 'cancelled') return;
  await queue.complete(task.id, task.attempt, result, id);
  opts.say?.(`${task.instance} (run ${task.pipelineRunId}, attempt ${task.attempt}): ${result.outcome}${result.message ? ` — ${result.message}` : ''}`);
}

/** Takes and runs steps until the signal aborts; resolves once running steps have stopped. */
export async function runWorker(opts: WorkerOptions): Promise<void> {
  const id = opts.id ?? workerId();
  const slots = Math.max(1, opts.concurrency ?? 1);
  const running = new Set<Promise<void>>();
  const beat = setInterval(() => void opts.queue.heartbeat(id, opts.labels).catch(() => undefined), opts.heartbeatMs ?? 5000);
  await opts.queue.heartbeat(id, opts.labels);
  opts.say?.(`worker ${id} ready with labels ${JSON.stringify(opts.labels)}`);
  try {
    while (!opts.signal.aborted) {
      if (running.size >= slots) {
        await Promise.race(running);
        continue;
      }
      const task = await opts.queue.claim(id, opts.labels, 2000).catch((err: Error) => {
        opts.say?.(`could not reach the queue: ${err.message}; retrying`);
        return new Promise<null>((r) => setTimeout(() => r(null), 1000));
      });
      if (!task) continue;
      opts.say?.(`took ${task.instance} (run ${task.pipelineRunId}, attempt ${task.attempt})`);
      const job = runOne(opts, id, task).finally(() => running.delete(job));
      running.add(job);
    }
  } finally {
    await Promise.all(running);
    clearInterval(beat);
  }
}
