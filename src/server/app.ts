import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Tracer, Span } from '@opentelemetry/api';
import { LOCAL_ADMIN } from '../access/index.js';
import { AppError } from '../errors/index.js';
import type { ServerMetrics } from '../observability/metrics.js';
import { sendClientError, sendError } from './errors.js';
import { guardRouteRegistration, registerRoutes } from './register.js';
import { requestIdOf } from './request-id.js';
import type { RouteDef } from './route.js';

export interface AppOptions {
  logger: Logger;
  metrics: ServerMetrics;
  tracer: Tracer | null;
  maxBodyBytes: number;
  /** Take the client's scheme and host from X-Forwarded-* headers. */
  trustProxy: boolean;
  routes: readonly RouteDef[];
}

declare module 'fastify' {
  interface FastifyRequest {
    startedAt: bigint;
    span: Span | null;
  }
}

/** MLflow's older clients double-encode JSON bodies as a JSON string; decode twice then. */
function parseJsonBody(text: string): unknown {
  if (text.trim() === '') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
    if (typeof value === 'string' && /^\s*[{[]/.test(value)) value = JSON.parse(value);
  } catch (err) {
    throw new AppError('BAD_REQUEST', `Malformed JSON body: ${(err as Error).message}`);
  }
  return value;
}

function installHooks(app: FastifyInstance, opts: AppOptions): void {
  app.decorateRequest('startedAt', 0n);
  app.decorateRequest('span', null);
  app.addHook('onRequest', async (request, reply) => {
    request.startedAt = process.hrtime.bigint();
    request.principal = LOCAL_ADMIN;
    reply.header('x-request-id', request.id);
    if (opts.tracer) {
      request.span = opts.tracer.startSpan(`HTTP ${request.method} ${request.routeOptions.url ?? 'unmatched'}`, {
        attributes: { 'http.method': request.method, 'http.route': request.routeOptions.url ?? '', 'capstan.request_id': request.id },
      });
    }
  });
  app.addHook('onResponse', async (request, reply) => {
    const seconds = Number(process.hrtime.bigint() - request.startedAt) / 1e9;
    const route = request.routeOptions.url ?? 'unmatched';
    opts.metrics.observeRequest(request.method, route, reply.statusCode, seconds);
    request.span?.setAttribute('http.status_code', reply.statusCode);
    request.span?.end();
    request.log.info({ method: request.method, route, status: reply.statusCode, duration_ms: Math.round(seconds * 1e6) / 1e3 }, 'request');
  });
}

/** Builds the HTTP server from route declarations; the only place HTTP concerns live. */
export async function buildApp(opts: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: opts.logger as unknown as FastifyBaseLogger,
    genReqId: requestIdOf,
    // Our onResponse hook writes the one access-log line per request.
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'request_id' }),
    bodyLimit: opts.maxBodyBytes,
    trustProxy: opts.trustProxy,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 2048 },
    // Undecodable URLs and over-long path parameters are rejected before routing; without these two
    // hooks Fastify (and Node's HTTP parser) would answer them in their own, code-less JSON shape.
    frameworkErrors: (err, request, reply) => sendError(err, request, reply),
    clientErrorHandler: sendClientError,
  });
  guardRouteRegistration(app);
  installHooks(app, opts);
  app.removeAllContentTypeParsers();
  // Every body is read as text and parsed as JSON whatever its declared type: MLflow clients are not
  // all careful with Content-Type.
  app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, parseJsonBody(body as string));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
  app.setErrorHandler((err, request, reply) => sendError(err, request, reply));
  app.setNotFoundHandler((request, reply) =>
    sendError(new AppError('ENDPOINT_NOT_FOUND', `No route for ${request.method} ${request.url.split('?')[0]}`), request, reply),
  );
  registerRoutes(app, opts.routes.filter((r) => !r.rawBody));
  // Streaming routes live in their own context whose parser leaves the body unread for the handler.
  await app.register(async (streaming) => {
    streaming.removeAllContentTypeParsers();
    streaming.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined));
    registerRoutes(streaming, opts.routes.filter((r) => r.rawBody));
  });
  return app;
}
