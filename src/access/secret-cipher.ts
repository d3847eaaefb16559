import { createCipheriv, createDecipheriv, createHash, createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { AppError } from '../errors/index.js';

/** An encrypted secret as stored: `blob` is iv (12 bytes) || auth tag (16 bytes) || ciphertext. */
export interface SealedSecret {
  keyId: string;
  blob: Buffer;
}

const ALGORITHM = 'aes-256-gcm';
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_ID = /^[A-Za-z0-9_.-]+$/;

function derivedId(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 8);
}

/**
 * The keys secrets are encrypted with at rest. The first key encrypts; the others only decrypt, so a key
 * can be rotated by putting a new one first and re-sealing whatever `needsRotation` reports.
 */
export class KeyRing {
  readonly #settingName: string;
  readonly #keys: ReadonlyMap<string, KeyObject>;
  readonly #ids: readonly string[];

  private constructor(settingName: string, keys: Map<string, KeyObject>) {
    this.#settingName = settingName;
    this.#keys = keys;
    this.#ids = Object.freeze([...keys.keys()]);
  }

  /**
   * Parses "<id>:<base64 of 32 bytes>[,<id>:<base64>...]"; the first entry is the current key. An entry
   * may also be a bare base64 key, whose id is then the first 8 hex characters of sha256 of its 32 bytes.
   * Errors never quote an entry, since a misplaced separator could put key text where the id belongs.
   */
  static parse(spec: string, settingName: string): KeyRing {
    const invalid = (message: string) => new AppError('CONFIG_INVALID', `${settingName}: ${message}`, { details: { key: settingName } });
    const entries = spec.split(',').map((entry) => entry.trim());
    if (entries.length === 1 && entries[0] === '') throw invalid('the key ring is empty; expected "<id>:<base64 key>[,...]".');
    const keys = new Map<string, KeyObject>();
    entries.forEach((entry, index) => {
      const position = `entry ${index + 1}`;
      if (entry === '') throw invalid(`${position} is empty.`);
      const colon = entry.indexOf(':');
      const text = colon === -1 ? entry : entry.slice(colon + 1);
      const raw = Buffer.from(text, 'base64');
      // Re-encoding catches what Buffer.from silently skips (stray characters, whitespace, bad padding).
      if (text === '' || raw.toString('base64') !== text) throw invalid(`${position} key is not valid base64.`);
      if (raw.length !== KEY_BYTES) throw invalid(`${position} key is ${raw.length} bytes; AES-256 needs exactly ${KEY_BYTES}.`);
      const id = colon === -1 ? derivedId(raw) : entry.slice(0, colon);
      if (!KEY_ID.test(id)) throw invalid(`${position} key id must be non-empty and use only A-Z, a-z, 0-9, '_', '.' and '-'.`);
      if (keys.has(id)) throw invalid(`${position} repeats key id '${id}'.`);
      keys.set(id, createSecretKey(raw));
      raw.fill(0);
    });
    return new KeyRing(settingName, keys);
  }

  /** Reads a key ring spec (same format as `parse`) from a file. */
  static fromFile(path: string, settingName: string): KeyRing {
    let spec: string;
    try {
      spec = readFileSync(path, 'utf8');
    } catch (cause) {
      const reason = (cause as NodeJS.ErrnoException).code ?? 'unreadable';
      throw new AppError('CONFIG_INVALID', `${settingName}: cannot read key file '${path}' (${reason}).`, { details: { key: settingName }, cause });
    }
    return KeyRing.parse(spec, settingName);
  }

  /** A fresh random spec entry "<id>:<base64>"; without an id, the id is derived as for a bare key. */
  static generate(id?: string): string {
    if (id !== undefined && !KEY_ID.test(id)) {
      throw new AppError('CONFIG_INVALID', `Key id '${id}' must be non-empty and use only A-Z, a-z, 0-9, '_', '.' and '-'.`, { details: { id } });
    }
    const key = randomBytes(KEY_BYTES);
    return `${id ?? derivedId(key)}:${key.toString('base64')}`;
  }

  get currentKeyId(): string {
    return this.#ids[0]!;
  }

  get keyIds(): readonly string[] {
    return this.#ids;
  }

  /** Encrypts with the current key. `aad` names what the secret belongs to; `open` must be given the same. */
  seal(plaintext: string, aad: string): SealedSecret {
    const keyId = this.currentKeyId;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv(ALGORITHM, this.#keys.get(keyId)!, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(aad, 'utf8'));
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return { keyId, blob: Buffer.concat([iv, cipher.getAuthTag(), ciphertext]) };
  }

  open(sealed: SealedSecret, aad: string): string {
    const key = this.#keys.get(sealed.keyId);
    if (key === undefined) {
      throw new AppError(
        'INTERNAL_ERROR',
        `Secret '${aad}' was sealed with key id '${sealed.keyId}', which is not in the key ring (${this.#settingName}); add that key back to decrypt it.`,
        { details: { key: this.#settingName, keyId: sealed.keyId } },
      );
    }
    const integrity = (cause?: unknown) =>
      new AppError('INTERNAL_ERROR', `Secret '${aad}' failed its integrity check (tampered, truncated or bound to another name).`, {
        details: { keyId: sealed.keyId },
        cause,
      });
    const { blob } = sealed;
    if (blob.length < IV_BYTES + TAG_BYTES) throw integrity();
    try {
      const decipher = createDecipheriv(ALGORITHM, key, blob.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
      decipher.setAAD(Buffer.from(aad, 'utf8'));
      decipher.setAuthTag(blob.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
      return Buffer.concat([decipher.update(blob.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch (cause) {
      throw integrity(cause);
    }
  }

  /** True when `sealed` was encrypted with a key other than the current one and should be re-sealed. */
  needsRotation(sealed: Pick<SealedSecret, 'keyId'>): boolean {
    return sealed.keyId !== this.currentKeyId;
  }
}
