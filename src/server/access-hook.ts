import type { FastifyRequest } from 'fastify';
import type { IncomingMessage } from 'node:http';
import { ANONYMOUS, credentialsOf, DEFAULT_PROJECT, LOCAL_ADMIN, type AccessService, type AuditLog, type Authenticator } from '../access/index.js';
import { AppError } from '../errors/index.js';
import { secretValues } from '../observability/secret-values.js';
import type { RateLimiter } from './rate-limit.js';
import type { RouteDef } from './route.js';
import type { Logger } from 'pino';
import type { Principal, ProjectRef } from '../access/index.js';

export const PROJECT_HEADER = 'x-capstan-project';
/** `/projects/<name>/api/...`: for clients that cannot add a header (MLflow's tracking URI). */
const PROJECT_PREFIX = /^\/projects\/([a-z0-9][a-z0-9._-]{0,62})(\/(?:api|ajax-api|v1|v2)(?:\/.*)?)$/;

export interface RequestAccess {
  /** Authentication off: every request acts as the local admin (only allowed on loopback). */
  isAuthOn: boolean;
  authenticator: Authenticator;
  access: AccessService;
  audit: AuditLog;
  limiter: RateLimiter;
  logger?: Logger;
}

type RawWithProject = IncomingMessage & { capstanProject?: string };

/** Fastify's rewriteUrl: strips a project prefix, remembering the name for the request. */
export function stripProjectPrefix(raw: IncomingMessage): string {
  const url = raw.url ?? '/';
  const m = PROJECT_PREFIX.exec(url);
  if (!m) return url;
  (raw as RawWithProject).capstanProject = m[1];
  return m[2]!;
}

/** Who a request acts as: what admission fills in (and, for a refused sign-in, the name it claimed). */
export interface Admission {
  principal: Principal;
  project: ProjectRef;
  claimedName: string | undefined;
}

/**
 * Who is asking and in which project, before the body is read: credentials → principal (or 401),
 * rate limit, project selection. Public routes skip credentials entirely, so probes never fail on
 * a stale token. Fills `into` as it goes, so a refusal can still be audited with what was known.
 */
export async function admit(raw: IncomingMessage, route: RouteDef | undefined, ip: string, ra: RequestAccess, into: Admission): Promise<void> {
  into.project = DEFAULT_PROJECT;
  if (!route || 'public' in route.access) {
    into.principal = ra.isAuthOn ? ANONYMOUS : LOCAL_ADMIN;
    if (route && ra.isAuthOn && route.tag !== 'operations') ra.limiter.take(`ip:${ip}`);
    return;
  }
  if (!ra.isAuthOn) {
    into.principal = LOCAL_ADMIN;
  } else {
    const credentials = credentialsOf(raw.headers.authorization);
    if (!credentials) throw new AppError('UNAUTHENTICATED', 'Sign in: send "Authorization: Bearer <token>" (MLFLOW_TRACKING_TOKEN) or HTTP Basic credentials (MLFLOW_TRACKING_USERNAME/PASSWORD).');
    if (credentials.kind === 'basic') into.claimedName = credentials.username;
    into.principal = await ra.authenticator.authenticate(credentials);
    secretValues.add(credentials.kind === 'bearer' ? credentials.token : credentials.password);
    // Inference has its own limits (per deployment and per caller, serving.caller_rate_per_second).
    if (route.tag !== 'inference') ra.limiter.take(`principal:${into.principal.id}`);
  }
  const named = (raw.headers[PROJECT_HEADER] as string | undefined) ?? (raw as RawWithProject).capstanProject;
  if (named) into.project = await ra.access.project(named);
  else if (into.principal.tokenProjectId !== null) into.project = await ra.access.projectById(into.principal.tokenProjectId);
}

/** The Fastify hook: admission onto the request object. */
export async function admitRequest(request: FastifyRequest, ra: RequestAccess): Promise<void> {
  await admit(request.raw, request.routeOptions.config?.capstanRoute, request.ip, ra, request);
}

/** Where a refused request was going, for its audit event. */
export interface RefusedAt {
  method: string;
  route: string;
  requestId: string;
  ip: string;
}

/** Every refused sign-in and every denial is an audit event of its own. */
export async function auditRefusal(err: unknown, who: Partial<Admission>, at: RefusedAt, ra: RequestAccess): Promise<void> {
  if (!(err instanceof AppError) || (err.code !== 'UNAUTHENTICATED' && err.code !== 'PERMISSION_DENIED' && err.code !== 'POLICY_DENIED')) return;
  const principal = who.principal && who.principal !== ANONYMOUS ? who.principal : null;
  const details = err.details ?? {};
  try {
    await ra.audit.appendAlone({
      actor: principal?.name ?? who.claimedName ?? 'anonymous',
      token_id: principal?.tokenId ?? (typeof details.token_id === 'string' ? details.token_id : null),
      action: `${at.method} ${at.route}`,
      resource: typeof details.resource === 'string' ? `${details.resource}${typeof details.id === 'string' ? `:${details.id}` : ''}` : '',
      project: who.project?.name ?? null,
      outcome: err.code === 'UNAUTHENTICATED' ? 'failed' : 'denied',
      summary: JSON.stringify({ error_code: err.code, message: secretValues.scrub(err.message) }),
      request_id: at.requestId,
      client_ip: at.ip,
    });
  } catch (auditErr) {
    ra.logger?.error({ err: auditErr }, 'could not record a refused request in the audit log');
  }
}
