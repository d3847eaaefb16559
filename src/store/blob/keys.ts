import { AppError } from '../../errors/index.js';

/**
 * Names the stores keep for their own bookkeeping at the top of the root. Keys may not start with
 * `.capstan-` so these can never collide with, or be reached through, user keys.
 */
export const RESERVED_PREFIX = '.capstan-';

function reject(key: string, reason: string): never {
  throw new AppError('INVALID_PARAMETER_VALUE', `invalid blob key '${key}': ${reason}`, {
    details: { key, reason },
  });
}

function checkSegments(original: string, path: string): void {
  const segments = path.split('/');
  for (const segment of segments) {
    if (segment === '') reject(original, 'empty path segment');
    if (segment === '.' || segment === '..') reject(original, `'${segment}' segment`);
  }
  if (segments[0]!.startsWith(RESERVED_PREFIX)) reject(original, `'${RESERVED_PREFIX}*' names are reserved`);
}

function checkCharacters(key: string): void {
  if (typeof key !== 'string') reject(String(key), 'not a string');
  if (key.includes('\0')) reject(key, 'NUL character');
  if (key.includes('\\')) reject(key, 'backslash');
  if (key.startsWith('/')) reject(key, 'absolute path');
}

/** Validates an object key: relative, '/'-separated, no empty, '.' or '..' segments. */
export function checkKey(key: string): string {
  checkCharacters(key);
  if (key === '') reject(key, 'empty key');
  checkSegments(key, key);
  return key;
}

/**
 * Validates a listing prefix and returns it without its trailing '/'; '' (or '/') is the root.
 */
export function checkPrefix(prefix: string): string {
  if (prefix === '' || prefix === '/') return '';
  checkCharacters(prefix);
  const trimmed = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  checkSegments(prefix, trimmed);
  return trimmed;
}

/**
 * `delete` takes either one key or, ending in '/', a prefix. The root itself is refused so that a
 * stray empty string cannot wipe a store.
 */
export function parseDeleteTarget(keyOrPrefix: string): { path: string; isPrefix: boolean } {
  if (keyOrPrefix === '' || keyOrPrefix === '/') reject(keyOrPrefix, 'refusing to delete the whole store');
  if (keyOrPrefix.endsWith('/')) return { path: checkPrefix(keyOrPrefix), isPrefix: true };
  return { path: checkKey(keyOrPrefix), isPrefix: false };
}

/** Validates an inclusive byte range; `end` past the object is clamped later, as HTTP does. */
export function checkRange(key: string, range: { start: number; end?: number }): void {
  const { start, end } = range;
  const isValid =
    Number.isSafeInteger(start) && start >= 0 && (end === undefined || (Number.isSafeInteger(end) && end >= start));
  if (!isValid) {
    throw new AppError('INVALID_PARAMETER_VALUE', `invalid byte range ${start}-${end ?? ''} for '${key}'`, {
      details: { key, start, end },
    });
  }
}

/** Raised when a range starts at or beyond the end of the object (HTTP 416 in S3 terms). */
export function rangeNotSatisfiable(key: string, start: number, sizeBytes?: number): AppError {
  const size = sizeBytes === undefined ? '' : ` (${sizeBytes} bytes)`;
  return new AppError('INVALID_PARAMETER_VALUE', `range start ${start} is beyond the end of '${key}'${size}`, {
    details: { key, start, sizeBytes },
  });
}

/** UTF-8 byte order, the order S3 lists keys in. */
export function compareNames(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}
