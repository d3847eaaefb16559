import { invalidParam } from '../errors/index.js';
import { defineRoute, type RouteDef } from '../server/route.js';
import type { Fields } from '../server/fields.js';
import { KV_FIELDS, kvList } from './experiments.routes.js';
import { onExperiments, onRuns, runIdsOf } from './resources.js';
import type { TrackingService } from './tracking.service.js';
import { RUN_STATUSES, VIEW_TYPES, type DatasetInput, type Metric, type RunStatus, type ViewType } from './types.js';
import { compact, doubleToWire, runInfoToWire, runToWire, historyResponseJson } from './wire.js';

/** MLflow clients send both `run_id` and its deprecated twin `run_uuid`; either will do. */
const RUN_ID: Fields = { run_id: { type: 'string' }, run_uuid: { type: 'string', doc: 'Deprecated alias of run_id.' } };
const METRIC_FIELDS: Fields = {
  key: { type: 'string', required: true },
  value: { type: 'double', required: true, doc: 'A number, or "NaN", "Infinity", "-Infinity".' },
  timestamp: { type: 'int', required: true, doc: 'Unix milliseconds.' },
  step: { type: 'int' },
};

function runIdOf(i: Record<string, any>): string {
  const id = i.run_id ?? i.run_uuid;
  if (typeof id !== 'string' || id === '') {
    throw invalidParam("Missing value for required parameter 'run_id'. See the API docs for more information about request parameters.");
  }
  return id;
}


const metricsOf = (list: unknown): Metric[] =>
  ((list as { key: string; value: number; timestamp: number; step?: number }[] | undefined) ?? []).map((m) => ({ key: m.key, value: m.value, timestamp: m.timestamp, step: m.step ?? 0 }));

function inputsOf(list: unknown): DatasetInput[] {
  return ((list as Record<string, any>[] | undefined) ?? []).map((d) => ({
    tags: kvList(d.tags),
    dataset: { name: d.dataset.name, digest: d.dataset.digest, sourceType: d.dataset.source_type, source: d.dataset.source, schema: d.dataset.schema, profile: d.dataset.profile },
  }));
}

export function runRoutes(svc: TrackingService): RouteDef[] {
  const onRun = (action: 'read' | 'write' | 'delete') => onRuns(svc, action, runIdsOf);
  const search = async (i: Record<string, any>) => {
    const page = await svc.searchRuns({ experimentIds: i.experiment_ids ?? [], filter: i.filter, viewType: i.run_view_type as ViewType, maxResults: i.max_results, orderBy: i.order_by, pageToken: i.page_token });
    return compact({ runs: page.items.map(runToWire), next_page_token: page.nextPageToken });
  };
  return [
    defineRoute({
      method: 'POST', path: '/runs/create', mlflow: true, tag: 'runs', summary: 'Create a run (status RUNNING)',
      fields: { experiment_id: { type: 'string' }, run_name: { type: 'string' }, start_time: { type: 'int' }, user_id: { type: 'string' }, tags: { type: 'object[]', fields: KV_FIELDS } },
      access: onExperiments(svc, 'write', (i) => [i.experiment_id || '0']),
      handler: async (i) => ({ run: runToWire(await svc.createRun({ experimentId: i.experiment_id, runName: i.run_name, startTime: i.start_time, userId: i.user_id, tags: kvList(i.tags) })) }),
    }),
    defineRoute({
      method: 'POST', path: '/runs/update', mlflow: true, tag: 'runs', summary: "Update a run's status, end time or name",
      fields: { ...RUN_ID, status: { type: 'string', enum: RUN_STATUSES }, end_time: { type: 'int' }, run_name: { type: 'string' } }, access: onRun('write'),
      handler: async (i) => ({ run_info: runInfoToWire(await svc.updateRun(runIdOf(i), { status: i.status as RunStatus | undefined, endTime: i.end_time, runName: i.run_name })) }),
    }),
    defineRoute({
      method: 'POST', path: '/runs/delete', mlflow: true, tag: 'runs', summary: 'Soft-delete a run', fields: RUN_ID, access: onRun('delete'),
      handler: async (i) => (await svc.setRunDeleted(runIdOf(i), true), {}),
    }),
    defineRoute({
      method: 'POST', path: '/runs/restore', mlflow: true, tag: 'runs', summary: 'Restore a deleted run', fields: RUN_ID, access: onRun('write'),
      handler: async (i) => (await svc.setRunDeleted(runIdOf(i), false), {}),
    }),
    defineRoute({
      method: 'GET', path: '/runs/get', mlflow: true, tag: 'runs', summary: 'Get a run with its latest metrics, params, tags and inputs', fields: RUN_ID, access: onRun('read'),
      handler: async (i) => ({ run: runToWire(await svc.getRun(runIdOf(i))) }),
    }),
    defineRoute({
      method: 'POST', path: '/runs/log-metric', mlflow: true, tag: 'runs', summary: 'Log one metric point', fields: { ...RUN_ID, ...METRIC_FIELDS }, access: onRun('write'),
      handler: async (i) => (await svc.logMetric(runIdOf(i), { key: i.key, value: i.value, timestamp: i.timestamp, step: i.step ?? 0 }), {}),
    }),
    defineRoute({
      method: 'POST', path: '/runs/log-parameter', mlflow: true, tag: 'runs', summary: 'Log a param (write-once)', fields: { ...RUN_ID, ...KV_FIELDS }, access: onRun('write'),
      handler: async (i) => (await svc.logParam(runIdOf(i), { key: i.key, value: i.value ?? '' }), {}),
    }),
    defineRoute({
      method: 'POST', path: '/runs/set-tag', mlflow: true, tag: 'runs', summary: 'Set a run tag', fields: { ...RUN_ID, ...KV_FIELDS }, access: onRun('write'),
      handler: async (i) => (await svc.setTag(runIdOf(i), { key: i.key, value: i.value ?? '' }), {}),
    }),
    defineRoute({
      method: 'POST', path: '/runs/delete-tag', mlflow: true, tag: 'runs', summary: 'Delete a run tag', fields: { ...RUN_ID, key: { type: 'string', required: true } }, access: onRun('write'),
      handler: async (i) => (await svc.deleteTag(runIdOf(i), i.key), {}),
    }),
    defineRoute({
      method: 'POST', path: '/runs/log-batch', mlflow: true, tag: 'runs', summary: 'Log metrics, params and tags atomically (≤1000 metrics, ≤100 params, ≤100 tags)',
      fields: { ...RUN_ID, metrics: { type: 'object[]', fields: METRIC_FIELDS }, params: { type: 'object[]', fields: KV_FIELDS }, tags: { type: 'object[]', fields: KV_FIELDS } },
      access: onRun('write'),
      handler: async (i) => (await svc.logBatch(runIdOf(i), { metrics: metricsOf(i.metrics), params: kvList(i.params), tags: kvList(i.tags) }), {}),
    }),
    defineRoute({
      method: 'POST', path: '/runs/log-model', mlflow: true, tag: 'runs', summary: 'Record a logged model (MLflow 2.x: appends to tag mlflow.log-model.history)',
      fields: { ...RUN_ID, model_json: { type: 'string', required: true } }, access: onRun('write'),
      handler: async (i) => (await svc.logModel(runIdOf(i), i.model_json), {}),
    }),
    defineRoute({
      method: 'POST', path: '/runs/log-inputs', mlflow: true, tag: 'runs', summary: 'Log dataset inputs of a run',
      fields: {
        ...RUN_ID,
        datasets: {
          type: 'object[]',
          fields: {
            tags: { type: 'object[]', fields: KV_FIELDS },
            dataset: { type: 'object', required: true, fields: { name: { type: 'string', required: true }, digest: { type: 'string', required: true }, source_type: { type: 'string', required: true }, source: { type: 'string', required: true }, schema: { type: 'string' }, profile: { type: 'string' } } },
          },
        },
      },
      access: onRun('write'),
      handler: async (i) => (await svc.logInputs(runIdOf(i), inputsOf(i.datasets)), {}),
    }),
    defineRoute({
      method: 'POST', path: '/runs/search', mlflow: true, tag: 'runs', summary: 'Search runs with the MLflow filter grammar',
      fields: { experiment_ids: { type: 'string[]' }, filter: { type: 'string' }, run_view_type: { type: 'string', enum: VIEW_TYPES }, max_results: { type: 'int' }, order_by: { type: 'string[]' }, page_token: { type: 'string' } },
      access: onExperiments(svc, 'read', (i) => i.experiment_ids ?? []), handler: search,
    }),
    defineRoute({
      method: 'GET', path: '/metrics/get-history', mlflow: true, tag: 'runs', summary: 'Full history of one metric (paged when max_results is given)',
      fields: { ...RUN_ID, metric_key: { type: 'string', required: true }, max_results: { type: 'int' }, page_token: { type: 'string' } }, access: onRun('read'),
      handler: async (i, ctx) => {
        const page = await svc.getMetricHistoryJson(runIdOf(i), i.metric_key, i.max_results, i.page_token);
        return ctx.reply.type('application/json; charset=utf-8').send(historyResponseJson(page.json, page.nextPageToken));
      },
    }),
    defineRoute({
      method: 'GET', path: '/metrics/get-history-bulk', mlflow: true, tag: 'runs', summary: 'History of one metric for up to 100 runs (first 25000 points each)',
      fields: { run_id: { type: 'string[]', required: true }, metric_key: { type: 'string', required: true }, max_results: { type: 'int' } },
      access: onRuns(svc, 'read', (i) => i.run_id),
      handler: async (i) => {
        const all = await svc.getMetricHistoryBulk(i.run_id, i.metric_key, i.max_results);
        const metrics = all.flatMap(({ runId, series }) =>
          Array.from(series.steps, (step, k) => ({ key: i.metric_key, value: doubleToWire(series.values[k]!), timestamp: series.timestamps[k], step, run_id: runId })),
        );
        return compact({ metrics });
      },
    }),
    defineRoute({
      method: 'GET', path: '/metrics/get-history-bulk-interval', mlflow: true, tag: 'runs', summary: 'Down-sampled history of one metric for up to 100 runs (charts)',
      fields: { run_ids: { type: 'string[]', required: true }, metric_key: { type: 'string', required: true }, start_step: { type: 'int' }, end_step: { type: 'int' }, max_results: { type: 'int' } },
      access: onRuns(svc, 'read', (i) => i.run_ids),
      handler: async (i) => {
        const points = await svc.getMetricHistoryBulkInterval({ runIds: i.run_ids, key: i.metric_key, startStep: i.start_step, endStep: i.end_step, maxResults: i.max_results });
        return compact({ metrics: points.map((p) => ({ key: p.key, value: doubleToWire(p.value), timestamp: p.timestamp, step: p.step, run_id: p.runId })) });
      },
    }),
  ];
}
