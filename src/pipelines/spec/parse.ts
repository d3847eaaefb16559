// Reading a pipeline file: YAML syntax, then every key, then the graph (references and cycles).
// All problems are collected and returned together, each with its line, column and key path.
import { LineCounter, isMap, parseDocument, type Node } from 'yaml';
import { invalidParam } from '../../errors/index.js';
import { validateGraph } from './graph.js';
import { expectedValue, fitsParam } from './params.js';
import { Reader, describe, type Field } from './reader.js';
import { NAME, NAME_HINT, readStep } from './step.js';
import { readTriggers } from './triggers.js';
import type { ParamSpec, ParamType, ParamValue, ParseResult, Pipeline, PipelineError, Step } from './types.js';

export const PIPELINE_KEYS = ['name', 'description', 'params', 'steps', 'triggers'] as const;
export const PARAM_KEYS = ['type', 'default', 'enum', 'min', 'max', 'description'] as const;
export const PARAM_TYPES: readonly ParamType[] = ['string', 'number', 'integer', 'boolean'];
export const PIPELINE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
export const MAX_STEPS = 1000;

type Fields = Map<string, Field>;

const fieldMap = (r: Reader, node: Node | null, path: string, known: readonly string[], what?: string): Fields => r.fieldMap(node, path, known, what);

function readParamType(r: Reader, f: Fields, at: Node, path: string): ParamType | null {
  const node = f.get('type')?.node ?? null;
  if (!r.isPresent(node)) {
    r.fail(f.get('type')?.keyNode ?? at, `${path}.type`, `is required: one of ${PARAM_TYPES.join(', ')}.`);
    return null;
  }
  const type = r.scalar(node);
  if (PARAM_TYPES.includes(type as ParamType)) return type as ParamType;
  r.fail(r.deref(node), `${path}.type`, `must be one of ${PARAM_TYPES.join(', ')}; got ${describe(r.deref(node))}.`);
  return null;
}

function readBound(r: Reader, f: Fields, key: 'min' | 'max', type: ParamType, path: string): number | null {
  const field = f.get(key);
  if (!field || !r.isPresent(field.node)) return null;
  if (type !== 'number' && type !== 'integer') {
    r.fail(field.keyNode, `${path}.${key}`, `applies only to number and integer params, not ${type}.`);
    return null;
  }
  return r.number(field.node, `${path}.${key}`, -Number.MAX_VALUE, Number.MAX_VALUE, type === 'integer');
}

function readEnum(r: Reader, f: Fields, type: ParamType, path: string): ParamValue[] | null {
  const field = f.get('enum');
  if (!field || !r.isPresent(field.node)) return null;
  if (type === 'boolean') {
    r.fail(field.keyNode, `${path}.enum`, 'does not apply to boolean params.');
    return null;
  }
  const items = r.items(field.node, `${path}.enum`, `a list of ${type} values`) ?? [];
  if (items.length === 0) r.fail(field.node, `${path}.enum`, 'must list at least one value.');
  const values: ParamValue[] = [];
  for (const item of items) {
    const v = r.scalar(item.node);
    if (!fitsParam({ type, enum: null, min: null, max: null }, v)) r.fail(r.deref(item.node) ?? field.node, item.path, `must be ${expectedValue({ type, enum: null, min: null, max: null })}, the param's type; got ${describe(r.deref(item.node))}.`);
    else if (values.includes(v)) r.fail(item.node, item.path, `${JSON.stringify(v)} is listed twice.`);
    else values.push(v);
  }
  return values.length ? values : null;
}

function readParam(r: Reader, field: Field): ParamSpec | null {
  const { key: name, path } = field;
  if (!NAME.test(name)) r.fail(field.keyNode, path, `param name '${name}' must be ${NAME_HINT} (at most 64).`);
  if (!r.isPresent(field.node)) r.fail(field.keyNode, path, `must be a mapping with a type (${PARAM_TYPES.join(', ')}), as in '{type: number, default: 0.01}'.`);
  const f = fieldMap(r, field.node, path, PARAM_KEYS, 'a mapping with type, default, enum, min, max and description');
  const type = readParamType(r, f, field.keyNode, path);
  const description = f.has('description') ? (r.string(f.get('description')!.node, `${path}.description`) ?? '') : '';
  if (type === null) return null;
  const min = readBound(r, f, 'min', type, path);
  const max = readBound(r, f, 'max', type, path);
  if (min !== null && max !== null && min > max) r.fail(f.get('min')!.node, `${path}.min`, `must not be greater than max (${max}).`);
  const spec: ParamSpec = { name, type, default: null, enum: readEnum(r, f, type, path), min, max, description, ...r.at(field.keyNode) };
  const dflt = f.get('default');
  if (dflt && r.isPresent(dflt.node)) {
    const v = r.scalar(dflt.node);
    if (fitsParam(spec, v)) spec.default = v;
    else r.fail(r.deref(dflt.node), `${path}.default`, `must be ${expectedValue(spec)}; got ${describe(r.deref(dflt.node))}.`);
  } else if (type === 'boolean') spec.default = false;
  return spec;
}

/** The params that could be read, and the names of all declared ones (for reference checks). */
function readParams(r: Reader, node: Node | null): { params: ParamSpec[]; names: Set<string> } {
  const fields = r.fields(node, 'params', 'a mapping of param name to its type and default') ?? [];
  const params = fields.map((f) => readParam(r, f)).filter((p): p is ParamSpec => p !== null);
  return { params, names: new Set(fields.map((f) => f.key)) };
}

function readSteps(r: Reader, field: Field | undefined, root: Node, params: ParamSpec[], paramNames: ReadonlySet<string>): Step[] {
  const fields = r.fields(field?.node ?? null, 'steps', 'a mapping of step name to step');
  if (!fields?.length) {
    if (fields || !r.isPresent(field?.node ?? null)) r.fail(field?.keyNode ?? root, 'steps', "is required: a mapping of step name to step, each with at least 'run'.");
    return [];
  }
  if (fields.length > MAX_STEPS) r.fail(field!.keyNode, 'steps', `has ${fields.length} steps; at most ${MAX_STEPS} are allowed.`);
  return fields.slice(0, MAX_STEPS).map((f) => readStep(r, f.key, f.keyNode, f.node, f.path, params, paramNames));
}

function readName(r: Reader, f: Fields, root: Node): string {
  const field = f.get('name');
  if (!field || !r.isPresent(field.node)) {
    r.fail(field?.keyNode ?? root, 'name', "is required: letters, digits, '_', '.' or '-' (at most 128).");
    return '';
  }
  return r.string(field.node, 'name', PIPELINE_NAME, "a name of letters, digits, '_', '.' or '-' (at most 128)") ?? '';
}

const byPosition = (a: PipelineError, b: PipelineError): number => a.line - b.line || a.column - b.column;

/** Steps with a problem in their outputs: references to those outputs are not checked again. */
function stepsWithBadOutputs(errors: readonly PipelineError[]): Set<string> {
  return new Set(errors.map((e) => /^steps\.([A-Za-z0-9_]+)\.outputs\b/.exec(e.path)?.[1]).filter((s): s is string => s !== undefined));
}

/**
 * Reads and checks a pipeline file. Returns the pipeline when there is no problem, and otherwise
 * every problem found (YAML syntax errors alone when the YAML cannot be read).
 */
export function parsePipeline(text: string, file = 'pipeline.yaml'): ParseResult {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: false });
  const r = new Reader(text, lines, doc);
  if (doc.errors.length) {
    for (const e of doc.errors) r.fail(r.offsetPos(e.pos[0]), '', `YAML syntax error: ${e.message.replace(/\.?$/, '.')}`);
    return { pipeline: null, errors: r.errors.sort(byPosition) };
  }
  const root = r.deref(doc.contents as Node | null);
  if (root === null) {
    r.fail({ line: 1, column: 1 }, '', "the file is empty; a pipeline needs at least 'name' and 'steps'.");
    return { pipeline: null, errors: r.errors };
  }
  const f = fieldMap(r, root, '', PIPELINE_KEYS, 'a mapping with name, description, params, steps and triggers');
  if (!isMap(root)) return { pipeline: null, errors: r.errors };
  const name = readName(r, f, root);
  const description = f.has('description') ? (r.string(f.get('description')!.node, 'description') ?? '') : '';
  const { params, names } = readParams(r, f.get('params')?.node ?? null);
  const steps = readSteps(r, f.get('steps'), root, params, names);
  const triggers = f.has('triggers') ? readTriggers(r, f.get('triggers')!.node, params) : [];
  const pipeline: Pipeline = { file, name, description, params, steps, triggers };
  r.errors.push(...validateGraph(pipeline, { uncheckedOutputs: stepsWithBadOutputs(r.errors), declaredParams: names }));
  const errors = r.errors.sort(byPosition);
  return { pipeline: errors.length ? null : pipeline, errors };
}

/** One line per problem: `file:line:col: path: message`. */
export function formatPipelineErrors(errors: readonly PipelineError[], file: string): string {
  return errors.map((e) => `${file}:${e.line}:${e.column}: ${e.path ? `${e.path}: ` : ''}${e.message}`).join('\n');
}

/** The pipeline, or an INVALID_PARAMETER_VALUE error listing every problem, one per line. */
export function assertValidPipeline(text: string, file = 'pipeline.yaml'): Pipeline {
  const { pipeline, errors } = parsePipeline(text, file);
  if (pipeline) return pipeline;
  const count = `${errors.length} problem${errors.length === 1 ? '' : 's'}`;
  throw invalidParam(`${file} is not a valid pipeline (${count}):\n${formatPipelineErrors(errors, file)}`, { errors });
}
