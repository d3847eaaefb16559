import { whyDenied, type Action } from '../access/index.js';
import { AppError } from '../errors/index.js';
import { defineRoute, type RouteAccess, type RouteContext, type RouteDef } from '../server/route.js';
import type { RegistryService } from '../registry/index.js';
import { trackedResources, type TrackingService } from '../tracking/index.js';
import type { DatasetService } from './datasets.service.js';
import { Lineage, lineageMermaid } from './lineage.js';
import { DATASET_FORMATS } from './profile.js';
import { ACCESS_LEVELS, type DatasetVersion } from './types.js';

type Input = Record<string, any>;
const BASE = '/api/capstan/datasets';

const onDataset = (action: Action): RouteAccess<Input> => ({
  action,
  resource: (i, ctx) => ({ kind: 'dataset', id: typeof i.name === 'string' ? i.name : undefined, projectId: ctx.project.projectId }),
});

export function datasetToWire(v: DatasetVersion, withProfile = true) {
  return {
    name: v.name, version: v.version, digest: v.digest, source: v.source, storage_root: v.storageRoot, format: v.format, size_bytes: v.sizeBytes,
    file_count: v.fileCount, row_count: v.rowCount, schema: v.schema, description: v.description, sensitive: v.sensitive, access: v.access,
    created_time: v.createdTime, created_by: v.createdBy, ...(withProfile ? { profile: v.profile, files: v.files } : {}),
  };
}

/** Dataset versions (upload, register, read, link to runs) and the lineage graph. */
export function datasetRoutes(svc: DatasetService, tracking: TrackingService, registry: RegistryService, lineage: Lineage): RouteDef[] {
  const pid = (ctx: RouteContext) => ctx.project.projectId;
  return [
    defineRoute({
      method: 'POST', path: `${BASE}/uploads`, tag: 'datasets', summary: 'Start a dataset upload; files then go to PUT .../uploads/<id>/files/<path>',
      fields: {}, access: onDataset('write'), handler: async () => ({ upload_id: svc.newUpload() }),
    }),
    defineRoute({
      method: 'PUT', path: `${BASE}/uploads/:upload_id/files/*`, tag: 'datasets', summary: 'Upload one file of a dataset (raw body, streamed; sha256 recorded)', rawBody: true,
      fields: {}, access: onDataset('write'),
      handler: async (i, ctx) => {
        const length = Number(ctx.request.headers['content-length']);
        await svc.upload(pid(ctx), i.upload_id, (ctx.request.params as Record<string, string>)['*'] ?? '', ctx.request.raw, Number.isSafeInteger(length) ? length : undefined);
        return {};
      },
    }),
    defineRoute({
      method: 'POST', path: `${BASE}/register`, tag: 'datasets', summary: 'Register the files at a source as a dataset version (idempotent by content)',
      fields: {
        name: { type: 'string', required: true }, source: { type: 'string', required: true, doc: 'upload:<id>, runs:/<run_id>/<path> or mlflow-artifacts:/<path>.' },
        description: { type: 'string' }, sensitive: { type: 'bool' }, access: { type: 'string', enum: ACCESS_LEVELS },
        format: { type: 'string', enum: DATASET_FORMATS }, header: { type: 'bool', doc: 'CSV/TSV: whether the first line names the columns (default true).' },
      },
      access: onDataset('write'),
      handler: async (i, ctx) => {
        // The server reads s3:// with its own credentials, which reach every project's artifacts: owners only.
        if (String(i.source).startsWith('s3://') && whyDenied(ctx.principal, 'admin', { kind: 'server', projectId: null }) !== null) {
          throw new AppError('PERMISSION_DENIED', 'Registering an s3:// source needs a server owner: the server reads it with its own credentials, which reach every project.');
        }
        const { version, created } = await svc.register(pid(ctx), { name: i.name, source: i.source, description: i.description, sensitive: i.sensitive, access: i.access, format: i.format, header: i.header, actor: ctx.principal.name });
        return { dataset_version: datasetToWire(version), created };
      },
    }),
    defineRoute({
      method: 'GET', path: `${BASE}/get`, tag: 'datasets', summary: 'A dataset version with its schema, profile and files (latest when no version)',
      fields: { name: { type: 'string', required: true }, version: { type: 'int' } }, access: onDataset('read'),
      handler: async (i, ctx) => ({ dataset_version: datasetToWire(await svc.get(pid(ctx), i.name, i.version)) }),
    }),
    defineRoute({
      method: 'GET', path: `${BASE}/file`, tag: 'datasets', summary: 'Download one file of a dataset version (streamed; its sha256 is checked as it is read)',
      fields: { name: { type: 'string', required: true }, version: { type: 'int', required: true }, path: { type: 'string', required: true, doc: 'The file, as listed by get.' } },
      access: onDataset('read'),
      handler: async (i, ctx) => {
        const body = await svc.openFile(pid(ctx), i.name, i.version, i.path);
        return ctx.reply.type('application/octet-stream').send(body);
      },
    }),
    defineRoute({
      method: 'GET', path: `${BASE}/list`, tag: 'datasets', summary: 'Dataset versions of the project, or of one name',
      fields: { name: { type: 'string' } }, access: onDataset('read'),
      handler: async (i, ctx) => ({ dataset_versions: (await svc.list(pid(ctx), i.name)).map((v) => datasetToWire(v, false)) }),
    }),
    defineRoute({
      method: 'POST', path: `${BASE}/link`, tag: 'datasets', summary: 'Record a dataset version as an input of a run (MLflow log-inputs)',
      fields: { run_id: { type: 'string', required: true }, name: { type: 'string', required: true }, version: { type: 'int', required: true }, context: { type: 'string', doc: 'e.g. training, evaluation.' } },
      // Writes the run's inputs and reads the dataset: both must be the caller's to use.
      access: { action: 'write', resource: async (i, ctx) => [...(await trackedResources(tracking, 'run', [i.run_id], ctx)), { kind: 'dataset', id: i.name, projectId: ctx.project.projectId }] },
      handler: async (i, ctx) => ({ dataset_version: datasetToWire(await svc.link(pid(ctx), i.run_id, i.name, i.version, i.context ?? ''), false) }),
    }),
    defineRoute({
      method: 'GET', path: '/api/capstan/lineage/model', tag: 'lineage', summary: 'Lineage of a model version: its run, parent pipeline runs and dataset versions',
      fields: { uri: { type: 'string', required: true, doc: 'models:/name/version, models:/name@alias or models:/name/stage.' }, format: { type: 'string', enum: ['json', 'mermaid'] } },
      access: { action: 'read', resource: (i: Input, ctx) => ({ kind: 'model', id: /^models:\/([^/@]+)/.exec(String(i.uri))?.[1], projectId: ctx.project.projectId }) },
      handler: async (i, ctx) => {
        const graph = await lineage.ofModel(pid(ctx), await registry.resolveModelUri(pid(ctx), i.uri));
        return i.format === 'mermaid' ? { mermaid: lineageMermaid(graph) } : { graph };
      },
    }),
    defineRoute({
      method: 'GET', path: '/api/capstan/lineage/dataset', tag: 'lineage', summary: 'Lineage of a dataset version: every run that read it and every model version they produced',
      fields: { name: { type: 'string', required: true }, version: { type: 'int', required: true }, format: { type: 'string', enum: ['json', 'mermaid'] } },
      access: onDataset('read'),
      handler: async (i, ctx) => {
        const graph = await lineage.ofDataset(pid(ctx), i.name, i.version);
        return i.format === 'mermaid' ? { mermaid: lineageMermaid(graph) } : { graph };
      },
    }),
  ];
}
