export { ERROR_CODES, statusOf, type ErrorCode } from './codes.js';
export { AppError, invalidParam, notFound, isAppError, type AppErrorOptions } from './app-error.js';
