import { context, trace } from '@opentelemetry/api';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { authorize, type Principal } from '../access/index.js';
import { parseObject, parseQuery } from './fields.js';
import type { RouteDef } from './route.js';

export const MLFLOW_PREFIXES = ['/api/2.0/mlflow', '/ajax-api/2.0/mlflow'] as const;

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal;
  }
  interface FastifyContextConfig {
    /** Set only by registerRoutes; a route without it is refused at start-up. */
    capstanRoute?: RouteDef;
  }
}

export function urlsOf(route: RouteDef): string[] {
  return route.mlflow ? MLFLOW_PREFIXES.map((p) => p + route.path) : [route.path];
}

function inputOf(route: RouteDef, request: FastifyRequest): Record<string, unknown> {
  if (!route.fields) return {};
  if (route.method === 'GET') return parseQuery(route.fields, request.query as Record<string, unknown>);
  const body = request.body;
  // The MLflow Python client sends DELETE bodies as JSON; other clients put DELETE fields in the query.
  if (route.method === 'DELETE' && (body === undefined || body === null)) return parseQuery(route.fields, request.query as Record<string, unknown>);
  return parseObject('', route.fields, body ?? {});
}

/**
 * The only way routes reach the server: parse → authorize → handler. Fastify's onRoute hook refuses
 * any route registered another way, so no route can skip authorize().
 */
export function registerRoutes(app: FastifyInstance, routes: readonly RouteDef[]): void {
  for (const route of routes) {
    for (const url of urlsOf(route)) {
      app.route({
        method: route.method,
        url,
        config: { capstanRoute: route },
        handler: async (request: FastifyRequest, reply: FastifyReply) => {
          const input = inputOf(route, request);
          if ('action' in route.access) authorize(request.principal, route.access.action, route.access.resource(input));
          const ctx = { principal: request.principal, request, reply };
          // With tracing on, the request span is the parent of every store span the handler makes.
          const result = await (request.span
            ? context.with(trace.setSpan(context.active(), request.span), () => route.handler(input, ctx))
            : route.handler(input, ctx));
          return reply.sent ? reply : result;
        },
      });
    }
  }
}

export function guardRouteRegistration(app: FastifyInstance): void {
  app.decorateRequest('principal', null as unknown as Principal);
  app.addHook('onRoute', (options) => {
    if (options.method === 'HEAD' || (Array.isArray(options.method) && options.method.every((m) => m === 'HEAD'))) return;
    if (!options.config?.capstanRoute) {
      throw new Error(`route ${String(options.method)} ${options.url} was registered without a RouteDef; use registerRoutes so it is authorized`);
    }
  });
}
