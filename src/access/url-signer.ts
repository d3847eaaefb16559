import { createHmac, timingSafeEqual } from 'node:crypto';
import { AppError } from '../errors/index.js';

/**
 * Signs URLs handed to clients that will call them without credentials (multipart upload parts:
 * MLflow's client PUTs them bare). The key lives in the database so every replica accepts the
 * URLs any other replica signed.
 */
export class UrlSigner {
  constructor(
    private readonly key: Buffer,
    private readonly now: () => number = Date.now,
  ) {}

  private mac(subject: string, expires: number): Buffer {
    return createHmac('sha256', this.key).update(`${subject}\n${expires}`).digest();
  }

  /** Query parameters to append to the URL of `subject`. */
  sign(subject: string, ttlMs: number): { expires: string; signature: string } {
    const expires = this.now() + ttlMs;
    return { expires: String(expires), signature: this.mac(subject, expires).toString('base64url') };
  }

  /** Throws PERMISSION_DENIED unless the signature is right (compared in constant time) and unexpired. */
  verify(subject: string, expires: unknown, signature: unknown): void {
    const at = Number(expires);
    if (typeof signature !== 'string' || !Number.isSafeInteger(at)) throw new AppError('PERMISSION_DENIED', 'This URL needs its expires and signature parameters.');
    const given = Buffer.from(signature, 'base64url');
    const expected = this.mac(subject, at);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new AppError('PERMISSION_DENIED', 'The URL signature is not valid.');
    if (at < this.now()) throw new AppError('PERMISSION_DENIED', 'The signed URL has expired; start the upload again.');
  }
}
