import { timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Principal, ProjectRef } from '../access/index.js';
import { AppError } from '../errors/index.js';
import { ServerMetrics } from '../observability/metrics.js';
import { errorReply } from '../server/errors.js';
import { requestIdOf } from '../server/request-id.js';
import { matchedParams, routeMatcher, writeAnswer, type RouteContext } from '../server/route.js';
import { parseDeploymentSpec } from './deployment-spec.js';
import { inferenceRoutes } from './inference.routes.js';
import type { PredictionSink } from './prediction-log.js';
import { ServingMetrics } from './serving-metrics.js';
import { ServingRuntime } from './serving.runtime.js';
import { MemoryTokenBuckets } from './token-bucket.js';
import { WorkerPool } from './worker-pool.js';

export interface StandaloneOptions {
  file: string;
  /** The V2 model name; default: the file name without `.onnx`. */
  name?: string;
  host: string;
  port: number;
  /** When set, every request but the health probes needs `Authorization: Bearer <token>`. */
  token?: string;
  workers: number;
  /** Inference threads the caller started early, so onnxruntime loads while the rest of the server does. */
  pool?: WorkerPool;
  maxBatchSize: number;
  maxQueueDelayMs: number;
  maxQueue: number;
  timeoutMs: number;
  serverVersion: string;
  logger: Logger;
}

export interface Standalone {
  address: string;
  close(): Promise<void>;
}

/** Defined here rather than imported: the access domain would load the database drivers at start-up. */
const PROJECT: ProjectRef = { projectId: 1, name: 'default' };
const CALLER: Principal = { id: 'standalone', name: 'standalone', kind: 'local', isOwner: true, roles: new Map(), scopes: null, tokenProjectId: null, tokenId: null };

/** Standalone serving keeps no prediction log: there is no database to write it to. */
const NO_LOG: PredictionSink = { add: () => undefined, flush: async () => undefined };

function bearerMatches(header: string | undefined, token: string): boolean {
  const given = Buffer.from(/^Bearer (.+)$/.exec(header ?? '')?.[1] ?? '');
  const want = Buffer.from(token);
  return given.length === want.length && timingSafeEqual(given, want);
}

/**
 * One ONNX file served over V2 and V1 with the same runtime, batching, protocol code and route
 * definitions as the platform, but no database, registry, accounts or web framework (Node's HTTP
 * server dispatches the routes itself, which halves the start-up time): for edge devices and sidecars. Without a
 * registry there is no signature to check; the file is trusted as given.
 */
export async function startStandalone(opts: StandaloneOptions): Promise<Standalone> {
  const bytes = await readFile(opts.file).catch((err: Error) => {
    throw new AppError('INVALID_PARAMETER_VALUE', `Cannot read model file ${opts.file}: ${err.message}`);
  });
  const name = opts.name ?? basename(opts.file).replace(/\.onnx$/i, '');
  const spec = parseDeploymentSpec({
    name, model: name, targets: { default: { version: 1, weight: 100 } }, prediction_log: { sample_rate: 0 },
    batching: { max_batch_size: opts.maxBatchSize, max_queue_delay_ms: opts.maxQueueDelayMs }, limits: { max_queue: opts.maxQueue, timeout_ms: opts.timeoutMs },
  });
  const pool = opts.pool ?? new WorkerPool({ size: opts.workers, executionProviders: ['cpu'], intraOpThreads: 1 });
  const runtime = new ServingRuntime(null, null, pool, new MemoryTokenBuckets(), NO_LOG, opts.logger, { pollMs: 1000, breakerFailures: 5, breakerCooldownMs: 5000, tokenRatePerSecond: 0, tokenBurst: 0 });
  const metrics = new ServerMetrics();
  runtime.metrics = new ServingMetrics(metrics.registry, runtime);
  const model = await runtime.serveLocal(PROJECT.projectId, spec, new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  if (!model.isReady) {
    await runtime.close();
    throw new AppError('INVALID_PARAMETER_VALUE', `Cannot serve ${opts.file}: ${model.reason}`);
  }
  const routes = inferenceRoutes(runtime, { maxRequestBytes: 64 * 1024 * 1024, maxElements: 16 * 1024 * 1024, serverVersion: opts.serverVersion })
    .map((route) => ({ route, ...routeMatcher(route.path) }));
  const server = createServer((req, res) => void answer(req, res));
  const answer = async (req: IncomingMessage, res: ServerResponse) => {
    const requestId = requestIdOf(req);
    const path = (req.url ?? '/').split('?')[0];
    try {
      if (req.method === 'GET' && path === '/metrics') return writeAnswer(res, 200, { 'content-type': metrics.registry.contentType }, await metrics.registry.metrics());
      let found: { r: (typeof routes)[number]; m: RegExpExecArray } | undefined;
      for (const r of routes) {
        const m = r.route.method === req.method ? r.pattern.exec(path) : null;
        if (m) {
          found = { r, m };
          break;
        }
      }
      if (!found) throw new AppError('ENDPOINT_NOT_FOUND', `No route for ${req.method} ${path}`);
      const { route, params } = found.r;
      if (opts.token && !('public' in route.access) && !bearerMatches(req.headers.authorization, opts.token)) {
        throw new AppError('UNAUTHENTICATED', 'Send "Authorization: Bearer <token>" with the token this server was started with.');
      }
      const input = matchedParams(params, found.m);
      if (route.lane) {
        const a = await route.lane(input, { principal: CALLER, project: PROJECT, requestId, raw: req });
        return writeAnswer(res, a.status, { ...a.headers, 'x-request-id': requestId }, a.body);
      }
      // Inference's GET handlers read only the project of their context.
      const body = await route.handler(input, { principal: CALLER, project: PROJECT } as RouteContext);
      writeAnswer(res, 200, { 'content-type': 'application/json; charset=utf-8', 'x-request-id': requestId }, JSON.stringify(body));
    } catch (err) {
      const r = errorReply(err, requestId, true);
      if (r.status >= 500 && r.status !== 503) opts.logger.error({ err, request_id: requestId }, 'request failed');
      req.resume();
      if (res.headersSent) res.destroy();
      else writeAnswer(res, r.status, r.headers, JSON.stringify(r.body));
    }
  };
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(opts.port, opts.host, () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    address: `http://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${port}`,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      await runtime.close();
    },
  };
}
