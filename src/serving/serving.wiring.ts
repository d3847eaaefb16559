import { availableParallelism } from 'node:os';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { AuditLog } from '../access/index.js';
import type { Config } from '../config/index.js';
import type { RegistryService } from '../registry/index.js';
import type { RouteDef } from '../server/route.js';
import type { BlobStore } from '../store/blob/index.js';
import type { Db } from '../store/sql/index.js';
import { CanaryController } from './canary-controller.js';
import { parseDeploymentSpec } from './deployment-spec.js';
import { DeploymentService } from './deployments.service.js';
import { deploymentRoutes } from './deployments.routes.js';
import { DeploymentsSql } from './deployments.sql.js';
import { inferenceRoutes } from './inference.routes.js';
import { ModelSource } from './model-source.js';
import { PredictionLog, tensorsToJson } from './prediction-log.js';
import { allocate } from './datatypes.js';
import { checkAgainstModel } from './tensor-codec.js';
import { invalidParam } from '../errors/index.js';
import { ServingMetrics } from './serving-metrics.js';
import { ServingRuntime } from './serving.runtime.js';
import { MemoryTokenBuckets, RedisTokenBuckets, type TokenBuckets } from './token-bucket.js';
import { UsageMeter } from './usage-meter.js';
import { WorkerPool } from './worker-pool.js';

export interface ServingDeps {
  config: Config;
  db: Db;
  registry: RegistryService;
  blobs: BlobStore;
  audit: AuditLog;
  logger: Logger;
  metrics: Registry;
  serverVersion: string;
}

export interface Serving {
  routes: RouteDef[];
  runtime: ServingRuntime;
  deployments: DeploymentService;
  /** The deployments that route to or shadow one version (numbers as written, aliases as this replica resolved them). */
  deploymentsOf(projectId: number, model: string, version: number): Promise<{ name: string; target: string; weight: number | null }[]>;
  /** Which versions of a project a deployment routes to or shadows (by number or through an alias): retention keeps them. */
  deployedIn(projectId: number): Promise<(model: string, version: number) => boolean>;
  /** The version a deployment sends most traffic to, as this replica serves it. */
  servedVersion(projectId: number, deployment: string): { model: string; version: number } | null;
  /** Writes the buffered prediction log and usage counts. */
  flush(): Promise<void>;
  /**
   * Runs rows of numbers through a served version (any deployment's target or shadow on this
   * replica), outside the prediction log and usage counts: what a reference profile's predictions
   * are made with. The model's single input takes the rows as an [n, columns] tensor.
   */
  predictRows(projectId: number, model: string, version: number, rows: (number | null)[][]): Promise<{ inputs: unknown; outputs: unknown }>;
  start(): Promise<void>;
  close(): Promise<void>;
}

/** The execution providers to ask onnxruntime for, in order. */
export function executionProviders(config: Config): string[] {
  return config['serving.execution_providers'].split(',').map((s) => s.trim()).filter(Boolean);
}

/** Inference threads: serving.workers, or one per core less the HTTP thread's. */
export function workerCount(config: Config): number {
  return config['serving.workers'] || Math.max(1, availableParallelism() - 1);
}

export function createServing(deps: ServingDeps): Serving {
  const { config, db, logger } = deps;
  const sql = new DeploymentsSql(db);
  const service = new DeploymentService(db, sql, deps.audit);
  const pool = new WorkerPool({
    size: workerCount(config), intraOpThreads: config['serving.intra_op_threads'],
    executionProviders: executionProviders(config),
  });
  const redis = config['redis.url'] ? new Redis(config['redis.url'], { lazyConnect: false, maxRetriesPerRequest: 1, enableOfflineQueue: false }) : null;
  redis?.on('error', () => undefined); // reported through onError below; ioredis reconnects by itself
  const buckets: TokenBuckets = redis
    ? new RedisTokenBuckets(redis, { onError: (err) => logger.warn({ err }, 'Redis unavailable; rate limits fall back to this process') })
    : new MemoryTokenBuckets();
  const predictions = new PredictionLog(db, logger);
  const runtime = new ServingRuntime(sql, new ModelSource(deps.registry, deps.blobs), pool, buckets, predictions, logger, {
    pollMs: config['serving.poll_ms'], breakerFailures: config['serving.breaker_failures'], breakerCooldownMs: config['serving.breaker_cooldown_ms'],
    tokenRatePerSecond: config['serving.caller_rate_per_second'], tokenBurst: config['serving.caller_burst'] || 2 * config['serving.caller_rate_per_second'],
  });
  runtime.metrics = new ServingMetrics(deps.metrics, runtime);
  runtime.usage = new UsageMeter(db, logger);
  const controller = new CanaryController(runtime, service, logger);
  /** Every target and shadow of the project's deployments with its version number (aliases as this replica resolved them). */
  const routedVersions = async (projectId: number) => {
    const out: { name: string; target: string; weight: number | null; model: string; version: number | undefined }[] = [];
    for (const d of await sql.list(projectId)) {
      const live = runtime.find(projectId, d.name);
      const resolved = (target: string) => [...(live?.table.targets ?? []), ...(live?.table.shadows ?? [])].find((t) => t.spec.name === target)?.version;
      const spec = parseDeploymentSpec(d.spec);
      for (const t of [...spec.targets, ...spec.shadows]) {
        out.push({ name: d.name, target: t.name, weight: 'weight' in t ? t.weight : null, model: t.model, version: t.version.startsWith('@') ? resolved(t.name) : Number(t.version) });
      }
    }
    return out;
  };
  return {
    routes: [...inferenceRoutes(runtime, { maxRequestBytes: config['serving.max_request_bytes'], maxElements: config['serving.max_elements'], serverVersion: deps.serverVersion }), ...deploymentRoutes(service, runtime, predictions)],
    runtime,
    deployments: service,
    async deploymentsOf(projectId, model, version) {
      return (await routedVersions(projectId)).filter((r) => r.model === model && r.version === version).map(({ name, target, weight }) => ({ name, target, weight }));
    },
    async deployedIn(projectId) {
      const held = new Set((await routedVersions(projectId)).map((r) => `${r.model}/${r.version}`));
      return (model, version) => held.has(`${model}/${version}`);
    },
    servedVersion(projectId, deployment) {
      const targets = runtime.find(projectId, deployment)?.table.targets ?? [];
      const top = [...targets].sort((a, b) => b.spec.weight - a.spec.weight)[0];
      return top && Number.isInteger(top.version) ? { model: top.model.name, version: top.version } : null;
    },
    async predictRows(projectId, model, version, rows) {
      const served = runtime.servedModels(projectId).find((m) => m.name === model && Number(m.version) === version && m.isReady);
      if (!served) throw invalidParam(`No deployment in this project serves ${model} version ${version} on this replica; deploy it (even at weight 0 or as a shadow) to compute reference predictions.`);
      if (served.inputs.length !== 1) throw invalidParam(`${model} version ${version} takes ${served.inputs.length} inputs; reference predictions need a model with one input.`);
      const spec = served.inputs[0];
      if (spec.datatype !== 'FP32' && spec.datatype !== 'FP64') throw invalidParam(`${model} version ${version} takes ${spec.datatype}; reference predictions are computed for FP32 or FP64 inputs.`);
      const width = rows[0]?.length ?? 0;
      const data = allocate(spec.datatype, rows.length * width);
      rows.forEach((r, i) => r.forEach((v, j) => ((data as Float64Array)[i * width + j] = v ?? NaN)));
      const inputs = [{ name: spec.name, datatype: spec.datatype, shape: [rows.length, width], data }];
      checkAgainstModel(inputs, served.inputs); // a CSV of the wrong width is the caller's error, not the model's
      const json = tensorsToJson(inputs);
      const result = await served.infer(inputs);
      return { inputs: JSON.parse(json), outputs: JSON.parse(tensorsToJson(result.outputs)) };
    },
    async flush() {
      await predictions.flush();
      await runtime.usage?.flush();
    },
    async start() {
      await runtime.start();
      controller.start(config['serving.canary_tick_ms']);
    },
    async close() {
      controller.stop();
      await runtime.close();
      redis?.disconnect();
    },
  };
}
