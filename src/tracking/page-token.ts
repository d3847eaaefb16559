import { invalidParam } from '../errors/index.js';
import type { Point } from './metric-chunks.js';

/** Opaque page tokens, base64 of {"offset": N} as MLflow emits them. */
export function encodePageToken(offset: number): string {
  return Buffer.from(JSON.stringify({ offset })).toString('base64');
}

export function decodePageToken(token: string | undefined): number {
  if (!token) return 0;
  let offset: unknown;
  try {
    offset = (JSON.parse(Buffer.from(token, 'base64').toString('utf8')) as { offset?: unknown }).offset;
  } catch {
    offset = undefined;
  }
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) {
    throw invalidParam(`Invalid page token '${token.slice(0, 100)}': it was not issued by this server.`);
  }
  return offset;
}

/** History tokens name the last point returned, so a page never re-reads what came before it. */
export function encodePointToken(p: Point): string {
  return Buffer.from(JSON.stringify({ after: [p.step, p.timestamp, Number.isFinite(p.value) ? p.value : String(p.value)] })).toString('base64');
}

export function decodePointToken(token: string | undefined): Point | null {
  if (!token) return null;
  let after: unknown;
  try {
    after = (JSON.parse(Buffer.from(token, 'base64').toString('utf8')) as { after?: unknown }).after;
  } catch {
    after = undefined;
  }
  if (Array.isArray(after) && after.length === 3 && Number.isSafeInteger(after[0]) && Number.isSafeInteger(after[1])) {
    const value = typeof after[2] === 'number' ? after[2] : ['NaN', 'Infinity', '-Infinity'].includes(after[2]) ? Number(after[2]) : undefined;
    if (value !== undefined) return { step: after[0], timestamp: after[1], value };
  }
  throw invalidParam(`Invalid page token '${token.slice(0, 100)}': it was not issued by this server.`);
}
