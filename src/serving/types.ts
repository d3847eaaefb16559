/** The tensor datatypes of the Open Inference Protocol V2 that Capstan serves (BF16 is refused). */
export const DATATYPES = ['BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64', 'FP16', 'FP32', 'FP64', 'BYTES'] as const;
export type Datatype = (typeof DATATYPES)[number];

/**
 * Element storage per datatype: BOOL is a Uint8Array of 0/1, FP16 a Uint16Array of IEEE-754 half
 * bits (Node 20 has no Float16Array), 64-bit integers are BigInt arrays (so values beyond 2^53
 * survive), BYTES a list of strings.
 */
export type TensorData =
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | BigUint64Array
  | Int8Array
  | Int16Array
  | Int32Array
  | BigInt64Array
  | Float32Array
  | Float64Array
  | string[];

/** A dense row-major tensor. `shape` includes the batch dimension; `data.length` is its product. */
export interface Tensor {
  name: string;
  datatype: Datatype;
  shape: number[];
  data: TensorData;
}

export type ParameterValue = string | number | boolean;
export type Parameters = Record<string, ParameterValue>;

/** An input or output as the model declares it; -1 is a dimension of any size. */
export interface TensorSpec {
  name: string;
  datatype: Datatype;
  shape: number[];
}

export interface RequestedOutput {
  name: string;
  parameters: Parameters;
}

/** A decoded V2 inference request, protocol-neutral. */
export interface InferenceRequest {
  id?: string;
  parameters: Parameters;
  inputs: (Tensor & { parameters: Parameters })[];
  /** Absent: every model output, in model order. */
  outputs?: RequestedOutput[];
}

export interface InferenceResult {
  modelName: string;
  modelVersion: string;
  id?: string;
  parameters?: Parameters;
  outputs: Tensor[];
}

/** Lifecycle of one loaded model version. */
export const MODEL_STATES = ['loading', 'ready', 'draining', 'unloaded', 'failed'] as const;
export type ModelState = (typeof MODEL_STATES)[number];
