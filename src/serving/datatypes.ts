import type { Datatype, Tensor, TensorData } from './types.js';
import type { WireTensor } from './worker-protocol.js';

/** V2 datatype → onnxruntime element type name. */
export const ORT_TYPES: Record<Datatype, string> = {
  BOOL: 'bool', UINT8: 'uint8', UINT16: 'uint16', UINT32: 'uint32', UINT64: 'uint64',
  INT8: 'int8', INT16: 'int16', INT32: 'int32', INT64: 'int64',
  FP16: 'float16', FP32: 'float32', FP64: 'float64', BYTES: 'string',
};

const FROM_ORT = new Map<string, Datatype>(Object.entries(ORT_TYPES).map(([dt, ort]) => [ort, dt as Datatype]));

/** The V2 datatype of an onnxruntime type name, or undefined for types V2 cannot carry (bfloat16, int4, …). */
export function datatypeOfOrt(type: string): Datatype | undefined {
  return FROM_ORT.get(type);
}

/** A zero-filled storage array of `n` elements for `datatype`. */
export function allocate(datatype: Datatype, n: number): TensorData {
  switch (datatype) {
    case 'BOOL': case 'UINT8': return new Uint8Array(n);
    case 'UINT16': case 'FP16': return new Uint16Array(n);
    case 'UINT32': return new Uint32Array(n);
    case 'UINT64': return new BigUint64Array(n);
    case 'INT8': return new Int8Array(n);
    case 'INT16': return new Int16Array(n);
    case 'INT32': return new Int32Array(n);
    case 'INT64': return new BigInt64Array(n);
    case 'FP32': return new Float32Array(n);
    case 'FP64': return new Float64Array(n);
    case 'BYTES': return new Array<string>(n).fill('');
  }
}

export function toWire(t: Tensor): WireTensor {
  return { name: t.name, type: ORT_TYPES[t.datatype], dims: t.shape, data: t.data as WireTensor['data'] };
}

export function fromWire(w: WireTensor): Tensor {
  const datatype = datatypeOfOrt(w.type);
  if (!datatype) throw new Error(`output '${w.name}' has type ${w.type}, which the V2 protocol cannot carry`);
  const data = datatype === 'BOOL' && !(w.data instanceof Uint8Array) ? Uint8Array.from(w.data as unknown as ArrayLike<number>, (b) => (b ? 1 : 0)) : w.data;
  return { name: w.name, datatype, shape: w.dims, data: data as TensorData };
}

export const elementCount = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);
