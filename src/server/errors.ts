import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, ERROR_CODES, type ErrorCode } from '../errors/index.js';

/** Fastify's own error codes that are the client's fault, mapped onto our table. */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'BAD_REQUEST',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'BAD_REQUEST',
  FST_ERR_CTP_INVALID_JSON_BODY: 'BAD_REQUEST',
  FST_ERR_CTP_INVALID_TYPE: 'BAD_REQUEST',
  FST_ERR_VALIDATION: 'INVALID_PARAMETER_VALUE',
  FST_ERR_BAD_URL: 'BAD_REQUEST',
  FST_ERR_ASYNC_CONSTRAINT: 'BAD_REQUEST',
};

export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  const e = err as FastifyError & { type?: string; status?: number };
  const mapped = e?.code ? FASTIFY_CODES[e.code] : undefined;
  if (mapped) return new AppError(mapped, e.message, { cause: err });
  // JSON.parse failures from the body parser.
  if (err instanceof SyntaxError) return new AppError('BAD_REQUEST', `Malformed JSON body: ${err.message}`, { cause: err });
  if (typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return new AppError('BAD_REQUEST', e.message, { cause: err });
  }
  return new AppError('INTERNAL_ERROR', 'Internal error; see the server log for this request_id.', { cause: err });
}

/** The one renderer: `{error_code, message, details?, request_id}`; a 500 says nothing internal. */
export function sendError(err: unknown, request: FastifyRequest, reply: FastifyReply): void {
  const appError = toAppError(err);
  const status = ERROR_CODES[appError.code].status;
  if (status >= 500) request.log.error({ err, error_code: appError.code }, 'request failed');
  else request.log.debug({ error_code: appError.code, msg_detail: appError.message }, 'request rejected');
  const body: Record<string, unknown> = { error_code: appError.code, message: appError.message };
  if (appError.details) body.details = appError.details;
  body.request_id = request.id;
  if (!reply.sent) reply.code(status).header('content-type', 'application/json; charset=utf-8').send(body);
}
