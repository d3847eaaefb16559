import { randomUUID } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { invalidParam, notFound } from '../errors/index.js';
import type { BlobStore } from '../store/blob/index.js';
import { checkArtifactPath, UPLOADS_PREFIX } from './artifacts.service.js';

/** Staged parts live under this prefix of the artifact store; artifact routes refuse paths inside it. */
export { UPLOADS_PREFIX };
const MAX_PARTS = 10000;

interface Manifest {
  path: string;
  numParts: number;
  createdAt: number;
}

export interface CompletedPart {
  partNumber: number;
  etag: string;
}

async function readAll(body: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Multipart uploads for the artifact proxy, as MLflow clients drive them (create → PUT each part to
 * the URL given → complete, or abort). The manifest and parts are blobs in the artifact store itself,
 * so any replica can take any step of an upload. A part's ETag is its sha256.
 */
export class MultipartUploads {
  constructor(private readonly blobs: BlobStore) {}

  private key(uploadId: string, name: string): string {
    if (!/^[0-9a-f-]{36}$/.test(uploadId)) throw invalidParam(`Invalid upload_id '${uploadId.slice(0, 80)}'.`);
    return `${UPLOADS_PREFIX}/${uploadId}/${name}`;
  }

  private async manifest(uploadId: string): Promise<Manifest> {
    const key = this.key(uploadId, 'manifest.json');
    if (!(await this.blobs.head(key))) throw notFound(`No multipart upload with id '${uploadId}'.`);
    const { body } = await this.blobs.get(key);
    return JSON.parse(await readAll(body)) as Manifest;
  }

  async create(path: string, numParts: number): Promise<string> {
    const target = checkArtifactPath(path);
    if (target === '') throw invalidParam('A multipart upload needs a file path.');
    if (!Number.isInteger(numParts) || numParts < 1 || numParts > MAX_PARTS) throw invalidParam(`'num_parts' must be between 1 and ${MAX_PARTS}.`);
    const uploadId = randomUUID();
    const manifest: Manifest = { path: target, numParts, createdAt: Date.now() };
    await this.blobs.put(this.key(uploadId, 'manifest.json'), Readable.from([Buffer.from(JSON.stringify(manifest))]));
    return uploadId;
  }

  async putPart(uploadId: string, partNumber: number, body: Readable): Promise<string> {
    const manifest = await this.manifest(uploadId);
    if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > manifest.numParts) {
      throw invalidParam(`Part number ${partNumber} is outside 1..${manifest.numParts}.`);
    }
    return (await this.blobs.put(this.key(uploadId, `part-${partNumber}`), body)).sha256;
  }

  /** Joins the parts in order into the target path, streamed, then drops the staged parts. */
  async complete(path: string, uploadId: string, parts: CompletedPart[]): Promise<void> {
    const manifest = await this.manifest(uploadId);
    if (manifest.path !== checkArtifactPath(path)) throw invalidParam(`Upload '${uploadId}' is for '${manifest.path}', not '${path}'.`);
    const ordered = [...parts].sort((a, b) => a.partNumber - b.partNumber);
    if (ordered.length !== manifest.numParts || ordered.some((p, i) => p.partNumber !== i + 1)) {
      throw invalidParam(`Upload '${uploadId}' needs parts 1..${manifest.numParts} exactly once each.`);
    }
    for (const part of ordered) {
      const info = await this.blobs.head(this.key(uploadId, `part-${part.partNumber}`));
      if (!info) throw invalidParam(`Part ${part.partNumber} of upload '${uploadId}' was never uploaded.`);
      if (part.etag && part.etag.replace(/"/g, '') !== info.sha256) throw invalidParam(`Part ${part.partNumber} ETag does not match the stored part.`);
    }
    const joined = new PassThrough();
    // A put can fail before it reads a byte (a pinned target): that must stop the feeding loop below,
    // and its error is the one to report.
    const writeError = this.blobs.put(manifest.path, joined).then(
      () => null,
      (err: unknown) => (joined.destroy(), err),
    );
    try {
      for (const part of ordered) {
        const { body } = await this.blobs.get(this.key(uploadId, `part-${part.partNumber}`));
        await pipeline(body, joined, { end: false });
      }
      joined.end();
    } catch (err) {
      joined.destroy(err as Error);
      throw (await writeError) ?? err;
    }
    const failed = await writeError;
    if (failed) throw failed;
    await this.abort(uploadId);
  }

  async abort(uploadId: string): Promise<void> {
    await this.blobs.delete(`${this.key(uploadId, '')}`);
  }
}
