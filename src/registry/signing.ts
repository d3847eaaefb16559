import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { AppError } from '../errors/index.js';
import type { Db } from '../store/sql/index.js';

/** Where the server's signing key comes from: PEM text (a setting) or a file made at first start. */
export interface SigningKeySource {
  pem?: string;
  file: string;
  /** The setting named in errors. */
  setting: string;
}

export interface SigningKeyInfo {
  keyId: string;
  publicKey: string;
  createdTime: number;
  retiredTime: number | null;
  isCurrent: boolean;
}

const SIGNED_PREFIX = 'capstan-manifest-signature-v1\n';

/** `ed25519:` and 16 hex digits of the sha256 of the raw public key. */
export function keyIdOf(publicKey: KeyObject): string {
  const raw = publicKey.export({ format: 'der', type: 'spki' });
  return `ed25519:${createHash('sha256').update(raw).digest('hex').slice(0, 16)}`;
}

const publicKeyText = (key: KeyObject) => (key.export({ format: 'der', type: 'spki' }) as Buffer).toString('base64');

function parsePrivateKey(pem: string, setting: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem.replace(/\\n/g, '\n'));
  } catch (cause) {
    throw new AppError('CONFIG_INVALID', `${setting}: not a PEM private key.`, { details: { key: setting }, cause });
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new AppError('CONFIG_INVALID', `${setting}: expected an Ed25519 key, got ${key.asymmetricKeyType}.`, { details: { key: setting } });
  return key;
}

export function generateSigningKeyPem(): string {
  return generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
}

function writeKeyFile(file: string, pem: string, flag: 'wx' | 'w'): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, pem, { mode: 0o600, flag });
}

/** The key from the setting, else from the file, creating the file (mode 0600) when it is absent. */
function loadPrivateKey(source: SigningKeySource): KeyObject {
  if (source.pem) return parsePrivateKey(source.pem, source.setting);
  if (!existsSync(source.file)) {
    try {
      writeKeyFile(source.file, generateSigningKeyPem(), 'wx');
    } catch (err) {
      // Another process made it first: use theirs.
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  return parsePrivateKey(readFileSync(source.file, 'utf8'), `${source.setting} (${source.file})`);
}

/**
 * The server's Ed25519 signing key and the public halves of every key that ever signed. Signing
 * covers a manifest digest; verification looks the signer up by key id, so signatures made before
 * a rotation stay verifiable.
 */
export class SigningKeys {
  private readonly publicKeys = new Map<string, KeyObject>();
  private privateKey!: KeyObject;
  private keyId = '';
  /** When the key file was last read; a rotation on this machine replaces the file. */
  private fileMtimeMs: number | null = null;

  private constructor(private readonly db: Db, private readonly source: SigningKeySource) {}

  static async open(db: Db, source: SigningKeySource, now = Date.now()): Promise<SigningKeys> {
    const keys = new SigningKeys(db, source);
    await keys.load(now);
    return keys;
  }

  get currentKeyId(): string {
    return this.keyId;
  }

  private async load(now: number): Promise<void> {
    const privateKey = loadPrivateKey(this.source);
    this.fileMtimeMs = this.source.pem ? null : statSync(this.source.file).mtimeMs;
    const publicKey = createPublicKey(privateKey);
    const keyId = keyIdOf(publicKey);
    await this.db.run(
      `INSERT INTO signing_keys (key_id, public_key, created_time, retired_time) VALUES (?, ?, ?, NULL) ON CONFLICT (key_id) DO NOTHING`,
      [keyId, publicKeyText(publicKey), now],
    );
    this.privateKey = privateKey;
    this.keyId = keyId;
    this.publicKeys.set(keyId, publicKey);
  }

  /** Picks up a key file that `capstan keys rotate` replaced while the server was running. */
  private async refresh(): Promise<void> {
    if (this.fileMtimeMs === null) return;
    let mtimeMs: number;
    try {
      mtimeMs = statSync(this.source.file).mtimeMs;
    } catch {
      return; // mid-rotation: the old key stays in use until the new file is there
    }
    if (mtimeMs !== this.fileMtimeMs) await this.load(Date.now());
  }

  /**
   * Replaces the key file with a new key and marks the old key retired (its public half stays).
   * The file-based key only: a key given as a setting is rotated by changing the setting.
   */
  static async rotate(db: Db, source: SigningKeySource, now = Date.now()): Promise<{ retired: string; current: string }> {
    if (source.pem) throw new AppError('CONFIG_INVALID', `${source.setting} is set: rotate by setting a new key there and restarting.`, { details: { key: source.setting } });
    const old = await SigningKeys.open(db, source, now);
    renameSync(source.file, `${source.file}.${old.currentKeyId.replace(':', '-')}.retired`);
    writeKeyFile(source.file, generateSigningKeyPem(), 'wx');
    const next = await SigningKeys.open(db, source, now);
    await db.run('UPDATE signing_keys SET retired_time = ? WHERE key_id = ? AND retired_time IS NULL', [now, old.currentKeyId]);
    return { retired: old.currentKeyId, current: next.currentKeyId };
  }

  async sign(digest: string): Promise<{ keyId: string; signature: string }> {
    await this.refresh();
    return { keyId: this.keyId, signature: sign(null, Buffer.from(SIGNED_PREFIX + digest), this.privateKey).toString('base64') };
  }

  /** True when `signature` is `keyId`'s signature over `digest`; an unknown key id is false. */
  async verify(keyId: string, digest: string, signature: string): Promise<boolean> {
    const key = await this.publicKey(keyId);
    if (!key) return false;
    return verify(null, Buffer.from(SIGNED_PREFIX + digest), key, Buffer.from(signature, 'base64'));
  }

  async list(): Promise<SigningKeyInfo[]> {
    await this.refresh();
    const rows = await this.db.all<{ key_id: string; public_key: string; created_time: number | string; retired_time: number | string | null }>(
      'SELECT key_id, public_key, created_time, retired_time FROM signing_keys ORDER BY created_time, key_id',
    );
    return rows.map((r) => ({
      keyId: r.key_id,
      publicKey: r.public_key,
      createdTime: Number(r.created_time),
      retiredTime: r.retired_time === null ? null : Number(r.retired_time),
      isCurrent: r.key_id === this.keyId,
    }));
  }

  /** The current public key as PEM, for people who verify outside Capstan. */
  publicKeyPem(): string {
    return createPublicKey(this.privateKey).export({ format: 'pem', type: 'spki' }) as string;
  }

  private async publicKey(keyId: string): Promise<KeyObject | undefined> {
    const cached = this.publicKeys.get(keyId);
    if (cached) return cached;
    const row = await this.db.get<{ public_key: string }>('SELECT public_key FROM signing_keys WHERE key_id = ?', [keyId]);
    if (!row) return undefined;
    const key = createPublicKey({ key: Buffer.from(row.public_key, 'base64'), format: 'der', type: 'spki' });
    this.publicKeys.set(keyId, key);
    return key;
  }
}
