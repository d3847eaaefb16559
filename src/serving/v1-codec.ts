import { AppError } from '../errors/index.js';
import { fromHalfBits } from './fp16.js';
import type { Tensor, TensorSpec } from './types.js';

/**
 * The V1 (TF-Serving style) `:predict` body, turned into V2-shaped inputs for the model: row format
 * (`instances`) stacks one value per row, columnar (`inputs`) gives whole tensors. V1 carries no
 * datatypes, so they come from the model; `{"b64": …}` values become BYTES strings.
 */
export interface V1Request {
  format: 'row' | 'columnar';
  inputs: { name: string; datatype: TensorSpec['datatype']; shape: number[]; data: unknown[] }[];
}

function invalid(message: string): AppError {
  return new AppError('MODEL_INPUT_INVALID', message);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v) && !('b64' in v && Object.keys(v).length === 1);

/** Shape of a nested array and its elements depth-first; ragged nesting is an error naming `what`. */
function flatten(value: unknown, what: string): { shape: number[]; data: unknown[] } {
  const shape: number[] = [];
  for (let v = value; Array.isArray(v); v = v[0]) shape.push(v.length);
  const data: unknown[] = [];
  const walk = (v: unknown, depth: number) => {
    if (depth === shape.length) {
      if (Array.isArray(v)) throw invalid(`${what} is nested deeper in some places than others.`);
      data.push(isB64(v) ? Buffer.from(v.b64, 'base64').toString('utf8') : v);
      return;
    }
    if (!Array.isArray(v) || v.length !== shape[depth]) throw invalid(`${what} is ragged: every list at depth ${depth} must have ${shape[depth]} elements.`);
    for (const x of v) walk(x, depth + 1);
  };
  walk(value, 0);
  return { shape, data };
}

const isB64 = (v: unknown): v is { b64: string } => typeof v === 'object' && v !== null && typeof (v as { b64?: unknown }).b64 === 'string';

function rows(instances: unknown[], spec: TensorSpec, pick: (row: unknown) => unknown) {
  const data: unknown[] = [];
  let rowShape: number[] | null = null;
  instances.forEach((row, i) => {
    const f = flatten(pick(row), `instances[${i}]${isObject(row) ? `.${spec.name}` : ''}`);
    if (rowShape && rowShape.join(',') !== f.shape.join(',')) throw invalid(`instances[${i}] has shape [${f.shape}] for input '${spec.name}'; instances[0] has [${rowShape}].`);
    rowShape = f.shape;
    data.push(...f.data);
  });
  return { name: spec.name, datatype: spec.datatype, shape: [instances.length, ...(rowShape ?? [])], data };
}

export function decodeV1(body: unknown, modelInputs: TensorSpec[]): V1Request {
  if (!isObject(body)) throw invalid('The :predict body must be a JSON object with "instances" or "inputs".');
  const hasRows = body.instances !== undefined;
  if (hasRows === (body.inputs !== undefined)) throw invalid('Send exactly one of "instances" (row format) or "inputs" (columnar format).');
  if (hasRows) {
    const instances = body.instances;
    if (!Array.isArray(instances) || instances.length === 0) throw invalid('"instances" must be a non-empty list, one element per example.');
    const named = instances.every(isObject);
    if (!named && modelInputs.length !== 1) throw invalid(`The model has ${modelInputs.length} inputs (${modelInputs.map((s) => s.name).join(', ')}); each instance must be an object naming them.`);
    return {
      format: 'row',
      inputs: modelInputs.map((spec) => rows(instances, spec, (row) => {
        if (!named) return row;
        const v = (row as Record<string, unknown>)[spec.name];
        if (v === undefined) throw invalid(`An instance lacks input '${spec.name}'.`);
        return v;
      })),
    };
  }
  const columns = isObject(body.inputs) ? body.inputs : modelInputs.length === 1 ? { [modelInputs[0].name]: body.inputs } : null;
  if (!columns) throw invalid(`The model has ${modelInputs.length} inputs; "inputs" must be an object naming each.`);
  return {
    format: 'columnar',
    inputs: Object.entries(columns).map(([name, value]) => {
      const spec = modelInputs.find((s) => s.name === name);
      if (!spec) throw invalid(`Unknown input '${name}'; the model's inputs are ${modelInputs.map((s) => s.name).join(', ')}.`);
      const f = flatten(value, `inputs.${name}`);
      return { name, datatype: spec.datatype, shape: f.shape, data: f.data };
    }),
  };
}

function jsonValue(v: unknown): string {
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : `"${v}"`;
  return JSON.stringify(v);
}

/** Elements [from, to) of a tensor as nested JSON in the given shape. */
function nested(t: Tensor, shape: number[], from: number): string {
  if (shape.length === 0) {
    const v = t.data[from];
    return jsonValue(t.datatype === 'BOOL' ? v === 1 : t.datatype === 'FP16' ? fromHalfBits(v as number) : v);
  }
  const step = shape.slice(1).reduce((a, b) => a * b, 1);
  const parts: string[] = [];
  for (let i = 0; i < shape[0]; i++) parts.push(nested(t, shape.slice(1), from + i * step));
  return `[${parts.join(',')}]`;
}

/** `{"predictions": …}` for rows (one value per row, or one object per row with several outputs); `{"outputs": …}` for columns. */
export function encodeV1(format: V1Request['format'], outputs: Tensor[]): string {
  if (format === 'columnar') {
    if (outputs.length === 1) return `{"outputs":${nested(outputs[0], outputs[0].shape, 0)}}`;
    return `{"outputs":{${outputs.map((t) => `${JSON.stringify(t.name)}:${nested(t, t.shape, 0)}`).join(',')}}}`;
  }
  const n = outputs[0]?.shape[0] ?? 0;
  const rowsOut: string[] = [];
  for (let r = 0; r < n; r++) {
    const cell = (t: Tensor) => {
      const rowShape = t.shape.slice(1);
      return nested(t, rowShape, r * rowShape.reduce((a, b) => a * b, 1));
    };
    rowsOut.push(outputs.length === 1 ? cell(outputs[0]) : `{${outputs.map((t) => `${JSON.stringify(t.name)}:${cell(t)}`).join(',')}}`);
  }
  return `{"predictions":[${rowsOut.join(',')}]}`;
}
