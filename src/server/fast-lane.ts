import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { authorize, DEFAULT_PROJECT, LOCAL_ADMIN } from '../access/index.js';
import type { ServerMetrics } from '../observability/metrics.js';
import { admit, auditRefusal, stripProjectPrefix, type Admission, type RequestAccess } from './access-hook.js';
import { errorReply } from './errors.js';
import { requestIdOf } from './request-id.js';
import { matchedParams, routeMatcher, writeAnswer, type RouteContext, type RouteDef } from './route.js';

export interface FastLaneOptions {
  routes: readonly RouteDef[];
  access: RequestAccess;
  metrics: ServerMetrics;
  logger: Logger;
  securityHeaders: Record<string, string>;
  trustProxy: boolean;
}

interface Lane {
  route: RouteDef;
  pattern: RegExp;
  params: string[];
}

function clientIp(req: IncomingMessage, trustProxy: boolean): string {
  const forwarded = trustProxy ? (req.headers['x-forwarded-for'] as string | undefined)?.split(',')[0]?.trim() : undefined;
  return forwarded || req.socket.remoteAddress || '';
}

/**
 * Routes with a `lane` (inference) answered straight from Node's HTTP server, ahead of Fastify:
 * the same admission, authorization, lane handler, error shape, audit of refusals and request
 * metrics, without the framework's per-request cost — about a third of a small inference request's
 * time on a 2-core machine. Everything else, and every request it does not match, goes to Fastify,
 * which also serves these routes (for in-process tests and when tracing is on) through the same
 * lane handlers. Successful requests are not logged (they are counted); failures are.
 */
export function fastLane(opts: FastLaneOptions): (req: IncomingMessage, res: ServerResponse) => boolean {
  const lanes: Lane[] = opts.routes.filter((r) => r.lane && r.method === 'POST').map((route) => ({ route, ...routeMatcher(route.path) }));
  return (req, res) => {
    if (req.method !== 'POST' || lanes.length === 0) return false;
    const path = stripProjectPrefix(req).split('?')[0];
    for (const lane of lanes) {
      const m = lane.pattern.exec(path);
      if (!m) continue;
      void serve(lane, m, req, res, opts);
      return true;
    }
    return false;
  };
}

async function serve(lane: Lane, m: RegExpExecArray, req: IncomingMessage, res: ServerResponse, opts: FastLaneOptions): Promise<void> {
  const started = process.hrtime.bigint();
  const requestId = requestIdOf(req);
  const ip = clientIp(req, opts.trustProxy);
  const who: Admission = { principal: LOCAL_ADMIN, project: DEFAULT_PROJECT, claimedName: undefined };
  const base: Record<string, string> = { ...opts.securityHeaders, 'x-request-id': requestId };
  if (opts.trustProxy && req.headers['x-forwarded-proto'] === 'https') base['strict-transport-security'] = 'max-age=31536000';
  let status = 500;
  try {
    const input = matchedParams(lane.params, m);
    await admit(req, lane.route, ip, opts.access, who);
    const access = lane.route.access;
    // Resource functions read only the principal and the project of their context.
    if ('action' in access) authorize(who.principal, access.action, await access.resource(input, { principal: who.principal, project: who.project } as RouteContext));
    const answer = await lane.route.lane!(input, { principal: who.principal, project: who.project, requestId, raw: req });
    status = answer.status;
    writeAnswer(res, status, { ...base, ...answer.headers }, answer.body);
  } catch (err) {
    const reply = errorReply(err, requestId, lane.route.protocolErrors);
    status = reply.status;
    await auditRefusal(err, who, { method: 'POST', route: lane.route.path, requestId, ip }, opts.access);
    const line = { request_id: requestId, method: 'POST', route: lane.route.path, status, error_code: reply.error.code };
    // Shed and rate-limited requests are counted, not logged: under overload a line each would add
    // to the load they were refused to relieve.
    if (status >= 500 && status !== 503) opts.logger.error({ ...line, err }, 'request failed');
    else if (status === 429 || status === 503) opts.logger.debug(line, 'request refused');
    else opts.logger.info(line, 'request');
    // A refused request may not have been read: drain it so the connection can carry the next one.
    req.resume();
    if (res.headersSent) res.destroy();
    else writeAnswer(res, status, { ...base, ...reply.headers }, JSON.stringify(reply.body));
  } finally {
    opts.metrics.observeRequest('POST', lane.route.path, status, Number(process.hrtime.bigint() - started) / 1e9);
  }
}
