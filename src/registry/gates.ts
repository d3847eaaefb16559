// Promotion gates: a project's YAML policy of CEL rules that must hold before an alias or stage
// is set on a model version. parsePolicy validates and compiles once; evaluateGates never throws.
import { CelScalar, celEnv, celType, isCelError, listType, mapType, parse as parseCel, plan, type CelType } from '@bufbuild/cel';
import { LineCounter, isMap, isScalar, isSeq, parseDocument, type Node as YamlNode, type YAMLMap } from 'yaml';
import { AppError } from '../errors/index.js';
import { CARD_FIELDS, STAGES, type ModelCard } from './types.js';

interface TensorInput { name: string; datatype: string; shape: number[] }

/** Everything a rule can see about the version being promoted; each key is a CEL variable. */
export interface GateInput {
  version: {
    name: string; version: number; semver: string; source: string; run_id: string; unsafe_format: boolean;
    unsafe_files: string[]; signed: boolean; description: string; stage: string; aliases: string[];
  };
  metrics: Record<string, number>;
  params: Record<string, string>;
  /** Tags of the model version; `model_tags` holds the registered model's. */
  tags: Record<string, string>;
  model_tags: Record<string, string>;
  card: ModelCard;
  datasets: { name: string; digest: string; sensitive: boolean; access: string; rows: number }[];
  signature: { inputs: TensorInput[]; outputs: TensorInput[] };
}

export interface GateRule { name: string; expr: string; message?: string; line: number }
export interface Gate { name: string; line: number; protects: { aliases: string[]; stages: string[] }; rules: GateRule[] }
export interface Policy { gates: Gate[] }

export interface GateResult {
  gate: string;
  rule: string;
  expr: string;
  passed: boolean;
  message?: string;
  error?: string;
  /** Value of every input path the expression reads; null where the input has no such key. */
  inputs: Record<string, unknown>;
}
export interface GateReport { allowed: boolean; results: GateResult[] }

// The library has no evaluation budget, so expressions are bounded before they run: by length,
// by how deeply comprehensions nest, and (at evaluation) by collection size ^ nesting depth.
const MAX_EXPR_CHARS = 4096;
const MAX_NESTED_COMPREHENSIONS = 3;
const MAX_ITERATIONS = 1_000_000;

// ---- types of the CEL variables, precise enough to type-check expressions ----------------------

type Ty =
  | { readonly kind: 'scalar' | 'object'; readonly name: string }
  | { readonly kind: 'list'; readonly elem: Ty }
  | { readonly kind: 'map'; readonly key: Ty; readonly value: Ty }
  // A record with known fields; at run time it is a string-keyed map.
  | { readonly kind: 'struct'; readonly name: string; readonly fields: Readonly<Record<string, Ty>> };

const scalar = (name: string): Ty => ({ kind: 'scalar', name });
const DYN = scalar('dyn'), BOOL = scalar('bool'), INT = scalar('int'), DOUBLE = scalar('double'), STRING = scalar('string');
const list = (elem: Ty): Ty => ({ kind: 'list', elem });
const stringMap = (value: Ty): Ty => ({ kind: 'map', key: STRING, value });
const struct = (name: string, fields: Record<string, Ty>): Ty => ({ kind: 'struct', name, fields });

const TENSOR = struct('tensor', { name: STRING, datatype: STRING, shape: list(INT) });
const VARIABLES: Readonly<Record<keyof GateInput, Ty>> = {
  version: struct('version', {
    name: STRING, version: INT, semver: STRING, source: STRING, run_id: STRING, unsafe_format: BOOL,
    unsafe_files: list(STRING), signed: BOOL, description: STRING, stage: STRING, aliases: list(STRING),
  }),
  metrics: stringMap(DOUBLE),
  params: stringMap(STRING),
  tags: stringMap(STRING),
  model_tags: stringMap(STRING),
  card: struct('card', Object.fromEntries(CARD_FIELDS.map((f) => [f, STRING]))),
  datasets: list(struct('dataset', { name: STRING, digest: STRING, sensitive: BOOL, access: STRING, rows: INT })),
  signature: struct('signature', { inputs: list(TENSOR), outputs: list(TENSOR) }),
};

function toCelType(ty: Ty): CelType {
  if (ty.kind === 'list') return listType(toCelType(ty.elem));
  if (ty.kind === 'map') return mapType(CelScalar.STRING, toCelType(ty.value));
  if (ty.kind === 'struct') return mapType(CelScalar.STRING, CelScalar.DYN);
  return Object.values(CelScalar).find((s) => s.name === ty.name) ?? CelScalar.DYN;
}

function fromCelType(ct: CelType): Ty {
  if (ct.kind === 'list') return list(fromCelType(ct.element));
  if (ct.kind === 'map') return { kind: 'map', key: fromCelType(ct.key), value: fromCelType(ct.value) };
  return { kind: ct.kind, name: ct.name };
}

const ENV = celEnv({ variables: Object.fromEntries(Object.entries(VARIABLES).map(([k, ty]) => [k, toCelType(ty)])) });

function typeName(ty: Ty): string {
  if (ty.kind === 'list') return `list(${typeName(ty.elem)})`;
  if (ty.kind === 'map') return `map(${typeName(ty.key)}, ${typeName(ty.value)})`;
  return ty.name === 'null_type' ? 'null' : ty.name;
}

const isDyn = (ty: Ty): boolean => ty.kind === 'scalar' && ty.name === 'dyn';
const isNumeric = (ty: Ty): boolean => ty.kind === 'scalar' && ['int', 'uint', 'double'].includes(ty.name);

/** Whether a value of type `arg` may be passed where `param` is expected. */
function accepts(param: Ty, arg: Ty): boolean {
  if (isDyn(param) || isDyn(arg)) return true;
  if (arg.kind === 'struct') return accepts(param, stringMap(DYN));
  if (param.kind === 'list') return arg.kind === 'list' && accepts(param.elem, arg.elem);
  if (param.kind === 'map') return arg.kind === 'map' && accepts(param.key, arg.key) && accepts(param.value, arg.value);
  return param.kind === arg.kind && 'name' in arg && param.name === arg.name;
}

const join = (a: Ty, b: Ty): Ty => (typeName(a) === typeName(b) ? a : DYN);
const CONSTANT_TYPES: Readonly<Record<string, string>> = {
  boolValue: 'bool', int64Value: 'int', uint64Value: 'uint', doubleValue: 'double', stringValue: 'string', bytesValue: 'bytes', nullValue: 'null_type',
};
/** Identifiers CEL resolves to types, as in `type(x) == double`. */
const TYPE_NAMES = new Set(['bool', 'int', 'uint', 'double', 'string', 'bytes', 'list', 'map', 'null_type', 'type']);

// ---- static checking of a parsed expression ---------------------------------------------------
// @bufbuild/cel 0.6.1 ships a checker that only understands constants and identifiers (and does
// not export it), so calls are checked here against the overloads the environment registers.

type Expr = ReturnType<typeof parseCel>['expr'];
type Call = Extract<Expr['exprKind'], { case: 'callExpr' }>['value'];
type Comprehension = Extract<Expr['exprKind'], { case: 'comprehensionExpr' }>['value'];

class CheckError extends Error {
  constructor(message: string, readonly exprId: bigint) { super(message); }
}

const operatorName = (fn: string): string => (/^[_!-]|@in/.test(fn) ? fn.replace(/^@/, '').replace(/_/g, '') : fn);

function present(e: Expr | undefined, at: bigint): Expr {
  if (e === undefined) throw new CheckError('incomplete expression', at);
  return e;
}

class ExprChecker {
  private depth = 0;
  maxDepth = 0;

  check(e: Expr, scope: ReadonlyMap<string, Ty>): Ty {
    const kind = e.exprKind;
    switch (kind.case) {
      case 'constExpr': {
        const c = kind.value.constantKind.case;
        return scalar(c === undefined ? 'dyn' : CONSTANT_TYPES[c] ?? 'dyn');
      }
      case 'identExpr': {
        const name = kind.value.name;
        const global = Object.hasOwn(VARIABLES, name) ? VARIABLES[name as keyof GateInput] : undefined;
        const ty = scope.get(name) ?? global ?? (TYPE_NAMES.has(name) ? scalar('type') : undefined);
        if (ty === undefined) throw new CheckError(`undeclared reference to '${name}' (variables: ${Object.keys(VARIABLES).join(', ')})`, e.id);
        return ty;
      }
      case 'selectExpr': {
        const operand = this.check(present(kind.value.operand, e.id), scope);
        const ty = this.field(operand, kind.value.field, e.id);
        return kind.value.testOnly ? BOOL : ty;
      }
      case 'callExpr':
        return this.call(kind.value, e.id, scope);
      case 'listExpr':
        return list(kind.value.elements.map((x) => this.check(x, scope)).reduce(join, DYN));
      case 'structExpr': {
        if (kind.value.messageName !== '') throw new CheckError(`cannot construct message '${kind.value.messageName}'`, e.id);
        let key: Ty | undefined, value: Ty | undefined;
        for (const entry of kind.value.entries) {
          const k = entry.keyKind.case === 'mapKey' ? this.check(entry.keyKind.value, scope) : STRING;
          const v = this.check(present(entry.value, e.id), scope);
          key = key === undefined ? k : join(key, k);
          value = value === undefined ? v : join(value, v);
        }
        return { kind: 'map', key: key ?? DYN, value: value ?? DYN };
      }
      case 'comprehensionExpr':
        return this.comprehension(kind.value, e.id, scope);
      default:
        throw new CheckError('unsupported expression', e.id);
    }
  }

  private field(operand: Ty, name: string, id: bigint): Ty {
    if (isDyn(operand)) return DYN;
    if (operand.kind === 'map' && accepts(operand.key, STRING)) return operand.value;
    if (operand.kind === 'struct') {
      const ty = operand.fields[name];
      if (ty === undefined || !Object.hasOwn(operand.fields, name)) {
        throw new CheckError(`${operand.name} has no field '${name}' (fields: ${Object.keys(operand.fields).join(', ')})`, id);
      }
      return ty;
    }
    throw new CheckError(`cannot select '${name}' from ${typeName(operand)}`, id);
  }

  private call(call: Call, id: bigint, scope: ReadonlyMap<string, Ty>): Ty {
    const fn = call.function;
    const target = call.target === undefined ? undefined : this.check(call.target, scope);
    const args = call.args.map((a) => this.check(a, scope));
    // Macros expand to calls on an '@'-named accumulator; name what the author wrote instead.
    const inMacro = call.args.some((a) => a.exprKind.case === 'identExpr' && a.exprKind.value.name.startsWith('@'));
    const requireBool = (i: number): void => {
      if (accepts(BOOL, args[i])) return;
      const what = inMacro ? 'the macro predicate' : `'${operatorName(fn)}'`;
      throw new CheckError(`${what} needs bool, got ${typeName(args[i])}`, call.args[i].id);
    };
    switch (fn) {
      case '_&&_': case '_||_': case '!_': case '@not_strictly_false':
        args.forEach((_, i) => requireBool(i));
        return BOOL;
      case '_?_:_':
        requireBool(0);
        return join(args[1], args[2]);
      case '_[_]':
        return this.index(args[0], args[1], call.args[1], id);
      case '_==_': case '_!=_':
        if (!comparable(args[0], args[1])) throw new CheckError(`cannot compare ${typeName(args[0])} with ${typeName(args[1])}`, id);
        return BOOL;
    }
    const group = ENV.funcs.find(fn);
    if (group === undefined) throw new CheckError(`unknown function '${fn}'`, id);
    const results = [...group]
      .filter((f) => (target === undefined ? f.target === undefined : f.target !== undefined && accepts(fromCelType(f.target), target)))
      .filter((f) => f.arguments.length === args.length && f.arguments.every((p, i) => accepts(fromCelType(p), args[i])))
      .map((f) => fromCelType(f.result));
    if (results.length === 0) {
      const types = [...(target ? [target] : []), ...args].map(typeName).join(', ');
      throw new CheckError(`no matching overload for '${operatorName(fn)}' applied to (${types})`, id);
    }
    return results.reduce(join);
  }

  private index(container: Ty, key: Ty, keyExpr: Expr, id: bigint): Ty {
    if (isDyn(container)) return DYN;
    if (container.kind === 'list' && (accepts(INT, key) || typeName(key) === 'uint')) return container.elem;
    if (container.kind === 'map' && accepts(container.key, key)) return container.value;
    if (container.kind === 'struct' && accepts(STRING, key)) {
      const k = keyExpr.exprKind;
      return k.case === 'constExpr' && k.value.constantKind.case === 'stringValue' ? this.field(container, k.value.constantKind.value, id) : DYN;
    }
    throw new CheckError(`cannot index ${typeName(container)} with ${typeName(key)}`, id);
  }

  private comprehension(c: Comprehension, id: bigint, scope: ReadonlyMap<string, Ty>): Ty {
    this.depth++;
    this.maxDepth = Math.max(this.maxDepth, this.depth);
    if (this.depth > MAX_NESTED_COMPREHENSIONS) throw new CheckError(`comprehensions nest deeper than ${MAX_NESTED_COMPREHENSIONS} levels`, id);
    const range = this.check(present(c.iterRange, id), scope);
    let first: Ty, second: Ty;
    if (range.kind === 'list') [first, second] = c.iterVar2 ? [INT, range.elem] : [range.elem, DYN];
    else if (range.kind === 'map') [first, second] = [range.key, range.value];
    else if (range.kind === 'struct') [first, second] = [STRING, DYN];
    else if (isDyn(range)) [first, second] = [DYN, DYN];
    else throw new CheckError(`cannot iterate over ${typeName(range)}`, id);
    const initial = this.check(present(c.accuInit, id), scope);
    const inner = new Map(scope).set(c.iterVar, first).set(c.accuVar, initial);
    if (c.iterVar2) inner.set(c.iterVar2, second);
    this.check(present(c.loopCondition, id), inner);
    const step = this.check(present(c.loopStep, id), inner);
    const accumulated = step.kind === 'list' && initial.kind === 'list' ? step : join(initial, step);
    const result = this.check(present(c.result, id), new Map(scope).set(c.accuVar, accumulated));
    this.depth--;
    return result;
  }
}

function comparable(a: Ty, b: Ty): boolean {
  if (isDyn(a) || isDyn(b) || typeName(a) === 'null' || typeName(b) === 'null') return true;
  if (isNumeric(a) && isNumeric(b)) return true;
  const family = (t: Ty): string => (t.kind === 'struct' ? 'map' : t.kind === 'scalar' ? t.name : t.kind);
  return family(a) === family(b);
}

// ---- which input paths an expression reads (reported beside each result) -----------------------

type Segment = string | number;

function referencePath(e: Expr, locals: ReadonlySet<string>): Segment[] | undefined {
  const kind = e.exprKind;
  if (kind.case === 'identExpr') return locals.has(kind.value.name) || !Object.hasOwn(VARIABLES, kind.value.name) ? undefined : [kind.value.name];
  if (kind.case === 'selectExpr' && kind.value.operand) {
    const base = referencePath(kind.value.operand, locals);
    return base && [...base, kind.value.field];
  }
  if (kind.case === 'callExpr' && kind.value.function === '_[_]' && kind.value.args.length === 2) {
    const key = kind.value.args[1].exprKind;
    if (key.case !== 'constExpr') return undefined;
    const k = key.value.constantKind;
    const segment = k.case === 'stringValue' ? k.value : k.case === 'int64Value' || k.case === 'uint64Value' ? Number(k.value) : undefined;
    const base = referencePath(kind.value.args[0], locals);
    return base && segment !== undefined ? [...base, segment] : undefined;
  }
  return undefined;
}

function collectReferences(e: Expr, locals: ReadonlySet<string>, out: Map<string, Segment[]>): void {
  const path = referencePath(e, locals);
  if (path) {
    out.set(renderPath(path), path);
    return;
  }
  const kind = e.exprKind;
  const visit = (x: Expr | undefined, scope = locals): void => { if (x) collectReferences(x, scope, out); };
  if (kind.case === 'selectExpr') visit(kind.value.operand);
  else if (kind.case === 'callExpr') [kind.value.target, ...kind.value.args].forEach((x) => visit(x));
  else if (kind.case === 'listExpr') kind.value.elements.forEach((x) => visit(x));
  else if (kind.case === 'structExpr') {
    for (const entry of kind.value.entries) {
      if (entry.keyKind.case === 'mapKey') visit(entry.keyKind.value);
      visit(entry.value);
    }
  } else if (kind.case === 'comprehensionExpr') {
    const c = kind.value;
    const inner = new Set([...locals, c.iterVar, c.iterVar2, c.accuVar]);
    visit(c.iterRange);
    visit(c.accuInit);
    [c.loopCondition, c.loopStep].forEach((x) => visit(x, inner));
    visit(c.result, new Set([...locals, c.accuVar]));
  }
}

function renderPath(path: Segment[]): string {
  return path
    .map((s, i) => (typeof s === 'number' ? `[${s}]` : i === 0 ? s : /^[A-Za-z_][A-Za-z0-9_]*$/.test(s) ? `.${s}` : `[${JSON.stringify(s)}]`))
    .join('');
}

function readPath(input: GateInput, path: Segment[]): unknown {
  let value: unknown = input;
  for (const segment of path) {
    if (typeof segment === 'number' ? !Array.isArray(value) : !isRecord(value) || !Object.hasOwn(value, segment)) return null;
    value = (value as Record<Segment, unknown>)[segment];
  }
  return value ?? null;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

// ---- compiling one expression -------------------------------------------------------------------

type Program = ReturnType<typeof plan>;
interface Compiled { program: Program; references: Map<string, Segment[]>; nesting: number }
interface CompileFailure { problem: string; offset: number }

// Rules parsed by parsePolicy keep their compiled form here, so Gate stays plain data.
const compiledRules = new WeakMap<GateRule, Compiled>();

function compileExpr(source: string): Compiled | CompileFailure {
  if (source.trim() === '') return { problem: "'expr' is empty", offset: 0 };
  if (source.length > MAX_EXPR_CHARS) return { problem: `expression is longer than ${MAX_EXPR_CHARS} characters`, offset: 0 };
  let parsed: ReturnType<typeof parseCel>;
  try {
    parsed = parseCel(source);
  } catch (err) {
    const location = (err as { location?: { start?: { offset: number; line: number; column: number } } }).location?.start;
    const offset = location?.offset ?? 0;
    let text = String((err as Error).message).replace(/^<input>:\d+:\d+: /, '');
    // The parser stops at the end of the longest prefix it can read and reports "expecting end of
    // input" there; quoting what it could not read says more.
    if (text.endsWith('expecting end of input')) {
      const rest = source.slice(offset).split('\n')[0].trim();
      text = `cannot read '${rest.length > 24 ? `${rest.slice(0, 24)}...` : rest}'`;
    }
    return { problem: `syntax error at expression column ${location?.column ?? 1}: ${text}`, offset };
  }
  const checker = new ExprChecker();
  try {
    const ty = checker.check(parsed.expr, new Map());
    if (!accepts(BOOL, ty)) throw new CheckError(`expression must evaluate to bool, not ${typeName(ty)}`, parsed.expr.id);
    const references = new Map<string, Segment[]>();
    collectReferences(parsed.expr, new Set(), references);
    return { program: plan(ENV, parsed), references, nesting: checker.maxDepth };
  } catch (err) {
    const offset = err instanceof CheckError ? parsed.sourceInfo?.positions[err.exprId.toString()] ?? 0 : 0;
    return { problem: err instanceof Error ? err.message : String(err), offset };
  }
}

// ---- reading the YAML policy --------------------------------------------------------------------

/** `retention` belongs to the same document; the registry's policy service reads it. */
const POLICY_KEYS = ['gates', 'retention'] as const;
const GATE_KEYS = ['name', 'protects', 'rules'] as const;
const PROTECTS_KEYS = ['aliases', 'stages'] as const;
const RULE_KEYS = ['name', 'expr', 'message'] as const;

class PolicyReader {
  private readonly problems: { line: number; text: string }[] = [];
  constructor(private readonly lines: LineCounter) {}

  line(node: unknown, offset = 0): number {
    const range = (node as YamlNode | null | undefined)?.range;
    return range ? this.lines.linePos(range[0] + offset).line : 1;
  }

  report(line: number, where: string, what: string): void {
    this.problems.push({ line, text: `line ${line}: ${where ? `${where}: ` : ''}${what}` });
  }

  /** Problems in document order; a stable sort keeps discovery order within a line. */
  messages(): string[] {
    return [...this.problems].sort((a, b) => a.line - b.line).map((p) => p.text);
  }

  mapping(node: unknown, where: string, what: string): YAMLMap | undefined {
    if (isMap(node)) return node;
    this.report(this.line(node), where, `${what} must be a mapping`);
    return undefined;
  }

  onlyKeys(map: YAMLMap, keys: readonly string[], where: string): void {
    for (const pair of map.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
      if (!keys.includes(key)) this.report(this.line(pair.key), where, `unknown key '${key}' (allowed: ${keys.join(', ')})`);
    }
  }

  text(map: YAMLMap, key: string, where: string, required: boolean): string | undefined {
    const node = map.get(key, true);
    if (node === undefined) {
      if (required) this.report(this.line(map), where, `missing '${key}'`);
      return undefined;
    }
    if (isScalar(node) && node.tag !== undefined && !node.tag.startsWith('tag:yaml.org')) {
      this.report(this.line(node), where, `'${key}' starts with '${node.tag}', which YAML reads as a tag; quote the value`);
      return undefined;
    }
    if (!isScalar(node) || typeof node.value !== 'string' || node.value.trim() === '') {
      this.report(this.line(node), where, `'${key}' must be a non-empty string`);
      return undefined;
    }
    return node.value;
  }

  texts(map: YAMLMap, key: string, where: string): string[] {
    const node = map.get(key, true);
    if (node === undefined) return [];
    const items = isSeq(node) ? node.items : [];
    const valid = items.every((n) => isScalar(n) && typeof n.value === 'string' && n.value !== '');
    if (!isSeq(node) || !valid) {
      this.report(this.line(node), where, `'${key}' must be a list of non-empty strings`);
      return [];
    }
    return items.map((n) => String((n as { value: string }).value));
  }

  /** YAML line of a position inside an expression; only literal blocks keep the expression's lines. */
  exprLine(map: YAMLMap, offset: number): number {
    const node = map.get('expr', true);
    if (!isScalar(node) || typeof node.value !== 'string') return this.line(map);
    if (node.type === 'BLOCK_LITERAL') return this.line(node) + 1 + (node.value.slice(0, offset).match(/\n/g)?.length ?? 0);
    return this.line(node) + (node.type === 'BLOCK_FOLDED' ? 1 : 0);
  }
}

function readGate(reader: PolicyReader, node: unknown, index: number, seenGates: Map<string, number>): Gate | undefined {
  const map = reader.mapping(node, `gate #${index + 1}`, 'a gate');
  if (!map) return undefined;
  const name = reader.text(map, 'name', `gate #${index + 1}`, true);
  const where = name === undefined ? `gate #${index + 1}` : `gate '${name}'`;
  reader.onlyKeys(map, GATE_KEYS, where);
  if (name !== undefined) {
    const line = reader.line(map.get('name', true));
    const first = seenGates.get(name);
    if (first !== undefined) reader.report(line, where, `duplicate gate name (first declared on line ${first})`);
    else seenGates.set(name, line);
  }
  const protects = readProtects(reader, map, where);
  const rulesNode = map.get('rules', true);
  const rules: GateRule[] = [];
  if (rulesNode === undefined) reader.report(reader.line(map), where, "missing 'rules'");
  else if (!isSeq(rulesNode)) reader.report(reader.line(rulesNode), where, "'rules' must be a list");
  else if (rulesNode.items.length === 0) reader.report(reader.line(rulesNode), where, 'has no rules');
  else {
    const seenRules = new Map<string, number>();
    rulesNode.items.forEach((item, i) => {
      const rule = readRule(reader, item, `${where} rule #${i + 1}`, where, seenRules);
      if (rule) rules.push(rule);
    });
  }
  return name === undefined || !protects ? undefined : { name, line: reader.line(map), protects, rules };
}

function readProtects(reader: PolicyReader, gate: YAMLMap, where: string): Gate['protects'] | undefined {
  const node = gate.get('protects', true);
  if (node === undefined) {
    reader.report(reader.line(gate), where, "missing 'protects'");
    return undefined;
  }
  const map = reader.mapping(node, where, "'protects'");
  if (!map) return undefined;
  reader.onlyKeys(map, PROTECTS_KEYS, where);
  const aliases = reader.texts(map, 'aliases', where);
  const stages = reader.texts(map, 'stages', where);
  for (const stage of stages) {
    if (!STAGES.some((s) => s.toLowerCase() === stage.toLowerCase())) {
      reader.report(reader.line(map.get('stages', true)), where, `unknown stage '${stage}' (stages: ${STAGES.join(', ')})`);
    }
  }
  if (aliases.length === 0 && stages.length === 0) reader.report(reader.line(node), where, 'protects nothing: list at least one alias or stage');
  return { aliases, stages };
}

function readRule(reader: PolicyReader, node: unknown, unnamed: string, gateWhere: string, seen: Map<string, number>): GateRule | undefined {
  const map = reader.mapping(node, unnamed, 'a rule');
  if (!map) return undefined;
  const name = reader.text(map, 'name', unnamed, true);
  const where = name === undefined ? unnamed : `${gateWhere} rule '${name}'`;
  reader.onlyKeys(map, RULE_KEYS, where);
  if (name !== undefined) {
    const line = reader.line(map.get('name', true));
    const first = seen.get(name);
    if (first !== undefined) reader.report(line, where, `duplicate rule name (first declared on line ${first})`);
    else seen.set(name, line);
  }
  const expr = reader.text(map, 'expr', where, true);
  const message = reader.text(map, 'message', where, false);
  if (expr === undefined) return undefined;
  const compiled = compileExpr(expr);
  if ('problem' in compiled) {
    reader.report(reader.exprLine(map, compiled.offset), where, compiled.problem);
    return undefined;
  }
  if (name === undefined) return undefined;
  const rule: GateRule = { name, expr: expr.trim(), line: reader.exprLine(map, 0), ...(message === undefined ? {} : { message }) };
  compiledRules.set(rule, compiled);
  return rule;
}

/** Parses and compiles a gate policy; every problem is reported at once, each with its line. */
export function parsePolicy(text: string): Policy {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const reader = new PolicyReader(lines);
  for (const err of doc.errors) reader.report(lines.linePos(err.pos[0]).line, '', err.message);
  const gates: Gate[] = [];
  if (doc.errors.length === 0) {
    const root = reader.mapping(doc.contents, '', 'the policy');
    if (root) reader.onlyKeys(root, POLICY_KEYS, '');
    const list = root?.get('gates', true);
    if (root && list !== undefined && !isSeq(list)) reader.report(reader.line(list), '', "'gates' must be a list");
    else if (isSeq(list)) {
      const seen = new Map<string, number>();
      list.items.forEach((item, i) => {
        const gate = readGate(reader, item, i, seen);
        if (gate) gates.push(gate);
      });
    }
  }
  const problems = reader.messages();
  if (problems.length > 0) {
    throw new AppError('INVALID_PARAMETER_VALUE', `Invalid gate policy:\n${problems.join('\n')}`, { details: { problems } });
  }
  return { gates };
}

// ---- choosing and evaluating gates --------------------------------------------------------------

function globMatches(pattern: string, value: string): boolean {
  const source = pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*');
  return new RegExp(`^${source}$`).test(value);
}

/** Gates protecting the alias (glob patterns) or the stage (any case) being set, in policy order. */
export function gatesFor(policy: Policy, target: { alias?: string; stage?: string }): Gate[] {
  const { alias, stage } = target;
  return policy.gates.filter(
    (g) =>
      (alias !== undefined && g.protects.aliases.some((p) => globMatches(p, alias))) ||
      (stage !== undefined && g.protects.stages.some((s) => s.toLowerCase() === stage.toLowerCase())),
  );
}

/** Shapes the input as the CEL variables are declared: ints become bigint, unknown fields drop. */
function toCelInput(ty: Ty, value: unknown): unknown {
  if (ty.kind === 'scalar' && ty.name === 'int' && typeof value === 'number' && Number.isSafeInteger(value)) return BigInt(value);
  if (ty.kind === 'list' && Array.isArray(value)) return value.map((v) => toCelInput(ty.elem, v));
  if (ty.kind === 'map' && isRecord(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toCelInput(ty.value, v)]));
  if (ty.kind === 'struct' && isRecord(value)) {
    return Object.fromEntries(Object.entries(ty.fields).filter(([k]) => value[k] !== undefined).map(([k, t]) => [k, toCelInput(t, value[k])]));
  }
  return value;
}

function largestCollection(value: unknown): number {
  if (Array.isArray(value)) return value.reduce((n: number, v) => Math.max(n, largestCollection(v)), value.length);
  if (isRecord(value)) return Object.values(value).reduce((n: number, v) => Math.max(n, largestCollection(v)), Object.keys(value).length);
  return 0;
}

function outcome(compiled: Compiled, bindings: Parameters<Program>[0], largest: number): { passed: boolean; error?: string } {
  if (compiled.nesting > 1 && largest ** compiled.nesting > MAX_ITERATIONS) {
    return { passed: false, error: `nested comprehensions over ${largest} items exceed ${MAX_ITERATIONS} iterations` };
  }
  let value: unknown;
  try {
    value = compiled.program(bindings);
  } catch (err) {
    return { passed: false, error: err instanceof Error ? err.message : String(err) };
  }
  if (isCelError(value)) {
    // Every variable is a map at run time, where the library words a missing key as a missing field.
    return { passed: false, error: value.message.replace(/^field not found: /, 'no such key: ') };
  }
  if (typeof value !== 'boolean') {
    return { passed: false, error: `expression returned ${celType(value as Parameters<typeof celType>[0]).toString()}, not bool` };
  }
  return { passed: value };
}

/** Runs every rule of every gate; a rule that cannot be evaluated fails with `error` set. */
export function evaluateGates(gates: Gate[], input: GateInput): GateReport {
  const bindings = Object.fromEntries(
    Object.entries(VARIABLES).map(([k, ty]) => [k, toCelInput(ty, (input as unknown as Record<string, unknown>)[k])]),
  ) as Parameters<Program>[0];
  const largest = largestCollection(input);
  const results: GateResult[] = [];
  for (const gate of gates) {
    for (const rule of gate.rules) {
      const base = { gate: gate.name, rule: rule.name, expr: rule.expr };
      let compiled = compiledRules.get(rule);
      if (compiled === undefined) {
        const fresh = compileExpr(rule.expr);
        if ('problem' in fresh) {
          results.push({ ...base, passed: false, ...failureMessage(rule), error: fresh.problem, inputs: {} });
          continue;
        }
        compiledRules.set(rule, (compiled = fresh));
      }
      const inputs = Object.fromEntries([...compiled.references].map(([key, path]) => [key, readPath(input, path)]));
      const { passed, error } = outcome(compiled, bindings, largest);
      results.push({ ...base, passed, ...(passed ? {} : failureMessage(rule)), ...(error === undefined ? {} : { error }), inputs });
    }
  }
  return { allowed: results.every((r) => r.passed), results };
}

const failureMessage = (rule: GateRule): { message?: string } => (rule.message === undefined ? {} : { message: rule.message });

function formatValue(value: unknown): string {
  const text = JSON.stringify(value) ?? 'null';
  return text.length > 160 ? `${text.slice(0, 157)}...` : text;
}

/** One sentence naming each failed rule, its expression and the inputs it saw; '' when allowed. */
export function denialMessage(report: GateReport): string {
  const byGate = new Map<string, string[]>();
  for (const r of report.results) {
    if (r.passed) continue;
    const seen = Object.entries(r.inputs).map(([k, v]) => `${k}=${formatValue(v)}`);
    const phrase =
      `rule '${r.rule}' (${r.expr.replace(/\s+/g, ' ')}) failed` +
      (seen.length > 0 ? ` with ${seen.join(', ')}` : '') +
      (r.error === undefined ? '' : ` (error: ${r.error})`) +
      (r.message === undefined ? '' : ` — ${r.message}`);
    byGate.set(r.gate, [...(byGate.get(r.gate) ?? []), phrase]);
  }
  const clauses = [...byGate].map(([gate, phrases]) => `gate '${gate}' denied: ${phrases.join('; ')}`);
  if (clauses.length === 0) return '';
  const sentence = clauses.join('; ');
  return `${sentence[0].toUpperCase()}${sentence.slice(1)}.`;
}
