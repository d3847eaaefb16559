import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { extractSignature, MAX_ONNX_SIGNATURE_BYTES, type ModelSignatureResult, type TensorSpec } from './model-signature.js';

const onnxFixture = (name: string): Buffer => readFileSync(new URL(`../../test/fixtures/onnx/${name}.onnx`, import.meta.url));
function sidecar(name: string): { inputs: TensorSpec[]; outputs: TensorSpec[] } {
  const { inputs, outputs } = JSON.parse(readFileSync(new URL(`../../test/fixtures/onnx/${name}.json`, import.meta.url), 'utf8')) as Record<string, TensorSpec[]>;
  return { inputs: inputs!, outputs: outputs! };
}

/** Runs extractSignature over an in-memory model; `sizes` overrides a file's reported size. */
async function extract(contents: Record<string, string | Buffer>, sizes: Record<string, number> = {}): Promise<{ result: ModelSignatureResult; read: string[] }> {
  const read: string[] = [];
  const files = Object.entries(contents).map(([path, body]) => ({ path, sizeBytes: sizes[path] ?? Buffer.byteLength(body) }));
  const result = await extractSignature(files, async (path) => {
    read.push(path);
    const body = contents[path];
    if (body === undefined) throw new Error(`test read a file that does not exist: ${path}`);
    return Buffer.from(body);
  });
  return { result, read };
}

const column = (name: string, datatype: string | null): TensorSpec => ({ name, datatype, onnx_type: null, shape: [-1], symbolic_dims: [null] });

// As MLflow 2.9 writes it for mlflow.sklearn.log_model(..., signature=infer_signature(X, y)).
const SKLEARN_MLMODEL = `artifact_path: model
flavors:
  python_function:
    env:
      conda: conda.yaml
      virtualenv: python_env.yaml
    loader_module: mlflow.sklearn
    model_path: model.pkl
    predict_fn: predict
    python_version: 3.11.2
  sklearn:
    code: null
    pickled_model: model.pkl
    serialization_format: cloudpickle
    sklearn_version: 1.3.2
mlflow_version: 2.9.2
model_uuid: 5d2c86cbd3a04c6b8a0a5f0b7e1f8a61
run_id: 0a1b2c3d4e5f
signature:
  inputs: '[{"type": "double", "name": "sepal length (cm)", "required": true}, {"type":
    "long", "name": "count", "required": true}, {"type": "integer", "name": "small", "required":
    true}, {"type": "float", "name": "f", "required": true}, {"type": "string", "name":
    "species", "required": false}, {"type": "binary", "name": "blob", "required": true},
    {"type": "datetime", "name": "ts", "required": true}, {"type": "boolean", "name": "flag",
    "required": true}]'
  outputs: '[{"type": "tensor", "tensor-spec": {"dtype": "int64", "shape": [-1]}}]'
  params: null
utc_time_created: '2024-01-15 10:00:00.000000'
`;

const TENSOR_MLMODEL = `flavors:
  python_function:
    loader_module: mlflow.pytorch
  pytorch:
    model_data: data
    pytorch_version: 2.1.0
signature:
  inputs: '[{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 4]}, "name": "input"}]'
  outputs: '[{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1, 3]}, "name": "scores"},
    {"type": "tensor", "tensor-spec": {"dtype": "<U0", "shape": [-1]}, "name": "label"}, {"type": "tensor",
    "tensor-spec": {"dtype": "uint8", "shape": [-1, 28, 28]}, "name": "image"}]'
`;

const ONNX_MLMODEL = `flavors:
  onnx:
    code: null
    data: model.onnx
    onnx_version: 1.15.0
    providers: [CPUExecutionProvider]
  python_function:
    data: model.onnx
    loader_module: mlflow.onnx
mlflow_version: 2.9.2
`;

describe('extractSignature from an MLmodel file', () => {
  it('maps a column signature to OIP datatypes, unnamed specs by position', async () => {
    const { result, read } = await extract({ 'MLmodel': SKLEARN_MLMODEL, 'model.pkl': 'pickle', 'conda.yaml': '' });
    assert.deepEqual(result, {
      signature: {
        source: 'mlmodel',
        file: 'MLmodel',
        inputs: [
          column('sepal length (cm)', 'FP64'), column('count', 'INT64'), column('small', 'INT32'), column('f', 'FP32'),
          column('species', 'BYTES'), column('blob', 'BYTES'), column('ts', 'BYTES'), column('flag', 'BOOL'),
        ],
        outputs: [{ name: '0', datatype: 'INT64', onnx_type: null, shape: [-1], symbolic_dims: [null] }],
        flavors: ['python_function', 'sklearn'],
      },
    });
    assert.deepEqual(read, ['MLmodel']);
  });

  it('maps a tensor signature with its shapes', async () => {
    const { result } = await extract({ 'MLmodel': TENSOR_MLMODEL, 'data/model.pth': 'x' });
    assert.deepEqual(result, {
      signature: {
        source: 'mlmodel',
        file: 'MLmodel',
        inputs: [{ name: 'input', datatype: 'FP32', onnx_type: null, shape: [-1, 4], symbolic_dims: [null, null] }],
        outputs: [
          { name: 'scores', datatype: 'FP64', onnx_type: null, shape: [-1, 3], symbolic_dims: [null, null] },
          { name: 'label', datatype: 'BYTES', onnx_type: null, shape: [-1], symbolic_dims: [null] },
          { name: 'image', datatype: 'UINT8', onnx_type: null, shape: [-1, 28, 28], symbolic_dims: [null, null, null] },
        ],
        flavors: ['python_function', 'pytorch'],
      },
    });
  });

  it('reads the graph of the file the onnx flavor names when there is no signature', async () => {
    const { result, read } = await extract({ 'MLmodel': ONNX_MLMODEL, 'model.onnx': onnxFixture('tabular_mlp'), 'extra/other.onnx': 'not read' });
    assert.deepEqual(result, {
      signature: {
        source: 'onnx',
        file: 'model.onnx',
        ...sidecar('tabular_mlp'),
        flavors: ['onnx', 'python_function'],
        onnx: { irVersion: 8, opsetImport: { 'ai.onnx': 17 }, producer: 'pytorch 1.13.0' },
      },
    });
    assert.deepEqual(read, ['MLmodel', 'model.onnx']);
  });

  it('says so when the onnx flavor names a file that is not there', async () => {
    const { result } = await extract({ 'MLmodel': ONNX_MLMODEL.replaceAll('model.onnx', './net/model.onnx'), 'model.onnx': onnxFixture('tabular_mlp') });
    assert.deepEqual(result, { signature: null, reason: "MLmodel has no signature and its onnx flavor names net/model.onnx, which is not among the model's files" });
  });

  it('falls back to a lone .onnx file, or says there is none', async () => {
    const bare = 'flavors:\n  python_function: {loader_module: custom}\n';
    const { result } = await extract({ 'MLmodel': bare, 'net.onnx': onnxFixture('tree_ensemble') });
    assert.equal(result.signature?.source, 'onnx');
    assert.equal(result.signature?.file, 'net.onnx');
    assert.deepEqual(result.signature?.flavors, ['python_function']);
    assert.deepEqual((await extract({ 'MLmodel': bare, 'model.pkl': 'x' })).result, { signature: null, reason: 'MLmodel has no signature and the model has no .onnx file' });
  });

  it('gives the YAML error as the reason for a malformed MLmodel', async () => {
    const { result } = await extract({ 'MLmodel': 'flavors: [unclosed\nsignature: x\n', 'model.onnx': onnxFixture('tabular_mlp') });
    assert.deepEqual(result, {
      signature: null,
      reason: 'MLmodel: invalid YAML: Flow sequence in block collection must be sufficiently indented and end with a ] at line 2, column 1:',
    });
  });

  it('gives a clear reason for a signature that is not what MLflow writes', async () => {
    const cases: [string, string][] = [
      ["signature:\n  inputs: '[{\"type\": '\n", 'MLmodel: signature inputs is not valid JSON: Unexpected end of JSON input'],
      ["signature:\n  inputs: '{\"type\": \"double\"}'\n", 'MLmodel: signature inputs should be a list of column or tensor specs'],
      ["signature:\n  inputs: '[{\"name\": \"x\"}]'\n", 'MLmodel: signature inputs[0] has no type'],
      ["signature:\n  inputs: '[{\"type\": \"long\"}]'\n  outputs: '[{\"type\": \"tensor\", \"tensor-spec\": {\"dtype\": \"float32\", \"shape\": [\"a\"]}}]'\n",
        'MLmodel: signature outputs[0] has a tensor-spec shape that is not a list of integers'],
      ['- just\n- a list\n', 'MLmodel: expected a YAML mapping at the top level'],
    ];
    for (const [text, reason] of cases) assert.deepEqual((await extract({ 'MLmodel': text })).result, { signature: null, reason }, text);
  });
});

describe('extractSignature without an MLmodel file', () => {
  it('reads the only .onnx file, wherever it is', async () => {
    const { result } = await extract({ 'export/tree.onnx': onnxFixture('tree_ensemble'), 'README.md': '# tree' });
    assert.deepEqual(result, {
      signature: {
        source: 'onnx',
        file: 'export/tree.onnx',
        ...sidecar('tree_ensemble'),
        onnx: { irVersion: 8, opsetImport: { 'ai.onnx': 17, 'ai.onnx.ml': 3 }, producer: 'anchors-make_models 1' },
      },
    });
  });

  it('prefers the shallowest model.onnx, then the shallowest .onnx, and refuses to guess between equals', async () => {
    const mlp = onnxFixture('tabular_mlp');
    const tree = onnxFixture('tree_ensemble');
    assert.equal((await extract({ 'a.onnx': tree, 'model.onnx': mlp, 'sub/model.onnx': tree })).result.signature?.file, 'model.onnx');
    assert.equal((await extract({ 'a.onnx': tree, 'onnx/model.onnx': mlp })).result.signature?.file, 'onnx/model.onnx');
    assert.equal((await extract({ 'x/a.onnx': tree, 'b.onnx': mlp })).result.signature?.file, 'b.onnx');
    assert.deepEqual((await extract({ 'b.onnx': tree, 'a.onnx': mlp })).result, {
      signature: null,
      reason: 'several .onnx files could be the model (a.onnx, b.onnx); name one model.onnx',
    });
  });

  it('says there is no model file', async () => {
    assert.deepEqual((await extract({ 'weights.bin': 'x', 'config.json': '{}' })).result, { signature: null, reason: 'no MLmodel file and no .onnx file' });
    assert.deepEqual((await extract({})).result, { signature: null, reason: 'no MLmodel file and no .onnx file' });
  });

  it('gives the decoder error as the reason for a malformed .onnx file', async () => {
    const { result } = await extract({ 'model.onnx': onnxFixture('tabular_mlp').subarray(0, 100) });
    assert.deepEqual(result, {
      signature: null,
      reason: 'model.onnx: Not a readable ONNX model: truncated: graph needs 17823 bytes but 77 remain at byte 20 (in ModelProto).',
    });
  });

  it('does not read an .onnx file over 1 GiB', async () => {
    const { result, read } = await extract({ 'model.onnx': 'big' }, { 'model.onnx': MAX_ONNX_SIGNATURE_BYTES + 1 });
    assert.deepEqual(result, { signature: null, reason: 'model.onnx is 1073741825 bytes; signatures are read only from ONNX files up to 1 GiB' });
    assert.deepEqual(read, []);
  });

  it('lets a failing read through: the store is at fault, not the model', async () => {
    const files = [{ path: 'model.onnx', sizeBytes: 10 }];
    await assert.rejects(extractSignature(files, () => Promise.reject(new Error('store down'))), /store down/);
  });
});
