import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AppError } from '../errors/index.js';
import type { Tensor, TensorSpec } from './types.js';
import { decodeV1, encodeV1 } from './v1-codec.js';

const ONE: TensorSpec[] = [{ name: 'x', datatype: 'FP32', shape: [-1, 3] }];
const TWO: TensorSpec[] = [
  { name: 'a', datatype: 'FP32', shape: [-1, 2] },
  { name: 'b', datatype: 'INT64', shape: [-1] },
];
const TEXT: TensorSpec[] = [{ name: 's', datatype: 'BYTES', shape: [-1] }];

/** Asserts `fn` throws MODEL_INPUT_INVALID with exactly `message` (or matching it). */
function inputInvalid(fn: () => unknown, message: string | RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof AppError, String(err));
    assert.equal(err.code, 'MODEL_INPUT_INVALID');
    assert.equal(err.status, 400);
    if (typeof message === 'string') assert.equal(err.message, message);
    else assert.match(err.message, message);
    return true;
  });
}

describe('decodeV1: row format (instances)', () => {
  it('stacks the rows of a one-input model into shape [N, ...row]', () => {
    assert.deepEqual(decodeV1({ instances: [[1, 2, 3], [4, 5, 6]] }, ONE), {
      format: 'row',
      inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 3], data: [1, 2, 3, 4, 5, 6] }],
    });
    assert.deepEqual(decodeV1({ instances: [[[1, 2], [3, 4]], [[5, 6], [7, 8]], [[9, 10], [11, 12]]] }, ONE).inputs[0].shape, [3, 2, 2]);
    assert.deepEqual(decodeV1({ instances: [7, 8, 9] }, ONE).inputs[0], { name: 'x', datatype: 'FP32', shape: [3], data: [7, 8, 9] });
  });

  it('reads named inputs from object rows, in the model order', () => {
    assert.deepEqual(decodeV1({ instances: [{ b: 5, a: [1, 2] }, { a: [3, 4], b: 6 }] }, TWO), {
      format: 'row',
      inputs: [
        { name: 'a', datatype: 'FP32', shape: [2, 2], data: [1, 2, 3, 4] },
        { name: 'b', datatype: 'INT64', shape: [2], data: [5, 6] },
      ],
    });
    // A one-input model takes object rows too.
    assert.deepEqual(decodeV1({ instances: [{ x: [1, 2, 3] }] }, ONE).inputs[0].shape, [1, 3]);
  });

  it('requires every instance to name every input of a multi-input model', () => {
    inputInvalid(() => decodeV1({ instances: [{ a: [1, 2], b: 1 }, { a: [3, 4] }] }, TWO), "An instance lacks input 'b'.");
    inputInvalid(() => decodeV1({ instances: [[1, 2], [3, 4]] }, TWO), 'The model has 2 inputs (a, b); each instance must be an object naming them.');
  });

  it('rejects ragged rows, naming the instance', () => {
    inputInvalid(() => decodeV1({ instances: [[1, 2, 3], [4, 5]] }, ONE), "instances[1] has shape [2] for input 'x'; instances[0] has [3].");
    inputInvalid(() => decodeV1({ instances: [[1, 2, 3], [4, 5, 6], [[7], [8], [9]]] }, ONE), "instances[2] has shape [3,1] for input 'x'; instances[0] has [3].");
    inputInvalid(() => decodeV1({ instances: [[[1, 2], [3, 4]], [[1, 2], [3]]] }, ONE), 'instances[1] is ragged: every list at depth 1 must have 2 elements.');
    inputInvalid(() => decodeV1({ instances: [[1, [2], 3]] }, ONE), 'instances[0] is nested deeper in some places than others.');
    inputInvalid(() => decodeV1({ instances: [{ a: [1, 2], b: 1 }, { a: [[3, 4], [5]], b: 2 }] }, TWO), 'instances[1].a is ragged: every list at depth 1 must have 2 elements.');
  });

  it('decodes {"b64": …} values to strings', () => {
    const hello = Buffer.from('hello').toString('base64');
    const utf8 = Buffer.from('grüße ✓').toString('base64');
    assert.deepEqual(decodeV1({ instances: [{ b64: hello }, { b64: utf8 }] }, TEXT), {
      format: 'row',
      inputs: [{ name: 's', datatype: 'BYTES', shape: [2], data: ['hello', 'grüße ✓'] }],
    });
    assert.deepEqual(decodeV1({ instances: [[{ b64: hello }, 'plain']] }, TEXT).inputs[0].data, ['hello', 'plain']);
    assert.deepEqual(decodeV1({ inputs: { s: [{ b64: utf8 }] } }, TEXT).inputs[0].data, ['grüße ✓']);
  });
});

describe('decodeV1: columnar format (inputs)', () => {
  it('takes a bare tensor for a one-input model', () => {
    assert.deepEqual(decodeV1({ inputs: [[1, 2, 3], [4, 5, 6]] }, ONE), {
      format: 'columnar',
      inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 3], data: [1, 2, 3, 4, 5, 6] }],
    });
  });

  it('takes an object of named tensors, each with its own shape', () => {
    assert.deepEqual(decodeV1({ inputs: { a: [[1, 2], [3, 4], [5, 6]], b: [7, 8, 9] } }, TWO), {
      format: 'columnar',
      inputs: [
        { name: 'a', datatype: 'FP32', shape: [3, 2], data: [1, 2, 3, 4, 5, 6] },
        { name: 'b', datatype: 'INT64', shape: [3], data: [7, 8, 9] },
      ],
    });
  });

  it('rejects unknown names, an unnamed tensor for several inputs and ragged tensors', () => {
    inputInvalid(() => decodeV1({ inputs: { a: [[1, 2]], c: [1] } }, TWO), "Unknown input 'c'; the model's inputs are a, b.");
    inputInvalid(() => decodeV1({ inputs: [[1, 2]] }, TWO), 'The model has 2 inputs; "inputs" must be an object naming each.');
    inputInvalid(() => decodeV1({ inputs: { a: [[1, 2], [3]] } }, TWO), 'inputs.a is ragged: every list at depth 1 must have 2 elements.');
  });
});

describe('decodeV1: the body', () => {
  it('needs exactly one of instances and inputs, in a JSON object', () => {
    const exactlyOne = 'Send exactly one of "instances" (row format) or "inputs" (columnar format).';
    inputInvalid(() => decodeV1({}, ONE), exactlyOne);
    inputInvalid(() => decodeV1({ signature_name: 'serving_default' }, ONE), exactlyOne);
    inputInvalid(() => decodeV1({ instances: [[1, 2, 3]], inputs: [[1, 2, 3]] }, ONE), exactlyOne);
    for (const body of [null, [], [[1, 2, 3]], 'x', 3]) inputInvalid(() => decodeV1(body, ONE), 'The :predict body must be a JSON object with "instances" or "inputs".');
    for (const instances of [[], {}, 'x']) inputInvalid(() => decodeV1({ instances }, ONE), '"instances" must be a non-empty list, one element per example.');
  });
});

describe('encodeV1', () => {
  const fp32 = (name: string, shape: number[], data: number[]): Tensor => ({ name, datatype: 'FP32', shape, data: Float32Array.from(data) });

  it('writes one value per row for a single output', () => {
    assert.equal(encodeV1('row', [fp32('p', [2, 2], [0.75, 0.25, 1, -2])]), '{"predictions":[[0.75,0.25],[1,-2]]}');
    assert.equal(encodeV1('row', [fp32('p', [3], [1.5, 2, 3])]), '{"predictions":[1.5,2,3]}');
    assert.equal(encodeV1('row', [fp32('p', [1, 2, 2], [1, 2, 3, 4])]), '{"predictions":[[[1,2],[3,4]]]}');
    assert.equal(encodeV1('row', [fp32('p', [0, 2], [])]), '{"predictions":[]}');
  });

  it('writes one object per row for several outputs: exact 64-bit integers, BOOL as true/false, strings quoted', () => {
    const outputs: Tensor[] = [
      { name: 'label', datatype: 'INT64', shape: [2], data: BigInt64Array.of(9_007_199_254_740_993n, -9_223_372_036_854_775_808n) },
      fp32('probabilities', [2, 2], [0.75, 0.25, 0.125, 0.875]),
      { name: 'flag', datatype: 'BOOL', shape: [2], data: Uint8Array.of(1, 0) },
      { name: 'id', datatype: 'UINT64', shape: [2, 1], data: BigUint64Array.of(18_446_744_073_709_551_615n, 0n) },
      { name: 'tag', datatype: 'BYTES', shape: [2], data: ['a "quoted" tag', 'ü'] },
    ];
    assert.equal(
      encodeV1('row', outputs),
      '{"predictions":[' +
        '{"label":9007199254740993,"probabilities":[0.75,0.25],"flag":true,"id":[18446744073709551615],"tag":"a \\"quoted\\" tag"},' +
        '{"label":-9223372036854775808,"probabilities":[0.125,0.875],"flag":false,"id":[0],"tag":"ü"}]}',
    );
  });

  it('writes non-finite floats as strings so the body stays JSON', () => {
    const body = encodeV1('row', [{ name: 'y', datatype: 'FP64', shape: [3], data: Float64Array.of(NaN, Infinity, -Infinity) }]);
    assert.equal(body, '{"predictions":["NaN","Infinity","-Infinity"]}');
    assert.deepEqual(JSON.parse(body), { predictions: ['NaN', 'Infinity', '-Infinity'] });
  });

  it('writes whole tensors in columnar format', () => {
    assert.equal(encodeV1('columnar', [fp32('p', [2, 2], [0.75, 0.25, 1, -2])]), '{"outputs":[[0.75,0.25],[1,-2]]}');
    assert.equal(
      encodeV1('columnar', [
        { name: 'label', datatype: 'INT64', shape: [3], data: BigInt64Array.of(1n, 0n, 9_007_199_254_740_993n) },
        { name: 'ok', datatype: 'BOOL', shape: [1, 3], data: Uint8Array.of(0, 1, 1) },
      ]),
      '{"outputs":{"label":[1,0,9007199254740993],"ok":[[false,true,true]]}}',
    );
  });

  it('writes FP16 outputs as their float values', () => {
    const half: Tensor = { name: 'h', datatype: 'FP16', shape: [2], data: Uint16Array.of(0x3c00, 0xc000) };
    assert.equal(encodeV1('row', [half]), '{"predictions":[1,-2]}');
    assert.equal(encodeV1('columnar', [half]), '{"outputs":[1,-2]}');
  });
});
