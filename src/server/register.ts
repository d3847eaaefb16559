import { context, trace } from '@opentelemetry/api';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { authorize, runAudited, type AuditLog, type Principal, type ProjectRef, type Resource } from '../access/index.js';
import { secretValues } from '../observability/secret-values.js';
import { parseObject, parseQuery, summarizeInput } from './fields.js';
import type { RouteContext, RouteDef } from './route.js';

export const MLFLOW_PREFIXES = ['/api/2.0/mlflow', '/ajax-api/2.0/mlflow'] as const;

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal;
    project: ProjectRef;
    /** The username of Basic credentials, kept for the audit event when they are refused. */
    claimedName: string | undefined;
  }
  interface FastifyContextConfig {
    /** Set only by registerRoutes; a route without it is refused at start-up. */
    capstanRoute?: RouteDef;
  }
}

export function urlsOf(route: RouteDef): string[] {
  return route.mlflow ? MLFLOW_PREFIXES.map((p) => p + route.path) : [route.path];
}

function fieldsOf(route: RouteDef, request: FastifyRequest): Record<string, unknown> {
  if (!route.fields) return {};
  if (route.method === 'GET') return parseQuery(route.fields, request.query as Record<string, unknown>);
  const body = request.body;
  // The MLflow Python client sends DELETE bodies as JSON; other clients put DELETE fields in the query.
  if (route.method === 'DELETE' && (body === undefined || body === null)) return parseQuery(route.fields, request.query as Record<string, unknown>);
  return parseObject('', route.fields, body ?? {});
}

/** Declared fields plus named path parameters (`:name`; the `*` tail stays in request.params). */
function inputOf(route: RouteDef, request: FastifyRequest): Record<string, unknown> {
  const input = fieldsOf(route, request);
  for (const [name, value] of Object.entries(request.params as Record<string, string>)) if (name !== '*') input[name] = value;
  return input;
}

const describe = (resources: Resource[]) => resources.map((r) => (r.id ? `${r.kind}:${r.id}` : r.kind)).join(',');

/** Only requests that can change state leave an audit event (reads are in the access log). */
const changesState = (route: RouteDef) => route.method !== 'GET' && !('action' in route.access && route.access.action === 'read');

export interface RouteRuntime {
  audit: AuditLog;
  /** Name of a project id, for audit events. */
  projectName(projectId: number): Promise<string>;
}

async function projectOf(resources: Resource[], request: FastifyRequest, runtime: RouteRuntime): Promise<string | null> {
  const id = resources.find((r) => r.projectId !== null)?.projectId;
  if (id === undefined) return resources.length ? null : request.project.name;
  return id === request.project.projectId ? request.project.name : runtime.projectName(id!);
}

async function handle(route: RouteDef, request: FastifyRequest, reply: FastifyReply, runtime: RouteRuntime): Promise<unknown> {
  const input = inputOf(route, request);
  const ctx: RouteContext = { principal: request.principal, project: request.project, request, reply };
  let resources: Resource[] = [];
  if ('action' in route.access) {
    const declared = await route.access.resource(input, ctx);
    resources = Array.isArray(declared) ? declared : [declared];
    authorize(request.principal, route.access.action, resources);
  }
  // With tracing on, the request span is the parent of every store span the handler makes.
  const run = () => (request.span ? context.with(trace.setSpan(context.active(), request.span), () => route.handler(input, ctx)) : route.handler(input, ctx));
  if (!changesState(route)) return run();
  const record = {
    actor: request.principal.name,
    token_id: request.principal.tokenId,
    action: `${route.method} ${request.routeOptions.url}`,
    resource: describe(resources),
    project: await projectOf(resources, request, runtime),
    outcome: 'ok' as const,
    summary: secretValues.scrub(JSON.stringify({ input: summarizeInput(route.fields, input) })),
    request_id: request.id,
    client_ip: request.ip,
  };
  return runAudited(runtime.audit, record, run);
}

/**
 * The only way routes reach the server: parse → authorize → handler. Fastify's onRoute hook refuses
 * any route registered another way, so no route can skip authorize().
 */
export function registerRoutes(app: FastifyInstance, routes: readonly RouteDef[], runtime: RouteRuntime): void {
  for (const route of routes) {
    for (const url of urlsOf(route)) {
      app.route({
        method: route.method,
        url,
        config: { capstanRoute: route },
        handler: async (request: FastifyRequest, reply: FastifyReply) => {
          const result = await handle(route, request, reply, runtime);
          return reply.sent ? reply : result;
        },
      });
    }
  }
}

export function guardRouteRegistration(app: FastifyInstance): void {
  app.decorateRequest('principal', null as unknown as Principal);
  app.decorateRequest('project', null as unknown as ProjectRef);
  app.decorateRequest('claimedName', undefined);
  app.addHook('onRoute', (options) => {
    if (options.method === 'HEAD' || (Array.isArray(options.method) && options.method.every((m) => m === 'HEAD'))) return;
    if (!options.config?.capstanRoute) {
      throw new Error(`route ${String(options.method)} ${options.url} was registered without a RouteDef; use registerRoutes so it is authorized`);
    }
  });
}
