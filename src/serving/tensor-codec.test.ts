import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AppError, type ErrorCode } from '../errors/index.js';
import { parseJsonLossless } from './json-lossless.js';
import { checkAgainstModel, decodeInferenceRequest, decodeRequestDocument, encodeInferenceResponse, wantsBinaryOutput } from './tensor-codec.js';
import type { Datatype, InferenceRequest, InferenceResult, RequestedOutput, Tensor, TensorData, TensorSpec } from './types.js';

const LIMIT = 1_000_000;

function decodeText(text: string, maxElements = LIMIT): InferenceRequest {
  return decodeInferenceRequest(Buffer.from(text), undefined, maxElements);
}

function decodeJson(doc: unknown, maxElements = LIMIT): InferenceRequest {
  return decodeText(JSON.stringify(doc), maxElements);
}

/** A JSON header followed by the given binary chunks, as a client of the binary extension sends it. */
function binaryRequest(doc: unknown, ...chunks: Buffer[]): [Buffer, number] {
  const header = Buffer.from(JSON.stringify(doc));
  return [Buffer.concat([header, ...chunks]), header.length];
}

function decodeBinary(doc: unknown, ...chunks: Buffer[]): InferenceRequest {
  const [body, headerLength] = binaryRequest(doc, ...chunks);
  return decodeInferenceRequest(body, headerLength, LIMIT);
}

function one(datatype: string, shape: number[], data: unknown): unknown {
  return { inputs: [{ name: 'input', datatype, shape, data }] };
}

function assertAppError(fn: () => unknown, code: ErrorCode, message: string | RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof AppError, String(error));
    assert.equal(error.code, code, error.message);
    if (typeof message === 'string') assert.equal(error.message, message);
    else assert.match(error.message, message);
    return true;
  });
}

function invalidInput(fn: () => unknown, message: string | RegExp): void {
  assertAppError(fn, 'MODEL_INPUT_INVALID', message);
}

function bytesOf(data: Exclude<TensorData, string[]>): Buffer {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

function bytesElements(values: string[]): Buffer {
  return Buffer.concat(values.flatMap((v) => {
    const bytes = Buffer.from(v, 'utf8');
    const length = Buffer.alloc(4);
    length.writeUInt32LE(bytes.length);
    return [length, bytes];
  }));
}

function result(outputs: Tensor[], extra: Partial<InferenceResult> = {}): InferenceResult {
  return { modelName: 'm', modelVersion: '3', outputs, ...extra };
}

/** Splits an encoded response into its JSON document and the binary part. */
function splitResponse(encoded: { body: Buffer | string; headerLength?: number }): { doc: Record<string, unknown>; binary: Buffer } {
  const body = Buffer.from(encoded.body);
  const end = encoded.headerLength ?? body.length;
  return { doc: parseJsonLossless(body.toString('utf8', 0, end)) as Record<string, unknown>, binary: body.subarray(end) };
}

/** One example per datatype: JSON data, the typed storage it decodes to and the JSON the encoder writes back. */
const EXAMPLES: { datatype: Datatype; json: string; stored: TensorData; encoded: string }[] = [
  { datatype: 'BOOL', json: '[true,false,1,0]', stored: Uint8Array.of(1, 0, 1, 0), encoded: '[true,false,true,false]' },
  { datatype: 'UINT8', json: '[0,1,254,255]', stored: Uint8Array.of(0, 1, 254, 255), encoded: '[0,1,254,255]' },
  { datatype: 'UINT16', json: '[0,1,65534,65535]', stored: Uint16Array.of(0, 1, 65534, 65535), encoded: '[0,1,65534,65535]' },
  { datatype: 'UINT32', json: '[0,1,4294967294,4294967295]', stored: Uint32Array.of(0, 1, 4294967294, 4294967295), encoded: '[0,1,4294967294,4294967295]' },
  {
    datatype: 'UINT64',
    json: '[0,1,9007199254740993,18446744073709551615]',
    stored: BigUint64Array.of(0n, 1n, 9007199254740993n, 18446744073709551615n),
    encoded: '[0,1,9007199254740993,18446744073709551615]',
  },
  { datatype: 'INT8', json: '[-128,-1,0,127]', stored: Int8Array.of(-128, -1, 0, 127), encoded: '[-128,-1,0,127]' },
  { datatype: 'INT16', json: '[-32768,-1,0,32767]', stored: Int16Array.of(-32768, -1, 0, 32767), encoded: '[-32768,-1,0,32767]' },
  { datatype: 'INT32', json: '[-2147483648,-1,0,2147483647]', stored: Int32Array.of(-2147483648, -1, 0, 2147483647), encoded: '[-2147483648,-1,0,2147483647]' },
  {
    datatype: 'INT64',
    json: '[-9223372036854775808,-1,0,9223372036854775807]',
    stored: BigInt64Array.of(-9223372036854775808n, -1n, 0n, 9223372036854775807n),
    encoded: '[-9223372036854775808,-1,0,9223372036854775807]',
  },
  { datatype: 'FP16', json: '[1,-2,65504,0.1]', stored: Uint16Array.of(0x3c00, 0xc000, 0x7bff, 0x2e66), encoded: '[1,-2,65504,0.0999755859375]' },
  { datatype: 'FP32', json: '[0.5,-1.25,3,1e30]', stored: Float32Array.of(0.5, -1.25, 3, 1e30), encoded: `[0.5,-1.25,3,${Math.fround(1e30)}]` },
  { datatype: 'FP64', json: '[0.1,-2.5e-300,3,1.7976931348623157e308]', stored: Float64Array.of(0.1, -2.5e-300, 3, Number.MAX_VALUE), encoded: '[0.1,-2.5e-300,3,1.7976931348623157e+308]' },
  { datatype: 'BYTES', json: '["a","","héllo 😀","x\\"y"]', stored: ['a', '', 'héllo 😀', 'x"y'], encoded: '["a","","héllo 😀","x\\"y"]' },
];

function binaryOfStored(example: (typeof EXAMPLES)[number]): Buffer {
  return Array.isArray(example.stored) ? bytesElements(example.stored) : bytesOf(example.stored);
}

describe('decodeInferenceRequest: datatypes', () => {
  for (const example of EXAMPLES) {
    test(`${example.datatype} decodes from JSON, from binary, and encodes back`, () => {
      const fromJson = decodeText(`{"inputs":[{"name":"x","datatype":"${example.datatype}","shape":[2,2],"data":${example.json}}]}`);
      assert.deepEqual(fromJson.inputs[0]!.data, example.stored);

      const chunk = binaryOfStored(example);
      const fromBinary = decodeBinary({ inputs: [{ name: 'x', datatype: example.datatype, shape: [2, 2], parameters: { binary_data_size: chunk.length } }] }, chunk);
      assert.deepEqual(fromBinary.inputs[0]!.data, example.stored);
      assert.deepEqual(fromBinary.inputs[0]!.parameters, { binary_data_size: chunk.length });

      const tensor: Tensor = { name: 'y', datatype: example.datatype, shape: [2, 2], data: fromJson.inputs[0]!.data };
      const asJson = encodeInferenceResponse(result([tensor]), new Set());
      assert.equal(asJson.headerLength, undefined);
      assert.equal(
        asJson.body.toString(),
        `{"model_name":"m","model_version":"3","outputs":[{"name":"y","datatype":"${example.datatype}","shape":[2,2],"data":${example.encoded}}]}`,
      );

      const asBinary = encodeInferenceResponse(result([tensor]), new Set(['y']));
      const { doc, binary } = splitResponse(asBinary);
      assert.deepEqual(doc.outputs, [{ name: 'y', datatype: example.datatype, shape: [2, 2], parameters: { binary_data_size: chunk.length } }]);
      assert.deepEqual(binary, chunk);
    });
  }

  test('INT64 and UINT64 extremes survive decode → encode exactly', () => {
    const text =
      '{"inputs":[{"name":"i","datatype":"INT64","shape":[2],"data":[-9223372036854775808,9223372036854775807]},' +
      '{"name":"u","datatype":"UINT64","shape":[1],"data":[18446744073709551615]}]}';
    const request = decodeText(text);
    assert.deepEqual(request.inputs[0]!.data, BigInt64Array.of(-(2n ** 63n), 2n ** 63n - 1n));
    assert.deepEqual(request.inputs[1]!.data, BigUint64Array.of(2n ** 64n - 1n));
    const body = encodeInferenceResponse(result(request.inputs.map(({ name, datatype, shape, data }) => ({ name, datatype, shape, data }))), new Set()).body.toString();
    assert.ok(body.includes('"data":[-9223372036854775808,9223372036854775807]'), body);
    assert.ok(body.includes('"data":[18446744073709551615]'), body);
  });

  test('floats: special strings, -0 and overflow', () => {
    const request = decodeText('{"inputs":[{"name":"f","datatype":"FP32","shape":[5],"data":["NaN","Infinity","-Infinity",-0,1e39]}]}');
    const data = request.inputs[0]!.data as Float32Array;
    assert.ok(Number.isNaN(data[0]));
    assert.deepEqual([...data.subarray(1)], [Infinity, -Infinity, -0, Infinity]);
    assert.ok(Object.is(data[3], -0));
    const fp16 = decodeText('{"inputs":[{"name":"h","datatype":"FP16","shape":[4],"data":["NaN","-Infinity",-0.0,70000]}]}');
    assert.deepEqual(fp16.inputs[0]!.data, Uint16Array.of(0x7e00, 0xfc00, 0x8000, 0x7c00));
    const body = encodeInferenceResponse(result([{ name: 'y', datatype: 'FP64', shape: [5], data: Float64Array.of(NaN, Infinity, -Infinity, -0, 1.5) }]), new Set()).body;
    assert.ok(body.toString().endsWith('"data":["NaN","Infinity","-Infinity",-0,1.5]}]}'), body.toString());
  });

  test('a 64-bit literal beyond 2^53 in a float input is read as its nearest float', () => {
    const request = decodeText('{"inputs":[{"name":"f","datatype":"FP64","shape":[1],"data":[12345678901234567890]}]}');
    assert.deepEqual(request.inputs[0]!.data, Float64Array.of(12345678901234567890));
  });

  test('a 0-d tensor and an empty tensor', () => {
    assert.deepEqual(decodeJson(one('INT32', [], [7])).inputs[0]!.data, Int32Array.of(7));
    assert.deepEqual(decodeJson(one('FP32', [0, 3], [])).inputs[0]!.data, new Float32Array(0));
    assert.deepEqual(decodeJson(one('FP32', [2, 0], [[], []])).inputs[0]!.data, new Float32Array(0));
  });
});

describe('decodeInferenceRequest: data layout', () => {
  test('nested and flat data decode to the same tensor', () => {
    const flat = decodeJson(one('FP32', [2, 3], [1, 2, 3, 4, 5, 6])).inputs[0]!.data;
    const nested = decodeJson(one('FP32', [2, 3], [[1, 2, 3], [4, 5, 6]])).inputs[0]!.data;
    assert.deepEqual(nested, Float32Array.of(1, 2, 3, 4, 5, 6));
    assert.deepEqual(flat, nested);
    assert.deepEqual(decodeJson(one('BYTES', [2, 1, 2], [[['a', 'b']], [['c', 'd']]])).inputs[0]!.data, ['a', 'b', 'c', 'd']);
  });

  test('ragged nesting is refused', () => {
    invalidInput(() => decodeJson(one('FP32', [2, 2], [[1, 2], [3]])), /^Input 'input': "data" is ragged/);
    invalidInput(() => decodeJson(one('FP32', [2, 2], [[1, 2], 3, 4])), /^Input 'input': "data" is ragged/);
    invalidInput(() => decodeJson(one('FP32', [3], [[1, 2], [3]])), /^Input 'input': "data" is ragged/);
    invalidInput(() => decodeJson(one('FP32', [4], [[1, 2], [3, [4]]])), /^Input 'input': "data" is ragged/);
  });

  test('the element count must match the shape', () => {
    invalidInput(() => decodeJson(one('FP32', [2, 2], [1, 2, 3])), "Input 'input' has 3 data elements but shape [2,2] needs 4.");
    invalidInput(() => decodeJson(one('FP32', [1, 29], [[1, 2], [3, 4]])), "Input 'input' has 4 data elements but shape [1,29] needs 29.");
    invalidInput(() => decodeJson(one('INT8', [], [])), "Input 'input' has 0 data elements but shape [] needs 1.");
  });

  test('deep nesting is refused without crashing', () => {
    const deep = '['.repeat(100_000) + '1' + ']'.repeat(100_000);
    invalidInput(() => decodeText(`{"inputs":[{"name":"d","datatype":"FP32","shape":[1],"data":${deep}}]}`), "Input 'd': \"data\" is nested deeper than 64 levels.");
    const deepWithLongInteger = '['.repeat(100_000) + '12345678901234567890' + ']'.repeat(100_000);
    assertAppError(() => decodeText(`{"inputs":[{"name":"d","datatype":"INT64","shape":[1],"data":${deepWithLongInteger}}]}`), 'BAD_REQUEST', /nesting deeper than 512 levels/);
  });
});

describe('decodeInferenceRequest: element errors name the input and the index', () => {
  const cases: [Datatype, unknown[], string][] = [
    ['FP32', [0, 1, 2, 3, 4, 5, 6, 'abc'], `Input 'input': element 7 is "abc", not a number (FP32).`],
    ['FP64', [0, null], `Input 'input': element 1 is null, not a number (FP64).`],
    ['FP16', [true], `Input 'input': element 0 is true, not a number (FP16).`],
    ['INT32', [1, 2.5], `Input 'input': element 1 is 2.5, not an integer (INT32).`],
    ['INT32', [1, '2'], `Input 'input': element 1 is "2", not an integer (INT32).`],
    ['UINT8', [256], `Input 'input': element 0 is 256, out of range for UINT8 [0, 255].`],
    ['INT8', [-129], `Input 'input': element 0 is -129, out of range for INT8 [-128, 127].`],
    ['UINT32', [-1], `Input 'input': element 0 is -1, out of range for UINT32 [0, 4294967295].`],
    ['UINT64', [0, -1], `Input 'input': element 1 is -1, out of range for UINT64 [0, 18446744073709551615].`],
    ['INT64', [1e19], `Input 'input': element 0 is 10000000000000000000, out of range for INT64 [-9223372036854775808, 9223372036854775807].`],
    ['INT64', [0.5], `Input 'input': element 0 is 0.5, not an integer (INT64).`],
    ['BOOL', [true, 2], `Input 'input': element 1 is 2, not a boolean (BOOL).`],
    ['BOOL', ['true'], `Input 'input': element 0 is "true", not a boolean (BOOL).`],
    ['BYTES', ['a', 5], `Input 'input': element 1 is 5, not a string (BYTES).`],
    ['BYTES', [{ b64: 'AA==' }], `Input 'input': element 0 is an object, not a string (BYTES).`],
  ];
  for (const [datatype, data, message] of cases) {
    test(message, () => invalidInput(() => decodeJson(one(datatype, [data.length], data)), message));
  }

  test('integer literals beyond the 64-bit ranges', () => {
    invalidInput(
      () => decodeText('{"inputs":[{"name":"big","datatype":"INT64","shape":[2],"data":[1,9223372036854775808]}]}'),
      "Input 'big': element 1 is 9223372036854775808, out of range for INT64 [-9223372036854775808, 9223372036854775807].",
    );
    invalidInput(
      () => decodeText('{"inputs":[{"name":"big","datatype":"UINT64","shape":[1],"data":[18446744073709551616]}]}'),
      /^Input 'big': element 0 is 18446744073709551616, out of range for UINT64/,
    );
    invalidInput(() => decodeText('{"inputs":[{"name":"big","datatype":"INT32","shape":[1],"data":[12345678901234567890]}]}'), /^Input 'big': element 0 is 12345678901234567890, out of range for INT32/);
  });

  test('a 64-bit value written as a float literal beyond 2^53 is refused, not rounded', () => {
    invalidInput(
      () => decodeText('{"inputs":[{"name":"big","datatype":"INT64","shape":[2],"data":[1e15,1.2345678901234567e17]}]}'),
      "Input 'big': element 1 is 123456789012345660, beyond 2^53 as a number; write 64-bit values as integer literals (INT64).",
    );
  });
});

describe('decodeInferenceRequest: request structure', () => {
  test('reads id, parameters and requested outputs', () => {
    const request = decodeJson({
      id: 'req-1',
      parameters: { binary_data_output: true, priority: 2, tag: 'x' },
      inputs: [{ name: 'a', datatype: 'INT32', shape: [1], data: [1], parameters: { note: 'n' } }],
      outputs: [{ name: 'label' }, { name: 'probabilities', parameters: { binary_data: false } }],
      ignored_field: 1,
    });
    assert.deepEqual(request, {
      id: 'req-1',
      parameters: { binary_data_output: true, priority: 2, tag: 'x' },
      inputs: [{ name: 'a', datatype: 'INT32', shape: [1], data: Int32Array.of(1), parameters: { note: 'n' } }],
      outputs: [{ name: 'label', parameters: {} }, { name: 'probabilities', parameters: { binary_data: false } }],
    });
    assert.deepEqual(decodeJson(one('INT32', [1], [1])), { parameters: {}, inputs: [{ name: 'input', datatype: 'INT32', shape: [1], data: Int32Array.of(1), parameters: {} }] });
  });

  test('rejects malformed requests', () => {
    invalidInput(() => decodeText('[1,2]'), 'The inference request must be a JSON object.');
    invalidInput(() => decodeText('null'), 'The inference request must be a JSON object.');
    invalidInput(() => decodeJson({ inputs: [] }), 'The request needs "inputs", a non-empty array.');
    invalidInput(() => decodeJson({ inputs: {} }), 'The request needs "inputs", a non-empty array.');
    invalidInput(() => decodeJson({ inputs: [5] }), 'inputs[0] must be an object.');
    invalidInput(() => decodeJson({ inputs: [{ datatype: 'FP32', shape: [1], data: [1] }] }), 'inputs[0] needs a "name" string.');
    invalidInput(
      () => decodeJson({ inputs: [{ name: 'a', datatype: 'FP32', shape: [1], data: [1] }, { name: 'a', datatype: 'FP32', shape: [1], data: [1] }] }),
      "Input 'a' appears more than once.",
    );
    invalidInput(() => decodeJson(one('FP32', [1, -1], [1])), `Input 'input': "shape" must be an array of non-negative integers.`);
    invalidInput(() => decodeJson(one('FP32', [1.5], [1])), `Input 'input': "shape" must be an array of non-negative integers.`);
    invalidInput(() => decodeJson({ inputs: [{ name: 'a', datatype: 'FP32', shape: [1] }] }), `Input 'a' has neither "data" nor parameters.binary_data_size.`);
    invalidInput(() => decodeJson(one('FP32', [1], 1)), `Input 'input': "data" must be an array.`);
    invalidInput(() => decodeJson({ id: 7, inputs: [{ name: 'a', datatype: 'FP32', shape: [1], data: [1] }] }), 'The request "id" must be a string.');
    invalidInput(
      () => decodeJson({ parameters: { a: [1] }, inputs: [{ name: 'a', datatype: 'FP32', shape: [1], data: [1] }] }),
      "The request: parameter 'a' is an array; parameters must be strings, numbers or booleans.",
    );
    invalidInput(
      () => decodeJson({ inputs: [{ name: 'a', datatype: 'FP32', shape: [1], data: [1], parameters: { p: null } }] }),
      "Input 'a': parameter 'p' is null; parameters must be strings, numbers or booleans.",
    );
    invalidInput(() => decodeJson({ outputs: {}, inputs: [{ name: 'a', datatype: 'FP32', shape: [1], data: [1] }] }), 'The request "outputs" must be an array.');
    invalidInput(() => decodeJson({ outputs: [{}], inputs: [{ name: 'a', datatype: 'FP32', shape: [1], data: [1] }] }), 'outputs[0] must be an object with a "name" string.');
  });

  test('an already parsed document decodes the same way', () => {
    const doc = { inputs: [{ name: 'i', datatype: 'INT64', shape: [2], data: [[2n ** 63n - 1n], [-4]] }] };
    assert.deepEqual(decodeRequestDocument(doc, LIMIT).inputs[0]!.data, BigInt64Array.of(2n ** 63n - 1n, -4n));
    assertAppError(() => decodeRequestDocument(doc, 1), 'PAYLOAD_TOO_LARGE', /^Input 'i' brings the request to 2 tensor elements/);
    const binary = { inputs: [{ name: 'b', datatype: 'UINT16', shape: [1], parameters: { binary_data_size: 2 } }] };
    assert.deepEqual(decodeRequestDocument(binary, LIMIT, Buffer.from([1, 2])).inputs[0]!.data, Uint16Array.of(0x0201));
    invalidInput(() => decodeRequestDocument(binary, LIMIT), /^Input 'b' has binary_data_size but the request has no Inference-Header-Content-Length/);
  });

  test('BF16 and unknown datatypes are refused', () => {
    invalidInput(() => decodeJson(one('BF16', [1], [1])), "Input 'input': datatype BF16 is not supported.");
    invalidInput(() => decodeJson(one('FLOAT32', [1], [1])), /^Input 'input': unknown datatype "FLOAT32"; expected one of BOOL, UINT8, .*BYTES\.$/);
    invalidInput(() => decodeJson({ inputs: [{ name: 'a', shape: [1], data: [1] }] }), /^Input 'a': unknown datatype undefined;/);
  });

  test('malformed JSON is a BAD_REQUEST', () => {
    assertAppError(() => decodeText('{"inputs":[}'), 'BAD_REQUEST', /^Malformed JSON body: /);
    assertAppError(() => decodeText('{"inputs":[{"data":[12345678901234567890,]}]}'), 'BAD_REQUEST', /^Malformed JSON body at position 41: /);
  });

  test('more decoded elements than the limit is PAYLOAD_TOO_LARGE', () => {
    const doc = { inputs: [{ name: 'a', datatype: 'INT8', shape: [3], data: [1, 2, 3] }, { name: 'b', datatype: 'INT8', shape: [2], data: [1, 2] }] };
    assert.equal(decodeJson(doc, 5).inputs.length, 2);
    assertAppError(() => decodeJson(doc, 4), 'PAYLOAD_TOO_LARGE', "Input 'b' brings the request to 5 tensor elements, more than the limit of 4.");
    assertAppError(() => decodeJson(one('FP32', [100000, 100000, 100000], []), 4), 'PAYLOAD_TOO_LARGE', /^Input 'input' brings the request to 1000000000000000 tensor elements/);
  });
});

describe('decodeInferenceRequest: binary tensor data', () => {
  test('binary chunks follow the JSON in input order, mixed with JSON inputs', () => {
    const request = decodeBinary(
      {
        inputs: [
          { name: 'a', datatype: 'FP32', shape: [2], parameters: { binary_data_size: 8 } },
          { name: 'b', datatype: 'INT64', shape: [1], data: [5] },
          { name: 'c', datatype: 'BYTES', shape: [2], parameters: { binary_data_size: 13 } },
          { name: 'd', datatype: 'INT16', shape: [1], parameters: { binary_data_size: 2 } },
        ],
      },
      bytesOf(Float32Array.of(1.5, -2)),
      bytesElements(['hello', '']),
      Buffer.from([0xfe, 0xff]),
    );
    assert.deepEqual(request.inputs.map((i) => i.data), [Float32Array.of(1.5, -2), BigInt64Array.of(5n), ['hello', ''], Int16Array.of(-2)]);
  });

  test('an odd offset into the body still yields aligned typed arrays', () => {
    const request = decodeBinary(
      { inputs: [{ name: 'a', datatype: 'UINT8', shape: [1], parameters: { binary_data_size: 1 } }, { name: 'b', datatype: 'FP64', shape: [1], parameters: { binary_data_size: 8 } }] },
      Buffer.from([7]),
      bytesOf(Float64Array.of(Math.PI)),
    );
    assert.deepEqual(request.inputs[1]!.data, Float64Array.of(Math.PI));
  });

  test('sizes must add up', () => {
    const doc = { inputs: [{ name: 'a', datatype: 'FP32', shape: [2], parameters: { binary_data_size: 8 } }] };
    invalidInput(() => decodeBinary(doc, Buffer.alloc(7)), "The binary_data_size of inputs ['a'] adds up to 8 bytes, but 7 bytes follow the JSON header.");
    invalidInput(() => decodeBinary(doc, Buffer.alloc(9)), "The binary_data_size of inputs ['a'] adds up to 8 bytes, but 9 bytes follow the JSON header.");
    invalidInput(
      () => decodeBinary({ inputs: [{ name: 'a', datatype: 'FP32', shape: [2], parameters: { binary_data_size: 6 } }] }, Buffer.alloc(6)),
      "Input 'a': binary_data_size is 6 but shape [2] of FP32 needs 8 bytes.",
    );
    invalidInput(() => decodeBinary(one('FP32', [1], [1]), Buffer.alloc(4)), 'The binary_data_size of inputs [] adds up to 0 bytes, but 4 bytes follow the JSON header.');
  });

  test('binary BYTES must be well formed', () => {
    const doc = (size: number) => ({ inputs: [{ name: 's', datatype: 'BYTES', shape: [2], parameters: { binary_data_size: size } }] });
    const good = bytesElements(['ab', 'c']);
    invalidInput(() => decodeBinary(doc(good.length - 1), good.subarray(0, -1)), "Input 's': binary BYTES data ends inside element 1.");
    invalidInput(() => decodeBinary(doc(good.length - 3), good.subarray(0, -3)), "Input 's': binary BYTES data ends inside element 1.");
    invalidInput(() => decodeBinary(doc(good.length + 2), good, Buffer.alloc(2)), "Input 's': binary BYTES data has 2 bytes after its 2 elements.");
    const badUtf8 = Buffer.concat([bytesElements(['ok']), Buffer.from([1, 0, 0, 0, 0xff])]);
    invalidInput(() => decodeBinary(doc(badUtf8.length), badUtf8), "Input 's': element 1 is not valid UTF-8 (BYTES).");
  });

  test('binary BOOL bytes must be 0 or 1', () => {
    invalidInput(
      () => decodeBinary({ inputs: [{ name: 'b', datatype: 'BOOL', shape: [3], parameters: { binary_data_size: 3 } }] }, Buffer.from([1, 0, 2])),
      "Input 'b': element 2 is 2, not 0 or 1 (BOOL).",
    );
  });

  test('binary_data_size needs the header length and excludes data', () => {
    const doc = { inputs: [{ name: 'a', datatype: 'FP32', shape: [1], parameters: { binary_data_size: 4 } }] };
    invalidInput(() => decodeJson(doc), "Input 'a' has binary_data_size but the request has no Inference-Header-Content-Length header.");
    invalidInput(
      () => decodeBinary({ inputs: [{ name: 'a', datatype: 'FP32', shape: [1], data: [1], parameters: { binary_data_size: 4 } }] }, Buffer.alloc(4)),
      `Input 'a' has both "data" and parameters.binary_data_size.`,
    );
    invalidInput(
      () => decodeBinary({ inputs: [{ name: 'a', datatype: 'FP32', shape: [1], parameters: { binary_data_size: '4' } }] }, Buffer.alloc(4)),
      "Input 'a': binary_data_size must be a non-negative integer.",
    );
  });

  test('header length: 0 (raw body) is unsupported, beyond the body is malformed', () => {
    invalidInput(() => decodeInferenceRequest(Buffer.alloc(16), 0, LIMIT), /^A raw binary body \(Inference-Header-Content-Length: 0\) is not supported/);
    assertAppError(() => decodeInferenceRequest(Buffer.from('{}'), 3, LIMIT), 'BAD_REQUEST', 'Inference-Header-Content-Length is 3 but the body has 2 bytes.');
    assertAppError(() => decodeInferenceRequest(Buffer.from('{}'), -1, LIMIT), 'BAD_REQUEST', /is -1/);
  });
});

describe('encodeInferenceResponse', () => {
  test('id and parameters appear only when present', () => {
    const tensor: Tensor = { name: 'y', datatype: 'INT32', shape: [1], data: Int32Array.of(1) };
    assert.equal(
      encodeInferenceResponse(result([tensor], { id: 'r"1', parameters: { a: 1, b: 'x' } }), new Set()).body.toString(),
      '{"model_name":"m","model_version":"3","id":"r\\"1","parameters":{"a":1,"b":"x"},"outputs":[{"name":"y","datatype":"INT32","shape":[1],"data":[1]}]}',
    );
    assert.equal(encodeInferenceResponse(result([]), new Set()).body.toString(), '{"model_name":"m","model_version":"3","outputs":[]}');
  });

  test('binary outputs are appended in output order after the JSON', () => {
    const outputs: Tensor[] = [
      { name: 'p', datatype: 'FP32', shape: [1, 2], data: Float32Array.of(0.25, 0.75) },
      { name: 'label', datatype: 'INT64', shape: [1], data: BigInt64Array.of(-3n) },
      { name: 's', datatype: 'BYTES', shape: [1], data: ['hé'] },
    ];
    const encoded = encodeInferenceResponse(result(outputs), new Set(['s', 'p']));
    const json = '{"model_name":"m","model_version":"3","outputs":[' +
      '{"name":"p","datatype":"FP32","shape":[1,2],"parameters":{"binary_data_size":8}},' +
      '{"name":"label","datatype":"INT64","shape":[1],"data":[-3]},' +
      '{"name":"s","datatype":"BYTES","shape":[1],"parameters":{"binary_data_size":7}}]}';
    assert.equal(encoded.headerLength, Buffer.byteLength(json));
    const body = encoded.body as Buffer;
    assert.equal(body.toString('utf8', 0, encoded.headerLength), json);
    assert.deepEqual(body.subarray(encoded.headerLength), Buffer.concat([bytesOf(Float32Array.of(0.25, 0.75)), bytesElements(['hé'])]));
  });

  test('a binary response decodes back to the same tensors', () => {
    const outputs: Tensor[] = EXAMPLES.map((e, i) => ({ name: `o${i}`, datatype: e.datatype, shape: [4], data: e.stored }));
    const encoded = encodeInferenceResponse(result(outputs), new Set(outputs.map((o) => o.name)));
    const { doc, binary } = splitResponse(encoded);
    const request = decodeBinary({ inputs: doc.outputs }, binary);
    assert.deepEqual(request.inputs.map((i) => i.data), outputs.map((o) => o.data));
  });
});

describe('wantsBinaryOutput', () => {
  const request = (parameters: InferenceRequest['parameters'], outputs?: InferenceRequest['outputs']): InferenceRequest => ({ parameters, inputs: [], outputs });

  test('request-level binary_data_output applies to every output', () => {
    assert.equal(wantsBinaryOutput(request({ binary_data_output: true }), 'a'), true);
    assert.equal(wantsBinaryOutput(request({}), 'a'), false);
    assert.equal(wantsBinaryOutput(request({ binary_data_output: false }), 'a'), false);
  });

  test('a per-output binary_data overrides the request-level flag', () => {
    const outputs: RequestedOutput[] = [{ name: 'a', parameters: { binary_data: false } }, { name: 'b', parameters: { binary_data: true } }, { name: 'c', parameters: {} }];
    assert.equal(wantsBinaryOutput(request({ binary_data_output: true }, outputs), 'a'), false);
    assert.equal(wantsBinaryOutput(request({ binary_data_output: true }, outputs), 'c'), true);
    assert.equal(wantsBinaryOutput(request({}, outputs), 'b'), true);
    assert.equal(wantsBinaryOutput(request({}, outputs), 'c'), false);
  });

  test('works on a decoded request', () => {
    const decoded = decodeJson({ parameters: { binary_data_output: true }, inputs: [{ name: 'x', datatype: 'FP32', shape: [1], data: [1] }], outputs: [{ name: 'p', parameters: { binary_data: false } }] });
    assert.equal(wantsBinaryOutput(decoded, 'p'), false);
    assert.equal(wantsBinaryOutput(decoded, 'label'), true);
  });
});

describe('checkAgainstModel', () => {
  const model: TensorSpec[] = [
    { name: 'input', datatype: 'FP32', shape: [-1, 30] },
    { name: 'mask', datatype: 'BOOL', shape: [-1, -1] },
  ];
  const tensor = (name: string, datatype: Datatype, shape: number[]): Tensor => ({ name, datatype, shape, data: new Float32Array(0) });

  test('accepts matching inputs in any order', () => {
    assert.doesNotThrow(() => checkAgainstModel([tensor('mask', 'BOOL', [2, 7]), tensor('input', 'FP32', [4, 30])], model));
  });

  test('names the offending input', () => {
    const mask = tensor('mask', 'BOOL', [1, 1]);
    invalidInput(() => checkAgainstModel([tensor('input', 'FP32', [1, 29]), mask], model), "Input 'input' has shape [1,29]; the model expects [-1,30].");
    invalidInput(() => checkAgainstModel([tensor('input', 'FP32', [30]), mask], model), "Input 'input' has shape [30]; the model expects [-1,30].");
    invalidInput(() => checkAgainstModel([tensor('input', 'FP64', [1, 30]), mask], model), "Input 'input' has datatype FP64; the model expects FP32.");
    invalidInput(() => checkAgainstModel([tensor('inp', 'FP32', [1, 30]), mask], model), "Input 'inp' is not an input of the model; it expects 'input', 'mask'.");
    invalidInput(() => checkAgainstModel([mask], model), "Missing input 'input'; the model expects 'input', 'mask'.");
    invalidInput(() => checkAgainstModel([], model), "Missing inputs 'input', 'mask'; the model expects 'input', 'mask'.");
    invalidInput(() => checkAgainstModel([mask, tensor('input', 'FP32', [1, 30]), mask], model), "Input 'mask' is supplied more than once.");
  });
});
