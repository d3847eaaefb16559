import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { AppError } from '../errors/index.js';
import { decodeOnnxModel, type TensorSpec } from './onnx-graph.js';

const FIXTURES = new URL('../../test/fixtures/onnx/', import.meta.url);

interface Sidecar {
  ir_version: number;
  opset_import: Record<string, number>;
  producer: string;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
}

function fixture(name: string): { bytes: Buffer; sidecar: Sidecar } {
  return {
    bytes: readFileSync(new URL(`${name}.onnx`, FIXTURES)),
    sidecar: JSON.parse(readFileSync(new URL(`${name}.json`, FIXTURES), 'utf8')) as Sidecar,
  };
}

// A protobuf encoder just big enough to write test models by hand.
function varint(value: number | bigint): number[] {
  let rest = BigInt.asUintN(64, BigInt(value));
  const out: number[] = [];
  do {
    const low = Number(rest & 0x7fn);
    rest >>= 7n;
    out.push(rest ? low | 0x80 : low);
  } while (rest);
  return out;
}
const tag = (field: number, wire: number): number[] => varint(field * 8 + wire);
const int = (field: number, value: number | bigint): Buffer => Buffer.from([...tag(field, 0), ...varint(value)]);
const bytes = (field: number, data: Uint8Array): Buffer => Buffer.concat([Buffer.from([...tag(field, 2), ...varint(data.length)]), data]);
const str = (field: number, text: string): Buffer => bytes(field, Buffer.from(text));
const msg = (field: number, ...parts: Buffer[]): Buffer => bytes(field, Buffer.concat(parts));

// ONNX pieces. A "type" is the content of a TypeProto.
const FLOAT = 1;
const INT64 = 7;
const dim = (d: number | string | null): Buffer => msg(1, ...(d === null ? [] : [typeof d === 'number' ? int(1, d) : str(2, d)]));
const tensorType = (elem: number, dims?: (number | string | null)[]): Buffer =>
  msg(1, int(1, elem), ...(dims ? [msg(2, ...dims.map(dim))] : []));
const seqType = (inner: Buffer): Buffer => msg(4, msg(1, inner));
const mapType = (key: number, value: Buffer): Buffer => msg(5, int(1, key), msg(2, value));
const optionalType = (inner: Buffer): Buffer => msg(9, msg(1, inner));
const valueInfo = (field: 11 | 12, name: string, type?: Buffer): Buffer => msg(field, str(1, name), ...(type ? [msg(2, type)] : []));
const initializer = (name: string): Buffer => msg(5, int(1, 2), int(2, FLOAT), str(8, name), bytes(9, Buffer.alloc(8)));
const opset = (domain: string, version: number): Buffer => msg(8, ...(domain ? [str(1, domain)] : []), int(2, version));
const model = (graphParts: Buffer[], { ir = 8, opsets = [opset('', 17)], extra = [] as Buffer[] } = {}): Buffer =>
  Buffer.concat([int(1, ir), str(2, 'capstan-test'), str(3, '0.1'), msg(7, str(2, 'g'), ...graphParts), ...opsets, ...extra]);
const oneOutput = valueInfo(12, 'y', tensorType(FLOAT, [1]));

function assertInvalid(input: Uint8Array, message: RegExp): void {
  assert.throws(
    () => decodeOnnxModel(input),
    (err: unknown) => err instanceof AppError && err.code === 'INVALID_PARAMETER_VALUE' && message.test(err.message),
  );
}

/** Decoding either succeeds or throws AppError(INVALID_PARAMETER_VALUE); anything else is a bug. */
function decodesOrRefuses(input: Uint8Array): boolean {
  try {
    decodeOnnxModel(input);
    return true;
  } catch (err) {
    return err instanceof AppError && err.code === 'INVALID_PARAMETER_VALUE';
  }
}

const spec = (name: string, datatype: string | null, onnxType: string | null, shape: number[], symbolic: (string | null)[]): TensorSpec => ({
  name,
  datatype,
  onnx_type: onnxType,
  shape,
  symbolic_dims: symbolic,
});

describe('decodeOnnxModel on the committed fixtures', () => {
  for (const [name, graphName] of [['tabular_mlp', 'torch_jit'], ['tree_ensemble', 'tree_ensemble']] as const) {
    it(`${name} matches its sidecar`, () => {
      const { bytes: model, sidecar } = fixture(name);
      const info = decodeOnnxModel(model);
      assert.deepEqual(info.inputs, sidecar.inputs);
      assert.deepEqual(info.outputs, sidecar.outputs);
      assert.equal(info.irVersion, sidecar.ir_version);
      assert.deepEqual(info.opsetImport, sidecar.opset_import);
      assert.equal(`${info.producerName} ${info.producerVersion}`, sidecar.producer);
      assert.equal(info.graphName, graphName);
      assert.deepEqual(info.metadata, {});
    });
  }

  it('refuses tabular_mlp cut short at every byte', { timeout: 60_000 }, () => {
    const { bytes: model } = fixture('tabular_mlp');
    for (let cut = 0; cut < model.length; cut++) assertInvalid(model.subarray(0, cut), /Not a readable ONNX model/);
  });

  it('refuses tree_ensemble cut short at every byte but the one boundary that leaves a valid model', { timeout: 60_000 }, () => {
    const { bytes: model } = fixture('tree_ensemble');
    const lastOpset = opset('ai.onnx.ml', 3);
    // Protobuf has no end marker: dropping the whole last opset_import entry leaves a well-formed model.
    assert.deepEqual(model.subarray(model.length - lastOpset.length), lastOpset);
    const boundary = model.length - lastOpset.length;
    for (let cut = 0; cut < model.length; cut++) {
      if (cut === boundary) assert.deepEqual(decodeOnnxModel(model.subarray(0, cut)).opsetImport, { 'ai.onnx': 17 });
      else assertInvalid(model.subarray(0, cut), /Not a readable ONNX model/);
    }
  });

  it('never hangs or fails otherwise on random bytes or on a fixture with bytes overwritten', { timeout: 60_000 }, () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 4096 }), decodesOrRefuses), { numRuns: 3000 });
    const { bytes: model } = fixture('tree_ensemble');
    const edit = fc.record({ at: fc.nat({ max: model.length - 1 }), byte: fc.integer({ min: 0, max: 255 }) });
    fc.assert(
      fc.property(fc.array(edit, { minLength: 1, maxLength: 8 }), (edits) => {
        const copy = Buffer.from(model);
        for (const { at, byte } of edits) copy[at] = byte;
        return decodesOrRefuses(copy);
      }),
      { numRuns: 3000 },
    );
  });
});

describe('decodeOnnxModel on hand-written models', () => {
  it('leaves out graph inputs that are initializers, as exporters before IR 4 wrote them', () => {
    const bytesOut = model(
      [
        initializer('W'),
        valueInfo(11, 'x', tensorType(FLOAT, ['N', 3])),
        valueInfo(11, 'W', tensorType(FLOAT, [3, 2])),
        valueInfo(11, 'B', tensorType(FLOAT, [2])),
        initializer('B'),
        valueInfo(12, 'y', tensorType(FLOAT, ['N', 2])),
      ],
      { ir: 3, opsets: [opset('', 9)] },
    );
    const info = decodeOnnxModel(bytesOut);
    assert.deepEqual(info.inputs, [spec('x', 'FP32', 'tensor(float)', [-1, 3], ['N', null])]);
    assert.deepEqual(info.outputs, [spec('y', 'FP32', 'tensor(float)', [-1, 2], ['N', null])]);
    assert.deepEqual(info.opsetImport, { 'ai.onnx': 9 });
    assert.equal(info.irVersion, 3);
    assert.equal(info.graphName, 'g');
  });

  it('maps every ONNX element type to its OIP datatype and type string', () => {
    const names = ['float', 'uint8', 'int8', 'uint16', 'int16', 'int32', 'int64', 'string', 'bool', 'float16', 'double', 'uint32', 'uint64', 'complex64', 'complex128', 'bfloat16'];
    const oip = ['FP32', 'UINT8', 'INT8', 'UINT16', 'INT16', 'INT32', 'INT64', 'BYTES', 'BOOL', 'FP16', 'FP64', 'UINT32', 'UINT64', null, null, 'BF16'];
    const inputs = names.map((_, i) => valueInfo(11, `in${i + 1}`, tensorType(i + 1, [2])));
    const info = decodeOnnxModel(model([...inputs, oneOutput]));
    assert.deepEqual(info.inputs.map((s) => s.onnx_type), names.map((n) => `tensor(${n})`));
    assert.deepEqual(info.inputs.map((s) => s.datatype), oip);
    assert.deepEqual(info.inputs[13], spec('in14', null, 'tensor(complex64)', [2], [null]));
  });

  it('describes sequences, maps, optionals, untyped values and tensors of unknown rank', () => {
    const inputs = [
      valueInfo(11, 'seq', seqType(tensorType(FLOAT))),
      valueInfo(11, 'map', mapType(INT64, tensorType(FLOAT))),
      valueInfo(11, 'seq_of_maps', seqType(mapType(8, tensorType(FLOAT)))),
      valueInfo(11, 'maybe', optionalType(tensorType(INT64, [1]))),
      valueInfo(11, 'untyped'),
      valueInfo(11, 'any_rank', tensorType(FLOAT)),
    ];
    assert.deepEqual(decodeOnnxModel(model([...inputs, oneOutput])).inputs, [
      spec('seq', null, 'seq(tensor(float))', [], []),
      spec('map', null, 'map(int64,tensor(float))', [], []),
      spec('seq_of_maps', null, 'seq(map(string,tensor(float)))', [], []),
      spec('maybe', null, 'optional(tensor(int64))', [], []),
      spec('untyped', null, null, [], []),
      spec('any_rank', 'FP32', 'tensor(float)', [], []),
    ]);
  });

  it('reads fixed, symbolic, empty and negative dimensions', () => {
    const info = decodeOnnxModel(model([valueInfo(11, 'x', tensorType(FLOAT, [4, 'seq', null, -1, -3, 0])), oneOutput]));
    assert.deepEqual(info.inputs, [spec('x', 'FP32', 'tensor(float)', [4, -1, -1, -1, -1, 0], [null, 'seq', null, null, null, null])]);
  });

  it('reads opsets of several domains, metadata and skips unknown fields of every wire type', () => {
    const unknown = [int(99, 2n ** 64n - 1n), Buffer.from([...tag(98, 1), 1, 2, 3, 4, 5, 6, 7, 8]), str(97, 'x'), Buffer.from([...tag(96, 5), 1, 2, 3, 4])];
    const metadata = [msg(14, str(1, 'author'), str(2, 'capstan')), msg(14, str(1, 'license'), str(2, 'MIT'))];
    const bytesOut = model([...unknown, valueInfo(11, 'x', Buffer.concat([...unknown, tensorType(FLOAT, [1])])), oneOutput], {
      opsets: [opset('', 13), opset('ai.onnx.ml', 2), opset('com.microsoft', 1)],
      extra: [...unknown, ...metadata],
    });
    const info = decodeOnnxModel(bytesOut);
    assert.deepEqual(info.opsetImport, { 'ai.onnx': 13, 'ai.onnx.ml': 2, 'com.microsoft': 1 });
    assert.deepEqual(info.metadata, { author: 'capstan', license: 'MIT' });
    assert.deepEqual(info.inputs, [spec('x', 'FP32', 'tensor(float)', [1], [null])]);
    assert.equal(info.producerName, 'capstan-test');
    assert.equal(info.producerVersion, '0.1');
  });

  it('accepts a model from before IR 3 without opsets', () => {
    assert.deepEqual(decodeOnnxModel(model([oneOutput], { ir: 2, opsets: [] })).opsetImport, {});
  });
});

describe('decodeOnnxModel refuses malformed input with a clear message', () => {
  const cases: [string, Buffer, RegExp][] = [
    ['an empty buffer', Buffer.alloc(0), /no ir_version at byte 0 \(in ModelProto\)/],
    ['a model without a graph', Buffer.concat([int(1, 8), opset('', 17)]), /no graph/],
    ['an IR 8 model without opsets', model([oneOutput], { opsets: [] }), /no opset_import/],
    ['an ir_version above 2^53', model([oneOutput], { ir: 2 ** 60 }), /ir_version 1152921504606846976 is out of range at byte \d+/],
    ['a dimension above 2^53', model([valueInfo(11, 'x', tensorType(FLOAT, [2 ** 53]))]), /dim_value 9007199254740992 is out of range/],
    ['a group', Buffer.concat([int(1, 8), Buffer.from(tag(5, 3))]), /groups \(wire types 3 and 4\) are not supported at byte 2/],
    ['wire type 7', Buffer.from([0x0f]), /invalid wire type 7 at byte 0/],
    ['field number 0', Buffer.from([0x00, 0x01]), /invalid field number 0 at byte 0/],
    ['a varint of 11 bytes', Buffer.from([0x08, ...Array(10).fill(0xff), 0x01]), /varint longer than 10 bytes at byte 1/],
    ['a varint cut short', Buffer.from([0x08, 0xff]), /truncated varint at byte 1/],
    ['a length past the end', Buffer.from([0x12, 0x05, 0x61]), /truncated: producer_name needs 5 bytes but 1 remain at byte 1/],
    ['a fixed64 past the end', Buffer.from([...tag(9, 1), 1, 2]), /truncated: a fixed-width value needs 8 bytes at byte 1/],
    ['a string that is not UTF-8', Buffer.concat([int(1, 8), bytes(2, Buffer.from([0xc3, 0x28]))]), /producer_name is not valid UTF-8/],
    ['ir_version sent as bytes', str(1, '8'), /ir_version has wire type 2, expected 0/],
    ['a graph that is not a message', int(7, 1), /graph has wire type 0, expected 2/],
  ];
  for (const [what, input, message] of cases) it(`refuses ${what}`, () => assertInvalid(input, message));

  it('names the message where it stopped', () => {
    const broken = model([msg(11, str(1, 'x'), Buffer.from([...tag(2, 2), 9]))]);
    assertInvalid(broken, /type needs 9 bytes but 0 remain at byte \d+ \(in ModelProto\.graph \(GraphProto\)\.input \(ValueInfoProto\)\)\.$/);
  });

  it('refuses types nested past the depth limit instead of overflowing the stack', () => {
    let type = tensorType(FLOAT);
    for (let i = 0; i < 40; i++) type = seqType(type);
    assertInvalid(model([valueInfo(11, 'x', type), oneOutput]), /types nested deeper than 32 levels/);
    let deep = tensorType(FLOAT);
    for (let i = 0; i < 32; i++) deep = seqType(deep);
    assert.equal(decodeOnnxModel(model([valueInfo(11, 'x', deep), oneOutput])).inputs[0]!.onnx_type, `${'seq('.repeat(32)}tensor(float)${')'.repeat(32)}`);
  });
});
