import assert from 'node:assert/strict';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { ERROR_CODES } from '../../src/errors/index.js';

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export interface Answer {
  status: number;
  body: any;
  text: string;
  headers: Record<string, unknown>;
}

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';

/** The Authorization header value for HTTP Basic credentials. */
export const basicAuth = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** Sends one request; objects are sent as JSON, strings and buffers as they are. */
export async function call(app: FastifyInstance, method: Method, url: string, payload?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const options: InjectOptions = { method, url, headers: { ...headers } };
  if (payload !== undefined) {
    const isRaw = typeof payload === 'string' || Buffer.isBuffer(payload);
    options.payload = isRaw ? (payload as string | Buffer) : JSON.stringify(payload);
    if (!isRaw && !headers['content-type']) options.headers!['content-type'] = 'application/json';
  }
  const res = await app.inject(options);
  let body: unknown;
  try {
    body = res.body ? JSON.parse(res.body) : undefined;
  } catch {
    body = undefined;
  }
  return { status: res.statusCode, body, text: res.body, headers: res.headers };
}

/** Every error: the status of its code, `{error_code, message, request_id}`, the id also in X-Request-Id. */
export function assertError(res: Answer, code: keyof typeof ERROR_CODES, message?: RegExp | string): void {
  const where = `${res.status} ${res.text.slice(0, 400)}`;
  assert.equal(res.status, ERROR_CODES[code].status, where);
  assert.match(String(res.headers['content-type']), /^application\/json/, where);
  assert.equal(res.body?.error_code, code, where);
  assert.equal(typeof res.body.message, 'string', where);
  assert.equal(typeof res.body.request_id, 'string', where);
  assert.equal(res.headers['x-request-id'], res.body.request_id, where);
  if (typeof message === 'string') assert.ok(res.body.message.includes(message), `message lacks ${JSON.stringify(message)}: ${where}`);
  else if (message) assert.match(res.body.message, message, where);
}

export function assertOk(res: Answer): any {
  assert.equal(res.status, 200, res.text.slice(0, 400));
  return res.body;
}
