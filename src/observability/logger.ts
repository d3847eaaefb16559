import pino, { type Logger, type LoggerOptions } from 'pino';
import { secretValues } from './secret-values.js';

/** Paths whose values never reach a log line. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'req.headers["proxy-authorization"]',
  'headers.authorization',
  'headers.cookie',
  '*.password',
  '*.token',
  '*.secret',
  '*.secret_access_key',
  '*.access_token',
  '*.client_secret',
  'config["store.database_uri"]',
  'config["s3.secret_access_key"]',
  'config["s3.access_key_id"]',
];

export function loggerOptions(level: string): LoggerOptions {
  return {
    level,
    base: { service: 'capstan' },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    formatters: { level: (label) => ({ level: label }) },
    // Values known to be secret are masked wherever they appear, whatever the field is called.
    hooks: { streamWrite: (line) => secretValues.scrub(line) },
  };
}

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return destination ? pino(loggerOptions(level), destination) : pino(loggerOptions(level));
}
