import { invalidParam } from '../errors/index.js';
import { num, obj, onlyKeys, str, type Obj } from '../spec/document.js';
import type { CanarySlo } from './canary-analysis.js';

/** Where a share of traffic goes: a registered model version, by number or `@alias`. */
export interface TargetSpec {
  name: string;
  model: string;
  version: string;
  weight: number;
}

/** A version that gets a copy of a share of the traffic; its answers are logged, never returned. */
export interface ShadowSpec {
  name: string;
  model: string;
  version: string;
  sample: number;
}

export interface RolloutSpec {
  /** The target whose weight steps up. */
  canary: string;
  /** The target it is compared with and that takes the rest of the traffic. */
  stable: string;
  steps: number[];
  intervalSeconds: number;
  windowSeconds: number;
  slo: CanarySlo;
}

export interface DeploymentSpec {
  name: string;
  description: string;
  targets: TargetSpec[];
  shadows: ShadowSpec[];
  /** A request header naming a target forces that target (A/B tests, debugging). */
  routeHeader: string;
  /** When set, a hash of this header's value picks the target, so one user always sees one version. */
  stickyHeader: string;
  maxBatchSize: number;
  maxQueueDelayMs: number;
  maxQueue: number;
  timeoutMs: number;
  ratePerSecond: number;
  burst: number;
  predictionLogSample: number;
  rollout: RolloutSpec | null;
  /** Free-form labels carried into cost reports (`owner`, `cost_center`, …). */
  tags: Record<string, string>;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const TOP_KEYS = ['name', 'description', 'model', 'targets', 'shadows', 'routing', 'batching', 'limits', 'prediction_log', 'rollout', 'tags'];

function version(v: unknown, where: string): string {
  if (typeof v === 'number' && Number.isInteger(v) && v > 0) return String(v);
  if (typeof v === 'string' && (/^[1-9][0-9]*$/.test(v) || /^@[A-Za-z0-9_-]{1,255}$/.test(v))) return v;
  throw invalidParam(`${where}.version must be a version number or '@alias'; got ${JSON.stringify(v)}.`);
}

function target(name: string, raw: unknown, defaultModel: string, where: string, share: 'weight' | 'sample'): TargetSpec & { sample: number } {
  const o = typeof raw === 'number' || typeof raw === 'string' ? { version: raw } : obj(raw, where);
  onlyKeys(o, ['model', 'version', share], where);
  if (!NAME.test(name)) throw invalidParam(`${where}: target name '${name}' must be letters, digits, '_', '.' or '-'.`);
  const model = str(o, 'model', where, defaultModel);
  if (!model) throw invalidParam(`${where}.model is required (or set a top-level 'model').`);
  return { name, model, version: version(o.version, where), weight: num(o, 'weight', where, 0, 0, 100), sample: num(o, 'sample', where, 1, 0, 1, false) };
}

function rollout(raw: unknown, targets: TargetSpec[]): RolloutSpec | null {
  if (raw === undefined || raw === null) return null;
  const o = obj(raw, 'rollout');
  onlyKeys(o, ['canary', 'stable', 'steps', 'interval_seconds', 'window_seconds', 'slo'], 'rollout');
  const canary = str(o, 'canary', 'rollout', 'canary');
  const stable = str(o, 'stable', 'rollout', 'stable');
  for (const t of [canary, stable]) if (!targets.some((x) => x.name === t)) throw invalidParam(`rollout names target '${t}', which is not in targets.`);
  if (canary === stable) throw invalidParam('rollout.canary and rollout.stable must be different targets.');
  const steps = o.steps === undefined ? [10, 25, 50, 100] : o.steps;
  if (!Array.isArray(steps) || steps.length === 0 || steps.some((s, i) => typeof s !== 'number' || !Number.isInteger(s) || s < 1 || s > 100 || (i > 0 && s <= steps[i - 1]))) {
    throw invalidParam('rollout.steps must be increasing integer percentages from 1 to 100, e.g. [10, 25, 50, 100].');
  }
  const s = obj(o.slo, 'rollout.slo');
  onlyKeys(s, ['max_error_rate', 'max_error_rate_increase', 'max_latency_p95_ms', 'max_prediction_psi', 'min_requests'], 'rollout.slo');
  const slo: CanarySlo = {
    maxErrorRate: num(s, 'max_error_rate', 'rollout.slo', 0.01, 0, 1, false),
    maxLatencyP95Ms: num(s, 'max_latency_p95_ms', 'rollout.slo', 100, 0, 3_600_000, false),
    maxPredictionPsi: num(s, 'max_prediction_psi', 'rollout.slo', 0.25, 0, 100, false),
    minRequests: num(s, 'min_requests', 'rollout.slo', 50, 1, 10_000_000),
  };
  if (s.max_error_rate_increase !== undefined) slo.maxErrorRateIncrease = num(s, 'max_error_rate_increase', 'rollout.slo', 0, 0, 1, false);
  return {
    canary, stable, steps: steps as number[], slo,
    intervalSeconds: num(o, 'interval_seconds', 'rollout', 30, 1, 86_400),
    windowSeconds: num(o, 'window_seconds', 'rollout', 60, 1, 86_400),
  };
}

/** Validates a deployment document (parsed YAML or JSON); every error names the key. */
export function parseDeploymentSpec(raw: unknown): DeploymentSpec {
  const o = obj(raw, 'The deployment');
  onlyKeys(o, TOP_KEYS, 'deployment');
  const name = str(o, 'name', 'deployment', '');
  if (!NAME.test(name)) throw invalidParam(`deployment.name must be 1-128 letters, digits, '_', '.' or '-' (it is the endpoint: /v2/models/NAME); got ${JSON.stringify(name)}.`);
  const model = str(o, 'model', 'deployment', '');
  const targets = Object.entries(obj(o.targets, 'targets')).map(([n, t]) => target(n, t, model, `targets.${n}`, 'weight'));
  if (targets.length === 0) throw invalidParam("deployment.targets needs at least one target, e.g. targets: {stable: {version: 1, weight: 100}}.");
  if (targets.length === 1 && o.targets && (obj(o.targets, 'targets')[targets[0].name] as Obj)?.weight === undefined) targets[0].weight = 100;
  const total = targets.reduce((n, t) => n + t.weight, 0);
  if (total !== 100) throw invalidParam(`Target weights must add up to 100; they add up to ${total} (${targets.map((t) => `${t.name}=${t.weight}`).join(', ')}).`);
  const shadows = Object.entries(obj(o.shadows, 'shadows')).map(([n, t]) => {
    const { weight: _w, ...s } = target(n, t, model, `shadows.${n}`, 'sample');
    return s;
  });
  const dup = [...targets, ...shadows].map((t) => t.name).find((n, i, all) => all.indexOf(n) !== i);
  if (dup) throw invalidParam(`Target name '${dup}' is used twice.`);
  const routing = obj(o.routing, 'routing');
  onlyKeys(routing, ['header', 'sticky_header'], 'routing');
  const batching = obj(o.batching, 'batching');
  onlyKeys(batching, ['max_batch_size', 'max_queue_delay_ms'], 'batching');
  const limits = obj(o.limits, 'limits');
  onlyKeys(limits, ['max_queue', 'timeout_ms', 'rate_per_second', 'burst'], 'limits');
  const log = obj(o.prediction_log, 'prediction_log');
  onlyKeys(log, ['sample_rate'], 'prediction_log');
  const ratePerSecond = num(limits, 'rate_per_second', 'limits', 0, 0, 10_000_000);
  return {
    name, description: str(o, 'description', 'deployment', ''),
    targets: targets.map(({ sample: _s, ...t }) => t), shadows,
    routeHeader: str(routing, 'header', 'routing', 'x-capstan-target').toLowerCase(),
    stickyHeader: str(routing, 'sticky_header', 'routing', '').toLowerCase(),
    maxBatchSize: num(batching, 'max_batch_size', 'batching', 32, 1, 65_536),
    maxQueueDelayMs: num(batching, 'max_queue_delay_ms', 'batching', 0, 0, 10_000),
    maxQueue: num(limits, 'max_queue', 'limits', 256, 1, 1_000_000),
    timeoutMs: num(limits, 'timeout_ms', 'limits', 10_000, 0, 3_600_000),
    ratePerSecond,
    burst: num(limits, 'burst', 'limits', ratePerSecond * 2, 0, 100_000_000),
    predictionLogSample: num(log, 'sample_rate', 'prediction_log', 0.01, 0, 1, false),
    rollout: rollout(o.rollout, targets),
    tags: tags(o.tags),
  };
}

function tags(raw: unknown): Record<string, string> {
  const o = obj(raw, 'tags');
  for (const [k, v] of Object.entries(o)) {
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(k) || typeof v !== 'string' || v.length > 256) throw invalidParam(`tags.${k} must be a string of at most 256 characters under a name of letters, digits, '_', '.' or '-'.`);
  }
  return o as Record<string, string>;
}

/** The spec back in its file form (snake_case), as stored and as `capstan deployments get` shows it. */
export function specToDocument(s: DeploymentSpec): Record<string, unknown> {
  return {
    name: s.name, description: s.description,
    targets: Object.fromEntries(s.targets.map((t) => [t.name, { model: t.model, version: t.version, weight: t.weight }])),
    shadows: Object.fromEntries(s.shadows.map((t) => [t.name, { model: t.model, version: t.version, sample: t.sample }])),
    routing: { header: s.routeHeader, sticky_header: s.stickyHeader },
    batching: { max_batch_size: s.maxBatchSize, max_queue_delay_ms: s.maxQueueDelayMs },
    limits: { max_queue: s.maxQueue, timeout_ms: s.timeoutMs, rate_per_second: s.ratePerSecond, burst: s.burst },
    prediction_log: { sample_rate: s.predictionLogSample },
    ...(Object.keys(s.tags).length ? { tags: s.tags } : {}),
    ...(s.rollout ? { rollout: {
      canary: s.rollout.canary, stable: s.rollout.stable, steps: s.rollout.steps, interval_seconds: s.rollout.intervalSeconds, window_seconds: s.rollout.windowSeconds,
      slo: { max_error_rate: s.rollout.slo.maxErrorRate, max_latency_p95_ms: s.rollout.slo.maxLatencyP95Ms, max_prediction_psi: s.rollout.slo.maxPredictionPsi, min_requests: s.rollout.slo.minRequests,
        ...(s.rollout.slo.maxErrorRateIncrease !== undefined ? { max_error_rate_increase: s.rollout.slo.maxErrorRateIncrease } : {}) },
    } } : {}),
  };
}
