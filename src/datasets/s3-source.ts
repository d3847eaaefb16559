import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { AppError, invalidParam } from '../errors/index.js';
import { s3ClientConfig, type S3Options } from '../store/blob/index.js';

const MAX_FILES = 10_000;

export interface ExternalFile {
  path: string;
  size: number;
  /** Streams the object; `sha256()` is its digest once the stream has been read to the end. */
  open(): Promise<{ body: AsyncIterable<Buffer>; sha256(): string }>;
}

function parse(uri: string): { bucket: string; prefix: string } {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(uri);
  if (!m) throw invalidParam(`Invalid dataset source '${uri}': expected s3://bucket/path.`);
  return { bucket: m[1]!, prefix: m[2]!.replace(/\/+$/, '') };
}

const unavailable = (uri: string, cause: unknown) =>
  new AppError('STORE_UNAVAILABLE', `Cannot read '${uri}': ${(cause as Error).name ?? 'error'} ${(cause as Error).message ?? ''}`.trim(), { cause });

/**
 * The objects under an `s3://bucket/prefix` that Capstan did not write (no recorded hashes): listed
 * with the server's S3 settings and hashed while they are read, so a dataset version's digest covers
 * exactly the bytes that were profiled.
 */
export async function listS3Source(uri: string, options: S3Options): Promise<ExternalFile[]> {
  const { bucket, prefix } = parse(uri);
  const client = new S3Client(s3ClientConfig(options));
  const files: ExternalFile[] = [];
  let token: string | undefined;
  try {
    do {
      const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix === '' ? undefined : prefix, ContinuationToken: token }));
      for (const o of page.Contents ?? []) {
        const key = o.Key;
        if (!key || key.endsWith('/')) continue;
        // A prefix that is itself an object is a one-file dataset; otherwise only what lies below it.
        if (key !== prefix && prefix !== '' && !key.startsWith(`${prefix}/`)) continue;
        files.push({
          path: key === prefix ? key.split('/').pop()! : key.slice(prefix === '' ? 0 : prefix.length + 1),
          size: Number(o.Size ?? 0),
          open: async () => {
            const hash = createHash('sha256');
            const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
            const body = (async function* () {
              for await (const chunk of res.Body as Readable) {
                hash.update(chunk as Buffer);
                yield chunk as Buffer;
              }
            })();
            return { body, sha256: () => hash.digest('hex') };
          },
        });
        if (files.length > MAX_FILES) throw invalidParam(`The dataset at '${uri}' has more than ${MAX_FILES} files.`);
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  } catch (err) {
    if (err instanceof AppError) throw err;
    throw unavailable(uri, err);
  }
  return files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
