import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrate, openDb } from '../store/sql/index.js';
import { generateSigningKeyPem, SigningKeys } from './signing.js';

async function withDb(fn: (db: ReturnType<typeof openDb>, dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'capstan-keys-'));
  const db = openDb(`sqlite://${join(dir, 'c.db')}`, { poolSize: 1 });
  try {
    await migrate(db);
    await fn(db, dir);
  } finally {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('manifest signing keys', () => {
  it('signs a digest that verifies, and nothing else verifies', async () => {
    await withDb(async (db, dir) => {
      const keys = await SigningKeys.open(db, { file: join(dir, 'k.pem'), setting: 'registry.signing_key_file' });
      assert.match(keys.currentKeyId, /^ed25519:[0-9a-f]{16}$/);
      const { keyId, signature } = await keys.sign('sha256:abc');
      assert.equal(keyId, keys.currentKeyId);
      assert.equal(await keys.verify(keyId, 'sha256:abc', signature), true);
      assert.equal(await keys.verify(keyId, 'sha256:abd', signature), false);
      assert.equal(await keys.verify('ed25519:0000000000000000', 'sha256:abc', signature), false);
    });
  });

  it('rotates: a running server signs with the new key at once, and old signatures still verify', async () => {
    await withDb(async (db, dir) => {
      const source = { file: join(dir, 'k.pem'), setting: 'registry.signing_key_file' };
      const running = await SigningKeys.open(db, source);
      const before = await running.sign('sha256:one');
      await new Promise((r) => setTimeout(r, 20)); // a distinct mtime for the new file
      const { retired, current } = await SigningKeys.rotate(db, source);
      assert.equal(retired, before.keyId);
      assert.notEqual(current, retired);
      const after = await running.sign('sha256:two');
      assert.equal(after.keyId, current);
      assert.equal(await running.verify(before.keyId, 'sha256:one', before.signature), true);
      const listed = await running.list();
      assert.deepEqual(listed.map((k) => [k.keyId, k.isCurrent, k.retiredTime !== null]), [[retired, false, true], [current, true, false]]);
    });
  });

  it('takes a key from the setting, refuses rotation there, and rejects a non-Ed25519 key', async () => {
    await withDb(async (db, dir) => {
      const pem = generateSigningKeyPem();
      const source = { pem: pem.replace(/\n/g, '\\n'), file: join(dir, 'unused.pem'), setting: 'registry.signing_key' };
      const keys = await SigningKeys.open(db, source);
      assert.equal((await SigningKeys.open(db, source)).currentKeyId, keys.currentKeyId);
      await assert.rejects(SigningKeys.rotate(db, source), (err: any) => err.code === 'CONFIG_INVALID');
      await assert.rejects(SigningKeys.open(db, { ...source, pem: 'not a key' }), (err: any) => err.code === 'CONFIG_INVALID' && /registry.signing_key/.test(err.message));
    });
  });
});
