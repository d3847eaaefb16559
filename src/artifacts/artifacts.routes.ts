import { extname } from 'node:path';
import { invalidParam } from '../errors/index.js';
import { defineRoute, type RouteAccess, type RouteContext, type RouteDef } from '../server/route.js';
import { onRuns, runIdsOf, type TrackingService } from '../tracking/index.js';
import type { ArtifactFile, ArtifactService } from './artifacts.service.js';

const TEXT_TYPES = new Set(['.txt', '.log', '.json', '.yaml', '.yml', '.md', '.csv', '.py', '.html', '.xml', '.mlmodel', '']);
const BINARY_TYPES: Record<string, string> = { '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.gif': 'image/gif', '.svg': 'image/svg+xml', '.pdf': 'application/pdf' };

/** Text is served as text/plain (never rendered as HTML in a browser); known binaries by type. */
function contentTypeOf(path: string): string {
  const ext = extname(path).toLowerCase();
  if (BINARY_TYPES[ext]) return BINARY_TYPES[ext];
  return TEXT_TYPES.has(ext) || path.endsWith('MLmodel') ? 'text/plain; charset=utf-8' : 'application/octet-stream';
}

/** `bytes=a-b`, `bytes=a-`, `bytes=-n`; multi-range is not supported (answered with the whole body). */
function parseRange(header: string | undefined, size: number): { start: number; end: number } | undefined {
  const m = header ? /^bytes=(\d*)-(\d*)$/.exec(header.trim()) : null;
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  const start = m[1] === '' ? Math.max(0, size - Number(m[2])) : Number(m[1]);
  const end = m[1] === '' || m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start > end || start >= size) throw invalidParam(`Range '${header}' is outside the ${size}-byte artifact.`);
  return { start, end };
}

const filesToWire = (files: ArtifactFile[]) =>
  files.map((f) => (f.isDir ? { path: f.path, is_dir: true } : { path: f.path, is_dir: false, file_size: f.fileSize }));

/** `attachment` with an ASCII fallback name and the exact UTF-8 name (RFC 6266); raw non-ASCII is not allowed in a header. */
function contentDisposition(name: string): string {
  const fallback = name.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return fallback === name ? `attachment; filename="${name}"` : `attachment; filename="${fallback}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}

const pathOf = (ctx: RouteContext) => (ctx.request.params as Record<string, string>)['*'] ?? '';

async function download(svc: ArtifactService, ctx: RouteContext): Promise<unknown> {
  const path = pathOf(ctx);
  const info = await svc.head(path);
  const range = info ? parseRange(ctx.request.headers.range, info.sizeBytes) : undefined;
  const { info: found, body } = await svc.download(path, range);
  // Headers are gone by the time a corrupt object is detected; the transfer is cut short and logged.
  body.once('error', (err) => ctx.request.log.error({ err, path }, 'artifact download failed'));
  const name = path.split('/').pop() ?? 'artifact';
  ctx.reply
    .header('content-type', contentTypeOf(path))
    .header('content-disposition', contentDisposition(name))
    .header('accept-ranges', 'bytes')
    .header('x-content-sha256', found.sha256);
  if (range) {
    ctx.reply.code(206).header('content-range', `bytes ${range.start}-${range.end}/${found.sizeBytes}`).header('content-length', range.end - range.start + 1);
  } else {
    ctx.reply.header('content-length', found.sizeBytes);
  }
  return ctx.reply.send(body);
}

/**
 * Proxied artifact paths start with the experiment id (`<experiment>/<run>/artifacts/...`), so an
 * artifact belongs to that experiment's project. Any other path (the root listing, a path under
 * no experiment) is the server's: owners only.
 */
export function artifactAccess(
  tracking: TrackingService,
  action: 'read' | 'write' | 'delete',
  pathIn: (i: Record<string, any>, ctx: RouteContext) => string = (_i, ctx) => pathOf(ctx),
): RouteAccess<Record<string, any>> {
  return {
    action,
    resource: async (i, ctx) => {
      const path = pathIn(i, ctx);
      const experimentId = path.replace(/^\/+/, '').split('/')[0] ?? '';
      const projectId = (await tracking.projectsOf('experiment', [experimentId])).get(experimentId) ?? null;
      return { kind: 'artifact', id: path, projectId };
    },
  };
}

export function artifactRoutes(svc: ArtifactService, tracking: TrackingService): RouteDef[] {
  const routes: RouteDef[] = [];
  const access = (action: 'read' | 'write' | 'delete') => artifactAccess(tracking, action);
  for (const prefix of ['/api/2.0/mlflow-artifacts', '/ajax-api/2.0/mlflow-artifacts']) {
    routes.push(
      defineRoute({
        method: 'PUT', path: `${prefix}/artifacts/*`, tag: 'artifacts', summary: 'Upload one artifact file (raw body, streamed; sha256 recorded)', rawBody: true, access: access('write'),
        handler: async (_i, ctx) => {
          const length = Number(ctx.request.headers['content-length']);
          await svc.upload(pathOf(ctx), ctx.request.raw, Number.isSafeInteger(length) ? length : undefined);
          return {};
        },
      }),
      defineRoute({
        method: 'GET', path: `${prefix}/artifacts/*`, tag: 'artifacts', summary: 'Download an artifact file (Range supported; integrity verified)', access: access('read'),
        handler: async (_i, ctx) => download(svc, ctx),
      }),
      defineRoute({
        method: 'GET', path: `${prefix}/artifacts`, tag: 'artifacts', summary: 'List one directory level of the artifact store',
        fields: { path: { type: 'string', doc: 'Directory relative to the artifact root.' } }, access: artifactAccess(tracking, 'read', (i) => i.path ?? ''),
        handler: async (i) => {
          const files = await svc.list(i.path ?? '');
          return files.length ? { files: filesToWire(files) } : {};
        },
      }),
      defineRoute({
        method: 'DELETE', path: `${prefix}/artifacts/*`, tag: 'artifacts', summary: 'Delete an artifact file or directory (really deletes)', access: access('delete'),
        handler: async (_i, ctx) => (await svc.delete(pathOf(ctx)), {}),
      }),
    );
  }
  routes.push(
    defineRoute({
      method: 'GET', path: '/artifacts/list', mlflow: true, tag: 'artifacts', summary: "List a run's artifacts",
      fields: { run_id: { type: 'string' }, run_uuid: { type: 'string' }, path: { type: 'string' }, page_token: { type: 'string' } },
      access: onRuns(tracking, 'read', runIdsOf),
      handler: async (i) => {
        const run = await tracking.getRun(i.run_id ?? i.run_uuid ?? '');
        const files = await svc.listRun(run.info.artifactUri, i.path ?? '');
        return { root_uri: run.info.artifactUri, ...(files.length ? { files: filesToWire(files) } : {}) };
      },
    }),
  );
  return routes;
}
