import type { Readable } from 'node:stream';

/** What the store knows about one stored object. */
export interface BlobInfo {
  /** Key relative to the store root, '/'-separated, never starting with '/'. */
  key: string;
  sizeBytes: number;
  /** Hex sha256 of the whole object, recorded when it was written. */
  sha256: string;
}

export interface BlobEntry {
  /** Name relative to the listed prefix (one level, no trailing '/'). */
  name: string;
  isDir: boolean;
  sizeBytes?: number;
}

export interface PutOptions {
  sizeBytes?: number;
  contentType?: string;
  /**
   * Runs after the whole body is stored aside and just before the object becomes visible; a throw
   * abandons the write with that error, leaving any existing object as it was. For checks whose
   * answer can change while a long body streams (a path being pinned meanwhile).
   */
  beforeCommit?: () => Promise<void>;
}

export interface ReadOptions {
  /** Inclusive byte range; a ranged read cannot be hash-verified as a whole, so it is checked per range
   *  only against the object's recorded size. An `end` past the object is clamped (as in HTTP); a
   *  `start` at or past the end is INVALID_PARAMETER_VALUE. A range covering the whole object is
   *  verified like a full read. */
  range?: { start: number; end?: number };
}

/**
 * A streaming object store. Contract:
 * - `put` consumes the stream once, holding at most a bounded amount in memory (S3: a few parts),
 *   never the whole of a large object; the object becomes visible only when complete (no torn
 *   reads), and its sha256 is recorded alongside it. A `sizeBytes` that does not match what arrived
 *   is INVALID_PARAMETER_VALUE and stores nothing; a failing body stream rejects with its own error.
 * - `get` streams the object and verifies the sha256 at the end of a full read: a mismatch makes the
 *   stream fail with AppError ARTIFACT_INTEGRITY_ERR instead of ending cleanly.
 * - Keys are validated by the caller's path rules and again here (no '..', no absolute paths):
 *   INVALID_PARAMETER_VALUE. A missing key is RESOURCE_DOES_NOT_EXIST from `get`, undefined from
 *   `head`. An object without a recorded sha256 is ARTIFACT_INTEGRITY_ERR. Backend failures are
 *   STORE_UNAVAILABLE.
 * - `list` returns one level below the prefix, sorted by name; a missing prefix lists as [].
 * - `delete` removes a single object or, with a prefix ending in '/', everything below it; deleting
 *   what does not exist is not an error; deleting the root ('' or '/') is refused.
 * - Implementations are safe to call concurrently; they do not retry on their own except where the
 *   underlying SDK does.
 */
export interface BlobStore {
  readonly scheme: string;
  put(key: string, body: Readable, options?: PutOptions): Promise<BlobInfo>;
  get(key: string, options?: ReadOptions): Promise<{ info: BlobInfo; body: Readable }>;
  head(key: string): Promise<BlobInfo | undefined>;
  list(prefix: string): Promise<BlobEntry[]>;
  delete(keyOrPrefix: string): Promise<void>;
  close(): Promise<void>;
}
