import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, test } from 'node:test';
import { LocalBlobStore } from './local.js';
import { openBlobStore } from './registry.js';
import { S3BlobStore } from './s3.js';

const dir = await mkdtemp(join(tmpdir(), 'capstan-registry-'));
after(() => rm(dir, { recursive: true, force: true }));

test('file:// URIs, absolute and relative paths open the local store at that directory', async () => {
  for (const uri of [pathToFileURL(join(dir, 'a')).href, join(dir, 'b'), relative(process.cwd(), join(dir, 'c'))]) {
    const store = await openBlobStore(uri);
    assert.ok(store instanceof LocalBlobStore, uri);
    assert.equal(store.scheme, 'file');
    assert.ok(store.rootDir.startsWith(dir), store.rootDir);
    await store.close();
  }
});

test('s3:// URIs open the S3 store with bucket and prefix', async () => {
  const store = await openBlobStore('s3://bucket/some/prefix/', { endpoint: 'http://127.0.0.1:1', forcePathStyle: true });
  assert.ok(store instanceof S3BlobStore);
  assert.equal(store.scheme, 's3');
  assert.deepEqual([store.bucket, store.prefix], ['bucket', 'some/prefix']);
  await store.close();
});

test('an unknown scheme names the known ones', async () => {
  await assert.rejects(openBlobStore('gs://bucket/x'), {
    code: 'INVALID_PARAMETER_VALUE',
    message: "unknown blob store scheme 'gs:'; known: file://, s3://",
  });
});

test('malformed URIs and options are INVALID_PARAMETER_VALUE', async () => {
  for (const uri of ['', 'file://remote-host/x', 's3://', 's3://bucket/../x']) {
    await assert.rejects(openBlobStore(uri), { code: 'INVALID_PARAMETER_VALUE' }, uri);
  }
  await assert.rejects(openBlobStore('s3://bucket', { partSizeBytes: 1024 }), { code: 'INVALID_PARAMETER_VALUE' });
});
