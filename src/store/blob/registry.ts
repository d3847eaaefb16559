import { isAbsolute } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AppError } from '../../errors/index.js';
import type { BlobStore } from './blob.store.js';
import { LocalBlobStore } from './local.js';
import { S3BlobStore, type S3Options } from './s3.js';

type Opener = (uri: string, options: S3Options) => Promise<BlobStore>;

/** One entry per scheme; the miss message lists these keys, so adding a backend is one line. */
const OPENERS: Record<string, Opener> = {
  file: (uri) => LocalBlobStore.open(toLocalPath(uri)),
  s3: async (uri, options) => S3BlobStore.fromUri(uri, options),
};

/** `scheme:` at the start; Windows drive paths (`C:\x`) are caught earlier by isAbsolute. */
const SCHEME = /^([a-zA-Z][a-zA-Z0-9+.-]*):/;

/**
 * Opens the blob store a URI names: `file:///abs/path` or a bare path (absolute or relative to the
 * working directory) for the local store, `s3://bucket/prefix` for S3. `options` apply to S3 only.
 */
export async function openBlobStore(uri: string, options: S3Options = {}): Promise<BlobStore> {
  if (uri.trim() === '') throw new AppError('INVALID_PARAMETER_VALUE', 'blob store URI is empty');
  const scheme = isAbsolute(uri) ? 'file' : (SCHEME.exec(uri)?.[1]?.toLowerCase() ?? 'file');
  const open = OPENERS[scheme];
  if (!open) {
    const known = Object.keys(OPENERS).map((s) => `${s}://`).join(', ');
    throw new AppError('INVALID_PARAMETER_VALUE', `unknown blob store scheme '${scheme}:'; known: ${known}`, {
      details: { uri, scheme },
    });
  }
  return open(uri, options);
}

function toLocalPath(uri: string): string {
  if (!/^file:/i.test(uri)) return uri;
  try {
    return fileURLToPath(uri);
  } catch (err) {
    throw new AppError('INVALID_PARAMETER_VALUE', `invalid file URI '${uri}'; expected file:///absolute/path`, {
      details: { uri },
      cause: err,
    });
  }
}
