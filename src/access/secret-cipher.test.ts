import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppError } from '../errors/index.js';
import { KeyRing, type SealedSecret } from './secret-cipher.js';

const SETTING = 'secrets.encryption_key';
const keyText = () => randomBytes(32).toString('base64');

const dir = mkdtempSync(join(tmpdir(), 'capstan-secret-cipher-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function assertAppError(fn: () => unknown, code: string, check: (err: AppError) => void = () => {}): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof AppError, `expected an AppError, got ${String(err)}`);
    assert.equal(err.code, code);
    check(err);
    return true;
  });
}

/** A spec that must be refused without echoing `planted` (the key text inside it). */
function assertBadSpec(spec: string, planted: string, ...mentions: string[]): void {
  assertAppError(() => KeyRing.parse(spec, SETTING), 'CONFIG_INVALID', (err) => {
    assert.equal(err.details?.key, SETTING);
    assert.ok(err.message.includes(SETTING), `"${err.message}" should name ${SETTING}`);
    for (const text of mentions) assert.ok(err.message.includes(text), `"${err.message}" should mention ${text}`);
    if (planted !== '') {
      assert.ok(!err.message.includes(planted), `"${err.message}" leaks key text`);
      assert.ok(!JSON.stringify(err.details).includes(planted), 'details leak key text');
    }
  });
}

describe('KeyRing seal/open', () => {
  const ring = KeyRing.parse(`k1:${keyText()}`, SETTING);

  it('round-trips text, unicode and the empty string', () => {
    for (const text of ['hunter2', 'pässwörd ✓ 秘密 🔑', '']) {
      const sealed = ring.seal(text, 'project/alpha');
      assert.equal(sealed.keyId, 'k1');
      assert.equal(sealed.blob.length, 12 + 16 + Buffer.byteLength(text));
      assert.equal(ring.open(sealed, 'project/alpha'), text);
    }
  });

  it('uses a fresh IV per seal', () => {
    const a = ring.seal('same', 'project/alpha');
    const b = ring.seal('same', 'project/alpha');
    assert.notDeepEqual(a.blob.subarray(0, 12), b.blob.subarray(0, 12));
    assert.notDeepEqual(a.blob, b.blob);
  });

  it('refuses a blob with any single byte flipped (iv, tag or ciphertext)', () => {
    const sealed = ring.seal('top secret value', 'project/alpha');
    for (let i = 0; i < sealed.blob.length; i++) {
      const blob = Buffer.from(sealed.blob);
      blob[i]! ^= 0x01;
      assertAppError(() => ring.open({ keyId: 'k1', blob }, 'project/alpha'), 'INTERNAL_ERROR', (err) => {
        assert.match(err.message, /integrity check/);
        assert.ok(!err.message.includes('top secret'));
      });
    }
  });

  it('refuses a truncated blob', () => {
    const sealed = ring.seal('x', 'project/alpha');
    assertAppError(() => ring.open({ keyId: 'k1', blob: sealed.blob.subarray(0, 20) }, 'project/alpha'), 'INTERNAL_ERROR');
  });

  it('refuses a blob opened under another aad', () => {
    const sealed = ring.seal('value', 'project/alpha');
    assertAppError(() => ring.open(sealed, 'project/beta'), 'INTERNAL_ERROR', (err) => assert.match(err.message, /integrity check/));
  });

  it('refuses a blob sealed by a different key that reuses the id', () => {
    const sealed = ring.seal('value', 'project/alpha');
    const other = KeyRing.parse(`k1:${keyText()}`, SETTING);
    assertAppError(() => other.open(sealed, 'project/alpha'), 'INTERNAL_ERROR');
  });
});

describe('KeyRing rotation', () => {
  const oldKey = keyText();
  const newKey = keyText();
  const a = KeyRing.parse(`old:${oldKey}`, SETTING);
  const b = KeyRing.parse(`new:${newKey},\n  old:${oldKey}\n`, SETTING);
  const sealed: SealedSecret = a.seal('rotating secret', 'project/alpha');

  it('lists ids with the first as current', () => {
    assert.equal(b.currentKeyId, 'new');
    assert.deepEqual(b.keyIds, ['new', 'old']);
  });

  it('opens old blobs with a decrypt-only key and re-seals with the current one', () => {
    assert.equal(a.needsRotation(sealed), false);
    assert.equal(b.needsRotation(sealed), true);
    assert.equal(b.open(sealed, 'project/alpha'), 'rotating secret');
    const resealed = b.seal(b.open(sealed, 'project/alpha'), 'project/alpha');
    assert.equal(resealed.keyId, 'new');
    assert.equal(b.needsRotation(resealed), false);
    assert.equal(b.open(resealed, 'project/alpha'), 'rotating secret');
  });

  it('refuses a blob whose key was dropped, naming the missing id', () => {
    const c = KeyRing.parse(`new:${newKey}`, SETTING);
    assertAppError(() => c.open(sealed, 'project/alpha'), 'INTERNAL_ERROR', (err) => {
      assert.ok(err.message.includes("'old'"), err.message);
      assert.match(err.message, /not in the key ring/);
      assert.match(err.message, /add that key back/);
      assert.ok(!err.message.includes(newKey) && !err.message.includes(oldKey));
    });
  });
});

describe('KeyRing.parse', () => {
  it('gives a bare key a stable id from sha256 of its bytes', () => {
    const text = keyText();
    const expected = createHash('sha256').update(Buffer.from(text, 'base64')).digest('hex').slice(0, 8);
    const first = KeyRing.parse(text, SETTING);
    assert.match(first.currentKeyId, /^[0-9a-f]{8}$/);
    assert.equal(first.currentKeyId, expected);
    assert.equal(KeyRing.parse(`  ${text}\n`, SETTING).currentKeyId, expected);
    assert.equal(first.open(KeyRing.parse(text, SETTING).seal('v', 'a'), 'a'), 'v');
  });

  it('accepts generated specs', () => {
    const named = KeyRing.generate('2024-q3');
    assert.match(named, /^2024-q3:/);
    assert.equal(KeyRing.parse(named, SETTING).currentKeyId, '2024-q3');
    const unnamed = KeyRing.generate();
    assert.equal(KeyRing.parse(unnamed, SETTING).currentKeyId, unnamed.split(':')[0]);
    assert.notEqual(KeyRing.generate('x'), KeyRing.generate('x'));
    assertAppError(() => KeyRing.generate('bad id'), 'CONFIG_INVALID');
  });

  it('refuses a short key', () => {
    const short = randomBytes(16).toString('base64');
    assertBadSpec(`k1:${short}`, short, 'entry 1', '16 bytes');
  });

  it('refuses a long key', () => {
    const long = randomBytes(33).toString('base64');
    assertBadSpec(`k1:${keyText()},k2:${long}`, long, 'entry 2');
  });

  it('refuses text that is not strict base64', () => {
    const good = keyText();
    const garbage = `${good.slice(0, 20)}!!${good.slice(20)}`;
    assertBadSpec(`k1:${garbage}`, garbage.slice(0, 20), 'entry 1', 'base64');
    const spaced = `${good.slice(0, 20)} ${good.slice(20)}`;
    assertBadSpec(`k1:${spaced}`, good.slice(0, 20), 'base64');
    assertBadSpec('k1:', '', 'entry 1');
  });

  it('refuses duplicate ids', () => {
    const second = keyText();
    assertBadSpec(`dup:${keyText()},dup:${second}`, second, 'entry 2', "'dup'");
  });

  it('refuses an empty spec and empty entries', () => {
    assertBadSpec('', '', 'empty');
    assertBadSpec('  \n ', '', 'empty');
    assertBadSpec(`k1:${keyText()},,k2:${keyText()}`, '', 'entry 2', 'empty');
  });

  it('refuses ids with characters outside [A-Za-z0-9_.-]', () => {
    for (const id of ['bad id', 'bad/id', 'ключ', '']) assertBadSpec(`${id}:${keyText()}`, '', 'entry 1', 'key id');
    // A key where the id belongs (base64 of 32 bytes always ends in '=') must not be echoed back.
    const key = keyText();
    assertBadSpec(`${key}:${keyText()}`, key, 'entry 1', 'key id');
  });
});

describe('KeyRing.fromFile', () => {
  it('reads a spec from a file, ignoring surrounding whitespace', () => {
    const file = join(dir, 'keys');
    writeFileSync(file, `\nnew:${keyText()},\nold:${keyText()}\n`);
    const ring = KeyRing.fromFile(file, SETTING);
    assert.deepEqual(ring.keyIds, ['new', 'old']);
    assert.equal(ring.open(ring.seal('from file', 'p/x'), 'p/x'), 'from file');
  });

  it('refuses a bad spec in the file', () => {
    const short = randomBytes(8).toString('base64');
    const file = join(dir, 'bad-keys');
    writeFileSync(file, `k1:${short}\n`);
    assertAppError(() => KeyRing.fromFile(file, SETTING), 'CONFIG_INVALID', (err) => {
      assert.equal(err.details?.key, SETTING);
      assert.ok(!err.message.includes(short));
    });
  });

  it('refuses a missing file with CONFIG_INVALID', () => {
    const file = join(dir, 'missing');
    assertAppError(() => KeyRing.fromFile(file, SETTING), 'CONFIG_INVALID', (err) => {
      assert.equal(err.details?.key, SETTING);
      assert.ok(err.message.includes(SETTING) && err.message.includes(file), err.message);
    });
  });
});
