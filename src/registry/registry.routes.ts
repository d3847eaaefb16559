import { whyDenied, type Action } from '../access/index.js';
import { defineRoute, type RouteAccess, type RouteContext, type RouteDef } from '../server/route.js';
import type { Fields } from '../server/fields.js';
import { compact, KV_FIELDS, kvList } from '../tracking/index.js';
import type { PromotionService, Promoter } from './promotion.js';
import type { RegistryService, SearchRequest } from './registry.service.js';
import { BUMPS, CARD_FIELDS, type Bump, type ModelCard } from './types.js';
import { modelVersionToWire, registeredModelToWire } from './wire.js';

type Input = Record<string, any>;

/** Models are named per project: the request's project is the resource, the model name its id. */
export const onModel = (action: Action): RouteAccess<Input> => ({
  action,
  resource: (i, ctx) => ({ kind: 'model', id: typeof i.name === 'string' ? i.name : undefined, projectId: ctx.project.projectId }),
});

const NAME: Fields = { name: { type: 'string', required: true, doc: 'Registered model name.' } };
const VERSION: Fields = { ...NAME, version: { type: 'string', required: true, doc: 'Version number, as a string.' } };
const OVERRIDE: Fields = { override_reason: { type: 'string', doc: 'Capstan: a project admin overrides failed promotion gates, saying why (recorded).' } };
export const CARD_SPEC: Fields = Object.fromEntries(CARD_FIELDS.map((f) => [f, { type: 'string' }]));
const SEARCH: Fields = {
  filter: { type: 'string', doc: "MLflow filter, e.g. \"name LIKE 'fraud%' AND tags.team = 'risk'\"." },
  max_results: { type: 'int' },
  order_by: { type: 'string[]' },
  page_token: { type: 'string' },
};

const searchOf = (i: Input): SearchRequest => ({ filter: i.filter, maxResults: i.max_results, orderBy: i.order_by, pageToken: i.page_token });

export function promoterOf(i: Input, ctx: RouteContext): Promoter {
  const project = { kind: 'project' as const, id: ctx.project.name, projectId: ctx.project.projectId };
  return { actor: ctx.principal.name, mayOverride: whyDenied(ctx.principal, 'admin', project) === null, overrideReason: i.override_reason };
}

/** The MLflow model-registry REST API (2.x), with Capstan's extra fields where MLflow has none. */
export function registryRoutes(svc: RegistryService, promotion: PromotionService): RouteDef[] {
  const pid = (ctx: RouteContext) => ctx.project.projectId;
  const modelView = async (projectId: number, name: string) => {
    const model = await svc.model(projectId, name);
    return registeredModelToWire(model, (await svc.latestVersionsOf([model])).get(model.modelId));
  };
  const searchModels = async (i: Input, ctx: RouteContext) => {
    const page = await svc.searchModels(pid(ctx), searchOf(i));
    const latest = await svc.latestVersionsOf(page.items);
    return compact({ registered_models: page.items.map((m) => registeredModelToWire(m, latest.get(m.modelId))), next_page_token: page.nextPageToken });
  };
  const searchVersions = async (i: Input, ctx: RouteContext) => {
    const page = await svc.searchVersions(pid(ctx), searchOf(i));
    return compact({ model_versions: page.items.map(modelVersionToWire), next_page_token: page.nextPageToken });
  };
  const latest = async (i: Input, ctx: RouteContext) => ({ model_versions: (await svc.latestVersions(pid(ctx), i.name, i.stages)).map(modelVersionToWire) });
  const mlflow = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, summary: string, fields: Fields, action: Action, handler: (i: Input, ctx: RouteContext) => Promise<unknown>) =>
    defineRoute({ method, path, mlflow: true, tag: 'registry', summary, fields, access: onModel(action), handler });
  return [
    mlflow('POST', '/registered-models/create', 'Create a registered model', { ...NAME, tags: { type: 'object[]', fields: KV_FIELDS }, description: { type: 'string' } }, 'write',
      async (i, ctx) => ({ registered_model: await modelView(pid(ctx), (await svc.createModel(pid(ctx), i.name, i.description ?? '', kvList(i.tags), ctx.principal.name)).name) })),
    mlflow('GET', '/registered-models/get', 'Get a registered model with its latest version per stage', NAME, 'read',
      async (i, ctx) => ({ registered_model: await modelView(pid(ctx), i.name) })),
    mlflow('POST', '/registered-models/rename', 'Rename a registered model (versions and aliases follow)', { ...NAME, new_name: { type: 'string', required: true } }, 'write',
      async (i, ctx) => ({ registered_model: await modelView(pid(ctx), (await svc.renameModel(pid(ctx), i.name, i.new_name, ctx.principal.name)).name) })),
    mlflow('PATCH', '/registered-models/update', "Update a registered model's description", { ...NAME, description: { type: 'string' } }, 'write',
      async (i, ctx) => ({ registered_model: await modelView(pid(ctx), (await svc.updateModel(pid(ctx), i.name, i.description ?? '')).name) })),
    mlflow('DELETE', '/registered-models/delete', 'Delete a registered model with its versions, tags and aliases', NAME, 'delete',
      async (i, ctx) => (await svc.deleteModel(pid(ctx), i.name, ctx.principal.name), {})),
    mlflow('GET', '/registered-models/search', 'Search registered models', SEARCH, 'read', searchModels),
    mlflow('POST', '/registered-models/search', 'Search registered models (body form)', SEARCH, 'read', searchModels),
    mlflow('POST', '/registered-models/get-latest-versions', 'Latest version per stage', { ...NAME, stages: { type: 'string[]' } }, 'read', latest),
    mlflow('GET', '/registered-models/get-latest-versions', 'Latest version per stage (query form)', { ...NAME, stages: { type: 'string[]' } }, 'read', latest),
    mlflow('POST', '/registered-models/set-tag', 'Set a registered model tag', { ...NAME, key: { type: 'string', required: true }, value: { type: 'string', required: true } }, 'write',
      async (i, ctx) => (await svc.setModelTag(pid(ctx), i.name, { key: i.key, value: i.value }), {})),
    mlflow('DELETE', '/registered-models/delete-tag', 'Delete a registered model tag', { ...NAME, key: { type: 'string', required: true } }, 'write',
      async (i, ctx) => (await svc.deleteModelTag(pid(ctx), i.name, i.key), {})),
    mlflow('POST', '/registered-models/alias', 'Point an alias at a version (runs the gates protecting it)', { ...VERSION, alias: { type: 'string', required: true }, ...OVERRIDE }, 'deploy',
      async (i, ctx) => (await promotion.setAlias(pid(ctx), i.name, i.alias, i.version, promoterOf(i, ctx)), {})),
    mlflow('DELETE', '/registered-models/alias', 'Delete an alias (a missing alias is not an error)', { ...NAME, alias: { type: 'string', required: true } }, 'deploy',
      async (i, ctx) => (await promotion.deleteAlias(pid(ctx), i.name, i.alias, ctx.principal.name), {})),
    mlflow('GET', '/registered-models/alias', 'Get the version an alias points at', { ...NAME, alias: { type: 'string', required: true } }, 'read',
      async (i, ctx) => ({ model_version: modelVersionToWire(await svc.versionByAlias(pid(ctx), i.name, i.alias)) })),
    mlflow('POST', '/model-versions/create', 'Register the files at a source as a new version (manifest, signature, signing)', {
      ...NAME,
      source: { type: 'string', required: true, doc: 'runs:/<run_id>/<path>, mlflow-artifacts:/<path> or models:/<name>/<version>.' },
      run_id: { type: 'string' }, run_link: { type: 'string' }, description: { type: 'string' }, tags: { type: 'object[]', fields: KV_FIELDS },
      model_id: { type: 'string', doc: 'MLflow 3.x logged model id.' },
      bump: { type: 'string', enum: BUMPS, doc: 'Capstan: which part of the semantic version to raise (default minor).' },
      semver: { type: 'string', doc: 'Capstan: an explicit semantic version, above every earlier one.' },
      code_version: { type: 'string', doc: "Capstan: the code's git commit (default: the run's mlflow.source.git.commit tag)." },
      card: { type: 'object', fields: CARD_SPEC, doc: 'Capstan: the model card.' },
    }, 'write', async (i, ctx) => ({
      model_version: modelVersionToWire(await svc.createVersion(pid(ctx), {
        name: i.name, source: i.source, runId: i.run_id || undefined, runLink: i.run_link, description: i.description, tags: kvList(i.tags),
        bump: i.bump as Bump | undefined, semver: i.semver, card: i.card as Partial<ModelCard> | undefined, codeVersion: i.code_version,
        loggedModelId: i.model_id, actor: ctx.principal.name,
      })),
    })),
    mlflow('GET', '/model-versions/get', 'Get a model version', VERSION, 'read',
      async (i, ctx) => ({ model_version: modelVersionToWire(await svc.version(pid(ctx), i.name, i.version)) })),
    mlflow('PATCH', '/model-versions/update', "Update a version's description", { ...VERSION, description: { type: 'string' } }, 'write',
      async (i, ctx) => ({ model_version: modelVersionToWire(await svc.updateVersion(pid(ctx), i.name, i.version, i.description ?? '')) })),
    mlflow('DELETE', '/model-versions/delete', 'Delete a model version (its number is never reused)', VERSION, 'delete',
      async (i, ctx) => (await svc.deleteVersion(pid(ctx), i.name, i.version, ctx.principal.name), {})),
    mlflow('GET', '/model-versions/search', 'Search model versions', SEARCH, 'read', searchVersions),
    mlflow('POST', '/model-versions/search', 'Search model versions (body form)', SEARCH, 'read', searchVersions),
    mlflow('GET', '/model-versions/get-download-uri', "Where a version's files are stored", VERSION, 'read',
      async (i, ctx) => ({ artifact_uri: `mlflow-artifacts:/${(await svc.version(pid(ctx), i.name, i.version)).storageRoot}` })),
    mlflow('POST', '/model-versions/transition-stage', 'Move a version to a stage (runs the gates protecting it)', {
      ...VERSION, stage: { type: 'string', required: true }, archive_existing_versions: { type: 'bool' }, ...OVERRIDE,
    }, 'deploy', async (i, ctx) => ({
      model_version: modelVersionToWire(await promotion.transitionStage(pid(ctx), i.name, i.version, i.stage, i.archive_existing_versions === true, promoterOf(i, ctx))),
    })),
    mlflow('POST', '/model-versions/set-tag', 'Set a model version tag', { ...VERSION, key: { type: 'string', required: true }, value: { type: 'string', required: true } }, 'write',
      async (i, ctx) => (await svc.setVersionTag(pid(ctx), i.name, i.version, { key: i.key, value: i.value }), {})),
    mlflow('DELETE', '/model-versions/delete-tag', 'Delete a model version tag', { ...VERSION, key: { type: 'string', required: true } }, 'write',
      async (i, ctx) => (await svc.deleteVersionTag(pid(ctx), i.name, i.version, i.key), {})),
  ];
}
