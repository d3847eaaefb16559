import type { Logger } from 'pino';
import { AppError, notFound } from '../errors/index.js';
import { parseDeploymentSpec, type DeploymentSpec, type ShadowSpec, type TargetSpec } from './deployment-spec.js';
import type { DeploymentsSql } from './deployments.sql.js';
import { NO_ROLLOUT, type StoredDeployment } from './deployment-types.js';
import { LiveDeployment, type LiveTarget, type RoutingTable } from './live-deployment.js';
import type { ModelSource } from './model-source.js';
import { tensorsToJson, type PredictionSink } from './prediction-log.js';
import { ServedModel } from './served-model.js';
import type { ServingMetrics } from './serving-metrics.js';
import { checkAgainstModel } from './tensor-codec.js';
import type { TokenBuckets } from './token-bucket.js';
import { SERVER_FAULTS, type UsageMeter } from './usage-meter.js';
import type { Tensor } from './types.js';
import type { WorkerPool } from './worker-pool.js';

export interface RuntimeOptions {
  pollMs: number;
  breakerFailures: number;
  breakerCooldownMs: number;
  /** Per principal, across deployments; 0 = off. */
  tokenRatePerSecond: number;
  tokenBurst: number;
}

export interface InferCall {
  projectId: number;
  deployment: string;
  /** `/versions/{v}`; absent: the deployment routes. */
  version?: string;
  inputs: Tensor[];
  header(name: string): string | undefined;
  requestId: string;
  /** Rate-limit key of the caller (its principal id). */
  caller: string;
}

export interface InferAnswer {
  outputs: Tensor[];
  model: ServedModel;
  target: string;
}

/** Errors that are the model's fault: they count against a canary and its circuit breaker. */
const MODEL_FAULTS = new Set(['MODEL_INFERENCE_ERR', 'MODEL_TIMEOUT']);

/** Refusals before inference, by the reason label of capstan_inference_rejected_total. */
const REJECT_REASONS: Record<string, string> = { MODEL_OVERLOADED: 'overloaded', MODEL_NOT_READY: 'not_ready', MODEL_CIRCUIT_OPEN: 'circuit_open' };

/**
 * Serves every deployment on this replica. Deployments live in the database; each replica polls
 * their revisions and rebuilds a deployment's routing table when it changes. New versions are
 * loaded and warmed before the table is swapped, and versions no longer routed to are drained
 * after it, so a change never fails or drops a request.
 */
export class ServingRuntime {
  private readonly live = new Map<string, LiveDeployment>();
  private readonly revisions = new Map<number, number>();
  private readonly reconciling = new Map<number, Promise<void>>();
  private timer: NodeJS.Timeout | null = null;
  private nextKey = 1;
  private closed = false;

  constructor(
    /** Null for a standalone server (`capstan serve`), which has no database. */
    private readonly sql: DeploymentsSql | null,
    private readonly source: ModelSource | null,
    private readonly pool: WorkerPool,
    private readonly buckets: TokenBuckets,
    private readonly predictions: PredictionSink,
    private readonly logger: Logger,
    private readonly opts: RuntimeOptions,
    public metrics: ServingMetrics | null = null,
    public usage: UsageMeter | null = null,
  ) {}

  async start(): Promise<void> {
    await this.sync();
    const tick = () => {
      this.timer = setTimeout(() => this.sync().catch((err) => this.logger.warn({ err }, 'deployment sync failed')).finally(() => !this.closed && tick()), this.opts.pollMs);
      this.timer.unref();
    };
    tick();
  }

  deployments(): LiveDeployment[] {
    return [...this.live.values()];
  }

  /** [deployment, model, version, queued requests, ready 0/1] of every served model, for the metrics gauges. */
  queues(): [string, string, string, number, number][] {
    return this.deployments().flatMap((d) => d.models().map((m): [string, string, string, number, number] => [d.name, m.name, m.version, m.queueDepth, m.isReady ? 1 : 0]));
  }

  find(projectId: number, name: string): LiveDeployment | undefined {
    return this.live.get(`${projectId}/${name}`);
  }

  /** Brings every deployment in the database to its stored revision. */
  async sync(): Promise<void> {
    if (!this.sql) return;
    const current = await this.sql.revisions();
    const work: Promise<void>[] = [];
    for (const [id, revision] of current) {
      if (this.revisions.get(id) !== revision) work.push(this.reconcileId(id));
    }
    for (const live of [...this.live.values()]) {
      if (!current.has(live.deploymentId)) work.push(this.remove(live));
    }
    await Promise.all(work);
  }

  /** Applies one deployment's stored state now (the replica that made a change does not wait for its poll). */
  async refresh(projectId: number, name: string): Promise<void> {
    if (!this.sql) return;
    const stored = await this.sql.get(projectId, name);
    if (stored) await this.reconcile(stored);
    else {
      const live = this.find(projectId, name);
      if (live) await this.remove(live);
    }
  }

  private async reconcileId(id: number): Promise<void> {
    const stored = await this.sql!.byId(id);
    if (stored) await this.reconcile(stored);
  }

  /** One reconcile per deployment at a time; a later revision waits for the earlier one. */
  private async reconcile(stored: StoredDeployment): Promise<void> {
    const previous = this.reconciling.get(stored.deploymentId) ?? Promise.resolve();
    const next = previous.then(() => this.apply(stored)).catch((err) => this.logger.error({ err, deployment: stored.name }, 'deployment reconcile failed'));
    this.reconciling.set(stored.deploymentId, next);
    await next;
  }

  private async apply(stored: StoredDeployment): Promise<void> {
    if (this.closed) return;
    const key = `${stored.projectId}/${stored.name}`;
    const existing = this.live.get(key);
    if (existing && existing.table.revision >= stored.revision) return;
    const spec = parseDeploymentSpec(stored.spec);
    const problems: string[] = [];
    const reuse = new Map((existing?.models() ?? []).map((m) => [m.key.replace(/#\d+$/, ''), m]));
    const build = async <S extends TargetSpec | ShadowSpec>(t: S): Promise<LiveTarget & { spec: S }> => {
      const resolved = await this.source!.resolve(stored.projectId, t.model, t.version).catch((err: Error) => err);
      if (resolved instanceof Error) {
        problems.push(`${t.name}: ${resolved.message}`);
        const failed = new ServedModel(`failed#${this.nextKey++}`, t.model, t.version, this.pool, this.modelOptions(spec));
        failed.state = 'failed';
        failed.reason = resolved.message;
        return { spec: t, version: 0, model: failed };
      }
      const base = `${key}/${t.model}/${resolved.version}/${this.optionsKey(spec)}`;
      const kept = reuse.get(base);
      if (kept && kept.state !== 'failed') {
        reuse.delete(base);
        return { spec: t, version: resolved.version, model: kept };
      }
      const model = new ServedModel(`${base}#${this.nextKey++}`, t.model, String(resolved.version), this.pool, this.modelOptions(spec), {
        batch: (m, rows) => {
          this.metrics?.batchSize.observe({ model: m.name, version: m.version }, rows);
          this.metrics?.executions.inc({ model: m.name, version: m.version });
        },
      });
      const loaded = await this.source!.load(resolved).catch((err: Error) => err);
      if (loaded instanceof Error) {
        model.state = 'failed';
        model.reason = loaded.message;
      } else await model.load(loaded.bytes);
      if (model.state === 'failed') problems.push(`${t.name}: model ${t.model} version ${resolved.version} failed to load: ${model.reason}`);
      return { spec: t, version: resolved.version, model };
    };
    const targets = await Promise.all(spec.targets.map(build));
    const shadows = await Promise.all(spec.shadows.map(build));
    const table: RoutingTable = { revision: stored.revision, spec, rollout: stored.rollout, targets, shadows, problems };
    if (existing) existing.table = table;
    else this.live.set(key, new LiveDeployment(stored.projectId, stored.deploymentId, table));
    this.revisions.set(stored.deploymentId, stored.revision);
    if (problems.length) this.logger.warn({ deployment: stored.name, problems }, 'deployment applied with problems');
    await Promise.all([...reuse.values()].map((m) => m.drain()));
  }

  /** Every model version this replica serves for a project (targets and shadows). */
  servedModels(projectId: number): ServedModel[] {
    return [...this.live.values()].filter((l) => l.projectId === projectId).flatMap((l) => l.models());
  }

  /** Serves one model file as a one-target deployment, without a database (`capstan serve`). */
  async serveLocal(projectId: number, spec: DeploymentSpec, bytes: Uint8Array): Promise<ServedModel> {
    const target = spec.targets[0];
    const model = new ServedModel(`${projectId}/${spec.name}/local#${this.nextKey++}`, target.model, target.version, this.pool, this.modelOptions(spec), {
      batch: (m, rows) => this.metrics?.batchSize.observe({ model: m.name, version: m.version }, rows),
    });
    await model.load(bytes);
    const table: RoutingTable = { revision: 1, spec, rollout: NO_ROLLOUT, targets: [{ spec: target, version: Number(target.version), model }], shadows: [], problems: model.reason ? [model.reason] : [] };
    this.live.set(`${projectId}/${spec.name}`, new LiveDeployment(projectId, 0, table));
    return model;
  }

  private modelOptions(spec: DeploymentSpec) {
    return {
      maxBatchRows: spec.maxBatchSize, maxQueueDelayMs: spec.maxQueueDelayMs, maxQueue: spec.maxQueue, timeoutMs: spec.timeoutMs,
      breakerFailures: this.opts.breakerFailures, breakerCooldownMs: this.opts.breakerCooldownMs,
    };
  }

  private optionsKey(spec: DeploymentSpec): string {
    return `${spec.maxBatchSize},${spec.maxQueueDelayMs},${spec.maxQueue},${spec.timeoutMs}`;
  }

  private async remove(live: LiveDeployment): Promise<void> {
    this.live.delete(`${live.projectId}/${live.name}`);
    this.revisions.delete(live.deploymentId);
    await Promise.all(live.models().map((m) => m.drain()));
  }

  private async limit(key: string, ratePerSecond: number, burst: number, deployment: string): Promise<void> {
    const { allowed, retryAfterSeconds } = await this.buckets.take(key, ratePerSecond, burst);
    if (allowed) return;
    this.metrics?.rejected.inc({ deployment, reason: 'rate_limited' });
    throw new AppError('REQUEST_LIMIT_EXCEEDED', `More than ${ratePerSecond} inference requests per second for ${key.split(':')[0]}; retry in ${retryAfterSeconds} s.`, { details: { retry_after_seconds: retryAfterSeconds } });
  }

  async infer(call: InferCall): Promise<InferAnswer> {
    const live = this.find(call.projectId, call.deployment);
    if (!live) throw notFound(`No deployment named '${call.deployment}' in this project.`);
    const spec = live.table.spec;
    if (spec.ratePerSecond > 0) await this.limit(`deployment:${call.projectId}/${spec.name}`, spec.ratePerSecond, spec.burst, spec.name);
    if (this.opts.tokenRatePerSecond > 0) await this.limit(`caller:${call.caller}`, this.opts.tokenRatePerSecond, this.opts.tokenBurst, spec.name);
    const target = live.pick(call.header, call.version);
    const model = target.model;
    const inputs = this.ordered(call.inputs, model);
    const shadows = live.shadowsFor();
    const logged = spec.predictionLogSample > 0 && Math.random() < spec.predictionLogSample;
    // The inference threads take over the input buffers; copies for shadows and the log come first.
    const shadowInputs = shadows.length ? inputs.map(copyTensor) : [];
    const inputJson = logged || shadows.length ? tensorsToJson(inputs) : '';
    const started = performance.now();
    try {
      const result = await model.infer(inputs);
      const ms = performance.now() - started;
      live.window(target.spec.name, windowMsOf(spec)).record(Date.now(), true, ms, summarise(result.outputs));
      // A batch's compute time is shared by its requests in proportion to their rows.
      const rows = inputs[0]?.shape[0] ?? 1;
      this.usage?.record(call.projectId, spec.name, model.name, model.version, ms, result.batchRows > 0 ? (result.computeMs * rows) / result.batchRows : result.computeMs, false);
      const series = this.metrics?.forModel(spec.name, model.name, model.version);
      if (series) {
        series.request.observe(ms / 1000);
        series.queue.observe(result.queueMs / 1000);
        series.compute.observe(result.computeMs / 1000);
        series.rows.inc(inputs[0]?.shape[0] ?? 1);
        series.success.inc();
      }
      if (logged) this.log(live, model, `target:${target.spec.name}`, call.requestId, ms, inputJson, result.outputs);
      for (const s of shadows) this.shadow(live, s, shadowInputs.map(copyTensor), call.requestId, inputJson);
      return { outputs: result.outputs, model, target: target.spec.name };
    } catch (err) {
      const code = err instanceof AppError ? err.code : 'INTERNAL_ERROR';
      const reason = REJECT_REASONS[code];
      if (reason) this.metrics?.rejected.inc({ deployment: spec.name, reason });
      this.metrics?.requests.inc({ deployment: spec.name, model: model.name, version: model.version, outcome: code });
      this.usage?.record(call.projectId, spec.name, model.name, model.version, performance.now() - started, 0, SERVER_FAULTS.has(code));
      if (MODEL_FAULTS.has(code)) live.window(target.spec.name, windowMsOf(spec)).record(Date.now(), false, performance.now() - started, null);
      throw err;
    }
  }

  /** Inputs in the model's order, after checking them against the model's declared inputs. */
  private ordered(inputs: Tensor[], model: ServedModel): Tensor[] {
    if (!model.isReady) return inputs; // infer() answers MODEL_NOT_READY with the state
    checkAgainstModel(inputs, model.inputs);
    const rows = inputs[0]?.shape[0];
    if (model.inputs.length > 1 && inputs.some((t) => t.shape[0] !== rows)) {
      throw new AppError('MODEL_INPUT_INVALID', `Inputs disagree on the batch size: ${inputs.map((t) => `'${t.name}' has ${t.shape[0]}`).join(', ')}.`);
    }
    return model.inputs.map((s) => inputs.find((t) => t.name === s.name)!);
  }

  private shadow(live: LiveDeployment, s: LiveTarget, inputs: Tensor[], requestId: string, inputJson: string): void {
    const started = performance.now();
    s.model.infer(inputs).then(
      (r) => this.log(live, s.model, `shadow:${s.spec.name}`, requestId, performance.now() - started, inputJson, r.outputs),
      (err: Error) => this.logger.debug({ err, deployment: live.name, shadow: s.spec.name }, 'shadow inference failed'),
    );
  }

  private log(live: LiveDeployment, model: ServedModel, role: string, requestId: string, latencyMs: number, inputs: string, outputs: Tensor[]): void {
    this.predictions.add({ projectId: live.projectId, deployment: live.name, model: model.name, version: model.version, role, requestId, time: Date.now(), latencyMs, inputs, outputs: tensorsToJson(outputs) });
  }

  /** Stops polling, drains every model, then closes the inference threads. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await Promise.all([...this.reconciling.values()]);
    await Promise.all([...this.live.values()].flatMap((l) => l.models().map((m) => m.drain().catch(() => undefined))));
    await this.predictions.flush();
    await this.usage?.flush();
    await this.pool.close();
  }
}

const windowMsOf = (spec: DeploymentSpec) => (spec.rollout?.windowSeconds ?? 60) * 1000;

function copyTensor(t: Tensor): Tensor {
  return { ...t, shape: [...t.shape], data: (Array.isArray(t.data) ? [...t.data] : t.data.slice()) as Tensor['data'] };
}

/** One number per request for comparing prediction distributions: the first row's value, or its argmax. */
export function summarise(outputs: Tensor[]): number | null {
  const t = outputs[0];
  if (!t || Array.isArray(t.data) || t.data.length === 0) return null;
  const perRow = t.shape.length > 1 ? t.data.length / Math.max(1, t.shape[0]) : 1;
  if (perRow === 1) return Number(t.data[0]);
  let best = 0;
  for (let i = 1; i < perRow; i++) if (Number(t.data[i]) > Number(t.data[best])) best = i;
  return best;
}
