// `capstan serve` as a real process: one ONNX file served over V2 and V1 with no database, a bearer
// token on everything but the health probes, and a clean exit on SIGTERM.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertBuilt, cleanEnv, freePort, httpRequest, ROOT } from '../support/server-process.js';
import { assertClose as assertCloseTo } from '../support/models.js';

const MODEL_FILE = 'test/fixtures/onnx/tree_ensemble.onnx';
const SIDECAR = JSON.parse(readFileSync(join(ROOT, 'test/fixtures/onnx/tree_ensemble.json'), 'utf8'));
const EX0 = SIDECAR.examples.find((e: { id: string }) => e.id === 'ex0');
const TOKEN = 's3cret';
const AUTH = { authorization: `Bearer ${TOKEN}` };
const START_TIMEOUT_MS = 20_000;

/** Within the sidecar's tolerance for probabilities. */
const assertClose = (got: number[], expected: number[], what: string) => assertCloseTo(got, expected, SIDECAR.tolerance.probabilities.rtol, SIDECAR.tolerance.probabilities.atol, what);

const request = httpRequest;

describe('capstan serve', () => {
  let child: ChildProcess;
  let exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  let base: string;
  let out = '';
  let err = '';

  before(async () => {
    assertBuilt();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    child = spawn(process.execPath, [join(ROOT, 'bin', 'capstan.js'), 'serve', MODEL_FILE, '--port', String(port), '--token', TOKEN, '--workers', '1'], {
      cwd: ROOT,
      env: cleanEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.stderr!.setEncoding('utf8').on('data', (c: string) => (err += c));
    exited = new Promise((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
    let isExited = false;
    void exited.then(() => (isExited = true));
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (isExited) throw new Error(`capstan serve exited early:\n${err}\n${out}`);
      if (Date.now() > deadline) throw new Error(`capstan serve was not ready within ${START_TIMEOUT_MS} ms:\n${err}\n${out}`);
      try {
        if ((await fetch(`${base}/v2/health/ready`)).status === 200) break;
      } catch {
        // Not listening yet.
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  });

  after(() => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });

  it('announces where it serves the model', () => {
    assert.ok(out.includes(`capstan serve: ${MODEL_FILE} at ${base}/v2/models/tree_ensemble\n`), out);
  });

  it('answers the health probes without the token', async () => {
    const ready = await request(base, 'GET', '/v2/health/ready');
    assert.equal(ready.status, 200, ready.text);
    assert.deepEqual(ready.json, { ready: true });
    const live = await request(base, 'GET', '/v2/health/live');
    assert.equal(live.status, 200, live.text);
    assert.deepEqual(live.json, { live: true });
  });

  it('refuses a request without the token, or with a wrong one, with 401 UNAUTHENTICATED', async () => {
    const body = { inputs: [{ name: 'input', ...EX0.inputs.input }] };
    for (const headers of [{}, { authorization: 'Bearer wrong' }, { authorization: `Bearer ${TOKEN}x` }, { authorization: TOKEN }] as Record<string, string>[]) {
      const res = await request(base, 'POST', '/v2/models/tree_ensemble/infer', body, headers);
      assert.equal(res.status, 401, res.text);
      assert.equal(res.json.error_code, 'UNAUTHENTICATED');
      assert.match(res.json.message, /Authorization: Bearer <token>/);
      assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer /);
    }
    const metadata = await request(base, 'GET', '/v2/models/tree_ensemble');
    assert.equal(metadata.status, 401, metadata.text);
    assert.equal(metadata.json.error_code, 'UNAUTHENTICATED');
  });

  it('answers V2 inference for the sidecar example ex0: the label exactly, the probabilities within tolerance', async () => {
    const res = await request(base, 'POST', '/v2/models/tree_ensemble/infer', { id: 'ex0', inputs: [{ name: 'input', ...EX0.inputs.input }] }, AUTH);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers.get('x-capstan-target'), 'default');
    assert.equal(res.json.model_name, 'tree_ensemble');
    assert.equal(res.json.model_version, '1');
    assert.equal(res.json.id, 'ex0');
    const [label, probabilities] = res.json.outputs;
    assert.deepEqual(label, { name: 'label', datatype: 'INT64', shape: [1], data: [0] });
    assert.deepEqual(label.data, EX0.expected_outputs.label.data);
    assert.equal(probabilities.name, 'probabilities');
    assert.equal(probabilities.datatype, 'FP32');
    assert.deepEqual(probabilities.shape, [1, 2]);
    assertClose(probabilities.data, EX0.expected_outputs.probabilities.data, 'V2 ex0 probabilities');
  });

  it('answers V1 :predict in row and columnar format', async () => {
    const row = EX0.inputs.input.data;
    const rows = await request(base, 'POST', '/v1/models/tree_ensemble:predict', { instances: [row] }, AUTH);
    assert.equal(rows.status, 200, rows.text);
    assert.equal(rows.json.predictions.length, 1);
    const [p] = rows.json.predictions;
    assert.deepEqual(Object.keys(p), ['label', 'probabilities']);
    assert.equal(p.label, 0);
    assertClose(p.probabilities, EX0.expected_outputs.probabilities.data, 'V1 rows ex0 probabilities');

    const cols = await request(base, 'POST', '/v1/models/tree_ensemble:predict', { inputs: { input: [row] } }, AUTH);
    assert.equal(cols.status, 200, cols.text);
    assert.deepEqual(cols.json.outputs.label, [0]);
    assertClose(cols.json.outputs.probabilities[0], EX0.expected_outputs.probabilities.data, 'V1 columns ex0 probabilities');

    const unauthenticated = await request(base, 'POST', '/v1/models/tree_ensemble:predict', { instances: [row] });
    assert.equal(unauthenticated.status, 401, unauthenticated.text);
    assert.equal(unauthenticated.json.error_code, 'UNAUTHENTICATED');
  });

  it('exits with code 0 within 10 s of SIGTERM', async () => {
    const started = Date.now();
    child.kill('SIGTERM');
    const timeout = new Promise<'timeout'>((resolve) => setTimeout(resolve, 10_000, 'timeout').unref());
    const result = await Promise.race([exited, timeout]);
    assert.notEqual(result, 'timeout', `still running 10 s after SIGTERM:\n${err}`);
    assert.deepEqual(result, { code: 0, signal: null }, err);
    assert.ok(Date.now() - started < 10_000);
  });
});
