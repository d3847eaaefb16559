import { createServer } from 'node:http';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { fastLane } from './fast-lane.js';
import type { Logger } from 'pino';
import type { Tracer, Span } from '@opentelemetry/api';
import { AppError } from '../errors/index.js';
import { admitRequest, auditRefusal, stripProjectPrefix, type RequestAccess } from './access-hook.js';
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
  maxHeaderBytes: number;
  /** Take the client's scheme and host from X-Forwarded-* headers. */
  trustProxy: boolean;
  routes: readonly RouteDef[];
  access: RequestAccess;
}

/** Sent with every response; the API serves JSON and one self-contained docs page. */
const SECURITY_HEADERS: Record<string, string> = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-resource-policy': 'same-origin',
  'content-security-policy': "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
};

declare module 'fastify' {
  interface FastifyRequest {
    startedAt: bigint;
    span: Span | null;
  }
}

/** Where the body stopped being JSON, without quoting it: a body can be a password or a secret. */
export function malformedJsonMessage(err: unknown): string {
  const at = /position (\d+)/.exec(String((err as Error)?.message))?.[1];
  return `Malformed JSON body${at === undefined ? '' : ` at position ${at}`}.`;
}

/** MLflow's older clients double-encode JSON bodies as a JSON string; decode twice then. */
function parseJsonBody(text: string): unknown {
  if (text.trim() === '') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
    if (typeof value === 'string' && /^\s*[{[]/.test(value)) value = JSON.parse(value);
  } catch (err) {
    throw new AppError('BAD_REQUEST', malformedJsonMessage(err));
  }
  return value;
}

function installHooks(app: FastifyInstance, opts: AppOptions): void {
  app.decorateRequest('startedAt', 0n);
  app.decorateRequest('span', null);
  app.addHook('onRequest', async (request, reply) => {
    request.startedAt = process.hrtime.bigint();
    reply.header('x-request-id', request.id).headers(SECURITY_HEADERS);
    if (request.protocol === 'https') reply.header('strict-transport-security', 'max-age=31536000');
    if (opts.tracer) {
      request.span = opts.tracer.startSpan(`HTTP ${request.method} ${request.routeOptions.url ?? 'unmatched'}`, {
        attributes: { 'http.method': request.method, 'http.route': request.routeOptions.url ?? '', 'capstan.request_id': request.id },
      });
    }
    await admitRequest(request, opts.access);
  });
  app.addHook('onResponse', async (request, reply) => {
    const seconds = Number(process.hrtime.bigint() - request.startedAt) / 1e9;
    const route = request.routeOptions.url ?? 'unmatched';
    opts.metrics.observeRequest(request.method, route, reply.statusCode, seconds);
    request.span?.setAttribute('http.status_code', reply.statusCode);
    request.span?.end();
    // High-rate routes (inference) log a line only when they fail; their metrics count every request.
    const level = request.routeOptions.config?.capstanRoute?.logFailuresOnly && reply.statusCode < 400 ? 'debug' : 'info';
    request.log[level]({ method: request.method, route, status: reply.statusCode, duration_ms: Math.round(seconds * 1e6) / 1e3 }, 'request');
  });
}

/** Builds the HTTP server from route declarations; the only place HTTP concerns live. */
export async function buildApp(opts: AppOptions): Promise<FastifyInstance> {
  // With tracing on every request goes through Fastify, whose hooks make the spans.
  const lane = opts.tracer ? null : fastLane({ routes: opts.routes, access: opts.access, metrics: opts.metrics, logger: opts.logger, securityHeaders: SECURITY_HEADERS, trustProxy: opts.trustProxy });
  const app = Fastify({
    serverFactory: (handler) => createServer({ maxHeaderSize: opts.maxHeaderBytes }, (req, res) => {
      if (!lane?.(req, res)) handler(req, res);
    }),
    loggerInstance: opts.logger as unknown as FastifyBaseLogger,
    genReqId: requestIdOf,
    // Our onResponse hook writes the one access-log line per request.
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'request_id' }),
    bodyLimit: opts.maxBodyBytes,
    rewriteUrl: stripProjectPrefix,
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
  const runtime = { audit: opts.access.audit, projectName: async (id: number) => (await opts.access.access.projectById(id)).name };
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
  app.setErrorHandler(async (err, request, reply) => {
    await auditRefusal(err, request, { method: request.method, route: request.routeOptions.url ?? request.url.split('?')[0], requestId: request.id, ip: request.ip }, opts.access);
    sendError(err, request, reply);
  });
  app.setNotFoundHandler((request, reply) =>
    sendError(new AppError('ENDPOINT_NOT_FOUND', `No route for ${request.method} ${request.url.split('?')[0]}`), request, reply),
  );
  registerRoutes(app, opts.routes.filter((r) => !r.rawBody), runtime);
  // Streaming routes live in their own context whose parser leaves the body unread for the handler.
  await app.register(async (streaming) => {
    streaming.removeAllContentTypeParsers();
    streaming.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined));
    registerRoutes(streaming, opts.routes.filter((r) => r.rawBody), runtime);
  });
  return app;
}
