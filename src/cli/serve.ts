import { availableParallelism } from 'node:os';
import { loadConfig, processEnv } from '../config/index.js';
import { createLogger } from '../observability/logger.js';
import { capstanVersion } from '../server/version.js';
import { fail } from './output.js';
import { parseCommand } from './remote.js';

const USAGE = `capstan serve MODEL.onnx [--name NAME] [--host 127.0.0.1] [--port 8080] [--token TOKEN]
      [--workers N] [--max-batch-size 32] [--max-queue-delay-ms 0] [--max-queue 256] [--timeout-ms 10000]
  Serves one ONNX file over the Open Inference Protocol V2 (/v2/models/NAME/infer) and V1
  (/v1/models/NAME:predict), with no database. --token (or CAPSTAN_SERVE_TOKEN) requires
  "Authorization: Bearer TOKEN" on every request but the health probes and /metrics.`;

const OPTIONS = {
  name: { type: 'string' },
  host: { type: 'string', default: '127.0.0.1' },
  port: { type: 'string', default: '8080' },
  token: { type: 'string' },
  workers: { type: 'string' },
  'max-batch-size': { type: 'string', default: '32' },
  'max-queue-delay-ms': { type: 'string', default: '0' },
  'max-queue': { type: 'string', default: '256' },
  'timeout-ms': { type: 'string', default: '10000' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

function int(values: Record<string, any>, flag: string, min: number): number {
  const n = Number(values[flag]);
  if (!Number.isInteger(n) || n < min) fail(`--${flag} must be an integer of at least ${min}; got '${values[flag]}'`);
  return n;
}

/** `capstan serve MODEL.onnx`: runs until SIGTERM/SIGINT, then drains and exits. */
export async function serveCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseCommand(args, OPTIONS, USAGE);
  if (positionals.length !== 1) fail(`expected one MODEL.onnx\nusage: ${USAGE}`);
  const env = processEnv();
  const workers = values.workers ? int(values, 'workers', 1) : Math.max(1, availableParallelism() - 1);
  // The inference threads start first: onnxruntime loads in them while this thread loads the server.
  const { WorkerPool } = await import('../serving/worker-pool.js');
  const pool = new WorkerPool({ size: workers, executionProviders: ['cpu'], intraOpThreads: 1 });
  const { startStandalone } = await import('../serving/standalone.js');
  const logger = createLogger(loadConfig({ env })['log.level']);
  const server = await startStandalone({ pool,
    file: positionals[0], name: values.name, host: values.host, port: int(values, 'port', 0),
    token: values.token ?? env.CAPSTAN_SERVE_TOKEN, workers,
    maxBatchSize: int(values, 'max-batch-size', 1), maxQueueDelayMs: int(values, 'max-queue-delay-ms', 0), maxQueue: int(values, 'max-queue', 1), timeoutMs: int(values, 'timeout-ms', 0),
    serverVersion: capstanVersion(), logger,
  });
  logger.info({ address: server.address, model: positionals[0] }, 'serving');
  process.stdout.write(`capstan serve: ${positionals[0]} at ${server.address}/v2/models/${values.name ?? positionals[0].replace(/^.*\//, '').replace(/\.onnx$/i, '')}\n`);
  const stop = () => void server.close().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
