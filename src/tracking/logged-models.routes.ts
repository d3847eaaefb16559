import type { Action } from '../access/index.js';
import { defineRoute, type RouteAccess, type RouteDef } from '../server/route.js';
import type { Fields } from '../server/fields.js';
import { KV_FIELDS, kvList } from './experiments.routes.js';
import { LOGGED_MODEL_STATUSES, type LoggedModel, type LoggedModels, type LoggedModelStatus } from './logged-models.js';
import { onExperiments, onRuns, trackedResources } from './resources.js';
import type { TrackingService } from './tracking.service.js';
import { compact } from './wire.js';

type Input = Record<string, any>;

/** MLflow 3.x LoggedModel: info (attributes, tags) and data (params; metrics are not linked yet). */
export function loggedModelToWire(m: LoggedModel) {
  return {
    info: compact({
      model_id: m.modelId, experiment_id: m.experimentId, name: m.name, creation_timestamp_ms: m.creationTime, last_updated_timestamp_ms: m.lastUpdateTime,
      artifact_uri: m.artifactLocation, status: m.status, model_type: m.modelType || undefined, source_run_id: m.sourceRunId || undefined,
      status_message: m.statusMessage || undefined, tags: m.tags.length ? m.tags : undefined,
    }),
    data: compact({ params: m.params.length ? m.params : undefined }),
  };
}

const SEARCH: Fields = {
  experiment_ids: { type: 'string[]', required: true }, filter: { type: 'string' }, max_results: { type: 'int' }, page_token: { type: 'string' },
  order_by: { type: 'object[]', fields: { field_name: { type: 'string', required: true }, ascending: { type: 'bool' } } },
};

/** Lists a logged model's files: the proxy listing, rooted at the model's artifact location. */
export type ListModelArtifacts = (artifactUri: string, path: string) => Promise<{ path: string; isDir: boolean; fileSize?: number }[]>;

export function loggedModelRoutes(svc: LoggedModels, tracking: TrackingService, listArtifacts: ListModelArtifacts): RouteDef[] {
  // A logged model belongs to its experiment's project; an unknown id is checked against the request's project.
  const onModel = (action: Action): RouteAccess<Input> => ({
    action,
    resource: async (i, ctx) => {
      const experimentId = await svc.experimentOf(String(i.model_id));
      return experimentId === undefined ? { kind: 'experiment', projectId: ctx.project.projectId } : trackedResources(tracking, 'experiment', [experimentId], ctx);
    },
  });
  const search = async (i: Input) => {
    const page = await svc.search({
      experimentIds: i.experiment_ids, filter: i.filter, maxResults: i.max_results, pageToken: i.page_token,
      orderBy: ((i.order_by ?? []) as { field_name: string; ascending?: boolean }[]).map((o) => `${o.field_name} ${o.ascending === false ? 'DESC' : 'ASC'}`),
    });
    return compact({ models: page.items.map(loggedModelToWire), next_page_token: page.nextPageToken });
  };
  const route = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, summary: string, fields: Fields, access: RouteAccess<Input>, handler: (i: Input) => Promise<unknown>) =>
    defineRoute({ method, path, mlflow: true, tag: 'logged-models', summary, fields, access, handler });
  return [
    route('POST', '/logged-models', 'Create a logged model (MLflow 3.x log_model)', {
      experiment_id: { type: 'string', required: true }, name: { type: 'string' }, model_type: { type: 'string' }, source_run_id: { type: 'string' },
      params: { type: 'object[]', fields: KV_FIELDS }, tags: { type: 'object[]', fields: KV_FIELDS },
    }, onExperiments(tracking, 'write', (i) => [i.experiment_id]), async (i) => ({
      model: loggedModelToWire(await svc.create({ experimentId: i.experiment_id, name: i.name, modelType: i.model_type, sourceRunId: i.source_run_id, params: kvList(i.params), tags: kvList(i.tags) })),
    })),
    route('GET', '/logged-models/:model_id', 'Get a logged model', {}, onModel('read'), async (i) => ({ model: loggedModelToWire(await svc.get(i.model_id)) })),
    route('PATCH', '/logged-models/:model_id', 'Finalize a logged model (READY or UPLOAD_FAILED)', { status: { type: 'string', required: true, enum: LOGGED_MODEL_STATUSES } },
      onModel('write'), async (i) => ({ model: loggedModelToWire(await svc.finalize(i.model_id, i.status as LoggedModelStatus)) })),
    route('DELETE', '/logged-models/:model_id', 'Delete a logged model', {}, onModel('delete'), async (i) => (await svc.delete(i.model_id), {})),
    route('POST', '/logged-models/search', 'Search logged models of experiments', SEARCH, onExperiments(tracking, 'read', (i) => i.experiment_ids ?? []), search),
    route('PATCH', '/logged-models/:model_id/tags', 'Set tags on a logged model', { tags: { type: 'object[]', fields: KV_FIELDS } }, onModel('write'),
      async (i) => (await svc.setTags(i.model_id, kvList(i.tags)), {})),
    route('DELETE', '/logged-models/:model_id/tags/:tag_key', 'Delete a tag of a logged model', {}, onModel('write'), async (i) => (await svc.deleteTag(i.model_id, i.tag_key), {})),
    route('POST', '/logged-models/:model_id/params', 'Log params of a logged model', { params: { type: 'object[]', fields: KV_FIELDS } }, onModel('write'),
      async (i) => (await svc.logParams(i.model_id, kvList(i.params)), {})),
    route('GET', '/logged-models/:model_id/artifacts/directories', "List a logged model's files", { artifact_directory_path: { type: 'string' } }, onModel('read'), async (i) => {
      const model = await svc.get(i.model_id);
      const files = await listArtifacts(model.artifactLocation, i.artifact_directory_path ?? '');
      return compact({ root_uri: model.artifactLocation, files: files.length ? files.map((f) => compact({ path: f.path, is_dir: f.isDir, file_size: f.fileSize })) : undefined });
    }),
    route('POST', '/runs/outputs', 'Link logged models to the run that produced them', {
      run_id: { type: 'string', required: true }, models: { type: 'object[]', fields: { model_id: { type: 'string', required: true }, step: { type: 'int' } } },
    }, onRuns(tracking, 'write', (i) => [i.run_id]), async (i) => (await svc.linkOutputs(i.run_id, ((i.models ?? []) as { model_id: string; step?: number }[]).map((m) => ({ modelId: m.model_id, step: m.step ?? 0 }))), {})),
  ];
}
