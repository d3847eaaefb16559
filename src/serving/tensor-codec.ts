import { endianness } from 'node:os';
import { AppError } from '../errors/index.js';
import { fromHalfBits, toHalfBits } from './fp16.js';
import { needsLosslessParse, parseJsonLossless } from './json-lossless.js';
import { DATATYPES, type Datatype, type InferenceRequest, type InferenceResult, type Parameters } from './types.js';
import type { RequestedOutput, Tensor, TensorData, TensorSpec } from './types.js';

type FixedDatatype = Exclude<Datatype, 'BYTES'>;
type NumericData = Exclude<TensorData, string[]>;
type IntData = Uint8Array | Uint16Array | Uint32Array | Int8Array | Int16Array | Int32Array;
type DecodedInput = InferenceRequest['inputs'][number];

/** Typed storage per fixed-size datatype; its BYTES_PER_ELEMENT is the element's wire size. */
const ARRAY_OF: Record<FixedDatatype, { new (buffer: ArrayBuffer): NumericData; readonly BYTES_PER_ELEMENT: number }> = {
  BOOL: Uint8Array, UINT8: Uint8Array, UINT16: Uint16Array, UINT32: Uint32Array, UINT64: BigUint64Array,
  INT8: Int8Array, INT16: Int16Array, INT32: Int32Array, INT64: BigInt64Array,
  FP16: Uint16Array, FP32: Float32Array, FP64: Float64Array,
};

const LITTLE_ENDIAN = endianness() === 'LE';
/** Arrays nested deeper than this are refused before the recursive flatten walks them. */
const MAX_NESTING = 64;
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** What is known of an input before its data is decoded. */
type InputHeader = Omit<DecodedInput, 'data'> & { count: number; data: unknown; binarySize?: number };

function invalid(message: string): AppError {
  return new AppError('MODEL_INPUT_INVALID', message);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function show(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object' && value !== null) return 'an object';
  const text = typeof value === 'bigint' ? value.toString() : (JSON.stringify(value) ?? String(value));
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

function elementError(name: string, index: number, value: unknown, problem: string): AppError {
  return invalid(`Input '${name}': element ${index} is ${show(value)}, ${problem}.`);
}

/** Decodes a V2 request body: JSON, or (with `headerLength`) a JSON header followed by binary tensors. */
export function decodeInferenceRequest(body: Buffer, headerLength: number | undefined, maxElements: number): InferenceRequest {
  const jsonEnd = jsonLength(body, headerLength);
  const text = body.toString('utf8', 0, jsonEnd);
  const doc = needsLosslessParse(text) ? parseJsonLossless(text) : parseJson(text);
  return decodeRequestDocument(doc, maxElements, headerLength === undefined ? undefined : body.subarray(jsonEnd));
}

/** Validates and converts a parsed V2 request; `binary` is what followed its JSON header, when it had one. */
export function decodeRequestDocument(doc: unknown, maxElements: number, binary?: Buffer): InferenceRequest {
  if (!isObject(doc)) throw invalid('The inference request must be a JSON object.');
  if (!Array.isArray(doc.inputs) || doc.inputs.length === 0) throw invalid('The request needs "inputs", a non-empty array.');
  const headers = readInputHeaders(doc.inputs, maxElements);
  checkBinarySizes(headers, binary);
  let offset = 0;
  const inputs = headers.map((h): DecodedInput => {
    const chunk = h.binarySize === undefined || !binary ? undefined : binary.subarray(offset, (offset += h.binarySize));
    const data = !chunk ? fromJson(h) : h.datatype === 'BYTES' ? bytesFromBinary(h, chunk) : fromBinary(h, h.datatype, chunk);
    return { name: h.name, datatype: h.datatype, shape: h.shape, parameters: h.parameters, data };
  });
  const request: InferenceRequest = { parameters: readParameters(doc.parameters, 'The request'), inputs };
  if (doc.id !== undefined && typeof doc.id !== 'string') throw invalid('The request "id" must be a string.');
  if (typeof doc.id === 'string') request.id = doc.id;
  if (doc.outputs !== undefined) request.outputs = readOutputs(doc.outputs);
  return request;
}

function jsonLength(body: Buffer, headerLength: number | undefined): number {
  if (headerLength === undefined) return body.length;
  if (headerLength === 0) throw invalid('A raw binary body (Inference-Header-Content-Length: 0) is not supported; send a JSON header that describes the input.');
  if (!Number.isSafeInteger(headerLength) || headerLength < 0 || headerLength > body.length) throw new AppError('BAD_REQUEST', `Inference-Header-Content-Length is ${headerLength} but the body has ${body.length} bytes.`);
  return headerLength;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new AppError('BAD_REQUEST', `Malformed JSON body: ${(error as Error).message}`);
  }
}

function readInputHeaders(raw: unknown[], maxElements: number): InputHeader[] {
  const names = new Set<string>();
  let total = 0;
  return raw.map((input, index) => {
    const h = readInputHeader(input, index);
    if (names.has(h.name)) throw invalid(`Input '${h.name}' appears more than once.`);
    names.add(h.name);
    total += h.count;
    if (total > maxElements) throw new AppError('PAYLOAD_TOO_LARGE', `Input '${h.name}' brings the request to ${total} tensor elements, more than the limit of ${maxElements}.`);
    return h;
  });
}

function readInputHeader(input: unknown, index: number): InputHeader {
  if (!isObject(input)) throw invalid(`inputs[${index}] must be an object.`);
  const name = input.name;
  if (typeof name !== 'string' || name === '') throw invalid(`inputs[${index}] needs a "name" string.`);
  const datatype = input.datatype;
  if (datatype === 'BF16') throw invalid(`Input '${name}': datatype BF16 is not supported.`);
  if (!(DATATYPES as readonly unknown[]).includes(datatype)) throw invalid(`Input '${name}': unknown datatype ${show(datatype)}; expected one of ${DATATYPES.join(', ')}.`);
  const shape = input.shape;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw invalid(`Input '${name}': "shape" must be an array of non-negative integers.`);
  const parameters = readParameters(input.parameters, `Input '${name}'`);
  const header: InputHeader = { name, datatype: datatype as Datatype, shape, parameters, count: product(shape), data: input.data };
  const size = parameters.binary_data_size;
  if (size === undefined) {
    if (input.data === undefined) throw invalid(`Input '${name}' has neither "data" nor parameters.binary_data_size.`);
    return header;
  }
  if (input.data !== undefined) throw invalid(`Input '${name}' has both "data" and parameters.binary_data_size.`);
  if (!Number.isSafeInteger(size) || (size as number) < 0) throw invalid(`Input '${name}': binary_data_size must be a non-negative integer.`);
  header.binarySize = size as number;
  const fixed = header.datatype === 'BYTES' ? undefined : header.count * ARRAY_OF[header.datatype].BYTES_PER_ELEMENT;
  if (fixed !== undefined && fixed !== size) throw invalid(`Input '${name}': binary_data_size is ${size} but shape [${shape}] of ${datatype} needs ${fixed} bytes.`);
  return header;
}

function product(shape: number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

function readParameters(value: unknown, owner: string): Parameters {
  if (value === undefined) return {};
  if (!isObject(value)) throw invalid(`${owner}: "parameters" must be an object.`);
  for (const [key, v] of Object.entries(value)) {
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') throw invalid(`${owner}: parameter '${key}' is ${show(v)}; parameters must be strings, numbers or booleans.`);
  }
  return value as Parameters;
}

function readOutputs(value: unknown): RequestedOutput[] {
  if (!Array.isArray(value)) throw invalid('The request "outputs" must be an array.');
  return value.map((output, index) => {
    if (!isObject(output) || typeof output.name !== 'string') throw invalid(`outputs[${index}] must be an object with a "name" string.`);
    return { name: output.name, parameters: readParameters(output.parameters, `Output '${output.name}'`) };
  });
}

function checkBinarySizes(headers: InputHeader[], binary: Buffer | undefined): void {
  const inputs = headers.filter((h) => h.binarySize !== undefined);
  if (!binary && inputs.length > 0) throw invalid(`Input '${inputs[0].name}' has binary_data_size but the request has no Inference-Header-Content-Length header.`);
  const sum = inputs.reduce((total, h) => total + (h.binarySize ?? 0), 0);
  const names = inputs.map((h) => `'${h.name}'`).join(', ');
  if (binary && sum !== binary.length) throw invalid(`The binary_data_size of inputs [${names}] adds up to ${sum} bytes, but ${binary.length} bytes follow the JSON header.`);
}

function fromJson(h: InputHeader): TensorData {
  if (!Array.isArray(h.data)) throw invalid(`Input '${h.name}': "data" must be an array.`);
  const flat = flattenNested(h.data, h);
  const n = h.count;
  switch (h.datatype) {
    case 'FP32': return toFloats(new Float32Array(n), flat, h.name, 'FP32');
    case 'FP64': return toFloats(new Float64Array(n), flat, h.name, 'FP64');
    case 'FP16': return toHalfs(new Uint16Array(n), flat, h.name);
    case 'BOOL': return toBools(new Uint8Array(n), flat, h.name);
    case 'UINT8': return toInts(new Uint8Array(n), flat, h.name, 'UINT8', 0, 0xff);
    case 'UINT16': return toInts(new Uint16Array(n), flat, h.name, 'UINT16', 0, 0xffff);
    case 'UINT32': return toInts(new Uint32Array(n), flat, h.name, 'UINT32', 0, 0xffffffff);
    case 'INT8': return toInts(new Int8Array(n), flat, h.name, 'INT8', -0x80, 0x7f);
    case 'INT16': return toInts(new Int16Array(n), flat, h.name, 'INT16', -0x8000, 0x7fff);
    case 'INT32': return toInts(new Int32Array(n), flat, h.name, 'INT32', -0x80000000, 0x7fffffff);
    case 'UINT64': return toBigInts(new BigUint64Array(n), flat, h.name, 'UINT64', 0n, 2n ** 64n - 1n);
    case 'INT64': return toBigInts(new BigInt64Array(n), flat, h.name, 'INT64', -(2n ** 63n), 2n ** 63n - 1n);
    case 'BYTES': return toStrings(flat, h.name);
  }
}

/** The elements of `data` depth-first; a flat array is returned as is. Ragged nesting is refused. */
function flattenNested(data: unknown[], h: InputHeader): unknown[] {
  const dims: number[] = [];
  for (let level: unknown = data; Array.isArray(level); level = level[0]) {
    if (dims.length === MAX_NESTING) throw invalid(`Input '${h.name}': "data" is nested deeper than ${MAX_NESTING} levels.`);
    dims.push(level.length);
  }
  const count = product(dims);
  // The dims come from the first element at each level only: validate before trusting their product.
  if (dims.length > 1 && count !== h.count) walkNested(data, dims, 0, null, 0, h.name);
  if (count !== h.count) throw invalid(`Input '${h.name}' has ${count} data elements but shape [${h.shape}] needs ${h.count}.`);
  if (dims.length === 1) return data;
  const flat = new Array<unknown>(count);
  walkNested(data, dims, 0, flat, 0, h.name);
  return flat;
}

/** Checks `level` is rectangular with `dims` and, given `out`, copies its leaves there from `at` on. */
function walkNested(level: unknown[], dims: number[], depth: number, out: unknown[] | null, at: number, name: string): number {
  const leaf = depth === dims.length - 1;
  if (level.length !== dims[depth]) throw invalid(`Input '${name}': "data" is ragged (nested arrays of unequal length at depth ${depth}).`);
  for (let i = 0; i < level.length; i++) {
    const value = level[i];
    if (Array.isArray(value) === leaf) throw invalid(`Input '${name}': "data" is ragged (arrays and values mixed at depth ${depth + 1}).`);
    if (!leaf) at = walkNested(value as unknown[], dims, depth + 1, out, at, name);
    else if (out) out[at++] = value;
  }
  return at;
}

function specialFloat(value: unknown, name: string, index: number, datatype: string): number {
  if (value === 'NaN') return NaN;
  if (value === 'Infinity') return Infinity;
  if (value === '-Infinity') return -Infinity;
  if (typeof value === 'bigint') return Number(value);
  throw elementError(name, index, value, `not a number (${datatype})`);
}

function toFloats<T extends Float32Array | Float64Array>(out: T, flat: unknown[], name: string, datatype: string): T {
  for (let i = 0; i < out.length; i++) {
    const value = flat[i];
    out[i] = typeof value === 'number' ? value : specialFloat(value, name, i, datatype);
  }
  return out;
}

function toHalfs(out: Uint16Array, flat: unknown[], name: string): Uint16Array {
  for (let i = 0; i < out.length; i++) {
    const value = flat[i];
    out[i] = toHalfBits(typeof value === 'number' ? value : specialFloat(value, name, i, 'FP16'));
  }
  return out;
}

function toBools(out: Uint8Array, flat: unknown[], name: string): Uint8Array {
  for (let i = 0; i < out.length; i++) {
    const value = flat[i];
    if (value === true || value === 1) out[i] = 1;
    else if (value !== false && value !== 0) throw elementError(name, i, value, 'not a boolean (BOOL)');
  }
  return out;
}

function integerProblem(value: unknown, datatype: string, min: number | bigint, max: number | bigint): string {
  if (typeof value !== 'bigint' && !Number.isInteger(value)) return `not an integer (${datatype})`;
  if ((value as number | bigint) < min || (value as number | bigint) > max) return `out of range for ${datatype} [${min}, ${max}]`;
  return `beyond 2^53 as a number; write 64-bit values as integer literals (${datatype})`;
}

function toInts<T extends IntData>(out: T, flat: unknown[], name: string, datatype: string, min: number, max: number): T {
  for (let i = 0; i < out.length; i++) {
    const value = flat[i];
    if (typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max) out[i] = value;
    else throw elementError(name, i, value, integerProblem(value, datatype, min, max));
  }
  return out;
}

function toBigInts<T extends BigInt64Array | BigUint64Array>(out: T, flat: unknown[], name: string, datatype: string, min: bigint, max: bigint): T {
  for (let i = 0; i < out.length; i++) {
    const value = flat[i];
    // Integers past 2^53 only arrive as bigint (from the lossless parser); such a number was rounded.
    const exact = typeof value === 'bigint' ? value : Number.isSafeInteger(value) ? BigInt(value as number) : undefined;
    if (exact === undefined || exact < min || exact > max) throw elementError(name, i, value, integerProblem(value, datatype, min, max));
    out[i] = exact;
  }
  return out;
}

function toStrings(flat: unknown[], name: string): string[] {
  for (let i = 0; i < flat.length; i++) if (typeof flat[i] !== 'string') throw elementError(name, i, flat[i], 'not a string (BYTES)');
  return flat as string[];
}

function fromBinary(h: InputHeader, datatype: FixedDatatype, chunk: Buffer): TensorData {
  // Copied into a fresh buffer: the chunk may sit at an offset the element size does not divide.
  const bytes = new Uint8Array(chunk);
  const size = ARRAY_OF[datatype].BYTES_PER_ELEMENT;
  if (!LITTLE_ENDIAN && size > 1) swapBytes(bytes, size);
  const bad = datatype === 'BOOL' ? bytes.findIndex((b) => b > 1) : -1;
  if (bad >= 0) throw elementError(h.name, bad, bytes[bad], 'not 0 or 1 (BOOL)');
  return new ARRAY_OF[datatype](bytes.buffer);
}

function swapBytes(bytes: Uint8Array, size: number): void {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (size === 2) buffer.swap16();
  else if (size === 4) buffer.swap32();
  else buffer.swap64();
}

function bytesFromBinary(h: InputHeader, chunk: Buffer): string[] {
  const out = new Array<string>(h.count);
  let at = 0;
  for (let i = 0; i < h.count; i++) {
    const length = at + 4 <= chunk.length ? chunk.readUInt32LE(at) : -1;
    if (length < 0 || at + 4 + length > chunk.length) throw invalid(`Input '${h.name}': binary BYTES data ends inside element ${i}.`);
    at += 4;
    try {
      out[i] = utf8.decode(chunk.subarray(at, (at += length)));
    } catch {
      throw invalid(`Input '${h.name}': element ${i} is not valid UTF-8 (BYTES).`);
    }
  }
  if (at !== chunk.length) throw invalid(`Input '${h.name}': binary BYTES data has ${chunk.length - at} bytes after its ${h.count} elements.`);
  return out;
}

/** A per-output `binary_data` parameter wins over the request-level `binary_data_output`. */
export function wantsBinaryOutput(req: InferenceRequest, outputName: string): boolean {
  const own = req.outputs?.find((o) => o.name === outputName)?.parameters.binary_data;
  if (typeof own === 'boolean') return own;
  return req.parameters.binary_data_output === true;
}

/** The V2 response body; with any binary output, `headerLength` is the byte length of its JSON part. */
/** Without binary outputs the body is the JSON text: a string goes out in one write with the headers. */
export function encodeInferenceResponse(result: InferenceResult, binaryOutputs: Set<string>): { body: Buffer | string; headerLength?: number } {
  const chunks: Buffer[] = [];
  let json = `{"model_name":${JSON.stringify(result.modelName)},"model_version":${JSON.stringify(result.modelVersion)}`;
  if (result.id !== undefined) json += `,"id":${JSON.stringify(result.id)}`;
  if (result.parameters !== undefined) json += `,"parameters":${JSON.stringify(result.parameters)}`;
  json += ',"outputs":[';
  result.outputs.forEach((t, i) => {
    json += `${i ? ',' : ''}{"name":${JSON.stringify(t.name)},"datatype":"${t.datatype}","shape":[${t.shape.join(',')}]`;
    const bytes = binaryOutputs.has(t.name) ? binaryOf(t) : undefined;
    if (bytes) chunks.push(bytes);
    json += bytes ? `,"parameters":{"binary_data_size":${bytes.length}}}` : `,"data":${jsonDataOf(t)}}`;
  });
  json += ']}';
  if (chunks.length === 0) return { body: json };
  const header = Buffer.from(json);
  return { body: Buffer.concat([header, ...chunks]), headerLength: header.length };
}

function jsonDataOf(t: Tensor): string {
  switch (t.datatype) {
    case 'BYTES': return JSON.stringify(t.data);
    case 'BOOL': return boolsJson(t.data as Uint8Array);
    case 'FP16': return floatsJson(Float64Array.from(t.data as Uint16Array, fromHalfBits));
    case 'FP32': case 'FP64': return floatsJson(t.data as Float32Array | Float64Array);
    default: return `[${(t.data as IntData | BigInt64Array | BigUint64Array).join(',')}]`;
  }
}

function boolsJson(data: Uint8Array): string {
  let json = '[';
  for (let i = 0; i < data.length; i++) json += (i ? ',' : '') + (data[i] ? 'true' : 'false');
  return json + ']';
}

/** False for NaN, ±Infinity and -0, which join() would write as invalid or lossy JSON. */
function isPlainFloat(v: number): boolean {
  return v - v === 0 && (v !== 0 || 1 / v > 0);
}

function floatsJson(data: Float32Array | Float64Array): string {
  let plain = true;
  for (let i = 0; plain && i < data.length; i++) plain = isPlainFloat(data[i]);
  if (plain) return `[${data.join(',')}]`;
  let json = '[';
  for (let j = 0; j < data.length; j++) {
    const v = data[j];
    if (j) json += ',';
    if (Number.isFinite(v)) json += v === 0 && 1 / v < 0 ? '-0' : String(v);
    else json += Number.isNaN(v) ? '"NaN"' : v > 0 ? '"Infinity"' : '"-Infinity"';
  }
  return json + ']';
}

function binaryOf(t: Tensor): Buffer {
  if (t.datatype === 'BYTES') {
    const encoded = (t.data as string[]).map((s) => Buffer.from(s, 'utf8'));
    const out = Buffer.allocUnsafe(encoded.reduce((total, b) => total + 4 + b.length, 0));
    let at = 0;
    for (const b of encoded) {
      at = out.writeUInt32LE(b.length, at);
      at += b.copy(out, at);
    }
    return out;
  }
  const data = t.data as NumericData;
  const view = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (LITTLE_ENDIAN || data.BYTES_PER_ELEMENT === 1) return view;
  const copy = Buffer.from(view);
  swapBytes(copy, data.BYTES_PER_ELEMENT);
  return copy;
}

/** Every model input supplied exactly once, with the model's datatype, rank and fixed dimensions. */
export function checkAgainstModel(inputs: Tensor[], modelInputs: TensorSpec[]): void {
  const specs = new Map(modelInputs.map((s) => [s.name, s]));
  const expected = modelInputs.map((s) => `'${s.name}'`).join(', ');
  const seen = new Set<string>();
  for (const input of inputs) {
    const spec = specs.get(input.name);
    if (!spec) throw invalid(`Input '${input.name}' is not an input of the model; it expects ${expected}.`);
    if (seen.has(input.name)) throw invalid(`Input '${input.name}' is supplied more than once.`);
    seen.add(input.name);
    if (input.datatype !== spec.datatype) throw invalid(`Input '${input.name}' has datatype ${input.datatype}; the model expects ${spec.datatype}.`);
    const fits = input.shape.length === spec.shape.length && spec.shape.every((d, i) => d === -1 || d === input.shape[i]);
    if (!fits) throw invalid(`Input '${input.name}' has shape [${input.shape}]; the model expects [${spec.shape}].`);
  }
  const missing = modelInputs.filter((s) => !seen.has(s.name)).map((s) => `'${s.name}'`);
  if (missing.length > 0) throw invalid(`Missing ${missing.length > 1 ? 'inputs' : 'input'} ${missing.join(', ')}; the model expects ${expected}.`);
}
