import { randomUUID } from 'node:crypto';
import { pipeline, Readable } from 'node:stream';
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type GetObjectCommandOutput,
  type ListObjectsV2CommandOutput,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { AppError } from '../../errors/index.js';
import type { BlobEntry, BlobInfo, BlobStore, PutOptions, ReadOptions } from './blob.store.js';
import { HashingStream, integrityError, verifyStream } from './integrity.js';
import {
  checkKey,
  checkPrefix,
  checkRange,
  compareNames,
  parseDeleteTarget,
  rangeNotSatisfiable,
  RESERVED_PREFIX,
} from './keys.js';

export interface S3Options {
  /** For MinIO, Ceph and other S3-compatible servers, e.g. `http://127.0.0.1:9000`. */
  endpoint?: string;
  /** Defaults to the SDK's own resolution, or `us-east-1` when `endpoint` is set. */
  region?: string;
  /** Address buckets as `endpoint/bucket` rather than `bucket.endpoint`; most self-hosted servers need it. */
  forcePathStyle?: boolean;
  /** Without both keys the SDK's default credential chain is used. */
  accessKeyId?: string;
  secretAccessKey?: string;
  /** Longest a request may wait for the store without a byte moving (connecting: at most 10 s); default 30 s. */
  timeoutMs?: number;
  /** Multipart part size; S3 requires at least 5 MiB. Bodies no larger than one part are sent in one PUT. */
  partSizeBytes?: number;
}

const TMP_DIR = `${RESERVED_PREFIX}tmp`;
const SHA256_METADATA = 'sha256';
const DEFAULT_PART_SIZE_BYTES = 8 * 1024 * 1024;
const MIN_PART_SIZE_BYTES = 5 * 1024 * 1024;
/** CopyObject's limit; larger objects would need UploadPartCopy, which this store does not do. */
const MAX_COPY_BYTES = 5 * 1024 * 1024 * 1024;
const UPLOAD_QUEUE_SIZE = 4;

/** Splits `s3://bucket/optional/prefix` into its bucket and '/'-free-ended prefix. */
export function parseS3Uri(uri: string): { bucket: string; prefix: string } {
  const match = /^s3:\/\/([^/]+)\/?(.*)$/i.exec(uri);
  if (!match) {
    throw new AppError('INVALID_PARAMETER_VALUE', `invalid S3 URI '${uri}'; expected s3://bucket/optional/prefix`);
  }
  const prefix = match[2]!.replace(/\/+$/, '');
  return { bucket: match[1]!, prefix: prefix === '' ? '' : checkPrefix(prefix) };
}

/**
 * Blobs as objects under `s3://bucket/prefix/`, the sha256 kept as `x-amz-meta-sha256`.
 *
 * Metadata must be sent when an upload starts, but the hash of a streamed body is known only at its
 * end. Bodies that fit in one part are buffered (as the multipart uploader would buffer them anyway)
 * and written with a single PutObject carrying the hash. Larger bodies go to a temporary key
 * `<prefix>/.capstan-tmp/<uuid>` (multipart), are then copied server-side to the final key with
 * `MetadataDirective: 'REPLACE'` and the hash, and the temporary object is deleted. Readers therefore
 * never see the final key without its hash, and a failed upload never touches the final key.
 * A crash before that delete leaves the temporary object behind; a bucket lifecycle rule on
 * `.capstan-tmp/` cleans those up.
 */
export class S3BlobStore implements BlobStore {
  readonly scheme = 's3';

  private constructor(
    private readonly client: S3Client,
    readonly bucket: string,
    readonly prefix: string,
    private readonly partSizeBytes: number,
  ) {}

  static fromUri(uri: string, options: S3Options = {}): S3BlobStore {
    const { bucket, prefix } = parseS3Uri(uri);
    const partSizeBytes = options.partSizeBytes ?? DEFAULT_PART_SIZE_BYTES;
    if (!Number.isSafeInteger(partSizeBytes) || partSizeBytes < MIN_PART_SIZE_BYTES) {
      throw new AppError('INVALID_PARAMETER_VALUE', `S3 part size must be at least ${MIN_PART_SIZE_BYTES} bytes`, {
        details: { partSizeBytes },
      });
    }
    return new S3BlobStore(new S3Client(s3ClientConfig(options)), bucket, prefix, partSizeBytes);
  }

  async put(key: string, body: Readable, options: PutOptions = {}): Promise<BlobInfo> {
    checkKey(key);
    let bodyError: unknown;
    body.once('error', (err) => (bodyError = err));
    const hasher = new HashingStream();
    pipeline(body, hasher, () => {});
    try {
      const head = await readUpTo(hasher, this.partSizeBytes);
      if (head.isComplete) {
        const info = finish(key, hasher, options.sizeBytes);
        await options.beforeCommit?.();
        await this.putWhole(key, Buffer.concat(head.chunks), info.sha256, options.contentType);
        return info;
      }
      return await this.putViaTemp(key, Readable.from(head.resume()), hasher, options);
    } catch (err) {
      hasher.destroy();
      throw bodyError ?? s3Error(err, key);
    }
  }

  async get(key: string, options: ReadOptions = {}): Promise<{ info: BlobInfo; body: Readable }> {
    checkKey(key);
    const range = options.range;
    if (range) checkRange(key, range);
    const out = await this.client
      .send(new GetObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key), Range: rangeHeader(range) }))
      .catch((err) => {
        if (isInvalidRange(err)) throw rangeNotSatisfiable(key, range?.start ?? 0);
        throw s3Error(err, key);
      });
    const body = out.Body as Readable;
    try {
      const info = infoOf(key, out.Metadata, totalSize(out));
      const start = range?.start ?? 0;
      const end = Math.min(range?.end ?? info.sizeBytes - 1, info.sizeBytes - 1);
      const isFullRead = start === 0 && end === info.sizeBytes - 1;
      const sha256 = isFullRead ? info.sha256 : undefined;
      return { info, body: verifyStream(body, { key, sizeBytes: end - start + 1, sha256 }) };
    } catch (err) {
      body.destroy();
      throw err;
    }
  }

  async head(key: string): Promise<BlobInfo | undefined> {
    checkKey(key);
    const out = await this.client
      .send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }))
      .catch((err) => {
        if (isNoSuchKey(err)) return undefined;
        throw s3Error(err, key);
      });
    return out && infoOf(key, out.Metadata, out.ContentLength ?? 0);
  }

  async list(prefix: string): Promise<BlobEntry[]> {
    const path = checkPrefix(prefix);
    const listPrefix = this.objectPrefix(path);
    const entries: BlobEntry[] = [];
    for await (const page of this.pages(listPrefix, '/')) {
      for (const { Prefix } of page.CommonPrefixes ?? []) {
        entries.push({ name: Prefix!.slice(listPrefix.length, -1), isDir: true });
      }
      for (const { Key, Size } of page.Contents ?? []) {
        entries.push({ name: Key!.slice(listPrefix.length), isDir: false, sizeBytes: Size ?? 0 });
      }
    }
    const isVisible = (e: BlobEntry) => e.name !== '' && !(path === '' && e.name.startsWith(RESERVED_PREFIX));
    return entries.filter(isVisible).sort((a, b) => compareNames(a.name, b.name));
  }

  async delete(keyOrPrefix: string): Promise<void> {
    const { path, isPrefix } = parseDeleteTarget(keyOrPrefix);
    try {
      if (!isPrefix) {
        await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.objectKey(path) }));
        return;
      }
      // Each page holds at most 1000 keys, which is also DeleteObjects' batch limit.
      for await (const page of this.pages(this.objectPrefix(path))) {
        await this.deleteKeys((page.Contents ?? []).map((c) => c.Key!));
      }
    } catch (err) {
      throw s3Error(err, keyOrPrefix);
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  private objectKey(key: string): string {
    return this.prefix === '' ? key : `${this.prefix}/${key}`;
  }

  /** The listing prefix for a store path: '' for the root of an unprefixed store, else ending in '/'. */
  private objectPrefix(path: string): string {
    const full = [this.prefix, path].filter((p) => p !== '').join('/');
    return full === '' ? '' : `${full}/`;
  }

  private async putWhole(key: string, bytes: Buffer, sha256: string, contentType?: string): Promise<void> {
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: this.objectKey(key),
        Body: bytes,
        ContentLength: bytes.length,
        ContentType: contentType,
        Metadata: { [SHA256_METADATA]: sha256 },
      }),
    );
  }

  private async putViaTemp(
    key: string,
    body: Readable,
    hasher: HashingStream,
    options: PutOptions,
  ): Promise<BlobInfo> {
    const tmpKey = this.objectKey(`${TMP_DIR}/${randomUUID()}`);
    try {
      const params = { Bucket: this.bucket, Key: tmpKey, Body: body, ContentType: options.contentType };
      const upload = new Upload({ client: this.client, params, partSize: this.partSizeBytes, queueSize: UPLOAD_QUEUE_SIZE });
      await upload.done();
      const info = finish(key, hasher, options.sizeBytes);
      if (info.sizeBytes > MAX_COPY_BYTES) {
        throw new AppError('INVALID_PARAMETER_VALUE', `blob '${key}' exceeds the ${MAX_COPY_BYTES}-byte S3 limit`, {
          details: { key, sizeBytes: info.sizeBytes, maxBytes: MAX_COPY_BYTES },
        });
      }
      await options.beforeCommit?.();
      await this.copyWithHash(tmpKey, this.objectKey(key), info.sha256, options.contentType);
      return info;
    } finally {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: tmpKey })).catch(() => {});
    }
  }

  private async copyWithHash(from: string, to: string, sha256: string, contentType?: string): Promise<void> {
    await this.client.send(
      new CopyObjectCommand({
        Bucket: this.bucket,
        Key: to,
        // Temporary keys are a uuid under a fixed prefix, so they need no URL-encoding beyond this.
        CopySource: `${this.bucket}/${encodeURI(from)}`,
        MetadataDirective: 'REPLACE',
        Metadata: { [SHA256_METADATA]: sha256 },
        ContentType: contentType,
      }),
    );
  }

  private async deleteKeys(keys: string[]): Promise<void> {
    if (keys.length === 0) return;
    const out = await this.client.send(
      new DeleteObjectsCommand({
        Bucket: this.bucket,
        Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true },
      }),
    );
    if (out.Errors && out.Errors.length > 0) {
      const first = out.Errors[0]!;
      throw new AppError('STORE_UNAVAILABLE', `S3 refused to delete ${out.Errors.length} object(s)`, {
        details: { bucket: this.bucket, firstKey: first.Key, firstCode: first.Code },
      });
    }
  }

  private async *pages(prefix: string, delimiter?: string): AsyncGenerator<ListObjectsV2CommandOutput> {
    let token: string | undefined;
    do {
      const page = await this.client
        .send(
          new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, Delimiter: delimiter, ContinuationToken: token }),
        )
        .catch((err) => Promise.reject(s3Error(err, prefix)));
      yield page;
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }
}

export function s3ClientConfig(options: S3Options): S3ClientConfig {
  const { endpoint, region, forcePathStyle, accessKeyId, secretAccessKey } = options;
  const config: S3ClientConfig = { region: region ?? (endpoint ? 'us-east-1' : undefined), endpoint, forcePathStyle };
  // Without these the SDK waits forever on a store that accepted the connection and went quiet.
  const timeout = options.timeoutMs ?? 30_000;
  config.requestHandler = { connectionTimeout: Math.min(timeout, 10_000), socketTimeout: timeout };
  if (accessKeyId && secretAccessKey) config.credentials = { accessKeyId, secretAccessKey };
  if (endpoint) {
    // The SDK's default flexible checksums send aws-chunked bodies with trailers, which many
    // S3-compatible servers store verbatim or reject. The store verifies its own sha256 instead.
    config.requestChecksumCalculation = 'WHEN_REQUIRED';
    config.responseChecksumValidation = 'WHEN_REQUIRED';
  }
  return config;
}

/**
 * Reads from `stream` until more than `limitBytes` arrived or it ended. When it did not end,
 * `resume()` yields the chunks read so far followed by the rest of the stream.
 */
async function readUpTo(stream: Readable, limitBytes: number) {
  const iterator: AsyncIterator<Buffer> = stream[Symbol.asyncIterator]();
  const chunks: Buffer[] = [];
  let total = 0;
  while (total <= limitBytes) {
    const next = await iterator.next();
    if (next.done) return { chunks, isComplete: true, resume: () => emptyChunks() };
    chunks.push(next.value);
    total += next.value.length;
  }
  async function* resume(): AsyncGenerator<Buffer> {
    yield* chunks;
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield next.value;
  }
  return { chunks, isComplete: false, resume };
}

async function* emptyChunks(): AsyncGenerator<Buffer> {}

function finish(key: string, hasher: HashingStream, declaredBytes: number | undefined): BlobInfo {
  const sizeBytes = hasher.sizeBytes;
  if (declaredBytes !== undefined && declaredBytes !== sizeBytes) {
    throw new AppError('INVALID_PARAMETER_VALUE', `blob '${key}' declared ${declaredBytes} bytes but ${sizeBytes} arrived`, {
      details: { key, declaredBytes, actualBytes: sizeBytes },
    });
  }
  return { key, sha256: hasher.digest(), sizeBytes };
}

function infoOf(key: string, metadata: Record<string, string> | undefined, sizeBytes: number): BlobInfo {
  const sha256 = metadata?.[SHA256_METADATA];
  if (!sha256) throw integrityError(key, 'no sha256 was recorded for this object');
  return { key, sha256, sizeBytes };
}

function rangeHeader(range: ReadOptions['range']): string | undefined {
  return range && `bytes=${range.start}-${range.end ?? ''}`;
}

/** The whole object's size: from Content-Range on a ranged answer, else Content-Length. */
function totalSize(out: GetObjectCommandOutput): number {
  const match = out.ContentRange && /\/(\d+)$/.exec(out.ContentRange);
  return match ? Number(match[1]) : (out.ContentLength ?? 0);
}

interface S3ErrorShape {
  name?: string;
  $metadata?: { httpStatusCode?: number };
}

function isInvalidRange(err: unknown): boolean {
  const e = err as S3ErrorShape;
  return e?.name === 'InvalidRange' || e?.$metadata?.httpStatusCode === 416;
}

function isNoSuchKey(err: unknown): boolean {
  const e = err as S3ErrorShape;
  return e?.name === 'NoSuchKey' || (e?.name === 'NotFound' && e.$metadata?.httpStatusCode === 404);
}

/** A missing key is the caller's problem; every other S3 or network failure makes the store unavailable. */
function s3Error(err: unknown, key: string): AppError {
  if (err instanceof AppError) return err;
  if (isNoSuchKey(err)) {
    return new AppError('RESOURCE_DOES_NOT_EXIST', `blob '${key}' does not exist`, { details: { key } });
  }
  const e = err as S3ErrorShape;
  return new AppError('STORE_UNAVAILABLE', `S3 blob store failed on '${key}': ${e?.name ?? 'error'}`, {
    details: { key, s3Error: e?.name, httpStatus: e?.$metadata?.httpStatusCode },
    cause: err,
  });
}
