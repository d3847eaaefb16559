import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { isCreateMultipartUpload, startS3Server, type TestS3Server } from '../../../test/support/s3-server.js';
import type { BlobStore } from './blob.store.js';
import { LocalBlobStore } from './local.js';
import { S3BlobStore } from './s3.js';

const MiB = 1024 * 1024;
/** The smallest part S3 accepts, so a body of a few MiB already takes the multipart path. */
const PART_SIZE_BYTES = 5 * MiB;

/**
 * What the contract needs from each backend beyond the BlobStore interface: a fresh, empty store
 * per test, and a way to corrupt stored bytes behind the store's back.
 */
interface Backend {
  name: string;
  setUp(): Promise<void>;
  tearDown(): Promise<void>;
  open(): Promise<BlobStore>;
  /** Replaces the stored bytes of `key`, keeping the sha256 recorded at write time. */
  tamper(key: string, bytes: Buffer): Promise<void>;
  /** Temporary objects of unfinished or failed uploads in the current store. */
  leftoverTemps(): Promise<string[]>;
  /** Multipart uploads started so far, for backends that have them. */
  multipartUploads?(): number;
}

function localBackend(): Backend {
  const roots: string[] = [];
  return {
    name: 'local',
    async setUp() {},
    async tearDown() {
      await Promise.all(roots.map((r) => rm(r, { recursive: true, force: true })));
    },
    async open() {
      roots.push(await mkdtemp(join(tmpdir(), 'capstan-blob-')));
      return LocalBlobStore.open(roots.at(-1)!);
    },
    async tamper(key, bytes) {
      await writeFile(join(roots.at(-1)!, ...key.split('/')), bytes);
    },
    leftoverTemps: () => readdir(join(roots.at(-1)!, '.capstan-tmp')),
  };
}

function s3Backend(): Backend {
  let server: TestS3Server;
  let client: S3Client;
  let prefix = '';
  return {
    name: 's3',
    async setUp() {
      server = await startS3Server();
      client = new S3Client({
        endpoint: server.endpoint,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
      });
    },
    async tearDown() {
      client.destroy();
      await server.close();
    },
    async open() {
      prefix = `run-${randomUUID()}`;
      return S3BlobStore.fromUri(`s3://${server.bucket}/${prefix}`, {
        endpoint: server.endpoint,
        forcePathStyle: true,
        accessKeyId: server.accessKeyId,
        secretAccessKey: server.secretAccessKey,
        partSizeBytes: PART_SIZE_BYTES,
      });
    },
    async tamper(key, bytes) {
      const Key = `${prefix}/${key}`;
      const { Metadata } = await client.send(new HeadObjectCommand({ Bucket: server.bucket, Key }));
      await client.send(new PutObjectCommand({ Bucket: server.bucket, Key, Body: bytes, Metadata }));
    },
    async leftoverTemps() {
      const out = await client.send(new ListObjectsV2Command({ Bucket: server.bucket, Prefix: `${prefix}/.capstan-tmp/` }));
      return (out.Contents ?? []).map((c) => c.Key!);
    },
    multipartUploads: () => server.requests.filter(isCreateMultipartUpload).length,
  };
}

/** Deterministic bytes for any offset, so ranges can be checked without keeping the body around. */
function pattern(offset: number, length: number): Buffer {
  const bytes = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) bytes[i] = Math.imul(offset + i + 1, 2654435761) >>> 24;
  return bytes;
}

/** A body of `sizeBytes` produced chunk by chunk; the whole thing never exists in memory. */
function patternStream(sizeBytes: number, chunkBytes = 64 * 1024): Readable {
  return Readable.from(
    (function* () {
      for (let offset = 0; offset < sizeBytes; offset += chunkBytes) {
        yield pattern(offset, Math.min(chunkBytes, sizeBytes - offset));
      }
    })(),
  );
}

function sha256Of(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function patternSha256(sizeBytes: number): string {
  const hash = createHash('sha256');
  for (let offset = 0; offset < sizeBytes; offset += MiB) hash.update(pattern(offset, Math.min(MiB, sizeBytes - offset)));
  return hash.digest('hex');
}

async function readAll(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function hashStream(body: Readable): Promise<{ sha256: string; sizeBytes: number }> {
  const hash = createHash('sha256');
  let sizeBytes = 0;
  for await (const chunk of body) {
    hash.update(chunk as Buffer);
    sizeBytes += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), sizeBytes };
}

/** A full read; whether `get` itself or the stream fails, the error is what counts. */
async function fullRead(store: BlobStore, key: string): Promise<Buffer> {
  const { body } = await store.get(key);
  return readAll(body);
}

function body(text: string | Buffer): Readable {
  return Readable.from([Buffer.from(text)]);
}

async function* failingBody(bytesBeforeFailure: number): AsyncGenerator<Buffer> {
  yield* patternStream(bytesBeforeFailure);
  throw new Error('client went away');
}

const INVALID = { code: 'INVALID_PARAMETER_VALUE' };
const MISSING = { code: 'RESOURCE_DOES_NOT_EXIST' };
const CORRUPT = { code: 'ARTIFACT_INTEGRITY_ERR' };

for (const backend of [localBackend(), s3Backend()]) {
  describe(`BlobStore contract: ${backend.name}`, () => {
    let store: BlobStore;
    before(() => backend.setUp());
    after(async () => {
      await store?.close();
      await backend.tearDown();
    });
    const fresh = async () => {
      await store?.close();
      store = await backend.open();
      return store;
    };

    test('put then get returns the bytes, sha256 and size; head agrees', async () => {
      const s = await fresh();
      const info = await s.put('models/m1/weights.bin', body('hello blob'), { contentType: 'text/plain' });
      assert.deepEqual(info, { key: 'models/m1/weights.bin', sha256: sha256Of(Buffer.from('hello blob')), sizeBytes: 10 });
      const { info: readInfo, body: stream } = await s.get('models/m1/weights.bin');
      assert.deepEqual(readInfo, info);
      assert.equal((await readAll(stream)).toString(), 'hello blob');
      assert.deepEqual(await s.head('models/m1/weights.bin'), info);
    });

    test('a multi-MiB body streams through, past several parts', async () => {
      const s = await fresh();
      const sizeBytes = 2 * PART_SIZE_BYTES + 123_457;
      const before = backend.multipartUploads?.() ?? 0;
      const info = await s.put('big/data.bin', patternStream(sizeBytes));
      assert.deepEqual(info, { key: 'big/data.bin', sha256: patternSha256(sizeBytes), sizeBytes });
      assert.deepEqual(await hashStream((await s.get('big/data.bin')).body), { sha256: info.sha256, sizeBytes });
      // Where the backend has multipart uploads, a body over one part must have used one.
      if (backend.multipartUploads) assert.equal(backend.multipartUploads() - before, 1);
      assert.deepEqual(await backend.leftoverTemps(), []);
    });

    test('sizes around the single-part boundary, and empty bodies, round-trip', async () => {
      const s = await fresh();
      for (const sizeBytes of [0, 1, PART_SIZE_BYTES, PART_SIZE_BYTES + 1]) {
        const info = await s.put(`edge/${sizeBytes}`, patternStream(sizeBytes), { sizeBytes });
        assert.deepEqual(info, { key: `edge/${sizeBytes}`, sha256: patternSha256(sizeBytes), sizeBytes });
        assert.deepEqual(await hashStream((await s.get(`edge/${sizeBytes}`)).body), { sha256: info.sha256, sizeBytes });
      }
    });

    test('range reads: start only, start and end, last byte, end past the object', async () => {
      const s = await fresh();
      const sizeBytes = 100_000;
      const stored = await s.put('r.bin', patternStream(sizeBytes, 4096));
      const read = async (start: number, end?: number) => {
        const { info, body: stream } = await s.get('r.bin', { range: { start, end } });
        assert.deepEqual(info, stored, 'a ranged read still reports the whole object');
        return readAll(stream);
      };
      assert.deepEqual(await read(99_000), pattern(99_000, 1000));
      assert.deepEqual(await read(10, 19), pattern(10, 10));
      assert.deepEqual(await read(sizeBytes - 1, sizeBytes - 1), pattern(sizeBytes - 1, 1));
      assert.deepEqual(await read(sizeBytes - 5, sizeBytes + 50), pattern(sizeBytes - 5, 5));
      assert.deepEqual(await read(0, sizeBytes - 1), pattern(0, sizeBytes));
      await assert.rejects(read(sizeBytes), INVALID);
      await assert.rejects(read(5, 4), INVALID);
      await assert.rejects(read(-1), INVALID);
    });

    test('list shows one level: directories, files with sizes, nothing of the store itself', async () => {
      const s = await fresh();
      await Promise.all([
        s.put('d/a.txt', body('abc')),
        s.put('d/sub/b.txt', body('bb')),
        s.put('d/sub/deeper/c.txt', body('c')),
        s.put('dx/y.txt', body('y')),
        s.put('top.txt', body('top!')),
      ]);
      assert.deepEqual(await s.list(''), [
        { name: 'd', isDir: true },
        { name: 'dx', isDir: true },
        { name: 'top.txt', isDir: false, sizeBytes: 4 },
      ]);
      const d = [
        { name: 'a.txt', isDir: false, sizeBytes: 3 },
        { name: 'sub', isDir: true },
      ];
      assert.deepEqual(await s.list('d'), d);
      assert.deepEqual(await s.list('d/'), d);
      assert.deepEqual(await s.list('d/sub/deeper'), [{ name: 'c.txt', isDir: false, sizeBytes: 1 }]);
      assert.deepEqual(await s.list('missing'), []);
      assert.deepEqual(await s.list('d/a.txt/'), []);
    });

    test('delete removes one object, then a whole prefix, and they are really gone', async () => {
      const s = await fresh();
      for (const key of ['p/one.txt', 'p/q/two.txt', 'p/q/r/three.txt', 'p.txt', 'pp/keep.txt', 'solo/only.txt']) {
        await s.put(key, body(key));
      }
      await s.delete('solo/only.txt');
      assert.equal(await s.head('solo/only.txt'), undefined);
      await assert.rejects(s.get('solo/only.txt'), MISSING);
      assert.deepEqual(await s.list('solo'), []);

      await s.delete('p/');
      for (const key of ['p/one.txt', 'p/q/two.txt', 'p/q/r/three.txt']) {
        assert.equal(await s.head(key), undefined, key);
        await assert.rejects(s.get(key), MISSING);
      }
      assert.deepEqual(await s.list('p'), []);
      assert.deepEqual((await s.list('')).map((e) => e.name), ['p.txt', 'pp']);
      assert.equal((await fullRead(s, 'pp/keep.txt')).toString(), 'pp/keep.txt');

      await s.delete('never/was.txt');
      await s.delete('never/');
      await assert.rejects(s.delete(''), INVALID);
      await assert.rejects(s.delete('/'), INVALID);
    });

    test('unsafe keys are rejected before touching storage', async () => {
      const s = await fresh();
      const badKeys = ['', '../x', 'a/../../b', '..', '.', './a', '/etc/passwd', 'a\\b', 'a\0b', 'a//b', 'a/', '.capstan-meta/x', '.capstan-tmp/x'];
      for (const key of badKeys) {
        await assert.rejects(s.put(key, body('x')), INVALID, `put ${JSON.stringify(key)}`);
        await assert.rejects(s.get(key), INVALID, `get ${JSON.stringify(key)}`);
        await assert.rejects(s.head(key), INVALID, `head ${JSON.stringify(key)}`);
      }
      for (const prefix of ['../', 'a/../', '/abs/', 'a\\b/', 'a//b/']) {
        await assert.rejects(s.list(prefix), INVALID, `list ${JSON.stringify(prefix)}`);
        await assert.rejects(s.delete(prefix), INVALID, `delete ${JSON.stringify(prefix)}`);
      }
      assert.deepEqual(await s.list(''), []);
    });

    test('a missing key is RESOURCE_DOES_NOT_EXIST, also for a ranged read or a directory', async () => {
      const s = await fresh();
      await s.put('dir/file.txt', body('x'));
      await assert.rejects(s.get('nope.txt'), MISSING);
      await assert.rejects(s.get('nope.txt', { range: { start: 0, end: 1 } }), MISSING);
      await assert.rejects(s.get('dir'), MISSING);
      assert.equal(await s.head('nope.txt'), undefined);
      assert.equal(await s.head('dir'), undefined);
    });

    test('bytes changed behind the store fail a full read with ARTIFACT_INTEGRITY_ERR', async () => {
      const s = await fresh();
      const original = pattern(0, 50_000);
      await s.put('same-size.bin', body(original));
      await s.put('shorter.bin', body(original));
      const flipped = Buffer.from(original);
      flipped[25_000] = flipped[25_000]! ^ 0xff;
      await backend.tamper('same-size.bin', flipped);
      await backend.tamper('shorter.bin', original.subarray(0, 49_999));
      await assert.rejects(fullRead(s, 'same-size.bin'), CORRUPT);
      await assert.rejects(fullRead(s, 'shorter.bin'), CORRUPT);
    });

    test('overwriting a key replaces its content and hash', async () => {
      const s = await fresh();
      await s.put('k.txt', body('first version'));
      const second = await s.put('k.txt', body('second, longer version'));
      assert.equal(second.sha256, sha256Of(Buffer.from('second, longer version')));
      assert.deepEqual(await s.head('k.txt'), second);
      assert.equal((await fullRead(s, 'k.txt')).toString(), 'second, longer version');
      assert.deepEqual(await s.list(''), [{ name: 'k.txt', isDir: false, sizeBytes: second.sizeBytes }]);
    });

    test('concurrent puts of different keys all land intact', async () => {
      const s = await fresh();
      const keys = Array.from({ length: 24 }, (_, i) => `c/${i % 4}/obj-${i}.bin`);
      const infos = await Promise.all(keys.map((key, i) => s.put(key, patternStream(10_000 + i * 997, 1000))));
      for (const [i, key] of keys.entries()) {
        const sizeBytes = 10_000 + i * 997;
        assert.deepEqual(infos[i], { key, sha256: patternSha256(sizeBytes), sizeBytes });
        assert.deepEqual(await hashStream((await s.get(key)).body), { sha256: infos[i]!.sha256, sizeBytes });
      }
    });

    test('a failed or mis-declared upload leaves nothing behind', async () => {
      const s = await fresh();
      await assert.rejects(s.put('small-fail.bin', Readable.from(failingBody(1000))), /client went away/);
      await assert.rejects(s.put('big-fail.bin', Readable.from(failingBody(PART_SIZE_BYTES + 10))), /client went away/);
      await assert.rejects(s.put('declared.bin', body('12345'), { sizeBytes: 4 }), INVALID);
      for (const key of ['small-fail.bin', 'big-fail.bin', 'declared.bin']) assert.equal(await s.head(key), undefined);
      assert.deepEqual(await s.list(''), []);
      assert.deepEqual(await backend.leftoverTemps(), []);
    });
  });
}
