import { ERROR_CODES, type ErrorCode } from './codes.js';

export interface AppErrorOptions {
  details?: Record<string, unknown>;
  cause?: unknown;
}

/** The one error type domain code throws; the server's error handler renders it. */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details?: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.status = ERROR_CODES[code].status;
    this.details = options.details;
  }
}

export function invalidParam(message: string, details?: Record<string, unknown>): AppError {
  return new AppError('INVALID_PARAMETER_VALUE', message, { details });
}

export function notFound(message: string): AppError {
  return new AppError('RESOURCE_DOES_NOT_EXIST', message);
}
