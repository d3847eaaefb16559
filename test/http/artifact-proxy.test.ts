// The artifact proxy through Fastify's inject, plus a real socket where a path must reach the server
// exactly as written (URL parsers resolve `..` before sending).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import type { FastifyInstance } from 'fastify';
import { assertError, assertOk, call, UUID } from '../support/inject.js';
import { startTestPlatform, type TestPlatform } from '../support/platform.js';

const API = '/api/2.0/mlflow';
const PROXY = '/api/2.0/mlflow-artifacts/artifacts';

describe('artifact proxy', () => {
  let tp: TestPlatform;
  let app: FastifyInstance;
  before(async () => {
    tp = await startTestPlatform();
    app = tp.app;
  });
  after(() => tp.close());

  const bytes = randomBytes(3 * 1024 * 1024 + 17);

  it('stores and returns a multi-megabyte file byte for byte, under both prefixes', async () => {
    assert.deepEqual(assertOk(await call(app, 'PUT', `${PROXY}/1/run/artifacts/data/weights.bin`, bytes)), {});
    for (const base of [PROXY, '/ajax-api/2.0/mlflow-artifacts/artifacts']) {
      const res = await app.inject({ method: 'GET', url: `${base}/1/run/artifacts/data/weights.bin` });
      assert.equal(res.statusCode, 200);
      assert.ok(res.rawPayload.equals(bytes), 'downloaded bytes differ');
      assert.equal(res.headers['content-length'], String(bytes.length));
      assert.equal(res.headers['content-type'], 'application/octet-stream');
      assert.equal(res.headers['content-disposition'], 'attachment; filename="weights.bin"');
      assert.match(String(res.headers['x-content-sha256']), /^[0-9a-f]{64}$/);
    }
  });

  it('answers a Range request with 206 and exactly those bytes', async () => {
    const url = `${PROXY}/1/run/artifacts/data/weights.bin`;
    const cases: [string, number, number][] = [
      ['bytes=0-9', 0, 9],
      ['bytes=1048576-2097151', 1048576, 2097151],
      [`bytes=${bytes.length - 100}-`, bytes.length - 100, bytes.length - 1],
      ['bytes=-7', bytes.length - 7, bytes.length - 1],
      [`bytes=${bytes.length - 3}-${bytes.length + 1000}`, bytes.length - 3, bytes.length - 1],
    ];
    for (const [range, start, end] of cases) {
      const res = await app.inject({ method: 'GET', url, headers: { range } });
      assert.equal(res.statusCode, 206, range);
      assert.equal(res.headers['content-range'], `bytes ${start}-${end}/${bytes.length}`);
      assert.equal(res.headers['content-length'], String(end - start + 1));
      assert.ok(res.rawPayload.equals(bytes.subarray(start, end + 1)), `wrong bytes for ${range}`);
    }
    assertError(await call(app, 'GET', url, undefined, { range: `bytes=${bytes.length}-` }), 'INVALID_PARAMETER_VALUE');
  });

  it('lists one directory level with sizes; a missing directory lists as {}', async () => {
    assertOk(await call(app, 'PUT', `${PROXY}/1/run/artifacts/readme.md`, '# hi\n'));
    assertOk(await call(app, 'PUT', `${PROXY}/1/run/artifacts/data/sub/x.json`, '{}'));
    const top = assertOk(await call(app, 'GET', `${PROXY}?path=1/run/artifacts`));
    assert.deepEqual(top.files, [
      { path: 'data', is_dir: true },
      { path: 'readme.md', is_dir: false, file_size: 5 },
    ]);
    const data = assertOk(await call(app, 'GET', `/ajax-api/2.0/mlflow-artifacts/artifacts?path=${encodeURIComponent('1/run/artifacts/data')}`));
    assert.deepEqual(data.files, [
      { path: 'sub', is_dir: true },
      { path: 'weights.bin', is_dir: false, file_size: bytes.length },
    ]);
    assert.deepEqual(assertOk(await call(app, 'GET', `${PROXY}?path=nothing/here`)), {});
  });

  it('serves text as text/plain and keeps names with unusual characters', async () => {
    assertOk(await call(app, 'PUT', `${PROXY}/names/${encodeURIComponent('100% done.txt')}`, 'percent'));
    assertOk(await call(app, 'PUT', `${PROXY}/names/${encodeURIComponent('résumé ✓.html')}`, '<b>x</b>'));
    const listed = assertOk(await call(app, 'GET', `${PROXY}?path=names`)).files.map((f: any) => f.path);
    assert.deepEqual(listed, ['100% done.txt', 'résumé ✓.html']);
    const pct = await call(app, 'GET', `${PROXY}/names/${encodeURIComponent('100% done.txt')}`);
    assert.equal(pct.text, 'percent');
    const html = await call(app, 'GET', `${PROXY}/names/${encodeURIComponent('résumé ✓.html')}`);
    assert.equal(html.status, 200);
    assert.equal(html.headers['content-type'], 'text/plain; charset=utf-8');
    assert.match(String(html.headers['content-disposition']), /^attachment; filename="[\x20-\x7e]+"; filename\*=UTF-8''r%C3%A9sum%C3%A9%20%E2%9C%93\.html$/);
  });

  it('DELETE removes a file and a directory for real, with or without a JSON body', async () => {
    assertOk(await call(app, 'PUT', `${PROXY}/del/a.txt`, 'a'));
    assertOk(await call(app, 'PUT', `${PROXY}/del/dir/b.txt`, 'b'));
    assertOk(await call(app, 'PUT', `${PROXY}/del/dir/c/d.txt`, 'd'));
    assert.deepEqual(assertOk(await call(app, 'DELETE', `${PROXY}/del/a.txt`, { path: 'del/a.txt' })), {});
    assertError(await call(app, 'GET', `${PROXY}/del/a.txt`), 'RESOURCE_DOES_NOT_EXIST');
    assert.deepEqual(assertOk(await call(app, 'DELETE', `${PROXY}/del/dir`)), {});
    assertError(await call(app, 'GET', `${PROXY}/del/dir/c/d.txt`), 'RESOURCE_DOES_NOT_EXIST');
    assert.deepEqual(assertOk(await call(app, 'GET', `${PROXY}?path=del`)), {});
  });

  it('assembles a multipart upload from its parts, and keeps staged parts out of reach', async () => {
    const mpu = '/api/2.0/mlflow-artifacts/mpu';
    const parts = [bytes.subarray(0, 1 << 20), bytes.subarray(1 << 20, 2 << 20), bytes.subarray(2 << 20)];
    const created = assertOk(await call(app, 'POST', `${mpu}/create/2/run/artifacts/big`, { path: '/tmp/local/model.bin', num_parts: parts.length }));
    assert.equal(created.credentials.length, parts.length);
    const etags: string[] = [];
    const first = new URL(created.credentials[0].url);
    const unsigned = await app.inject({ method: 'PUT', url: first.pathname, payload: parts[0] });
    assert.equal(unsigned.statusCode, 403, 'a part URL without its signature must be refused');
    const forged = await app.inject({ method: 'PUT', url: `${first.pathname}?expires=${first.searchParams.get('expires')}&signature=${'A'.repeat(43)}`, payload: parts[0] });
    assert.equal(forged.statusCode, 403, 'a part URL with a wrong signature must be refused');
    const otherPart = new URL(created.credentials[1].url);
    const swapped = await app.inject({ method: 'PUT', url: `${first.pathname}${otherPart.search}`, payload: parts[0] });
    assert.equal(swapped.statusCode, 403, "one part's signature must not open another part's URL");
    for (const [i, cred] of created.credentials.entries()) {
      const url = new URL(cred.url);
      const put = await app.inject({ method: 'PUT', url: url.pathname + url.search, payload: parts[i] });
      assert.equal(put.statusCode, 200, put.body);
      etags.push(String(put.headers.etag));
    }
    const listing = assertOk(await call(app, 'GET', PROXY));
    assert.ok(!(listing.files ?? []).some((f: any) => f.path.startsWith('_capstan')), `staged uploads are listed: ${JSON.stringify(listing)}`);
    const staged = `_capstan_uploads/${created.upload_id}/part-1`;
    assertError(await call(app, 'GET', `${PROXY}/${staged}`), 'INVALID_PARAMETER_VALUE');
    assertError(await call(app, 'PUT', `${PROXY}/${staged}`, 'overwrite'), 'INVALID_PARAMETER_VALUE');
    assertError(await call(app, 'DELETE', `${PROXY}/_capstan_uploads`), 'INVALID_PARAMETER_VALUE');
    const completeParts = etags.map((etag, i) => ({ part_number: i + 1, etag }));
    assertOk(await call(app, 'POST', `${mpu}/complete/2/run/artifacts/big`, { path: '/tmp/local/model.bin', upload_id: created.upload_id, parts: completeParts }));
    const res = await app.inject({ method: 'GET', url: `${PROXY}/2/run/artifacts/big/model.bin` });
    assert.ok(res.rawPayload.equals(bytes), 'assembled file differs');
  });

  it('rejects traversal spelled with encoded separators and dots (in-process)', async () => {
    const paths = ['..%2F..%2Fetc%2Fpasswd', 'a%2F..%2F..%2Fb', '%2Fetc%2Fpasswd', 'a%5C..%5Cb', 'C:%5Cwindows', 'a%00b', 'x/%252e%252e/y'];
    for (const p of paths) {
      assertError(await call(app, 'PUT', `${PROXY}/${p}`, 'x'), 'INVALID_PARAMETER_VALUE', 'Invalid artifact path');
      assertError(await call(app, 'GET', `${PROXY}/${p}`), 'INVALID_PARAMETER_VALUE', 'Invalid artifact path');
      assertError(await call(app, 'DELETE', `${PROXY}/${p}`), 'INVALID_PARAMETER_VALUE', 'Invalid artifact path');
    }
    for (const dir of ['..', '../..', '/etc', 'a/../../b', '%2e%2e']) {
      assertError(await call(app, 'GET', `${PROXY}?path=${encodeURIComponent(dir)}`), 'INVALID_PARAMETER_VALUE', 'Invalid artifact path');
    }
    const runId = assertOk(await call(app, 'POST', `${API}/runs/create`, { experiment_id: '0' })).run.info.run_id;
    assertError(await call(app, 'GET', `${API}/artifacts/list?run_id=${runId}&path=..%2F..`), 'INVALID_PARAMETER_VALUE', 'Invalid artifact path');
  });

  /** The same app on a loopback port, for requests no URL parser or inject would send as written. */
  let port = 0;
  const listening = async () => (port ||= Number(new URL(await app.listen({ host: '127.0.0.1', port: 0 })).port));

  it('rejects literal and percent-encoded `..` segments sent on a real socket', async () => {
    // URL parsers (and so inject) resolve `..` and `%2e%2e` before sending; raw HTTP does not.
    await listening();
    const raw = (method: string, path: string) =>
      new Promise<{ status: number; body: any }>((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port, method, path }, (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (c: string) => (text += c));
          res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
        });
        req.on('error', reject);
        req.end(method === 'PUT' ? 'x' : undefined);
      });
    for (const p of ['a/../../etc/passwd', '../secret', 'a/%2e%2e/%2e%2e/b', '%2E%2E/b', '//etc/passwd', 'a/..']) {
      for (const method of ['PUT', 'GET', 'DELETE']) {
        const res = await raw(method, `${PROXY}/${p}`);
        assert.equal(res.status, 400, `${method} ${p}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body.error_code, 'INVALID_PARAMETER_VALUE');
        assert.equal(typeof res.body.request_id, 'string');
      }
    }
  });

  it('answers requests the HTTP parser rejects with the same JSON error shape', async () => {
    await listening();
    const send = (text: string) =>
      new Promise<string>((resolve, reject) => {
        let answer = '';
        const socket = net.connect(port, '127.0.0.1', () => socket.write(text));
        socket.setEncoding('utf8').on('data', (c: string) => (answer += c));
        socket.on('close', () => resolve(answer));
        socket.on('error', reject);
      });
    for (const text of ['POST /api/2.0/mlflow/runs/create HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n', 'NOT-HTTP\r\n\r\n']) {
      const answer = await send(text);
      const [head, body] = answer.split('\r\n\r\n') as [string, string];
      assert.match(head, /^HTTP\/1\.1 400 /);
      const json = JSON.parse(body);
      assert.equal(json.error_code, 'BAD_REQUEST');
      assert.match(json.request_id, UUID);
      assert.match(head, new RegExp(`\r\nX-Request-Id: ${json.request_id}\r\n`, 'i'));
    }
  });
});
