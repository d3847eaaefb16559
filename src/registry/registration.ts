import { checkArtifactPath, proxiedRoot } from '../artifacts/index.js';
import { AppError, invalidParam } from '../errors/index.js';
import type { BlobStore } from '../store/blob/index.js';
import type { ManifestFile } from './types.js';

const MAX_MANIFEST_FILES = 100_000;

/** Reads a whole object into memory; for model metadata files and graphs the signature reader needs. */
export async function readBlob(blobs: BlobStore, key: string, range?: { start: number; end: number }): Promise<Buffer> {
  const { body } = await blobs.get(key, range ? { range } : undefined);
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * Every file under `root` with the size and sha256 the store recorded when it was written. A root
 * that is itself a file is a one-file model named by its last path segment.
 */
export async function listFiles(blobs: BlobStore, root: string): Promise<ManifestFile[]> {
  const single = root === '' ? undefined : await blobs.head(root);
  if (single) return [{ path: root.split('/').pop()!, size: single.sizeBytes, sha256: single.sha256 }];
  const files: ManifestFile[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await blobs.list(dir)) {
      const rel = dir === root ? entry.name : `${dir.slice(root.length + 1)}/${entry.name}`;
      const key = `${dir}/${entry.name}`;
      if (entry.isDir) {
        await walk(key);
        continue;
      }
      const info = await blobs.head(key);
      if (!info) continue; // removed while listing
      files.push({ path: rel, size: info.sizeBytes, sha256: info.sha256 });
      if (files.length > MAX_MANIFEST_FILES) throw invalidParam(`The model at '${root}' has more than ${MAX_MANIFEST_FILES} files.`);
    }
  };
  await walk(root);
  return files;
}

/** The key of one manifest file under a storage root (a one-file root is the file itself). */
export function fileKey(root: string, files: readonly ManifestFile[], path: string): string {
  return files.length === 1 && root.split('/').pop() === path && files[0]!.path === path ? root : `${root}/${path}`;
}

/**
 * Re-reads every file in full. The store recomputes each file's sha256 as it streams and fails the
 * read when the bytes no longer match what it recorded, so a clean read means the recorded hash is
 * the hash of what is stored now; hashing here too would only read the bytes through a second hash.
 * A file the store finds corrupt counts as a mismatch, not an error.
 */
export async function hashFiles(blobs: BlobStore, root: string, expected: readonly ManifestFile[]): Promise<ManifestFile[]> {
  const found: ManifestFile[] = [];
  for (const f of expected) {
    const key = fileKey(root, expected, f.path);
    try {
      if (!(await blobs.head(key))) continue;
      const { info, body } = await blobs.get(key);
      let size = 0;
      for await (const chunk of body) size += (chunk as Buffer).length;
      found.push({ path: f.path, size, sha256: info.sha256 });
    } catch (err) {
      if (err instanceof AppError && err.code === 'RESOURCE_DOES_NOT_EXIST') continue; // reported as missing
      if (!(err instanceof AppError && err.code === 'ARTIFACT_INTEGRITY_ERR')) throw err;
      found.push({ path: f.path, size: f.size, sha256: `unreadable: ${err.message}` });
    }
  }
  return found;
}

/** The blob key a proxied `mlflow-artifacts:` URI or bare artifact path points at. */
export function storageKeyOf(uri: string, what = 'model version source'): string {
  const root = proxiedRoot(uri);
  if (root !== null) return root;
  throw invalidParam(
    `Invalid ${what} '${uri}': Capstan registers files held in its own artifact store ` +
      "(runs:/<run_id>/<path>, mlflow-artifacts:/<path> or models:/<name>/<version>). Upload the files as run artifacts first.",
  );
}

/** `runs:/<run_id>/<path>`: the run id and the path below it, or undefined for other URIs. */
export function parseRunsUri(uri: string): { runId: string; path: string } | undefined {
  const m = /^runs:\/([^/]+)(?:\/(.*))?$/.exec(uri);
  return m ? { runId: m[1]!, path: checkArtifactPath(m[2] ?? '') } : undefined;
}

/** The blob key of `path` (already checked) inside a run's artifact root. */
export function runArtifactKey(artifactUri: string, path: string, what: string): string {
  return [storageKeyOf(artifactUri, what), path].filter((p) => p !== '').join('/');
}
