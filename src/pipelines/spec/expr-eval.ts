// Evaluation of a parsed condition against plain data. Values are JSON-like: null, booleans,
// numbers, strings, lists and string-keyed maps; anything else in the data is reported, not used.
import { ExpressionError, type Expr } from './expr-ast.js';

export type Value = null | boolean | number | string | Value[] | { [key: string]: Value };

type Fields = Record<string, unknown>;

function isMap(v: unknown): v is Fields {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** The expression-language name of a value's type. */
export function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return 'number';
  if (typeof v === 'string') return 'string';
  if (Array.isArray(v)) return 'list';
  return isMap(v) ? 'map' : 'unsupported value';
}

function show(v: unknown): string {
  const t = typeName(v);
  if (t === 'list' || t === 'map' || t === 'unsupported value') return t;
  const text = JSON.stringify(v);
  return `${t} ${text.length > 40 ? `${text.slice(0, 37)}...` : text}`;
}

/** The source-like text of a reading such as `steps.train.metrics`, for messages. */
function text(e: Expr): string {
  if (e.kind === 'ident') return e.name;
  if (e.kind === 'member') return `${text(e.object)}.${e.name}`;
  if (e.kind === 'index') return `${text(e.object)}[${text(e.index)}]`;
  if (e.kind === 'literal') return JSON.stringify(e.value);
  return 'the value';
}

const hasField = (m: object, key: string): boolean => Object.hasOwn(m, key) && (m as Fields)[key] !== undefined;

function field(object: unknown, key: string, owner: Expr, at: number): unknown {
  if (!isMap(object)) throw new ExpressionError(`cannot read field '${key}' of ${text(owner)}: it is a ${typeName(object)}, not a map`, at);
  if (!hasField(object, key)) {
    const keys = Object.keys(object).filter((k) => object[k] !== undefined);
    const known = keys.length ? `fields: ${keys.slice(0, 10).join(', ')}${keys.length > 10 ? ', ...' : ''}` : 'it has no fields';
    throw new ExpressionError(`no field '${key}' in ${text(owner)} (${known})`, at);
  }
  return supported(object[key], at);
}

function supported(v: unknown, at: number): unknown {
  if (typeName(v) === 'unsupported value') throw new ExpressionError(`the data holds a value of an unsupported type (${typeof v})`, at);
  return v;
}

function index(e: Extract<Expr, { kind: 'index' }>, vars: object): unknown {
  const object = ev(e.object, vars);
  const key = ev(e.index, vars);
  if (Array.isArray(object)) {
    if (typeof key !== 'number' || !Number.isInteger(key)) throw new ExpressionError(`a list index must be an integer; got ${show(key)}`, e.index.at);
    if (key < 0 || key >= object.length) throw new ExpressionError(`index ${key} is out of range for ${text(e.object)} (${object.length} elements)`, e.index.at);
    return supported(object[key], e.index.at);
  }
  if (isMap(object)) {
    if (typeof key !== 'string') throw new ExpressionError(`a map key must be a string; got ${show(key)}`, e.index.at);
    return field(object, key, e.object, e.index.at);
  }
  throw new ExpressionError(`cannot index ${text(e.object)}: it is a ${typeName(object)}, not a list or map`, e.index.at);
}

function equal(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => equal(x, b[i]));
  if (isMap(a) && isMap(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && equal(a[k], b[k]));
  }
  return a === b;
}

function bool(v: unknown, op: string, side: string, at: number): boolean {
  if (typeof v !== 'boolean') throw new ExpressionError(`'${op}' needs true or false on its ${side}; got ${show(v)}`, at);
  return v;
}

function compare(op: string, l: unknown, r: unknown, at: number): boolean {
  const comparable = (typeof l === 'number' && typeof r === 'number') || (typeof l === 'string' && typeof r === 'string');
  if (!comparable) throw new ExpressionError(`cannot compare ${show(l)} with ${show(r)} using '${op}' (both must be numbers or both strings)`, at);
  const [a, b] = [l as number | string, r as number | string];
  if (op === '<') return a < b;
  if (op === '<=') return a <= b;
  if (op === '>') return a > b;
  return a >= b;
}

function member(op: string, l: unknown, r: unknown, at: number): boolean {
  if (Array.isArray(r)) return r.some((x) => equal(l, x));
  if (isMap(r)) {
    if (typeof l !== 'string') throw new ExpressionError(`'in' on a map looks up a string key; got ${show(l)}`, at);
    return hasField(r, l);
  }
  throw new ExpressionError(`'${op}' needs a list or map on its right; got ${show(r)}`, at);
}

function arithmetic(op: string, l: unknown, r: unknown, at: number): Value {
  if (op === '+' && typeof l === 'string' && typeof r === 'string') return l + r;
  if (op === '+' && Array.isArray(l) && Array.isArray(r)) return [...l, ...r] as Value[];
  if (typeof l !== 'number' || typeof r !== 'number') {
    const accepts = op === '+' ? 'two numbers, two strings or two lists' : 'two numbers';
    throw new ExpressionError(`'${op}' needs ${accepts}; got ${show(l)} and ${show(r)}`, at);
  }
  if ((op === '/' || op === '%') && r === 0) throw new ExpressionError('division by zero', at);
  const result = op === '+' ? l + r : op === '-' ? l - r : op === '*' ? l * r : op === '/' ? l / r : l % r;
  if (!Number.isFinite(result)) throw new ExpressionError(`'${op}' gives a number too large to represent`, at);
  return result;
}

function binary(e: Extract<Expr, { kind: 'binary' }>, vars: object): unknown {
  const { op, opAt } = e;
  if (op === '&&' || op === '||') {
    const left = bool(ev(e.left, vars), op, 'left', opAt);
    if (left === (op === '||')) return left;
    return bool(ev(e.right, vars), op, 'right', opAt);
  }
  const l = ev(e.left, vars);
  const r = ev(e.right, vars);
  if (op === '==') return equal(l, r);
  if (op === '!=') return !equal(l, r);
  if (op === 'in') return member(op, l, r, opAt);
  if (op === '<' || op === '<=' || op === '>' || op === '>=') return compare(op, l, r, opAt);
  return arithmetic(op, l, r, opAt);
}

function ev(e: Expr, vars: object): unknown {
  switch (e.kind) {
    case 'literal':
      return e.value;
    case 'ident':
      if (!hasField(vars, e.name)) throw new ExpressionError(`unknown name '${e.name}' (known: ${Object.keys(vars).join(', ') || 'none'})`, e.at);
      return supported((vars as Fields)[e.name], e.at);
    case 'list':
      return e.items.map((x) => ev(x, vars));
    case 'member':
      return field(ev(e.object, vars), e.name, e.object, e.nameAt);
    case 'index':
      return index(e, vars);
    case 'unary': {
      const v = ev(e.operand, vars);
      if (e.op === '!') return !bool(v, '!', 'right', e.at);
      if (typeof v !== 'number') throw new ExpressionError(`'-' needs a number; got ${show(v)}`, e.at);
      return -v;
    }
    case 'binary':
      return binary(e, vars);
  }
}

/** The value of an expression; throws ExpressionError (with the column) when it cannot be computed. */
export function evaluate(ast: Expr, vars: object): Value {
  try {
    return ev(ast, vars) as Value;
  } catch (err) {
    if (err instanceof ExpressionError) throw err;
    throw new ExpressionError(`evaluation failed: ${(err as Error).message}`, ast.at);
  }
}

/** Evaluates a condition, which must come out true or false. */
export function evaluateCondition(ast: Expr, vars: object): boolean {
  const v = evaluate(ast, vars);
  if (typeof v !== 'boolean') throw new ExpressionError(`a condition must be true or false; it gives ${show(v)}`, ast.at);
  return v;
}

/** evaluateCondition without throwing. */
export function tryEvaluate(ast: Expr, vars: object): { ok: true; value: boolean } | { ok: false; error: ExpressionError } {
  try {
    return { ok: true, value: evaluateCondition(ast, vars) };
  } catch (err) {
    return { ok: false, error: err as ExpressionError };
  }
}
