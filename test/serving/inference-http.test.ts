// Inference over the Open Inference Protocol V2 and V1 on the embedded default: every fixture
// example within tolerance, every datatype (64-bit integers beyond 2^53 included), binary tensors,
// metadata and health, and bad input answered in the protocol's shape without harm to other models.
// The deployment store's SQL runs on both backends in deployments-http.test.ts; this file is about
// the protocols, which do not depend on the database.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { assertError, assertOk, call } from '../support/inject.js';
import { assertClose, fixtureModel, registerModel } from '../support/models.js';
import { startTestPlatform, type TestPlatform } from '../support/platform.js';

const mlp = fixtureModel('tabular_mlp');
const forest = fixtureModel('tree_ensemble');

async function deploy(app: FastifyInstance, name: string, model: string, version: string, extra: Record<string, unknown> = {}) {
  return assertOk(await call(app, 'POST', '/api/capstan/deployments/apply', { spec: { name, model, targets: { stable: { version: Number(version) } }, ...extra } })).deployment;
}

/** V2 error: our code and message, and the protocol's own `error` string. */
function assertV2Error(res: Awaited<ReturnType<typeof call>>, code: Parameters<typeof assertError>[1], message: RegExp): void {
  assertError(res, code, message);
  assert.equal(res.body.error, res.body.message);
}

describe('inference over V2 and V1', () => {
  let tp: TestPlatform;
  let app: FastifyInstance;
  before(async () => {
    tp = await startTestPlatform({ 'serving.max_request_bytes': 256 * 1024, 'serving.breaker_failures': 3 });
    app = tp.app;
    await deploy(app, 'cancer', 'mlp', await registerModel(app, 'mlp', mlp.bytes));
    await deploy(app, 'forest', 'forest', await registerModel(app, 'forest', forest.bytes));
    await deploy(app, 'echo', 'echo', await registerModel(app, 'echo', fixtureModel('dtype_echo').bytes));
    await deploy(app, 'broken', 'broken', await registerModel(app, 'broken', fixtureModel('broken_canary').bytes));
  });
  after(() => tp?.close());

  it('answers every sidecar example of both fixture models within tolerance through V2', async () => {
    for (const [name, fixture] of [['cancer', mlp], ['forest', forest]] as const) {
      for (const ex of fixture.sidecar.examples) {
        const res = assertOk(await call(app, 'POST', `/v2/models/${name}/infer`, { id: ex.id, inputs: [{ name: 'input', ...ex.inputs.input }] }));
        assert.equal(res.model_name, name);
        assert.equal(res.model_version, '1');
        assert.equal(res.id, ex.id);
        assert.deepEqual(res.outputs.map((o: any) => o.name), Object.keys(ex.expected_outputs));
        for (const out of res.outputs) {
          const want = ex.expected_outputs[out.name];
          assert.equal(out.datatype, want.datatype);
          assert.deepEqual(out.shape, want.shape);
          const tol = fixture.sidecar.tolerance[out.name] ?? fixture.sidecar.tolerance;
          if (tol === 'exact') assert.deepEqual(out.data, want.data, `${name} ${ex.id} ${out.name}`);
          else assertClose(out.data, want.data, tol.rtol, tol.atol, `${name} ${ex.id} ${out.name}`);
        }
      }
    }
  });

  it('answers the same examples through V1 rows and columns', async () => {
    for (const ex of forest.sidecar.examples) {
      const rows: number[][] = [];
      for (let r = 0; r < ex.inputs.input.shape[0]; r++) rows.push(ex.inputs.input.data.slice(r * 30, (r + 1) * 30));
      const res = assertOk(await call(app, 'POST', '/v1/models/forest:predict', { instances: rows }));
      assert.equal(res.predictions.length, rows.length);
      res.predictions.forEach((p: any, r: number) => {
        assert.equal(p.label, ex.expected_outputs.label.data[r]);
        assertClose(p.probabilities, ex.expected_outputs.probabilities.data.slice(r * 2, r * 2 + 2), 1e-5, 1e-6, `forest ${ex.id} row ${r}`);
      });
      const cols = assertOk(await call(app, 'POST', '/v1/models/forest:predict', { inputs: { input: rows } }));
      assert.deepEqual(cols.outputs.label, ex.expected_outputs.label.data);
    }
    for (const ex of mlp.sidecar.examples) {
      const rows: number[][] = [];
      for (let r = 0; r < ex.inputs.input.shape[0]; r++) rows.push(ex.inputs.input.data.slice(r * 30, (r + 1) * 30));
      const res = assertOk(await call(app, 'POST', '/v1/models/cancer:predict', { instances: rows }));
      const { rtol, atol } = mlp.sidecar.tolerance;
      res.predictions.forEach((p: number[], r: number) => assertClose(p, ex.expected_outputs.probabilities.data.slice(r * 2, r * 2 + 2), rtol, atol, `cancer V1 ${ex.id} row ${r}`));
    }
  });

  it('echoes every V2 datatype exactly, 64-bit extremes included, as JSON and as binary', async () => {
    const inputs: [string, string, unknown[]][] = [
      ['bool', 'BOOL', [true, false, false, true]], ['uint8', 'UINT8', [0, 255, 7, 8]], ['uint16', 'UINT16', [0, 65535, 1, 2]],
      ['uint32', 'UINT32', [0, 4294967295, 3, 4]], ['int8', 'INT8', [-128, 127, 0, -1]], ['int16', 'INT16', [-32768, 32767, 5, -5]],
      ['int32', 'INT32', [-2147483648, 2147483647, 9, -9]], ['fp16', 'FP16', [1, -2, 65504, 0.5]], ['fp32', 'FP32', [0.5, -0.25, 3.25, -1024]],
      ['fp64', 'FP64', [0.1, -2.5e300, 1e-300, 7]], ['bytes', 'BYTES', ['a', 'ünïcödé', '', 'x y']],
    ];
    // 64-bit literals beyond 2^53 are written by hand: JSON.stringify cannot carry them.
    const big = '{"name":"int64","datatype":"INT64","shape":[2,2],"data":[-9223372036854775808,9223372036854775807,9007199254740993,-1]},' +
      '{"name":"uint64","datatype":"UINT64","shape":[2,2],"data":[18446744073709551615,0,9007199254740993,1]}';
    const body = `{"inputs":[${big},${inputs.map(([name, datatype, data]) => JSON.stringify({ name, datatype, shape: [2, 2], data })).join(',')}]}`;
    const res = await call(app, 'POST', '/v2/models/echo/infer', body, { 'content-type': 'application/json' });
    assert.equal(res.status, 200, res.text);
    assert.ok(res.text.includes('"data":[-9223372036854775808,9223372036854775807,9007199254740993,-1]'), res.text);
    assert.ok(res.text.includes('"data":[18446744073709551615,0,9007199254740993,1]'));
    for (const [name, datatype, data] of inputs) {
      const out = res.body.outputs.find((o: any) => o.name === `echo_${name}`);
      assert.equal(out.datatype, datatype);
      assert.deepEqual(out.shape, [2, 2]);
      assert.deepEqual(out.data, data, name);
    }
    // Binary in and out: FP32 and INT64 raw little-endian bytes.
    const fp = Buffer.from(new Float32Array([1.5, -2, 3.25, 4]).buffer);
    const i64 = Buffer.from(new BigInt64Array([-9223372036854775808n, 9223372036854775807n, 1n, -1n]).buffer);
    const header = JSON.stringify({
      inputs: [
        { name: 'fp32', datatype: 'FP32', shape: [2, 2], parameters: { binary_data_size: fp.length } },
        { name: 'int64', datatype: 'INT64', shape: [2, 2], parameters: { binary_data_size: i64.length } },
        ...inputs.filter(([n]) => n !== 'fp32').map(([name, datatype, data]) => ({ name, datatype, shape: [2, 2], data })),
        { name: 'uint64', datatype: 'UINT64', shape: [2, 2], data: [1, 2, 3, 4] },
      ],
      outputs: [{ name: 'echo_int64', parameters: { binary_data: true } }, { name: 'echo_fp32', parameters: { binary_data: true } }, { name: 'echo_bool' }],
    });
    const raw = await app.inject({
      method: 'POST', url: '/v2/models/echo/infer', payload: Buffer.concat([Buffer.from(header), fp, i64]),
      headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(Buffer.byteLength(header)) },
    });
    assert.equal(raw.statusCode, 200, raw.body);
    const jsonLength = Number(raw.headers['inference-header-content-length']);
    const payload = raw.rawPayload;
    const json = JSON.parse(payload.subarray(0, jsonLength).toString());
    assert.deepEqual(json.outputs.map((o: any) => [o.name, o.parameters?.binary_data_size]), [['echo_int64', 32], ['echo_fp32', 16], ['echo_bool', undefined]]);
    assert.deepEqual(json.outputs[2].data, [true, false, false, true]);
    assert.deepEqual(payload.subarray(jsonLength, jsonLength + 32), i64);
    assert.deepEqual(payload.subarray(jsonLength + 32), fp);
  });

  it('serves metadata, readiness, health, statistics and the model list', async () => {
    assert.deepEqual(assertOk(await call(app, 'GET', '/v2/health/live')), { live: true });
    assert.deepEqual(assertOk(await call(app, 'GET', '/v2/health/ready')), { ready: true });
    for (const path of ['/v2', '/v2/']) {
      const meta = assertOk(await call(app, 'GET', path));
      assert.equal(meta.name, 'capstan');
      assert.ok(meta.extensions.includes('binary_tensor_data'));
    }
    const model = assertOk(await call(app, 'GET', '/v2/models/forest'));
    assert.deepEqual(model.inputs, [{ name: 'input', datatype: 'FP32', shape: [-1, 30] }]);
    assert.deepEqual(model.outputs, [{ name: 'label', datatype: 'INT64', shape: [-1] }, { name: 'probabilities', datatype: 'FP32', shape: [-1, 2] }]);
    assert.equal(model.platform, 'onnx_onnxv1');
    assert.deepEqual(assertOk(await call(app, 'GET', '/v2/models/forest/versions/1')).versions, ['1']);
    assert.deepEqual(assertOk(await call(app, 'GET', '/v2/models/forest/ready')), { name: 'forest', ready: true });
    assert.deepEqual(assertOk(await call(app, 'GET', '/v1/models/forest')), { name: 'forest', ready: true });
    assert.deepEqual(assertOk(await call(app, 'GET', '/v2/models')).models.sort(), ['broken', 'cancer', 'echo', 'forest']);
    const stats = assertOk(await call(app, 'GET', '/v2/models/forest/stats')).model_stats[0];
    assert.ok(stats.inference_count >= forest.sidecar.examples.length, JSON.stringify(stats));
    assert.ok(stats.execution_count >= 2); // warm-up runs count too
  });

  it('answers bad input with a 4xx naming the problem, in both protocols', async () => {
    const row = Array(30).fill(1);
    const infer = (body: unknown, name = 'cancer') => call(app, 'POST', `/v2/models/${name}/infer`, body);
    assertV2Error(await infer({ inputs: [{ name: 'nope', datatype: 'FP32', shape: [1, 30], data: row }] }), 'MODEL_INPUT_INVALID', /nope/);
    assertV2Error(await infer({ inputs: [{ name: 'input', datatype: 'INT32', shape: [1, 30], data: row }] }), 'MODEL_INPUT_INVALID', /INT32|FP32/);
    assertV2Error(await infer({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 29], data: row.slice(1) }] }), 'MODEL_INPUT_INVALID', /\[1,29\].*\[-1,30\]/);
    assertV2Error(await infer({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 30], data: row.slice(1) }] }), 'MODEL_INPUT_INVALID', /input/);
    assertV2Error(await infer({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 30], data: [...row.slice(1), 'abc'] }] }), 'MODEL_INPUT_INVALID', /element 29/);
    assertV2Error(await infer({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 30], data: row }], outputs: [{ name: 'logits' }] }), 'MODEL_INPUT_INVALID', /logits/);
    assertV2Error(await infer({ inputs: [] }), 'MODEL_INPUT_INVALID', /inputs/);
    assertV2Error(await call(app, 'POST', '/v2/models/cancer/infer', '{"inputs": [', { 'content-type': 'application/json' }), 'BAD_REQUEST', /JSON/);
    assertV2Error(await infer({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 30], data: row }] }, 'missing'), 'RESOURCE_DOES_NOT_EXIST', /missing/);
    assertV2Error(await call(app, 'POST', '/v2/models/cancer/versions/7/infer', { inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 30], data: row }] }), 'RESOURCE_DOES_NOT_EXIST', /version 7/);
    const huge = { inputs: [{ name: 'input', datatype: 'FP32', shape: [10000, 30], data: Array(300000).fill(1.5) }] };
    assertV2Error(await infer(huge), 'PAYLOAD_TOO_LARGE', /max_request_bytes/);
    assertV2Error(await call(app, 'POST', '/v1/models/cancer:predict', { instances: [row], inputs: [row] }), 'MODEL_INPUT_INVALID', /exactly one/);
    assertV2Error(await call(app, 'POST', '/v1/models/cancer:predict', { instances: [row, row.slice(1)] }), 'MODEL_INPUT_INVALID', /instances\[1\]/);
    assertV2Error(await call(app, 'POST', '/v1/models/cancer:explain', { instances: [row] }), 'RESOURCE_DOES_NOT_EXIST', /predict only/);
    // Still serving after all of that.
    assertOk(await infer({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 30], data: row }] }));
  });

  it('answers a model failure with MODEL_INFERENCE_ERR, opens its breaker, and keeps serving other models', async () => {
    const real = mlp.sidecar.examples[0].inputs.input;
    const broken = () => call(app, 'POST', '/v2/models/broken/infer', { inputs: [{ name: 'input', ...real }] });
    for (let i = 0; i < 3; i++) assertV2Error(await broken(), 'MODEL_INFERENCE_ERR', /Gather|indices/);
    const open = await broken();
    assertV2Error(open, 'MODEL_CIRCUIT_OPEN', /circuit breaker/);
    assert.ok(Number(open.headers['retry-after']) >= 1);
    assertOk(await call(app, 'POST', '/v2/models/cancer/infer', { inputs: [{ name: 'input', ...real }] }));
    const metrics = (await call(app, 'GET', '/metrics')).text;
    assert.match(metrics, /capstan_inference_request_duration_seconds_count\{deployment="cancer",model="mlp",version="1"\} \d+/);
    assert.match(metrics, /capstan_inference_requests_total\{deployment="broken",model="broken",version="1",outcome="MODEL_INFERENCE_ERR"\} 3/);
    assert.match(metrics, /capstan_inference_rejected_total\{deployment="broken",reason="circuit_open"\} 1/);
    assert.match(metrics, /capstan_model_ready\{deployment="cancer",model="mlp",version="1"\} 1/);
  });
});
