import { invalidParam } from '../errors/index.js';
import { pageSize, type Fields } from '../server/fields.js';
import { defineRoute, type RouteContext, type RouteDef } from '../server/route.js';
import { onDeployment } from './inference.routes.js';
import { appliedDocument } from '../spec/yaml.js';
import type { StoredDeployment } from './deployment-types.js';
import type { DeploymentService } from './deployments.service.js';
import type { LiveDeployment } from './live-deployment.js';
import type { PredictionLog } from './prediction-log.js';
import type { ServingRuntime } from './serving.runtime.js';

type Input = Record<string, any>;
const BASE = '/api/capstan/deployments';
const NAME: Fields = { name: { type: 'string', required: true } };


/** What this replica serves for a deployment: per target, the version, its state and counters. */
export function liveToWire(live: LiveDeployment | undefined) {
  if (!live) return null;
  const target = (t: LiveDeployment['table']['targets'][number] | LiveDeployment['table']['shadows'][number]) => ({
    name: t.spec.name, model: t.model.name, version: t.model.version, state: t.model.state, reason: t.model.reason || undefined,
    ...('weight' in t.spec ? { weight: t.spec.weight } : { sample: t.spec.sample }),
    queue_depth: t.model.queueDepth, breaker: t.model.breaker.state,
    stats: { ...t.model.stats },
  });
  return { revision: live.table.revision, targets: live.table.targets.map(target), shadows: live.table.shadows.map(target), problems: live.table.problems };
}

export function deploymentToWire(d: StoredDeployment, live?: LiveDeployment) {
  return {
    name: d.name, revision: d.revision, spec: d.spec, rollout: d.rollout,
    created_time: d.createdTime, updated_time: d.updatedTime, updated_by: d.updatedBy,
    live: liveToWire(live),
  };
}

/** Weights from `{stable: 90, canary: 10}` or a `stable=90,canary=10` string. */
function weightsOf(raw: unknown): Record<string, number> {
  const entries = typeof raw === 'string'
    ? raw.split(/[,\s]+/).filter(Boolean).map((p) => {
        const m = /^([^=]+)=(\d+)$/.exec(p);
        if (!m) throw invalidParam(`Traffic '${p}' must be TARGET=PERCENT, e.g. stable=90.`);
        return [m[1], Number(m[2])] as const;
      })
    : Object.entries((raw ?? {}) as Record<string, unknown>).map(([k, v]) => [k, typeof v === 'number' ? v : NaN] as const);
  if (entries.length === 0) throw invalidParam('traffic names no target; e.g. {"stable": 90, "canary": 10}.');
  return Object.fromEntries(entries);
}

export function deploymentRoutes(svc: DeploymentService, runtime: ServingRuntime, predictions: PredictionLog): RouteDef[] {
  const pid = (ctx: RouteContext) => ctx.project.projectId;
  const answer = async (ctx: RouteContext, d: StoredDeployment) => {
    await runtime.refresh(pid(ctx), d.name);
    return { deployment: deploymentToWire(d, runtime.find(pid(ctx), d.name)) };
  };
  return [
    defineRoute({
      method: 'POST', path: `${BASE}/apply`, tag: 'serving', summary: 'Create or replace a deployment from its YAML or JSON document; returns once its versions are loaded',
      fields: { spec: { type: 'any', doc: 'The deployment document as an object.' }, yaml: { type: 'string', doc: 'The deployment document as YAML text (what `capstan deploy -f` sends).' } },
      access: { action: 'deploy', resource: (i: Input, ctx) => ({ kind: 'deployment', id: typeof i.spec?.name === 'string' ? i.spec.name : undefined, projectId: ctx.project.projectId }) },
      handler: async (i, ctx) => {
        return answer(ctx, await svc.apply(pid(ctx), appliedDocument(i, 'The deployment file'), { name: ctx.principal.name }));
      },
    }),
    defineRoute({
      method: 'GET', path: `${BASE}/list`, tag: 'serving', summary: "The project's deployments with what this replica serves",
      access: { action: 'read', resource: (_i, ctx) => ({ kind: 'deployment', projectId: ctx.project.projectId }) },
      handler: async (_i, ctx) => ({ deployments: (await svc.list(pid(ctx))).map((d) => deploymentToWire(d, runtime.find(pid(ctx), d.name))) }),
    }),
    defineRoute({
      method: 'GET', path: `${BASE}/get`, tag: 'serving', summary: 'A deployment: its document, rollout state and live targets',
      fields: NAME, access: onDeployment('read'),
      handler: async (i, ctx) => ({ deployment: deploymentToWire(await svc.get(pid(ctx), i.name), runtime.find(pid(ctx), i.name)) }),
    }),
    defineRoute({
      method: 'GET', path: `${BASE}/events`, tag: 'serving', summary: 'Every traffic change, rollout step, rollback and promotion of a deployment',
      fields: { ...NAME, max_results: { type: 'int' } }, access: onDeployment('read'),
      handler: async (i, ctx) => ({ events: (await svc.events(pid(ctx), i.name, pageSize(i.max_results, 200))).map((e) => ({ event_id: e.eventId, time: e.time, actor: e.actor, kind: e.kind, detail: e.detail })) }),
    }),
    defineRoute({
      method: 'POST', path: `${BASE}/set-traffic`, tag: 'serving', summary: 'Set target weights (a hot swap; pauses a rollout in progress)',
      fields: { ...NAME, traffic: { type: 'any', required: true, doc: '{"stable": 90, "canary": 10} or "stable=90,canary=10".' } }, access: onDeployment('deploy'),
      handler: async (i, ctx) => answer(ctx, await svc.setTraffic(pid(ctx), i.name, weightsOf(i.traffic), { name: ctx.principal.name })),
    }),
    defineRoute({
      method: 'POST', path: `${BASE}/rollback`, tag: 'serving', summary: "Send all traffic back to the rollout's stable target",
      fields: NAME, access: onDeployment('deploy'),
      handler: async (i, ctx) => answer(ctx, await svc.rollback(pid(ctx), i.name, { name: ctx.principal.name }, [`manual rollback by ${ctx.principal.name}`])),
    }),
    defineRoute({
      method: 'POST', path: `${BASE}/promote`, tag: 'serving', summary: "Make the canary's version the stable target's, with all traffic",
      fields: NAME, access: onDeployment('deploy'),
      handler: async (i, ctx) => answer(ctx, await svc.promote(pid(ctx), i.name, { name: ctx.principal.name })),
    }),
    defineRoute({
      method: 'DELETE', path: `${BASE}/delete`, tag: 'serving', summary: 'Delete a deployment; its versions are drained and unloaded',
      fields: NAME, access: onDeployment('deploy'),
      handler: async (i, ctx) => {
        await svc.remove(pid(ctx), i.name);
        await runtime.refresh(pid(ctx), i.name);
        return {};
      },
    }),
    defineRoute({
      method: 'GET', path: `${BASE}/predictions`, tag: 'serving', summary: 'Recent logged predictions (sampled answers and every shadow answer)',
      fields: { ...NAME, max_results: { type: 'int' }, request_id: { type: 'string' } }, access: onDeployment('read'),
      handler: async (i, ctx) => {
        await predictions.flush();
        const rows = await predictions.recent(pid(ctx), i.name, pageSize(i.max_results, 100), i.request_id);
        return { predictions: rows.map((r) => ({ log_id: r.logId, model: r.model, version: r.version, role: r.role, request_id: r.requestId, time: r.time, latency_ms: r.latencyMs, inputs: r.inputs, outputs: r.outputs })) };
      },
    }),
  ];
}
