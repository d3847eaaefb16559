import { AppError } from '../errors/index.js';
import type { ServerMetrics } from '../observability/metrics.js';
import { DOCS_PAGE } from './docs-page.js';
import { buildOpenApi } from './openapi.js';
import { defineRoute, type RouteDef } from './route.js';

export interface Readiness {
  /** Throws when a dependency is down; resolves when the process can serve. */
  check(): Promise<void>;
  isDraining(): boolean;
}

const PROBE = 'Probes and scrapers run without credentials; these routes reveal no user data.';

/** Health, readiness, metrics, version and API description. `allRoutes` is read when the document is asked for. */
export function systemRoutes(deps: { version: string; metrics: ServerMetrics; readiness: Readiness; allRoutes: () => readonly RouteDef[] }): RouteDef[] {
  let openApi: Record<string, unknown> | null = null;
  return [
    defineRoute({
      method: 'GET', path: '/health', tag: 'operations', summary: "Liveness in MLflow's convention: the text OK", access: { public: PROBE },
      handler: async (_i, { reply }) => reply.type('text/plain; charset=utf-8').send('OK'),
    }),
    defineRoute({
      method: 'GET', path: '/healthz', tag: 'operations', summary: 'Liveness probe: the process is up', access: { public: PROBE },
      handler: async () => ({ status: 'ok' }),
    }),
    defineRoute({
      method: 'GET', path: '/readyz', tag: 'operations', summary: 'Readiness probe: database reachable and not draining (503 otherwise)', access: { public: PROBE },
      handler: async () => {
        if (deps.readiness.isDraining()) throw new AppError('TEMPORARILY_UNAVAILABLE', 'Shutting down; not accepting new work.');
        try {
          await deps.readiness.check();
        } catch (cause) {
          throw new AppError('STORE_UNAVAILABLE', 'Metadata store is not reachable.', { cause });
        }
        return { status: 'ready' };
      },
    }),
    defineRoute({
      method: 'GET', path: '/version', tag: 'operations', summary: 'Server version text', access: { public: PROBE },
      handler: async (_i, { reply }) => reply.type('text/plain; charset=utf-8').send(deps.version),
    }),
    defineRoute({
      method: 'GET', path: '/metrics', tag: 'operations', summary: 'Prometheus metrics (text exposition format)', access: { public: PROBE },
      handler: async (_i, { reply }) => reply.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics()),
    }),
    defineRoute({
      method: 'GET', path: '/api/3.0/mlflow/server-info', tag: 'operations', summary: 'Server capabilities, probed by MLflow 3.x clients', access: { public: PROBE },
      handler: async () => ({ store_type: 'SqlStore', workspaces_enabled: false }),
    }),
    defineRoute({
      method: 'GET', path: '/api/openapi.json', tag: 'operations', summary: 'This OpenAPI 3.1 document', access: { public: PROBE },
      handler: async () => (openApi ??= buildOpenApi(deps.allRoutes(), deps.version)),
    }),
    defineRoute({
      method: 'GET', path: '/docs', tag: 'operations', summary: 'Browsable API reference', access: { public: PROBE },
      handler: async (_i, { reply }) => reply.type('text/html; charset=utf-8').send(DOCS_PAGE),
    }),
  ];
}
