import { AppError, invalidParam, notFound } from '../errors/index.js';
import { MIN_SCRUBBED_LENGTH, secretValues } from '../observability/secret-values.js';
import type { Db } from '../store/sql/index.js';
import type { KeyRing } from './secret-cipher.js';

const SECRET_NAME = /^[A-Z_][A-Z0-9_]{0,127}$/;
const MAX_VALUE_BYTES = 64 * 1024;

export interface SecretInfo {
  name: string;
  keyId: string;
  createdTime: number;
  updatedTime: number;
  updatedBy: string;
}

interface SecretRow {
  name: string;
  key_id: string;
  sealed: Buffer;
  created_time: number | string;
  updated_time: number | string;
  updated_by: string;
}

/** Associated data binds a ciphertext to its row: copied to another project or name, it will not open. */
const aadOf = (projectId: number, name: string) => `capstan-secret/${projectId}/${name}`;

/**
 * Per-project secrets, sealed with AES-256-GCM under the configured key ring. Values go in through
 * the API and come out only through `resolveForRuntime` (pipeline and serving runtimes inject them
 * as environment variables); no route returns one.
 */
export class SecretStore {
  constructor(
    private readonly db: Db,
    private readonly keys: KeyRing | null,
    private readonly now: () => number = Date.now,
  ) {}

  private ring(): KeyRing {
    if (!this.keys) {
      throw new AppError('CONFIG_INVALID', 'No secrets key is configured: set secrets.key or secrets.key_file (generate one with `capstan secrets keygen`).', { details: { key: 'secrets.key' } });
    }
    return this.keys;
  }

  async set(projectId: number, name: string, value: string, actor: string): Promise<void> {
    if (!SECRET_NAME.test(name)) throw invalidParam(`Secret name '${name}' must look like an environment variable: A-Z, 0-9 and _, not starting with a digit.`);
    // The value is never quoted back, even in a refusal.
    if (value.length < MIN_SCRUBBED_LENGTH) throw invalidParam(`A secret value needs at least ${MIN_SCRUBBED_LENGTH} characters, so it can be masked wherever it appears.`);
    if (Buffer.byteLength(value) > MAX_VALUE_BYTES) throw invalidParam(`A secret value is limited to ${MAX_VALUE_BYTES} bytes.`);
    secretValues.add(value);
    const sealed = this.ring().seal(value, aadOf(projectId, name));
    const now = this.now();
    await this.db.run(
      `INSERT INTO secrets (project_id, name, key_id, sealed, created_time, updated_time, updated_by) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (project_id, name) DO UPDATE SET key_id = excluded.key_id, sealed = excluded.sealed, updated_time = excluded.updated_time, updated_by = excluded.updated_by`,
      [projectId, name, sealed.keyId, sealed.blob, now, now, actor],
    );
  }

  async list(projectId: number): Promise<SecretInfo[]> {
    const rows = await this.db.all<SecretRow>('SELECT name, key_id, created_time, updated_time, updated_by FROM secrets WHERE project_id = ? ORDER BY name', [projectId]);
    return rows.map((r) => ({ name: r.name, keyId: r.key_id, createdTime: Number(r.created_time), updatedTime: Number(r.updated_time), updatedBy: r.updated_by }));
  }

  async delete(projectId: number, name: string): Promise<void> {
    const r = await this.db.run('DELETE FROM secrets WHERE project_id = ? AND name = ?', [projectId, name]);
    if (r.changes === 0) throw notFound(`No secret named '${name}' in this project.`);
  }

  /** Plaintext values for a runtime's environment. Not reachable from any route. */
  async resolveForRuntime(projectId: number, names: readonly string[]): Promise<Record<string, string>> {
    if (names.length === 0) return {};
    const rows = await this.db.all<SecretRow>(`SELECT name, key_id, sealed FROM secrets WHERE project_id = ? AND name IN (${names.map(() => '?').join(', ')})`, [projectId, ...names]);
    const missing = names.filter((n) => !rows.some((r) => r.name === n));
    if (missing.length) throw notFound(`Secrets not set in this project: ${missing.join(', ')}.`);
    const out: Record<string, string> = {};
    for (const r of rows) {
      out[r.name] = this.ring().open({ keyId: r.key_id, blob: Buffer.from(r.sealed) }, aadOf(projectId, r.name));
      secretValues.add(out[r.name]!);
    }
    return out;
  }

  /** Re-seals every secret not under the current key; returns how many. Run after putting a new key first. */
  async rotate(): Promise<number> {
    const ring = this.ring();
    const rows = await this.db.all<SecretRow & { project_id: number | string }>('SELECT project_id, name, key_id, sealed FROM secrets');
    let count = 0;
    for (const r of rows) {
      if (!ring.needsRotation({ keyId: r.key_id })) continue;
      const aad = aadOf(Number(r.project_id), r.name);
      const sealed = ring.seal(ring.open({ keyId: r.key_id, blob: Buffer.from(r.sealed) }, aad), aad);
      await this.db.run('UPDATE secrets SET key_id = ?, sealed = ? WHERE project_id = ? AND name = ? AND key_id = ?', [sealed.keyId, sealed.blob, r.project_id, r.name, r.key_id]);
      count++;
    }
    return count;
  }
}
