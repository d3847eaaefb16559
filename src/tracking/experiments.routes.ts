import { defineRoute, type RouteContext, type RouteDef } from '../server/route.js';
import type { Fields } from '../server/fields.js';
import { inProject, onExperiments } from './resources.js';
import type { TrackingService } from './tracking.service.js';
import { VIEW_TYPES, type KeyValue, type ViewType } from './types.js';
import { compact, experimentToWire } from './wire.js';

export const KV_FIELDS: Fields = { key: { type: 'string', required: true }, value: { type: 'string' } };
export const kvList = (list: unknown): KeyValue[] =>
  ((list as { key: string; value?: string }[] | undefined) ?? []).map((t) => ({ key: t.key, value: t.value ?? '' }));

const EXPERIMENT_ID: Fields = { experiment_id: { type: 'string', required: true, doc: 'Decimal experiment id.' } };
const SEARCH_FIELDS: Fields = {
  max_results: { type: 'int', doc: 'Page size (required by MLflow; the Python client sends 1000; at most 50000).' },
  page_token: { type: 'string' },
  filter: { type: 'string', doc: "MLflow filter, e.g. \"name LIKE 'prod%' and tags.team = 'ml'\"." },
  order_by: { type: 'string[]' },
  view_type: { type: 'string', enum: VIEW_TYPES },
};

export function experimentRoutes(svc: TrackingService): RouteDef[] {
  const idOf = (i: Record<string, any>) => [i.experiment_id as string];
  const read = onExperiments(svc, 'read', idOf);
  const write = onExperiments(svc, 'write', idOf);
  const search = async (i: Record<string, any>, ctx: RouteContext) => {
    const page = await svc.searchExperiments(ctx.project.projectId, { maxResults: i.max_results, pageToken: i.page_token, filter: i.filter, orderBy: i.order_by, viewType: i.view_type as ViewType });
    return compact({ experiments: page.items.map(experimentToWire), next_page_token: page.nextPageToken });
  };
  return [
    defineRoute({
      method: 'POST', path: '/experiments/create', mlflow: true, tag: 'experiments', summary: 'Create an experiment',
      fields: { name: { type: 'string', required: true }, artifact_location: { type: 'string' }, tags: { type: 'object[]', fields: KV_FIELDS } },
      access: inProject('write'),
      handler: async (i, ctx) => ({ experiment_id: await svc.createExperiment(ctx.project.projectId, i.name, i.artifact_location, kvList(i.tags)) }),
    }),
    defineRoute({
      method: 'GET', path: '/experiments/get', mlflow: true, tag: 'experiments', summary: 'Get an experiment by id (deleted ones too)',
      fields: EXPERIMENT_ID, access: read,
      handler: async (i) => ({ experiment: experimentToWire(await svc.getExperiment(i.experiment_id)) }),
    }),
    defineRoute({
      method: 'GET', path: '/experiments/get-by-name', mlflow: true, tag: 'experiments', summary: 'Get an experiment by name',
      fields: { experiment_name: { type: 'string', required: true } },
      access: inProject('read'),
      handler: async (i, ctx) => ({ experiment: experimentToWire(await svc.getExperimentByName(ctx.project.projectId, i.experiment_name)) }),
    }),
    defineRoute({
      method: 'POST', path: '/experiments/search', mlflow: true, tag: 'experiments', summary: 'Search experiments',
      fields: SEARCH_FIELDS, access: inProject('read'), handler: search,
    }),
    defineRoute({
      method: 'GET', path: '/experiments/search', mlflow: true, tag: 'experiments', summary: 'Search experiments (query form)',
      fields: SEARCH_FIELDS, access: inProject('read'), handler: search,
    }),
    defineRoute({
      method: 'POST', path: '/experiments/update', mlflow: true, tag: 'experiments', summary: 'Rename an experiment',
      fields: { ...EXPERIMENT_ID, new_name: { type: 'string', required: true } }, access: write,
      handler: async (i) => (await svc.renameExperiment(i.experiment_id, i.new_name), {}),
    }),
    defineRoute({
      method: 'POST', path: '/experiments/delete', mlflow: true, tag: 'experiments', summary: 'Soft-delete an experiment and its runs',
      fields: EXPERIMENT_ID, access: onExperiments(svc, 'delete', idOf),
      handler: async (i) => (await svc.setExperimentDeleted(i.experiment_id, true), {}),
    }),
    defineRoute({
      method: 'POST', path: '/experiments/restore', mlflow: true, tag: 'experiments', summary: 'Restore a deleted experiment and its runs',
      fields: EXPERIMENT_ID, access: write,
      handler: async (i) => (await svc.setExperimentDeleted(i.experiment_id, false), {}),
    }),
    defineRoute({
      method: 'POST', path: '/experiments/set-experiment-tag', mlflow: true, tag: 'experiments', summary: 'Set an experiment tag',
      fields: { ...EXPERIMENT_ID, key: { type: 'string', required: true }, value: { type: 'string', required: true } }, access: write,
      handler: async (i) => (await svc.setExperimentTag(i.experiment_id, { key: i.key, value: i.value }), {}),
    }),
    defineRoute({
      method: 'POST', path: '/experiments/delete-experiment-tag', mlflow: true, tag: 'experiments', summary: 'Delete an experiment tag',
      fields: { ...EXPERIMENT_ID, key: { type: 'string', required: true } }, access: write,
      handler: async (i) => (await svc.deleteExperimentTag(i.experiment_id, i.key), {}),
    }),
  ];
}
