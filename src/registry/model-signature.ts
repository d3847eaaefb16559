import { posix } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { AppError } from '../errors/index.js';
import { decodeOnnxModel, type TensorSpec } from './onnx-graph.js';

export type { TensorSpec } from './onnx-graph.js';

/**
 * The inputs and outputs a registered model expects, read from the files it was registered with:
 * MLflow's MLmodel signature when there is one, otherwise the graph of its ONNX file.
 */
export interface ModelSignature {
  source: 'onnx' | 'mlmodel';
  /** The file the signature was read from, as named in the file list. */
  file: string;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  /** The MLmodel's flavors, in file order, when there is an MLmodel. */
  flavors?: string[];
  onnx?: { irVersion: number; opsetImport: Record<string, number>; producer: string };
}

/** `reason` says why `signature` is null; a model without a readable signature is still a model. */
export interface ModelSignatureResult {
  signature: ModelSignature | null;
  reason?: string;
}

export interface ModelFile {
  /** Relative to the model's root, '/'-separated. */
  path: string;
  sizeBytes: number;
}

/** ONNX files are decoded whole in memory, so larger ones are not read for their signature. */
export const MAX_ONNX_SIGNATURE_BYTES = 1024 ** 3;
/** An MLmodel file is a few kilobytes of YAML; a huge one is not parsed. */
export const MAX_MLMODEL_BYTES = 4 * 1024 * 1024;

/** MLflow column types; datetime travels as ISO-8601 strings, as OIP has no time type. */
const COLUMN_DATATYPES: Readonly<Record<string, string>> = {
  boolean: 'BOOL',
  integer: 'INT32',
  long: 'INT64',
  float: 'FP32',
  double: 'FP64',
  string: 'BYTES',
  binary: 'BYTES',
  datetime: 'BYTES',
};

/** NumPy dtype names as MLflow writes them in tensor specs. */
const NUMPY_DATATYPES: Readonly<Record<string, string>> = {
  bool: 'BOOL',
  int8: 'INT8',
  int16: 'INT16',
  int32: 'INT32',
  int64: 'INT64',
  uint8: 'UINT8',
  uint16: 'UINT16',
  uint32: 'UINT32',
  uint64: 'UINT64',
  float16: 'FP16',
  float32: 'FP32',
  float64: 'FP64',
  str: 'BYTES',
  bytes: 'BYTES',
  object: 'BYTES',
};

/**
 * Reads a model's signature. Malformed MLmodel or ONNX files give a null signature with the parse
 * error as reason rather than a throw, so registration never fails on them; errors from `read`
 * itself propagate, as they mean the store is failing, not that the model is odd.
 */
export async function extractSignature(files: ModelFile[], read: (path: string) => Promise<Buffer>): Promise<ModelSignatureResult> {
  if (!files.some((f) => f.path === 'MLmodel')) {
    const pick = pickOnnxFile(files);
    if (!pick) return { signature: null, reason: 'no MLmodel file and no .onnx file' };
    return 'reason' in pick ? { signature: null, reason: pick.reason } : readOnnxSignature(pick.file, read);
  }
  const mlmodelFile = files.find((f) => f.path === 'MLmodel')!;
  if (mlmodelFile.sizeBytes > MAX_MLMODEL_BYTES) return { signature: null, reason: `MLmodel is ${mlmodelFile.sizeBytes} bytes; a signature is read from one of at most ${MAX_MLMODEL_BYTES}` };
  let mlmodel: ParsedMlmodel;
  try {
    mlmodel = parseMlmodel((await read('MLmodel')).toString('utf8'));
  } catch (err) {
    if (!(err instanceof MlmodelError)) throw err;
    return { signature: null, reason: `MLmodel: ${err.message}` };
  }
  const { flavors, signature, onnxData } = mlmodel;
  if (signature) return { signature: { source: 'mlmodel', file: 'MLmodel', ...signature, flavors } };
  if (onnxData !== undefined) {
    const file = files.find((f) => f.path === onnxData);
    if (!file) return { signature: null, reason: `MLmodel has no signature and its onnx flavor names ${onnxData}, which is not among the model's files` };
    return readOnnxSignature(file, read, flavors);
  }
  const pick = pickOnnxFile(files);
  if (!pick) return { signature: null, reason: 'MLmodel has no signature and the model has no .onnx file' };
  return 'reason' in pick ? { signature: null, reason: pick.reason } : readOnnxSignature(pick.file, read, flavors);
}

/**
 * The ONNX file that is the model: the shallowest one named model.onnx, else the shallowest .onnx
 * file. Several at that depth is ambiguous, and guessing would show a wrong signature.
 */
function pickOnnxFile(files: ModelFile[]): { file: ModelFile } | { reason: string } | null {
  const onnx = files.filter((f) => f.path.toLowerCase().endsWith('.onnx'));
  if (onnx.length === 0) return null;
  const named = onnx.filter((f) => posix.basename(f.path) === 'model.onnx');
  const candidates = named.length > 0 ? named : onnx;
  const depth = (f: ModelFile): number => f.path.split('/').length;
  const top = candidates.reduce((least, f) => Math.min(least, depth(f)), Infinity);
  const shallowest = candidates.filter((f) => depth(f) === top);
  if (shallowest.length === 1) return { file: shallowest[0]! };
  const names = shallowest.map((f) => f.path).sort();
  return { reason: `several .onnx files could be the model (${names.join(', ')}); name one model.onnx` };
}

async function readOnnxSignature(file: ModelFile, read: (path: string) => Promise<Buffer>, flavors?: string[]): Promise<ModelSignatureResult> {
  if (file.sizeBytes > MAX_ONNX_SIGNATURE_BYTES) {
    return { signature: null, reason: `${file.path} is ${file.sizeBytes} bytes; signatures are read only from ONNX files up to 1 GiB` };
  }
  try {
    const info = decodeOnnxModel(await read(file.path));
    const producer = [info.producerName, info.producerVersion].filter(Boolean).join(' ');
    return {
      signature: {
        source: 'onnx',
        file: file.path,
        inputs: info.inputs,
        outputs: info.outputs,
        ...(flavors ? { flavors } : {}),
        onnx: { irVersion: info.irVersion, opsetImport: info.opsetImport, producer },
      },
    };
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    return { signature: null, reason: `${file.path}: ${err.message}` };
  }
}

/** A problem with the MLmodel's content; anything else thrown while reading it is not ours to hide. */
class MlmodelError extends Error {}

interface ParsedMlmodel {
  flavors: string[];
  signature?: { inputs: TensorSpec[]; outputs: TensorSpec[] };
  /** The file the onnx flavor names, relative to the model root. */
  onnxData?: string;
}

function parseMlmodel(text: string): ParsedMlmodel {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    // The yaml package's messages go on to quote the offending lines; the first line says enough.
    throw new MlmodelError(`invalid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  if (!isRecord(doc)) throw new MlmodelError('expected a YAML mapping at the top level');
  const flavors = isRecord(doc.flavors) ? doc.flavors : {};
  const onnx = flavors.onnx;
  const signature = isRecord(doc.signature) && doc.signature.inputs != null ? doc.signature : undefined;
  return {
    flavors: Object.keys(flavors),
    onnxData: isRecord(onnx) && typeof onnx.data === 'string' ? posix.normalize(onnx.data) : undefined,
    signature: signature && {
      inputs: parseSchema(signature.inputs, 'inputs'),
      outputs: signature.outputs == null ? [] : parseSchema(signature.outputs, 'outputs'),
    },
  };
}

/** A signature side: MLflow stores it as a JSON string holding a list of column or tensor specs. */
function parseSchema(value: unknown, side: 'inputs' | 'outputs'): TensorSpec[] {
  let specs: unknown = value;
  if (typeof value === 'string') {
    try {
      specs = JSON.parse(value);
    } catch (err) {
      throw new MlmodelError(`signature ${side} is not valid JSON: ${(err as Error).message}`);
    }
  }
  if (!Array.isArray(specs)) throw new MlmodelError(`signature ${side} should be a list of column or tensor specs`);
  return specs.map((spec, i) => parseSpec(spec, `signature ${side}[${i}]`, i));
}

function parseSpec(spec: unknown, where: string, index: number): TensorSpec {
  if (!isRecord(spec) || typeof spec.type !== 'string') throw new MlmodelError(`${where} has no type`);
  if (spec.name !== undefined && typeof spec.name !== 'string') throw new MlmodelError(`${where} has a name that is not a string`);
  // Unnamed specs are known by position, as MLflow's Schema.input_names() reports them.
  const name = spec.name ?? String(index);
  if (spec.type !== 'tensor') {
    return { name, datatype: COLUMN_DATATYPES[spec.type] ?? null, onnx_type: null, shape: [-1], symbolic_dims: [null] };
  }
  const tensor = spec['tensor-spec'];
  if (!isRecord(tensor) || typeof tensor.dtype !== 'string') throw new MlmodelError(`${where} is a tensor without a tensor-spec dtype`);
  const shape = tensor.shape;
  if (!Array.isArray(shape) || !shape.every((d): d is number => Number.isSafeInteger(d) && d >= -1)) {
    throw new MlmodelError(`${where} has a tensor-spec shape that is not a list of integers`);
  }
  return { name, datatype: numpyDatatype(tensor.dtype), onnx_type: null, shape, symbolic_dims: shape.map(() => null) };
}

function numpyDatatype(dtype: string): string | null {
  // Fixed-width strings print as '<U12' or '|S8'.
  if (/^[<>|=]?[US]\d*$/.test(dtype)) return 'BYTES';
  return NUMPY_DATATYPES[dtype] ?? null;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
