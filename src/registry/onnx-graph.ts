import { AppError } from '../errors/index.js';

/**
 * Reads the interface of an ONNX model (its graph inputs and outputs, opsets and producer) straight
 * from the protobuf bytes, without the onnx package or a generated schema. Only the handful of fields
 * a registry shows are decoded; everything else (nodes, weights, training info) is skipped by length.
 *
 * Garbage never hangs or reads past the buffer: every read is bounds-checked, every loop consumes at
 * least one byte, and type nesting is capped. Any problem is an INVALID_PARAMETER_VALUE AppError.
 */

/** One input or output, in the same shape as the fixtures' JSON sidecars. */
export interface TensorSpec {
  name: string;
  /** Open Inference Protocol datatype (FP32, INT64, BYTES…); null for complex, sequences, maps. */
  datatype: string | null;
  /** ONNX Runtime's spelling of the type: tensor(float), seq(tensor(float)), map(int64,tensor(float)). */
  onnx_type: string | null;
  /** -1 for a dimension that is unknown or symbolic; [] for non-tensors and tensors of unknown rank. */
  shape: number[];
  /** The symbolic name of each dimension (e.g. "batch"), null where it has none. */
  symbolic_dims: (string | null)[];
}

export interface OnnxModelInfo {
  irVersion: number;
  producerName: string;
  producerVersion: string;
  /** Operator set versions by domain; the default (empty) domain is reported as 'ai.onnx'. */
  opsetImport: Record<string, number>;
  graphName: string;
  /** Graph inputs that are not initializers (weights), i.e. what a caller has to feed. */
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  /** The model's metadata_props. */
  metadata: Record<string, string>;
}

/** ONNX TensorProto.DataType → [ONNX Runtime type name, Open Inference Protocol datatype]. */
const ELEM_TYPES: Readonly<Record<number, readonly [string, string | null]>> = {
  1: ['float', 'FP32'], 2: ['uint8', 'UINT8'], 3: ['int8', 'INT8'], 4: ['uint16', 'UINT16'], 5: ['int16', 'INT16'],
  6: ['int32', 'INT32'], 7: ['int64', 'INT64'], 8: ['string', 'BYTES'], 9: ['bool', 'BOOL'], 10: ['float16', 'FP16'],
  11: ['double', 'FP64'], 12: ['uint32', 'UINT32'], 13: ['uint64', 'UINT64'], 14: ['complex64', null], 15: ['complex128', null],
  16: ['bfloat16', 'BF16'], 17: ['float8e4m3fn', null], 18: ['float8e4m3fnuz', null], 19: ['float8e5m2', null],
  20: ['float8e5m2fnuz', null], 21: ['uint4', null], 22: ['int4', null], 23: ['float4e2m1', null],
};

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LEN = 2;
const MAX_FIELD_NUMBER = 2 ** 29 - 1;
/** seq(map(…, seq(…))) deeper than this is not a real model, and recursion must stay bounded. */
const MAX_TYPE_DEPTH = 32;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A cursor over one protobuf message: bytes[start, end) of a shared buffer, so offsets stay absolute. */
class WireReader {
  private pos: number;
  private wire = -1;
  private tagAt = 0;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly context: string,
    start: number,
    private readonly end: number,
  ) {
    this.pos = start;
  }

  hasMore(): boolean {
    return this.pos < this.end;
  }

  /** Reads the next tag and returns its field number; the read methods below then check its wire type. */
  next(): number {
    this.tagAt = this.pos;
    const key = this.readVarint();
    const field = key >> 3n;
    this.wire = Number(key & 7n);
    if (field === 0n || field > BigInt(MAX_FIELD_NUMBER)) throw this.fail(`invalid field number ${field}`, this.tagAt);
    if (this.wire === 3 || this.wire === 4) throw this.fail('protobuf groups (wire types 3 and 4) are not supported', this.tagAt);
    if (this.wire > 5) throw this.fail(`invalid wire type ${this.wire}`, this.tagAt);
    return Number(field);
  }

  private uint64(what: string): bigint {
    this.expect(WIRE_VARINT, what);
    return this.readVarint();
  }

  /** An int64 field as a number; one that does not fit in 2^53 is refused rather than rounded. */
  int64(what: string): number {
    const value = BigInt.asIntN(64, this.uint64(what));
    if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw this.fail(`${what} ${value} is out of range`, this.tagAt);
    }
    return Number(value);
  }

  int32(what: string): number {
    return Number(BigInt.asIntN(32, this.uint64(what)));
  }

  string(what: string): string {
    const at = this.pos;
    const start = this.takeLengthDelimited(what);
    try {
      return utf8.decode(this.bytes.subarray(start, this.pos));
    } catch {
      throw this.fail(`${what} is not valid UTF-8`, at);
    }
  }

  /** A reader over an embedded message; this reader moves past it. */
  message(what: string, type: string): WireReader {
    const start = this.takeLengthDelimited(what);
    return new WireReader(this.bytes, `${this.context}.${what} (${type})`, start, this.pos);
  }

  /** Steps over the value of the field just read, whatever its wire type. */
  skip(): void {
    const at = this.pos;
    if (this.wire === WIRE_VARINT) {
      this.readVarint();
    } else if (this.wire === WIRE_LEN) {
      this.takeLengthDelimited(`field at byte ${this.tagAt}`);
    } else {
      this.advance(this.wire === WIRE_FIXED64 ? 8 : 4, at); // next() lets no other wire type through
    }
  }

  fail(reason: string, offset = this.pos): AppError {
    return new AppError('INVALID_PARAMETER_VALUE', `Not a readable ONNX model: ${reason} at byte ${offset} (in ${this.context}).`, {
      details: { offset, within: this.context },
    });
  }

  /** Moves past a length-delimited value and returns where it starts; it ends at the new pos. */
  private takeLengthDelimited(what: string): number {
    this.expect(WIRE_LEN, what);
    const length = this.readLength(what);
    const start = this.pos;
    this.pos += length;
    return start;
  }

  private expect(wire: number, what: string): void {
    if (this.wire !== wire) throw this.fail(`${what} has wire type ${this.wire}, expected ${wire}`, this.tagAt);
  }

  private readLength(what: string): number {
    const at = this.pos;
    const length = this.readVarint();
    const remaining = this.end - this.pos;
    if (length > BigInt(remaining)) throw this.fail(`truncated: ${what} needs ${length} bytes but ${remaining} remain`, at);
    return Number(length);
  }

  private advance(count: number, at: number): void {
    if (count > this.end - this.pos) throw this.fail(`truncated: a fixed-width value needs ${count} bytes`, at);
    this.pos += count;
  }

  /** Up to ten bytes, seven bits each, least significant first; anything longer is corrupt. */
  private readVarint(): bigint {
    const at = this.pos;
    const first = this.pos < this.end ? this.bytes[this.pos]! : undefined;
    if (first !== undefined && first < 0x80) {
      this.pos++;
      return BigInt(first);
    }
    let value = 0n;
    for (let i = 0n; i < 10n; i++) {
      if (this.pos >= this.end) throw this.fail('truncated varint', at);
      const byte = this.bytes[this.pos++]!;
      value |= BigInt(byte & 0x7f) << (7n * i);
      if (byte < 0x80) return BigInt.asUintN(64, value);
    }
    throw this.fail('varint longer than 10 bytes', at);
  }
}

interface GraphParts {
  name: string;
  initializers: Set<string>;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
}

/**
 * Decodes an ONNX ModelProto. Throws INVALID_PARAMETER_VALUE when the bytes are not a well-formed
 * protobuf, or lack what every ONNX model has (an ir_version, a graph, and opsets from IR 3 on).
 */
export function decodeOnnxModel(bytes: Uint8Array): OnnxModelInfo {
  const r = new WireReader(bytes, 'ModelProto', 0, bytes.length);
  let irVersion = 0;
  let producerName = '';
  let producerVersion = '';
  let hasGraph = false;
  const graph: GraphParts = { name: '', initializers: new Set(), inputs: [], outputs: [] };
  const opsetImport: Record<string, number> = {};
  const metadata: Record<string, string> = {};
  while (r.hasMore()) {
    switch (r.next()) {
      case 1: irVersion = r.int64('ir_version'); break;
      case 2: producerName = r.string('producer_name'); break;
      case 3: producerVersion = r.string('producer_version'); break;
      // A repeated embedded message merges, as protobuf says; no exporter writes two, but it costs nothing.
      case 7: readGraph(r.message('graph', 'GraphProto'), graph); hasGraph = true; break;
      case 8: readOpset(r.message('opset_import', 'OperatorSetIdProto'), opsetImport); break;
      case 14: readEntry(r.message('metadata_props', 'StringStringEntryProto'), metadata); break;
      default: r.skip();
    }
  }
  if (irVersion < 1) throw r.fail('no ir_version', 0);
  if (!hasGraph) throw r.fail('no graph', 0);
  if (irVersion >= 3 && Object.keys(opsetImport).length === 0) throw r.fail('no opset_import', 0);
  return {
    irVersion,
    producerName,
    producerVersion,
    opsetImport,
    graphName: graph.name,
    // Exporters before IR 4 listed every weight as a graph input too; those are not for callers to feed.
    inputs: graph.inputs.filter((input) => !graph.initializers.has(input.name)),
    outputs: graph.outputs,
    metadata,
  };
}

function readGraph(r: WireReader, graph: GraphParts): void {
  while (r.hasMore()) {
    switch (r.next()) {
      case 2: graph.name = r.string('name'); break;
      case 5: graph.initializers.add(readTensorName(r.message('initializer', 'TensorProto'))); break;
      case 11: graph.inputs.push(readValueInfo(r.message('input', 'ValueInfoProto'))); break;
      case 12: graph.outputs.push(readValueInfo(r.message('output', 'ValueInfoProto'))); break;
      default: r.skip(); // nodes, sparse_initializer (15), value_info, doc_string…
    }
  }
}

function readTensorName(r: WireReader): string {
  let name = '';
  while (r.hasMore()) {
    if (r.next() === 8) name = r.string('name');
    else r.skip();
  }
  return name;
}

function readOpset(r: WireReader, opsets: Record<string, number>): void {
  let domain = '';
  let version = 0;
  while (r.hasMore()) {
    switch (r.next()) {
      case 1: domain = r.string('domain'); break;
      case 2: version = r.int64('version'); break;
      default: r.skip();
    }
  }
  opsets[domain === '' ? 'ai.onnx' : domain] = version;
}

function readEntry(r: WireReader, entries: Record<string, string>): void {
  let key = '';
  let value = '';
  while (r.hasMore()) {
    switch (r.next()) {
      case 1: key = r.string('key'); break;
      case 2: value = r.string('value'); break;
      default: r.skip();
    }
  }
  entries[key] = value;
}

/** What a TypeProto says: its type string, plus the element type and dimensions of a dense tensor. */
interface ValueType {
  onnxType: string | null;
  elemType?: number;
  dims?: { value: number; param: string | null }[];
}

function readValueInfo(r: WireReader): TensorSpec {
  let name = '';
  let type: ValueType = { onnxType: null };
  while (r.hasMore()) {
    switch (r.next()) {
      case 1: name = r.string('name'); break;
      case 2: type = readType(r.message('type', 'TypeProto'), 0); break;
      default: r.skip();
    }
  }
  const dims = type.dims ?? [];
  return {
    name,
    datatype: type.elemType === undefined ? null : (ELEM_TYPES[type.elemType]?.[1] ?? null),
    onnx_type: type.onnxType,
    shape: dims.map((d) => d.value),
    symbolic_dims: dims.map((d) => d.param),
  };
}

function elemTypeName(elemType: number): string {
  return ELEM_TYPES[elemType]?.[0] ?? (elemType === 0 ? 'undefined' : `unknown${elemType}`);
}

/** TypeProto is a oneof; as protobuf says, the last member present wins. */
function readType(r: WireReader, depth: number): ValueType {
  if (depth > MAX_TYPE_DEPTH) throw r.fail(`types nested deeper than ${MAX_TYPE_DEPTH} levels`);
  let type: ValueType = { onnxType: null };
  while (r.hasMore()) {
    switch (r.next()) {
      case 1: type = readTensorType(r.message('tensor_type', 'TypeProto.Tensor'), 'tensor'); break;
      case 4: type = { onnxType: `seq(${readInnerType(r.message('sequence_type', 'TypeProto.Sequence'), depth)})` }; break;
      case 5: type = { onnxType: readMapType(r.message('map_type', 'TypeProto.Map'), depth) }; break;
      case 8: type = { onnxType: readTensorType(r.message('sparse_tensor_type', 'TypeProto.SparseTensor'), 'sparse_tensor').onnxType }; break;
      case 9: type = { onnxType: `optional(${readInnerType(r.message('optional_type', 'TypeProto.Optional'), depth)})` }; break;
      default: r.skip(); // opaque types, denotation
    }
  }
  return type;
}

/** Sequence and Optional both hold one TypeProto in field 1. */
function readInnerType(r: WireReader, depth: number): string {
  let inner: string | null = null;
  while (r.hasMore()) {
    if (r.next() === 1) inner = readType(r.message('elem_type', 'TypeProto'), depth + 1).onnxType;
    else r.skip();
  }
  return inner ?? 'unknown';
}

function readMapType(r: WireReader, depth: number): string {
  let key = 0;
  let value: string | null = null;
  while (r.hasMore()) {
    switch (r.next()) {
      case 1: key = r.int32('key_type'); break;
      case 2: value = readType(r.message('value_type', 'TypeProto'), depth + 1).onnxType; break;
      default: r.skip();
    }
  }
  return `map(${elemTypeName(key)},${value ?? 'unknown'})`;
}

/** TypeProto.Tensor and TypeProto.SparseTensor share their layout: elem_type = 1, shape = 2. */
function readTensorType(r: WireReader, kind: 'tensor' | 'sparse_tensor'): ValueType {
  let elemType = 0;
  let dims: ValueType['dims'];
  while (r.hasMore()) {
    switch (r.next()) {
      case 1: elemType = r.int32('elem_type'); break;
      case 2: dims = readShape(r.message('shape', 'TensorShapeProto')); break;
      default: r.skip();
    }
  }
  return { onnxType: `${kind}(${elemTypeName(elemType)})`, elemType, dims };
}

function readShape(r: WireReader): NonNullable<ValueType['dims']> {
  const dims: NonNullable<ValueType['dims']> = [];
  while (r.hasMore()) {
    if (r.next() === 1) dims.push(readDimension(r.message('dim', 'TensorShapeProto.Dimension')));
    else r.skip();
  }
  return dims;
}

function readDimension(r: WireReader): { value: number; param: string | null } {
  let dim: { value: number; param: string | null } = { value: -1, param: null };
  while (r.hasMore()) {
    switch (r.next()) {
      // Some exporters write -1 for "unknown" instead of leaving the dimension empty.
      case 1: dim = { value: Math.max(-1, r.int64('dim_value')), param: null }; break;
      case 2: dim = { value: -1, param: r.string('dim_param') }; break;
      default: r.skip(); // denotation
    }
  }
  return dim;
}
