import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The slice of s3rver's API used here (the package ships no types). */
interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
  httpServer: Server;
}
type S3rverConstructor = new (options: Record<string, unknown>) => S3rverInstance;

export interface TestS3Server {
  endpoint: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Every request received so far, so tests can check which S3 operations a store used. */
  requests: ReadonlyArray<RecordedRequest>;
  close(): Promise<void>;
}

export interface RecordedRequest {
  method: string;
  url: string;
  isCopy: boolean;
}

/** True for the POST that starts a multipart upload (`?uploads`). */
export function isCreateMultipartUpload(request: RecordedRequest): boolean {
  return request.method === 'POST' && /[?&]uploads(=|&|$)/.test(request.url);
}

function record(request: IncomingMessage): RecordedRequest {
  return {
    method: request.method ?? '',
    url: request.url ?? '',
    isCopy: request.headers['x-amz-copy-source'] !== undefined,
  };
}

/** s3rver's built-in account; it checks the key id exists but does not verify SigV4 signatures. */
const ACCESS_KEY_ID = 'S3RVER';
const SECRET_ACCESS_KEY = 'S3RVER';

/**
 * Starts s3rver in-process on an ephemeral 127.0.0.1 port, backed by a fresh temp directory, with
 * one empty bucket. Use with `forcePathStyle: true`.
 */
export async function startS3Server(bucket = 'capstan-test'): Promise<TestS3Server> {
  const directory = await mkdtemp(join(tmpdir(), 'capstan-s3rver-'));
  const S3rver = createRequire(import.meta.url)('s3rver') as S3rverConstructor;
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    configureBuckets: [{ name: bucket }],
  });
  const { port } = await server.run();
  const requests: RecordedRequest[] = [];
  server.httpServer.prependListener('request', (request: IncomingMessage) => requests.push(record(request)));
  return {
    endpoint: `http://127.0.0.1:${port}`,
    bucket,
    accessKeyId: ACCESS_KEY_ID,
    secretAccessKey: SECRET_ACCESS_KEY,
    requests,
    async close() {
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
