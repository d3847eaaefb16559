import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Action, Principal, ProjectRef, Resource } from '../access/index.js';
import type { Fields } from './fields.js';
import { AppError } from '../errors/index.js';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface RouteContext {
  principal: Principal;
  /** The project the request names (X-Capstan-Project header or /projects/<name>/ prefix), else the default. */
  project: ProjectRef;
  request: FastifyRequest;
  reply: FastifyReply;
}

type Resources = Resource | Resource[];

/**
 * A permission to check; or, with a written reason, a route any signed-in principal may call (its
 * service filters what each may see); or a route that needs no credentials at all.
 */
export type RouteAccess<I> =
  | { action: Action; resource: (input: I, ctx: RouteContext) => Resources | Promise<Resources>; /** Acts on the server, not a project: owners only. */ serverWide?: boolean }
  | { signedIn: string }
  | { public: string };

/**
 * A route as data. The server registers these and nothing else: it parses `fields`, calls
 * authorize() with `access`, then the handler, and documents the route in the OpenAPI document.
 */
export interface RouteDef<I = Record<string, any>> {
  method: HttpMethod;
  /** Fastify path syntax; MLflow routes are given without their `/api/2.0/mlflow` prefix. */
  path: string;
  /** Mounted under /api/2.0/mlflow and /ajax-api/2.0/mlflow. */
  mlflow?: boolean;
  summary: string;
  tag: string;
  /** Request fields: query for GET, JSON body otherwise. Absent for streaming routes. */
  fields?: Fields;
  /** The handler reads the raw request body itself (artifact uploads). */
  rawBody?: boolean;
  /** Successful requests are logged at debug level only: for routes called thousands of times a second. */
  logFailuresOnly?: boolean;
  /** Errors also carry `error` (the message), the shape inference protocol clients read. */
  protocolErrors?: boolean;
  /** JSON Schema of the 200 response, for the OpenAPI document. */
  response?: Record<string, unknown>;
  access: RouteAccess<I>;
  /** Returns the JSON to send, or undefined when it has sent the reply itself. */
  handler(input: I, ctx: RouteContext): Promise<unknown>;
  /**
   * For hot routes: the whole work as a function of the raw request, so the server may answer it
   * ahead of Fastify (the fast lane) with the same admission, authorization and error shape.
   * `handler` must then be laneHandler(lane), so both ways run the same code.
   */
  lane?: (input: I, ctx: LaneContext) => Promise<LaneAnswer>;
}

/** What a lane handler sees: no framework objects. */
export interface LaneContext {
  principal: Principal;
  project: ProjectRef;
  requestId: string;
  raw: IncomingMessage;
}

export interface LaneAnswer {
  status: number;
  headers: Record<string, string>;
  body: Buffer | string;
}

/** A route handler that runs a lane handler and sends its answer through Fastify. */
export function laneHandler<I>(lane: (input: I, ctx: LaneContext) => Promise<LaneAnswer>): RouteDef<I>['handler'] {
  return async (input, ctx) => {
    const a = await lane(input, { principal: ctx.principal, project: ctx.project, requestId: ctx.request.id, raw: ctx.request.raw });
    ctx.reply.code(a.status).headers(a.headers).send(a.body);
    return undefined;
  };
}

export const defineRoute = <I = Record<string, any>>(r: RouteDef<I>): RouteDef<I> => r;

/** A route's path as a regex with one group per `:param` (a parameter is one path segment). */
export function routeMatcher(path: string): { pattern: RegExp; params: string[] } {
  const params: string[] = [];
  const source = path.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/:(\w+)/g, (_m, name: string) => (params.push(name), '([^/]+)'));
  return { pattern: new RegExp(`^${source}/?$`), params };
}

/** The decoded path parameters of a match, or BAD_REQUEST naming one that is not valid percent-encoding. */
export function matchedParams(params: string[], m: RegExpExecArray): Record<string, string> {
  const input: Record<string, string> = {};
  params.forEach((name, i) => {
    try {
      input[name] = decodeURIComponent(m[i + 1]);
    } catch {
      throw new AppError('BAD_REQUEST', `The path parameter '${name}' is not valid percent-encoding.`);
    }
  });
  return input;
}

/** Sends a whole answer on a raw response (the fast lane and the standalone server). */
export function writeAnswer(res: ServerResponse, status: number, headers: Record<string, string>, body: Buffer | string): void {
  res.writeHead(status, { ...headers, 'content-length': String(Buffer.byteLength(body)) });
  res.end(body);
}
