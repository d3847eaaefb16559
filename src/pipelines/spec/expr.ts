// Conditions for `when`: a small subset of CEL, parsed once into a tree and evaluated by walking
// it. Nothing is compiled to JavaScript, and every failure (syntax, missing field, wrong type) is an
// ExpressionError that names the column, never a raw TypeError.
import { ExpressionError, type BinaryOp, type Expr, type Scalar } from './expr-ast.js';

export const MAX_EXPRESSION_LENGTH = 4096;
const MAX_DEPTH = 64;

interface Token {
  type: 'number' | 'string' | 'name' | 'op' | 'end';
  text: string;
  value?: number | string;
  at: number;
}

const OPERATORS = ['==', '!=', '<=', '>=', '&&', '||', '<', '>', '!', '+', '-', '*', '/', '%', '(', ')', '[', ']', ',', '.'];
const NUMBER = /^(?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?/;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;
const ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', '"': '"', "'": "'", '0': '\0' };
const MISTAKES: Record<string, string> = { '=': '==', '&': '&&', '|': '||' };

function readString(src: string, start: number): Token {
  const quote = src[start];
  let out = '';
  for (let i = start + 1; i < src.length; i++) {
    const c = src[i];
    if (c === quote) return { type: 'string', text: src.slice(start, i + 1), value: out, at: start };
    if (c === '\n') break;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const e = src[++i];
    if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(src.slice(i + 1, i + 5))) {
      out += String.fromCharCode(parseInt(src.slice(i + 1, i + 5), 16));
      i += 4;
    } else if (e !== undefined && Object.hasOwn(ESCAPES, e)) out += ESCAPES[e];
    else throw new ExpressionError(`unknown escape '\\${e ?? ''}' in string (known: \\n \\t \\r \\\\ \\" \\' \\0 \\uXXXX)`, i - 1);
  }
  throw new ExpressionError('string is not closed', start);
}

export function tokenize(src: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const rest = src.slice(i);
    const space = /^\s+/.exec(rest);
    if (space) {
      i += space[0].length;
      continue;
    }
    const num = NUMBER.exec(rest);
    const name = NAME.exec(rest);
    const op = OPERATORS.find((o) => rest.startsWith(o));
    let token: Token;
    if (num) token = { type: 'number', text: num[0], value: Number(num[0]), at: i };
    else if (name) token = { type: 'name', text: name[0], at: i };
    else if (rest[0] === '"' || rest[0] === "'") token = readString(src, i);
    else if (op) token = { type: 'op', text: op, at: i };
    else {
      const hint = Object.hasOwn(MISTAKES, rest[0]) ? `; did you mean '${MISTAKES[rest[0]]}'?` : '';
      throw new ExpressionError(`unexpected character '${rest[0]}'${hint}`, i);
    }
    tokens.push(token);
    i += token.text.length;
  }
  tokens.push({ type: 'end', text: 'end of expression', at: src.length });
  return tokens;
}

const LEVELS: readonly (readonly BinaryOp[])[] = [['||'], ['&&'], ['==', '!=', '<', '<=', '>', '>=', 'in'], ['+', '-'], ['*', '/', '%']];
const KEYWORDS: Record<string, Scalar> = { true: true, false: false, null: null };

class Parser {
  private i = 0;
  private depth = 0;

  constructor(private readonly tokens: Token[]) {}

  parse(): Expr {
    const e = this.binary(0);
    const t = this.peek();
    if (t.type !== 'end') throw new ExpressionError(`unexpected '${t.text}' after a complete expression`, t.at);
    return e;
  }

  private peek(): Token {
    return this.tokens[this.i];
  }

  private next(): Token {
    return this.tokens[this.i++];
  }

  private isOp(text: string): boolean {
    const t = this.peek();
    return (t.type === 'op' || (t.type === 'name' && text === 'in')) && t.text === text;
  }

  private expect(text: string): Token {
    const t = this.next();
    if (t.text !== text || t.type === 'string') throw new ExpressionError(`expected '${text}', found '${t.text}'`, t.at);
    return t;
  }

  private nested<T>(at: number, fn: () => T): T {
    if (++this.depth > MAX_DEPTH) throw new ExpressionError(`expression nests more than ${MAX_DEPTH} levels deep`, at);
    try {
      return fn();
    } finally {
      this.depth--;
    }
  }

  private binary(level: number): Expr {
    if (level === LEVELS.length) return this.unary();
    let left = this.binary(level + 1);
    for (;;) {
      const op = LEVELS[level].find((o) => this.isOp(o));
      if (!op) return left;
      const opAt = this.next().at;
      const right = this.binary(level + 1);
      left = { kind: 'binary', op, left, right, at: left.at, opAt };
    }
  }

  private unary(): Expr {
    const t = this.peek();
    if (t.type === 'op' && (t.text === '!' || t.text === '-')) {
      this.next();
      const operand = this.nested(t.at, () => this.unary());
      return { kind: 'unary', op: t.text, operand, at: t.at };
    }
    return this.postfix(this.primary());
  }

  private postfix(e: Expr): Expr {
    for (;;) {
      if (this.isOp('.')) {
        this.next();
        const t = this.next();
        if (t.type !== 'name') throw new ExpressionError(`expected a field name after '.', found '${t.text}'`, t.at);
        e = { kind: 'member', object: e, name: t.text, at: e.at, nameAt: t.at };
      } else if (this.isOp('[')) {
        const open = this.next();
        const index = this.nested(open.at, () => this.binary(0));
        this.expect(']');
        e = { kind: 'index', object: e, index, at: e.at };
      } else return e;
    }
  }

  private primary(): Expr {
    const t = this.next();
    if (t.type === 'number' || t.type === 'string') return { kind: 'literal', value: t.value as number | string, at: t.at };
    if (t.type === 'name' && Object.hasOwn(KEYWORDS, t.text)) return { kind: 'literal', value: KEYWORDS[t.text], at: t.at };
    if (t.type === 'name' && t.text !== 'in') return { kind: 'ident', name: t.text, at: t.at };
    if (t.type === 'op' && t.text === '(') {
      const inner = this.nested(t.at, () => this.binary(0));
      this.expect(')');
      return inner;
    }
    if (t.type === 'op' && t.text === '[') return this.nested(t.at, () => this.list(t.at));
    const found = t.type === 'end' ? 'the end of the expression' : `'${t.text}'`;
    throw new ExpressionError(`expected a value (number, string, true, false, null, name, list or '('), found ${found}`, t.at);
  }

  private list(at: number): Expr {
    const items: Expr[] = [];
    while (!this.isOp(']')) {
      items.push(this.binary(0));
      if (!this.isOp(',')) break;
      this.next();
    }
    this.expect(']');
    return { kind: 'list', items, at };
  }
}

/** Parses a condition; throws ExpressionError (with the column) on a syntax error. */
export function parseExpression(source: string): Expr {
  if (source.length > MAX_EXPRESSION_LENGTH) throw new ExpressionError(`expression is longer than ${MAX_EXPRESSION_LENGTH} characters`, MAX_EXPRESSION_LENGTH);
  if (source.trim() === '') throw new ExpressionError('expression is empty', 0);
  return new Parser(tokenize(source)).parse();
}

/** A chain of names read from a variable, such as `steps.train.metrics.f1`. */
export interface ReferencedPath {
  root: string;
  /** Field names after the root, up to the first index that is not a string literal. */
  parts: string[];
  path: string;
  /** 1-based column of the root name. */
  column: number;
}

function chain(e: Expr, out: ReferencedPath[]): void {
  const links: Expr[] = [];
  let base = e;
  while (base.kind === 'member' || base.kind === 'index') {
    links.unshift(base);
    base = base.object;
  }
  if (base.kind === 'ident') {
    const parts: string[] = [];
    for (const link of links) {
      if (link.kind === 'member') parts.push(link.name);
      else if (link.kind === 'index' && link.index.kind === 'literal' && typeof link.index.value === 'string') parts.push(link.index.value);
      else break;
    }
    out.push({ root: base.name, parts, path: [base.name, ...parts].join('.'), column: base.at + 1 });
  } else collect(base, out);
  for (const link of links) if (link.kind === 'index') collect(link.index, out);
}

function collect(e: Expr, out: ReferencedPath[]): void {
  if (e.kind === 'ident' || e.kind === 'member' || e.kind === 'index') chain(e, out);
  else if (e.kind === 'unary') collect(e.operand, out);
  else if (e.kind === 'binary') [e.left, e.right].forEach((x) => collect(x, out));
  else if (e.kind === 'list') e.items.forEach((x) => collect(x, out));
}

/** Every variable path the expression reads, in source order (`params.mode`, `steps.eval.metrics.f1`). */
export function referencedPaths(ast: Expr): ReferencedPath[] {
  const out: ReferencedPath[] = [];
  collect(ast, out);
  return out.sort((a, b) => a.column - b.column);
}

export { ExpressionError, type BinaryOp, type Expr, type Scalar } from './expr-ast.js';
export { evaluate, evaluateCondition, tryEvaluate, typeName, type Value } from './expr-eval.js';
