export { ERROR_CODES, type ErrorCode } from './codes.js';
export { AppError, invalidParam, notFound, type AppErrorOptions } from './app-error.js';
