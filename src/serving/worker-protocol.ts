/** Messages between the pool and its inference threads (structured-clone friendly). */

/** A tensor as onnxruntime takes it: its type name ('float32', 'int64', 'string', …), dims and data. */
export interface WireTensor {
  name: string;
  type: string;
  dims: number[];
  data: ArrayBufferView | string[];
}

export interface WireSpec {
  name: string;
  /** onnxruntime's element type name, or 'non-tensor' for sequences and maps. */
  type: string;
  shape: number[];
}

export type WorkerRequest =
  | { op: 'load'; id: number; key: string; bytes: Uint8Array; executionProviders: string[]; intraOpThreads: number }
  | { op: 'run'; id: number; key: string; feeds: WireTensor[]; outputs?: string[] }
  | { op: 'unload'; id: number; key: string };

export type WorkerReply =
  | { id: number; ok: true; inputs?: WireSpec[]; outputs?: WireSpec[]; tensors?: WireTensor[]; computeMs?: number }
  | { id: number; ok: false; error: string };
