import { invalidParam } from '../errors/index.js';

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
