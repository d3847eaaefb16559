import { posix } from 'node:path';
import type { UrlSigner } from '../access/index.js';
import { defineRoute, type RouteContext, type RouteDef } from '../server/route.js';
import type { TrackingService } from '../tracking/index.js';
import { artifactAccess } from './artifacts.routes.js';
import type { MultipartUploads } from './multipart.js';

/** How long the part URLs of one upload stay valid. */
const PART_URL_TTL_MS = 24 * 3600 * 1000;

const pathOf = (ctx: RouteContext) => (ctx.request.params as Record<string, string>)['*'] ?? '';
/** As MLflow: the file lands at `<url path>/<basename of the client's local file>`. */
const targetOf = (ctx: RouteContext, localFile: string) => posix.join(pathOf(ctx), posix.basename(localFile.replace(/\\/g, '/')));

export function multipartRoutes(uploads: MultipartUploads, tracking: TrackingService, signer: UrlSigner): RouteDef[] {
  const routes: RouteDef[] = [];
  const write = artifactAccess(tracking, 'write');
  for (const prefix of ['/api/2.0/mlflow-artifacts', '/ajax-api/2.0/mlflow-artifacts']) {
    routes.push(
      defineRoute({
        method: 'POST', path: `${prefix}/mpu/create/*`, tag: 'artifacts', summary: 'Start a multipart upload; returns one upload URL per part',
        fields: { path: { type: 'string', required: true, doc: "The client's local file; its base name is the file's name." }, num_parts: { type: 'int', required: true } },
        access: write,
        handler: async (i, ctx) => {
          const uploadId = await uploads.create(targetOf(ctx, i.path), i.num_parts);
          const origin = `${ctx.request.protocol}://${ctx.request.host}`;
          const credentials = Array.from({ length: i.num_parts }, (_, k) => {
            const { expires, signature } = signer.sign(`${uploadId}/${k + 1}`, PART_URL_TTL_MS);
            return { url: `${origin}${prefix}/mpu/upload/${uploadId}/${k + 1}?expires=${expires}&signature=${signature}`, part_number: k + 1, headers: {} };
          });
          return { upload_id: uploadId, credentials };
        },
      }),
      defineRoute({
        method: 'PUT', path: `${prefix}/mpu/upload/:upload_id/:part_number`, tag: 'artifacts', summary: 'Upload one part (raw body) to the signed URL create handed out; the ETag header is its sha256', rawBody: true,
        access: { public: 'the URL carries an HMAC signature and expiry from mpu/create, which checked write access; MLflow clients PUT parts without credentials' },
        handler: async (_i, ctx) => {
          const params = ctx.request.params as Record<string, string>;
          const query = ctx.request.query as Record<string, unknown>;
          signer.verify(`${params.upload_id}/${params.part_number}`, query.expires, query.signature);
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
