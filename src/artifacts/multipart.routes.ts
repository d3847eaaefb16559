import { posix } from 'node:path';
import { defineRoute, type RouteContext, type RouteDef } from '../server/route.js';
import type { MultipartUploads } from './multipart.js';

const pathOf = (ctx: RouteContext) => (ctx.request.params as Record<string, string>)['*'] ?? '';
/** As MLflow: the file lands at `<url path>/<basename of the client's local file>`. */
const targetOf = (ctx: RouteContext, localFile: string) => posix.join(pathOf(ctx), posix.basename(localFile.replace(/\\/g, '/')));
const write = { action: 'write' as const, resource: () => ({ kind: 'artifact' as const }) };

export function multipartRoutes(uploads: MultipartUploads): RouteDef[] {
  const routes: RouteDef[] = [];
  for (const prefix of ['/api/2.0/mlflow-artifacts', '/ajax-api/2.0/mlflow-artifacts']) {
    routes.push(
      defineRoute({
        method: 'POST', path: `${prefix}/mpu/create/*`, tag: 'artifacts', summary: 'Start a multipart upload; returns one upload URL per part',
        fields: { path: { type: 'string', required: true, doc: "The client's local file; its base name is the file's name." }, num_parts: { type: 'int', required: true } },
        access: write,
        handler: async (i, ctx) => {
          const uploadId = await uploads.create(targetOf(ctx, i.path), i.num_parts);
          const origin = `${ctx.request.protocol}://${ctx.request.host}`;
          const credentials = Array.from({ length: i.num_parts }, (_, k) => ({
            url: `${origin}${prefix}/mpu/upload/${uploadId}/${k + 1}`,
            part_number: k + 1,
            headers: {},
          }));
          return { upload_id: uploadId, credentials };
        },
      }),
      defineRoute({
        method: 'PUT', path: `${prefix}/mpu/upload/:upload_id/:part_number`, tag: 'artifacts', summary: 'Upload one part (raw body); the ETag header is its sha256', rawBody: true,
        access: write,
        handler: async (_i, ctx) => {
          const params = ctx.request.params as Record<string, string>;
          const etag = await uploads.putPart(params.upload_id!, Number(params.part_number), ctx.request.raw);
          ctx.reply.header('etag', `"${etag}"`);
          return {};
        },
      }),
      defineRoute({
        method: 'POST', path: `${prefix}/mpu/complete/*`, tag: 'artifacts', summary: 'Join the uploaded parts into the artifact',
        fields: {
          path: { type: 'string', required: true },
          upload_id: { type: 'string', required: true },
          parts: { type: 'object[]', required: true, fields: { part_number: { type: 'int', required: true }, etag: { type: 'string' }, url: { type: 'string' } } },
        },
        access: write,
        handler: async (i, ctx) => {
          const parts = (i.parts as { part_number: number; etag?: string }[]).map((p) => ({ partNumber: p.part_number, etag: p.etag ?? '' }));
          await uploads.complete(targetOf(ctx, i.path), i.upload_id, parts);
          return {};
        },
      }),
      defineRoute({
        method: 'POST', path: `${prefix}/mpu/abort/*`, tag: 'artifacts', summary: 'Abandon a multipart upload and delete its parts',
        fields: { path: { type: 'string', required: true }, upload_id: { type: 'string', required: true } },
        access: write,
        handler: async (i) => (await uploads.abort(i.upload_id), {}),
      }),
    );
  }
  return routes;
}
