// A small ONNX writer: the protobuf encoding of a ModelProto with standard-domain nodes, float and
// int64 initializers, typed inputs and outputs, and metadata. Enough to export linear models and
// small networks trained in TypeScript; field numbers are those of onnx.proto.

/** Protobuf wire format, append-only. */
class Writer {
  private readonly parts: Buffer[] = [];

  private varint(n: number | bigint): void {
    let v = BigInt.asUintN(64, BigInt(n));
    const bytes: number[] = [];
    do {
      let b = Number(v & 0x7fn);
      v >>= 7n;
      if (v) b |= 0x80;
      bytes.push(b);
    } while (v);
    this.parts.push(Buffer.from(bytes));
  }

  private tag(field: number, wire: 0 | 2 | 5): void {
    this.varint((field << 3) | wire);
  }

  int(field: number, n: number | bigint): this {
    this.tag(field, 0);
    this.varint(n);
    return this;
  }

  bytes(field: number, b: Buffer): this {
    this.tag(field, 2);
    this.varint(b.length);
    this.parts.push(b);
    return this;
  }

  string(field: number, s: string): this {
    return this.bytes(field, Buffer.from(s, 'utf8'));
  }

  message(field: number, m: Writer): this {
    return this.bytes(field, m.finish());
  }

  float(field: number, f: number): this {
    this.tag(field, 5);
    const b = Buffer.alloc(4);
    b.writeFloatLE(f);
    this.parts.push(b);
    return this;
  }

  finish(): Buffer {
    return Buffer.concat(this.parts);
  }
}

export const TensorType = { FLOAT: 1, INT64: 7 } as const;
export type TensorTypeName = keyof typeof TensorType;

export interface Tensor {
  name: string;
  type: TensorTypeName;
  dims: number[];
  values: ArrayLike<number> | ArrayLike<bigint>;
}

export type AttributeValue = number | string | number[] | { ints: number[] } | { float: number };

export interface OnnxNode {
  op: string;
  inputs: string[];
  outputs: string[];
  name?: string;
  domain?: string;
  attributes?: Record<string, AttributeValue>;
}

export interface ValueInfo {
  name: string;
  type: TensorTypeName;
  /** A number for a fixed size, a string for a named dynamic one ('N'). */
  shape: Array<number | string>;
}

export interface OnnxModel {
  graphName: string;
  nodes: OnnxNode[];
  initializers: Tensor[];
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  opset?: number;
  producer?: { name: string; version: string };
  metadata?: Record<string, string>;
}

function tensor(t: Tensor): Writer {
  const w = new Writer();
  for (const d of t.dims) w.int(1, d);
  w.int(2, TensorType[t.type]);
  w.string(8, t.name);
  const n = t.values.length;
  const raw = Buffer.alloc(n * (t.type === 'FLOAT' ? 4 : 8));
  for (let i = 0; i < n; i++) {
    if (t.type === 'FLOAT') raw.writeFloatLE(Number(t.values[i]), i * 4);
    else raw.writeBigInt64LE(BigInt(t.values[i]), i * 8);
  }
  return w.bytes(9, raw);
}

// AttributeProto.AttributeType: FLOAT 1, INT 2, STRING 3, INTS 7.
function attribute(name: string, v: AttributeValue): Writer {
  const w = new Writer().string(1, name);
  if (typeof v === 'number') return w.int(3, v).int(20, 2);
  if (typeof v === 'string') return w.string(4, v).int(20, 3);
  if (Array.isArray(v)) {
    for (const i of v) w.int(8, i);
    return w.int(20, 7);
  }
  if ('ints' in v) {
    for (const i of v.ints) w.int(8, i);
    return w.int(20, 7);
  }
  return w.float(2, v.float).int(20, 1);
}

function node(n: OnnxNode, index: number): Writer {
  const w = new Writer();
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  w.string(3, n.name ?? `${n.op}_${index}`);
  w.string(4, n.op);
  for (const [k, v] of Object.entries(n.attributes ?? {})) w.message(5, attribute(k, v));
  if (n.domain) w.string(7, n.domain);
  return w;
}

function valueInfo(v: ValueInfo): Writer {
  const shape = new Writer();
  for (const d of v.shape) shape.message(1, typeof d === 'number' ? new Writer().int(1, d) : new Writer().string(2, d));
  const tensorType = new Writer().int(1, TensorType[v.type]).message(2, shape);
  return new Writer().string(1, v.name).message(2, new Writer().message(1, tensorType));
}

/** The bytes of an .onnx file. */
export function encodeOnnx(m: OnnxModel): Buffer {
  const graph = new Writer();
  m.nodes.forEach((n, i) => graph.message(1, node(n, i)));
  graph.string(2, m.graphName);
  for (const t of m.initializers) graph.message(5, tensor(t));
  for (const v of m.inputs) graph.message(11, valueInfo(v));
  for (const v of m.outputs) graph.message(12, valueInfo(v));
  const model = new Writer()
    .int(1, 8) // IR version 8 (ONNX 1.10+)
    .string(2, m.producer?.name ?? 'capstan')
    .string(3, m.producer?.version ?? '')
    .message(7, graph)
    .message(8, new Writer().string(1, '').int(2, m.opset ?? 17));
  for (const [key, value] of Object.entries(m.metadata ?? {})) model.message(14, new Writer().string(1, key).string(2, value));
  return model.finish();
}
