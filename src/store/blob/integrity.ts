import { createHash } from 'node:crypto';
import { pipeline, Transform, type Readable, type TransformCallback } from 'node:stream';
import { AppError } from '../../errors/index.js';

/** A pass-through stream that hashes (sha256) and counts what flows through it. */
export class HashingStream extends Transform {
  private readonly hash = createHash('sha256');
  sizeBytes = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.hash.update(chunk);
    this.sizeBytes += chunk.length;
    callback(null, chunk);
  }

  /** Hex sha256 of everything seen; call once, after the stream has finished. */
  digest(): string {
    return this.hash.digest('hex');
  }
}

export interface ExpectedContent {
  key: string;
  /** Bytes the read must deliver: the object size for a full read, the range length otherwise. */
  sizeBytes: number;
  /** Set for full reads only; a range cannot be checked against the whole-object hash. */
  sha256?: string;
}

export function integrityError(key: string, reason: string, details: Record<string, unknown> = {}): AppError {
  return new AppError('ARTIFACT_INTEGRITY_ERR', `blob '${key}' failed verification: ${reason}`, {
    details: { key, ...details },
  });
}

/**
 * Holds back the last chunk until the whole object has been checked: a reader (an HTTP download)
 * never receives the complete bytes of a corrupt object, so it sees a failed transfer rather than a
 * clean end with wrong content.
 */
class VerifyingStream extends HashingStream {
  private held: Buffer | null = null;

  constructor(private readonly expected: ExpectedContent) {
    super();
  }

  override _transform(chunk: Buffer, encoding: BufferEncoding, callback: TransformCallback): void {
    super._transform(chunk, encoding, (err) => {
      if (err) return callback(err);
      const previous = this.held;
      this.held = chunk;
      callback(null, previous ?? undefined);
    });
  }

  override _flush(callback: TransformCallback): void {
    const { key, sizeBytes, sha256 } = this.expected;
    if (this.sizeBytes !== sizeBytes) {
      callback(integrityError(key, 'size mismatch', { expectedBytes: sizeBytes, actualBytes: this.sizeBytes }));
      return;
    }
    const actual = this.digest();
    if (sha256 !== undefined && actual !== sha256) {
      callback(integrityError(key, 'sha256 mismatch', { expectedSha256: sha256, actualSha256: actual }));
      return;
    }
    callback(null, this.held ?? undefined);
  }
}

/**
 * Wraps `source` so that the returned stream errors with ARTIFACT_INTEGRITY_ERR, instead of ending,
 * when the bytes delivered do not match `expected`. Destroying the returned stream early destroys
 * `source` too.
 */
export function verifyStream(source: Readable, expected: ExpectedContent): Readable {
  const verifier = new VerifyingStream(expected);
  // Errors reach the consumer through `verifier`; the callback only keeps them from going unhandled.
  pipeline(source, verifier, () => {});
  return verifier;
}
