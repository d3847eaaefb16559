import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, ERROR_CODES, type ErrorCode } from '../errors/index.js';
import { secretValues } from '../observability/secret-values.js';

/** Fastify's own error codes that are the client's fault, mapped onto our table. */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'BAD_REQUEST',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'BAD_REQUEST',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'BAD_REQUEST',
  FST_ERR_CTP_INVALID_JSON_BODY: 'BAD_REQUEST',
  FST_ERR_CTP_INVALID_TYPE: 'BAD_REQUEST',
  FST_ERR_VALIDATION: 'INVALID_PARAMETER_VALUE',
  FST_ERR_BAD_URL: 'BAD_REQUEST',
  FST_ERR_MAX_PARAM_LENGTH: 'BAD_REQUEST',
  FST_ERR_ASYNC_CONSTRAINT: 'BAD_REQUEST',
};

/** Driver errors that mean the database is down or overloaded, not that the request was wrong. */
function isStoreOutage(code: string): boolean {
  return (
    ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'EPIPE', '57P01', '57P02', '57P03', '53300', 'SQLITE_BUSY', 'SQLITE_FULL', 'SQLITE_READONLY', 'SQLITE_CANTOPEN'].includes(code) ||
    code.startsWith('08') ||
    code.startsWith('SQLITE_IOERR')
  );
}

/** node-postgres reports a connection lost under a query (a server restart) without a code. */
const LOST_CONNECTION = /^(Connection terminated|Client has encountered a connection error|timeout exceeded when trying to connect|Connection ended)/;

export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  const driverCode = (err as { code?: unknown })?.code;
  if ((typeof driverCode === 'string' && isStoreOutage(driverCode)) || (err instanceof Error && driverCode === undefined && LOST_CONNECTION.test(err.message))) {
    return new AppError('STORE_UNAVAILABLE', 'The metadata store is unavailable; retry later.', { cause: err });
  }
  const e = err as FastifyError & { type?: string; status?: number };
  const mapped = e?.code ? FASTIFY_CODES[e.code] : undefined;
  if (mapped) return new AppError(mapped, e.message, { cause: err });
  // JSON.parse failures from the body parser.
  if (err instanceof SyntaxError) return new AppError('BAD_REQUEST', 'Malformed JSON body.', { cause: err });
  if (typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return new AppError('BAD_REQUEST', e.message, { cause: err });
  }
  return new AppError('INTERNAL_ERROR', 'Internal error; see the server log for this request_id.', { cause: err });
}

export interface ErrorReply {
  error: AppError;
  status: number;
  headers: Record<string, string>;
  body: Record<string, unknown>;
}

/**
 * The one renderer: `{error_code, message, details?, request_id}` (plus the inference protocols'
 * `error`); a 500 says nothing internal.
 */
export function errorReply(err: unknown, requestId: string, protocolErrors = false): ErrorReply {
  const error = toAppError(err);
  const body: Record<string, unknown> = { error_code: error.code, message: secretValues.scrub(error.message) };
  if (protocolErrors) body.error = body.message;
  if (error.details) body.details = error.details;
  body.request_id = requestId;
  const headers: Record<string, string> = { 'x-request-id': requestId, 'content-type': 'application/json; charset=utf-8' };
  if (error.code === 'UNAUTHENTICATED') headers['www-authenticate'] = 'Bearer realm="capstan", Basic realm="capstan", charset="UTF-8"';
  const retryAfter = error.details?.retry_after_seconds;
  if (typeof retryAfter === 'number') headers['retry-after'] = String(retryAfter);
  return { error, status: ERROR_CODES[error.code].status, headers, body };
}

/** Sends the error in the one shape, logging 5xx with the cause. */
export function sendError(err: unknown, request: FastifyRequest, reply: FastifyReply): void {
  const r = errorReply(err, request.id, request.routeOptions?.config?.capstanRoute?.protocolErrors);
  if (r.status >= 500) request.log.error({ err, error_code: r.error.code }, 'request failed');
  else request.log.debug({ error_code: r.error.code, msg_detail: r.error.message }, 'request rejected');
  if (reply.sent) return;
  reply.code(r.status).headers(r.headers).send(r.body);
}

/**
 * Requests Node's HTTP parser rejects (bad framing, a Content-Length that does not match, oversized
 * headers) never become Fastify requests; they get the same error shape on the raw socket.
 */
export function sendClientError(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  if (socket.writable) {
    const requestId = randomUUID();
    const text = JSON.stringify({ error_code: 'BAD_REQUEST', message: `Malformed HTTP request (${err.code ?? 'parse error'}).`, request_id: requestId });
    const head = `HTTP/1.1 ${ERROR_CODES.BAD_REQUEST.status} Bad Request\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(text)}\r\nX-Request-Id: ${requestId}\r\nConnection: close\r\n\r\n`;
    socket.write(head + text);
  }
  socket.destroy(err);
}
