import { resolve } from 'node:path';
import { fail } from './output.js';
import { parseCommand } from './remote.js';

const USAGE = `capstan worker [--redis URL] [--labels gpu=1,zone=a] [--concurrency N] [--work-dir DIR] [--dead-after SECONDS]
  Takes pipeline steps whose resources these labels satisfy (a step needing gpu: 1 matches gpu=1 or
  more; node_labels must be equal) from the server's Redis queue and runs them here. Inputs come
  from and outputs go to the Capstan server named in each step (CAPSTAN_URL). A worker that stops
  heartbeating for --dead-after seconds (default 30) is presumed dead and its step re-queued.`;

const OPTIONS = {
  redis: { type: 'string' }, labels: { type: 'string' }, concurrency: { type: 'string' }, 'work-dir': { type: 'string' }, 'dead-after': { type: 'string' },
} as const;

export function parseLabels(text: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of (text ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([A-Za-z0-9_./-]+)=([A-Za-z0-9_.-]*)$/.exec(pair);
    if (!m) fail(`label '${pair}' is not NAME=VALUE\nusage: ${USAGE}`);
    out[m[1]] = m[2];
  }
  return out;
}

/** `capstan worker`: runs pipeline steps from the queue until SIGINT or SIGTERM. */
export async function workerCommand(argv: string[]): Promise<void> {
  const { values: v, positionals } = parseCommand(argv, OPTIONS, USAGE);
  if (positionals.length) fail(`unexpected ${positionals.join(' ')}\nusage: ${USAGE}`);
  const concurrency = Number(v.concurrency ?? 1);
  const deadAfter = Number(v['dead-after'] ?? 30);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 256) fail('--concurrency must be an integer from 1 to 256');
  if (!(deadAfter >= 1 && deadAfter <= 3600)) fail('--dead-after must be from 1 to 3600 seconds');
  const [{ StepQueue }, { runWorker }] = await Promise.all([import('../pipelines/workers/queue.js'), import('../pipelines/workers/worker.js')]);
  const queue = new StepQueue(v.redis ?? process.env.CAPSTAN_PIPELINES_REDIS_URL ?? 'redis://127.0.0.1:6379', { deadAfterMs: deadAfter * 1000 });
  const stop = new AbortController();
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => stop.abort());
  try {
    await runWorker({
      queue, labels: parseLabels(v.labels), concurrency, workRoot: resolve(v['work-dir'] ?? '.capstan-worker'), signal: stop.signal,
      heartbeatMs: Math.max(200, Math.floor((deadAfter * 1000) / 3)), say: (line) => process.stderr.write(`${new Date().toISOString()} ${line}\n`),
    });
  } finally {
    await queue.close();
  }
}
