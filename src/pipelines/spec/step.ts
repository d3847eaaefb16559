// One step of a pipeline file: each key is read on its own, so that every problem in the step is
// reported, and every reference the step makes is recorded with its position for the graph checks.
import { isMap, isScalar, YAMLMap, type Node } from 'yaml';
import { ExpressionError } from './expr-ast.js';
import { parseExpression, referencedPaths } from './expr.js';
import { matrixTooLarge } from './matrix.js';
import { expectedValue, fitsParam } from './params.js';
import { childPath, describe, type Field, type Reader } from './reader.js';
import { REFERENCE_FORMS, scanTemplate } from './refs.js';
import type { CachePolicy, Condition, Matrix, MatrixAxis, Outputs, ParamSpec, ParamValue, Reference, ReferenceSite, Resources, RetryPolicy, Run, Step } from './types.js';
import { parseCpu, parseDuration, parseMemory } from './units.js';

export const STEP_KEYS = ['run', 'image', 'inputs', 'outputs', 'needs', 'when', 'retry', 'timeout', 'resources', 'env', 'secrets', 'matrix', 'cache'] as const;
export const OUTPUTS_KEYS = ['artifacts', 'metrics'] as const;
export const RETRY_KEYS = ['count', 'backoff_seconds', 'on_exit_codes'] as const;
export const RESOURCES_KEYS = ['cpu', 'memory', 'gpu', 'node_labels'] as const;
export const CACHE_KEYS = ['enabled', 'ttl'] as const;
export const MATRIX_OPTIONS = ['max_parallel'] as const;

export const NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
export const NAME_HINT = "a name of letters, digits and '_' that does not start with a digit";
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const SECRET_NAME = /^[A-Z_][A-Z0-9_]{0,127}$/;
const LABEL_KEY = /^[A-Za-z0-9]([A-Za-z0-9_./-]{0,251}[A-Za-z0-9])?$/;
const IMAGE = /^[^\s]+$/;
const MAX_TIMEOUT = 30 * 86_400;
const DURATION_HINT = 'a duration such as 90s, 30m, 2h or 1h30m, or a number of seconds';
const CONDITION_ROOTS = 'params.NAME, steps.STEP.metrics.NAME, steps.STEP.outputs.NAME or steps.STEP.status';

interface Ctx {
  r: Reader;
  path: string;
  params: readonly ParamSpec[];
  /** Every declared param, including those whose declaration has a problem. */
  paramNames: ReadonlySet<string>;
  refs: ReferenceSite[];
}

type Fields = Map<string, Field>;

const fieldMap = (c: Ctx, node: Node | null, path: string, known: readonly string[]): Fields => c.r.fieldMap(node, path, known);

const nodeOf = (fields: Fields, key: string): Node | null => fields.get(key)?.node ?? null;

function scanned(c: Ctx, node: Node | null, text: string, path: string, field: ReferenceSite['field']): void {
  const scan = scanTemplate(text);
  if (scan.unclosedAt !== null) c.r.fail(c.r.atOffset(node, scan.unclosedAt), path, "'${{' has no closing '}}'.");
  for (const ref of scan.references) {
    const pos = c.r.atOffset(node, ref.offset);
    if (ref.target) c.refs.push({ field, path, text: ref.text, target: ref.target, ...pos });
    else c.r.fail(pos, path, `'\${{ ${ref.text} }}' is not a reference; use ${REFERENCE_FORMS}.`);
  }
}

function readRun(c: Ctx, field: Field | undefined, at: Node, required: boolean): Run {
  const path = childPath(c.path, 'run');
  const node = c.r.deref(field?.node ?? null);
  if (node === null) {
    if (required) c.r.fail(field?.keyNode ?? at, path, "is required: a command line, or a list of argv strings ('run: [python, train.py]').");
    return { kind: 'shell', command: '' };
  }
  if (isScalar(node) && typeof node.value === 'string' && node.value.trim() !== '') {
    scanned(c, node, node.value, path, 'run');
    return { kind: 'shell', command: node.value };
  }
  if (isScalar(node)) {
    c.r.fail(node, path, `must be a command line or a list of argv strings; got ${describe(node)}.`);
    return { kind: 'shell', command: '' };
  }
  const argv: string[] = [];
  const items = c.r.items(node, path, 'a command line or a list of argv strings');
  if (items?.length === 0) c.r.fail(node, path, 'must not be an empty list.');
  for (const item of items ?? []) {
    const arg = c.r.scalar(item.node);
    if (typeof arg !== 'string') c.r.fail(c.r.deref(item.node) ?? node, item.path, `must be a string (quote numbers); got ${describe(c.r.deref(item.node))}.`);
    else {
      scanned(c, c.r.deref(item.node), arg, item.path, 'run');
      argv.push(arg);
    }
  }
  return { kind: 'argv', argv };
}

function readInputs(c: Ctx, node: Node | null): Record<string, Reference> {
  const path = childPath(c.path, 'inputs');
  const out: [string, Reference][] = [];
  for (const f of c.r.fields(node, path, 'a mapping of input name to reference') ?? []) {
    if (!NAME.test(f.key)) c.r.fail(f.keyNode, f.path, `input name '${f.key}' must be ${NAME_HINT}.`);
    const text = c.r.scalar(f.node);
    const scan = typeof text === 'string' ? scanTemplate(text) : null;
    const whole = scan?.references.length === 1 && /^\s*\$\{\{[^]*\}\}\s*$/.test(text as string);
    if (!scan || !whole || scan.unclosedAt !== null) {
      c.r.fail(c.r.deref(f.node) ?? f.keyNode, f.path, `must be one reference, such as '\${{ params.lr }}' or '\${{ steps.train.outputs.model }}': ${REFERENCE_FORMS}; got ${describe(c.r.deref(f.node))}.`);
      continue;
    }
    const before = c.refs.length;
    scanned(c, c.r.deref(f.node), text as string, f.path, 'inputs');
    if (c.refs.length > before) out.push([f.key, c.refs[c.refs.length - 1].target]);
  }
  return Object.fromEntries(out);
}

function relativePath(p: string): boolean {
  return !p.startsWith('/') && !p.includes('\\') && !/^[A-Za-z]:/.test(p) && !p.split('/').includes('..');
}

function readOutputs(c: Ctx, node: Node | null): Outputs {
  const path = childPath(c.path, 'outputs');
  const f = fieldMap(c, node, path, OUTPUTS_KEYS);
  const artifacts: [string, string][] = [];
  for (const a of c.r.fields(nodeOf(f, 'artifacts'), `${path}.artifacts`, 'a mapping of artifact name to path') ?? []) {
    if (!NAME.test(a.key)) c.r.fail(a.keyNode, a.path, `artifact name '${a.key}' must be ${NAME_HINT}.`);
    const p = c.r.string(a.node, a.path, undefined, "a path relative to the step's work directory");
    if (p !== null && !relativePath(p)) c.r.fail(a.node, a.path, `must be a path inside the step's work directory (relative, no '..'); got ${JSON.stringify(p)}.`);
    if (p !== null) artifacts.push([a.key, p]);
  }
  const metrics = c.r.names(nodeOf(f, 'metrics'), `${path}.metrics`, NAME, 'metric name', NAME_HINT).map((m) => m.value);
  return { artifacts: Object.fromEntries(artifacts), metrics };
}

function readNeeds(c: Ctx, node: Node | null): string[] {
  const needs = c.r.names(node, childPath(c.path, 'needs'), NAME, 'step name', NAME_HINT, true);
  for (const n of needs) c.refs.push({ field: 'needs', path: n.path, text: n.value, target: { kind: 'step', step: n.value, field: null, name: null }, ...c.r.at(n.node) });
  return needs.map((n) => n.value);
}

function conditionTarget(root: string, parts: string[]): Reference | string {
  if (root === 'params') return parts[0] ? { kind: 'param', name: parts[0] } : `name a param: params.NAME`;
  if (root !== 'steps') return `unknown name '${root}'; a condition reads ${CONDITION_ROOTS}`;
  const [step, field, name] = parts;
  if (!step) return `name a step: ${CONDITION_ROOTS}`;
  if (field !== undefined && field !== 'metrics' && field !== 'outputs' && field !== 'status') return `steps.${step} has no field '${field}' (known: metrics, outputs, status)`;
  return { kind: 'step', step, field: field ?? null, name: field === 'status' ? null : (name ?? null) };
}

function readWhen(c: Ctx, node: Node | null): Condition | null {
  const path = childPath(c.path, 'when');
  const n = c.r.deref(node);
  if (n === null) return null;
  const raw = c.r.string(n, path, undefined, "a condition such as 'steps.evaluate.metrics.f1 >= 0.9'");
  if (raw === null) return null;
  const wrapped = /^\s*\$\{\{([^]*)\}\}\s*$/.exec(raw);
  const source = wrapped ? wrapped[1] : raw;
  const base = wrapped ? raw.indexOf('${{') + 3 : 0;
  try {
    const ast = parseExpression(source);
    for (const ref of referencedPaths(ast)) {
      const pos = c.r.atOffset(n, base + ref.column - 1);
      const target = conditionTarget(ref.root, ref.parts);
      if (typeof target === 'string') c.r.fail(pos, path, `${target}.`);
      else c.refs.push({ field: 'when', path, text: ref.path, target, ...pos });
    }
    return { source: source.trim(), ast };
  } catch (err) {
    if (!(err instanceof ExpressionError)) throw err;
    c.r.fail(c.r.atOffset(n, base + err.column - 1), path, `invalid condition: ${err.reason}.`);
    return null;
  }
}

function readRetry(c: Ctx, node: Node | null): RetryPolicy {
  const path = childPath(c.path, 'retry');
  const f = fieldMap(c, node, path, RETRY_KEYS);
  const count = f.has('count') ? c.r.number(nodeOf(f, 'count'), `${path}.count`, 0, 10, true) : 0;
  const backoff = f.has('backoff_seconds') ? c.r.number(nodeOf(f, 'backoff_seconds'), `${path}.backoff_seconds`, 0, 3600, false) : 10;
  const codes: number[] = [];
  for (const item of c.r.items(nodeOf(f, 'on_exit_codes'), `${path}.on_exit_codes`, 'a list of exit codes (1 to 255)') ?? []) {
    const code = c.r.number(item.node, item.path, 1, 255, true);
    if (code !== null && codes.includes(code)) c.r.fail(item.node, item.path, `exit code ${code} is listed twice.`);
    else if (code !== null) codes.push(code);
  }
  return { count: count ?? 0, backoffSeconds: backoff ?? 10, onExitCodes: codes };
}

function readDuration(c: Ctx, node: Node | null, path: string, max: number): number | null {
  const n = c.r.deref(node);
  if (n === null) return null;
  const seconds = parseDuration(c.r.scalar(n));
  if (seconds !== null && seconds <= max) return seconds;
  c.r.fail(n, path, `must be ${DURATION_HINT} (at most ${max / 86_400} days); got ${describe(n)}.`);
  return null;
}

function scalarMap(c: Ctx, node: Node | null, path: string, key: RegExp, keyHint: string, field?: ReferenceSite['field']): Record<string, string> {
  const out: [string, string][] = [];
  for (const f of c.r.fields(node, path) ?? []) {
    if (!key.test(f.key)) c.r.fail(f.keyNode, f.path, `'${f.key}' must be ${keyHint}.`);
    const v = c.r.scalar(f.node);
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') {
      c.r.fail(c.r.deref(f.node) ?? f.keyNode, f.path, `must be a string, number or boolean; got ${describe(c.r.deref(f.node))}.`);
      continue;
    }
    if (field && typeof v === 'string') scanned(c, c.r.deref(f.node), v, f.path, field);
    out.push([f.key, String(v)]);
  }
  return Object.fromEntries(out);
}

function readResources(c: Ctx, node: Node | null): Resources {
  const path = childPath(c.path, 'resources');
  const f = fieldMap(c, node, path, RESOURCES_KEYS);
  const quantity = (key: string, parse: (v: unknown) => number | null, hint: string): number | null => {
    const n = c.r.deref(nodeOf(f, key));
    if (n === null) return null;
    const v = parse(c.r.scalar(n));
    if (v === null) c.r.fail(n, `${path}.${key}`, `must be ${hint}; got ${describe(n)}.`);
    return v;
  };
  const cpuMillis = quantity('cpu', (v) => { const m = parseCpu(v); return m !== null && m <= 1_024_000 ? m : null; }, "a CPU quantity such as 2, 0.5 or '500m' (at most 1024 cores)");
  const memoryBytes = quantity('memory', parseMemory, "a memory quantity such as '512Mi', '4Gi' or '1G', or a number of bytes");
  const gpu = f.has('gpu') ? c.r.number(nodeOf(f, 'gpu'), `${path}.gpu`, 0, 64, true) : 0;
  const nodeLabels = scalarMap(c, nodeOf(f, 'node_labels'), `${path}.node_labels`, LABEL_KEY, "a label key (letters, digits, '-', '_', '.', '/')");
  return { cpuMillis, memoryBytes, gpu: gpu ?? 0, nodeLabels };
}

function readSecrets(c: Ctx, node: Node | null, env: Record<string, string>): string[] {
  const secrets = c.r.names(node, childPath(c.path, 'secrets'), SECRET_NAME, 'secret name', 'A-Z, 0-9 and _, not starting with a digit');
  for (const s of secrets) if (Object.hasOwn(env, s.value)) c.r.fail(s.node, s.path, `'${s.value}' is both a secret and an env variable; a secret is injected as the variable of its name.`);
  return secrets.map((s) => s.value);
}

function readAxis(c: Ctx, f: Field): MatrixAxis | null {
  const spec = c.params.find((p) => p.name === f.key);
  if (!spec) {
    if (c.paramNames.has(f.key)) return null;
    c.r.fail(f.keyNode, f.path, `matrix key '${f.key}' is not a declared param (declared: ${[...c.paramNames].join(', ') || 'none'}; option: max_parallel).`);
    return null;
  }
  const items = c.r.items(f.node, f.path, `a list of values for param '${f.key}'`);
  if (!items?.length) {
    if (items) c.r.fail(f.node, f.path, 'must list at least one value.');
    else if (!c.r.isPresent(f.node)) c.r.fail(f.keyNode, f.path, `must be a list of values for param '${f.key}'.`);
    return null;
  }
  const values: ParamValue[] = [];
  for (const item of items) {
    const v = c.r.scalar(item.node);
    if (!fitsParam(spec, v)) c.r.fail(c.r.deref(item.node) ?? f.keyNode, item.path, `must be ${expectedValue(spec)} (the type of param '${f.key}'); got ${describe(c.r.deref(item.node))}.`);
    else if (values.includes(v)) c.r.fail(item.node, item.path, `${JSON.stringify(v)} is listed twice.`);
    else values.push(v);
  }
  return { param: f.key, values };
}

function readMatrix(c: Ctx, node: Node | null, name: string): Matrix | null {
  const path = childPath(c.path, 'matrix');
  const fields = c.r.fields(node, path, 'a mapping of param name to a list of values');
  if (!fields) return null;
  const axes: MatrixAxis[] = [];
  let maxParallel: number | null = null;
  for (const f of fields) {
    if (f.key === 'max_parallel') maxParallel = c.r.number(f.node, f.path, 1, 256, true);
    else {
      const axis = readAxis(c, f);
      if (axis) axes.push(axis);
    }
  }
  if (!fields.some((f) => f.key !== 'max_parallel')) c.r.fail(node, path, 'must name at least one param with a list of values.');
  const matrix = { axes, maxParallel };
  const tooLarge = matrixTooLarge({ name, matrix });
  if (tooLarge) c.r.fail(node, path, tooLarge);
  return axes.length ? matrix : null;
}

function readCache(c: Ctx, node: Node | null): CachePolicy {
  const path = childPath(c.path, 'cache');
  const n = c.r.deref(node);
  if (n === null) return { enabled: true, ttlSeconds: null };
  if (isScalar(n)) {
    const enabled = c.r.boolean(n, path);
    return { enabled: enabled ?? false, ttlSeconds: null };
  }
  const f = fieldMap(c, n, path, CACHE_KEYS);
  const enabled = f.has('enabled') ? c.r.boolean(nodeOf(f, 'enabled'), `${path}.enabled`) : true;
  return { enabled: enabled ?? false, ttlSeconds: readDuration(c, nodeOf(f, 'ttl'), `${path}.ttl`, 365 * 86_400) };
}

function readImage(c: Ctx, node: Node | null): string | null {
  if (!c.r.isPresent(node)) return null;
  const path = childPath(c.path, 'image');
  const image = c.r.string(node, path, IMAGE, "a container image reference such as 'python:3.12-slim'");
  if (image?.includes('${{')) c.r.fail(node, path, 'references are not expanded in image; name the image literally.');
  return image;
}

/** Reads one step; `keyNode` is its name's node, where errors about the step as a whole point. */
export function readStep(r: Reader, name: string, keyNode: Node, node: Node | null, path: string, params: readonly ParamSpec[], paramNames?: ReadonlySet<string>, requireRun = true): Step {
  const c: Ctx = { r, path, params, paramNames: paramNames ?? new Set(params.map((p) => p.name)), refs: [] };
  if (!NAME.test(name)) r.fail(keyNode, path, `step name '${name}' must be ${NAME_HINT} (at most 64).`);
  const n = r.deref(node);
  if (!isMap(n)) {
    r.fail(n ?? keyNode, path, `must be a mapping with at least 'run'; got ${describe(n)}.`);
    return readStep(r, name, keyNode, new YAMLMap(), path, params, c.paramNames, false);
  }
  const f = fieldMap(c, node, path, STEP_KEYS);
  const env = scalarMap(c, nodeOf(f, 'env'), childPath(path, 'env'), ENV_NAME, 'an environment variable name (letters, digits and _)', 'env');
  return {
    name,
    ...r.at(keyNode),
    run: readRun(c, f.get('run'), keyNode, requireRun),
    image: readImage(c, nodeOf(f, 'image')),
    inputs: readInputs(c, nodeOf(f, 'inputs')),
    outputs: readOutputs(c, nodeOf(f, 'outputs')),
    needs: readNeeds(c, nodeOf(f, 'needs')),
    when: readWhen(c, nodeOf(f, 'when')),
    retry: readRetry(c, nodeOf(f, 'retry')),
    timeoutSeconds: readDuration(c, nodeOf(f, 'timeout'), childPath(path, 'timeout'), MAX_TIMEOUT),
    resources: readResources(c, nodeOf(f, 'resources')),
    env,
    secrets: readSecrets(c, nodeOf(f, 'secrets'), env),
    matrix: readMatrix(c, nodeOf(f, 'matrix'), name),
    cache: readCache(c, nodeOf(f, 'cache')),
    references: c.refs.sort((a, b) => a.line - b.line || a.column - b.column),
  };
}
