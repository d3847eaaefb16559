import type { Readable } from 'node:stream';
import { invalidParam } from '../errors/index.js';
import type { BlobEntry, BlobInfo, BlobStore } from '../store/blob/index.js';

export interface ArtifactFile {
  path: string;
  isDir: boolean;
  fileSize?: number;
}

const PROXY_SCHEME = 'mlflow-artifacts:';

/** Multipart uploads stage their parts under this top-level name; no artifact path may reach into it. */
export const UPLOADS_PREFIX = '_capstan_uploads';

const isUnsafe = (path: string) =>
  /(^|[\\/])\.\.($|[\\/])/.test(path) || path.startsWith('/') || /^[a-zA-Z]:/.test(path) || path.includes('\0') || path.includes('\\');

/**
 * Artifact paths as MLflow clients send them: relative to the artifact root, '/'-separated. Rejects
 * traversal in any spelling (`..`, `%2e%2e`, absolute paths, drive letters, NUL) before the blob
 * store sees the key. Callers pass paths the router or query parser has already decoded once; the
 * second decoding only looks for escaped traversal, so a file named `100%.txt` keeps its name.
 */
export function checkArtifactPath(path: string): string {
  let decoded = path;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    // Not percent-encoded text: nothing escaped to look behind.
  }
  if (isUnsafe(path.replace(/\/+$/, '')) || isUnsafe(decoded.replace(/\/+$/, ''))) {
    throw invalidParam(`Invalid artifact path '${path}': it must be relative and may not contain '..'.`);
  }
  const key = path.split('/').filter((s) => s !== '' && s !== '.').join('/');
  if (key.split('/')[0] === UPLOADS_PREFIX) throw invalidParam(`Invalid artifact path '${path}': '${UPLOADS_PREFIX}' is reserved for multipart uploads.`);
  return key;
}

/** The blob prefix of a run whose artifact_uri points at this server's proxy, else null. */
export function proxiedRoot(artifactUri: string): string | null {
  if (!artifactUri.startsWith(PROXY_SCHEME)) return null;
  return checkArtifactPath(artifactUri.slice(PROXY_SCHEME.length).replace(/^\/+/, ''));
}

const join = (a: string, b: string) => (a && b ? `${a}/${b}` : a || b);

/** The artifact proxy over a BlobStore: what `mlflow server --serve-artifacts` offers, streamed. */
export class ArtifactService {
  constructor(private readonly blobs: BlobStore) {}

  upload(path: string, body: Readable, sizeBytes?: number): Promise<BlobInfo> {
    return this.blobs.put(checkArtifactPath(path), body, { sizeBytes });
  }

  download(path: string, range?: { start: number; end?: number }) {
    return this.blobs.get(checkArtifactPath(path), { range });
  }

  head(path: string) {
    return this.blobs.head(checkArtifactPath(path));
  }

  /** One directory level, entries named relative to `dir` as the proxy listing answers. */
  async list(dir: string): Promise<ArtifactFile[]> {
    const prefix = checkArtifactPath(dir);
    const entries: BlobEntry[] = (await this.blobs.list(prefix)).filter((e) => prefix !== '' || e.name !== UPLOADS_PREFIX);
    return entries.map((e) => ({ path: e.name, isDir: e.isDir, fileSize: e.isDir ? undefined : e.sizeBytes }));
  }

  /** Listing for `/mlflow/artifacts/list`: entries named relative to the run's artifact root. */
  async listRun(artifactUri: string, path: string): Promise<ArtifactFile[]> {
    const root = proxiedRoot(artifactUri);
    if (root === null) return [];
    const rel = checkArtifactPath(path);
    const files = await this.list(join(root, rel));
    return files.map((f) => ({ ...f, path: join(rel, f.path) }));
  }

  async delete(path: string): Promise<void> {
    const key = checkArtifactPath(path);
    if (key === '') throw invalidParam('Refusing to delete the whole artifact root.');
    const info = await this.blobs.head(key);
    await this.blobs.delete(info ? key : `${key}/`);
  }
}
