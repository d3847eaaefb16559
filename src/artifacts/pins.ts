import type { Readable } from 'node:stream';
import { AppError } from '../errors/index.js';
import type { BlobStore, PutOptions } from '../store/blob/index.js';

/** Names what holds `key` (a model version, a dataset version), or null when nothing does. */
export type PinCheck = (key: string) => Promise<string | null>;

/**
 * The artifact store as the proxy sees it: writes and deletes that reach into files a registered
 * model version or dataset version holds are refused, so a signed manifest stays true.
 */
export function withPins(blobs: BlobStore, pinned: PinCheck): BlobStore {
  const refuse = async (key: string, verb: string) => {
    const holder = await pinned(key.replace(/\/+$/, ''));
    if (holder) throw new AppError('ARTIFACT_PINNED', `Cannot ${verb} '${key}': the files belong to ${holder} and never change.`, { details: { key, holder } });
  };
  return {
    scheme: blobs.scheme,
    // Checked before the body is read, and again just before the object becomes visible: a version
    // registered while a long upload streamed must not get that upload's bytes.
    put: async (key: string, body: Readable, options: PutOptions = {}) => {
      await refuse(key, 'write');
      return blobs.put(key, body, { ...options, beforeCommit: async () => (await options.beforeCommit?.(), await refuse(key, 'write')) });
    },
    get: (key, options) => blobs.get(key, options),
    head: (key) => blobs.head(key),
    list: (prefix) => blobs.list(prefix),
    delete: async (keyOrPrefix: string) => {
      await refuse(keyOrPrefix, 'delete');
      return blobs.delete(keyOrPrefix);
    },
    close: () => blobs.close(),
  };
}
