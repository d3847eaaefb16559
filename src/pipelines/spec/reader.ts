// Reads a YAML document node by node and collects every problem with the line and column of the
// node at fault, instead of stopping at the first one.
import { isAlias, isMap, isScalar, isSeq, type Document, type LineCounter, type Node } from 'yaml';
import type { PipelineError, Position } from './types.js';

/** One key of a mapping, with the node of its value (null when the value is empty). */
export interface Field {
  key: string;
  keyNode: Node;
  node: Node | null;
  path: string;
}

/** One element of a list. */
export interface Item {
  node: Node | null;
  path: string;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `parent.key`, or `parent["key"]` when the key is not a plain identifier. */
export function childPath(parent: string, key: string): string {
  if (!IDENTIFIER.test(key)) return `${parent}[${JSON.stringify(key)}]`;
  return parent ? `${parent}.${key}` : key;
}

/** How a node reads in a message: a scalar as JSON, a collection by its kind. */
export function describe(node: Node | null): string {
  if (node === null) return 'nothing';
  if (isMap(node)) return 'a mapping';
  if (isSeq(node)) return 'a list';
  if (isScalar(node)) return node.value === null ? 'nothing' : JSON.stringify(node.value);
  return 'an alias';
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row.push(Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1)));
    prev = row;
  }
  return prev[b.length];
}

/** The known key closest to a misspelt one, when it is close enough to be a likely typo. */
export function closest(word: string, known: readonly string[]): string | null {
  let best: string | null = null;
  let bestDistance = 3;
  for (const k of known) {
    const d = editDistance(word.toLowerCase(), k);
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return best;
}

export class Reader {
  readonly errors: PipelineError[] = [];

  constructor(
    private readonly text: string,
    private readonly lines: LineCounter,
    private readonly doc: Document,
  ) {}

  /** Where a node starts (1-based); the start of the file when it has no range. */
  at(node: Node | null | undefined): Position {
    const offset = node?.range?.[0];
    return offset === undefined ? { line: 1, column: 1 } : this.offsetPos(offset);
  }

  offsetPos(offset: number): Position {
    const { line, col } = this.lines.linePos(offset);
    return { line, column: col };
  }

  /**
   * Where the character at `offset` of a scalar's value sits in the file. Exact when the value's
   * lines appear verbatim in the source (plain, quoted without escapes, literal blocks); the
   * scalar's start otherwise.
   */
  atOffset(node: Node | null, offset: number): Position {
    if (!node || !isScalar(node) || typeof node.value !== 'string' || !node.range) return this.at(node);
    const raw = this.text.slice(node.range[0], node.range[1]);
    const value = node.value;
    const lineIndex = value.slice(0, offset).split('\n').length - 1;
    const valueLines = value.split('\n');
    let cursor = 0;
    let found = -1;
    for (let i = 0; i <= lineIndex; i++) {
      found = raw.indexOf(valueLines[i], cursor);
      if (found < 0) return this.at(node);
      cursor = found + valueLines[i].length;
    }
    const lineStart = value.lastIndexOf('\n', offset - 1) + 1;
    return this.offsetPos(node.range[0] + found + (offset - lineStart));
  }

  fail(where: Node | Position | null | undefined, path: string, message: string): void {
    const pos = where && 'line' in where ? where : this.at(where as Node | null | undefined);
    this.errors.push({ path, line: pos.line, column: pos.column, message });
  }

  /** The node itself, an alias's target, or null for a missing or empty value. */
  deref(node: unknown): Node | null {
    const n = isAlias(node) ? (node.resolve(this.doc) ?? null) : (node as Node | null | undefined) ?? null;
    if (n === null || (isScalar(n) && n.value === null)) return null;
    return n;
  }

  isPresent(node: Node | null): boolean {
    return this.deref(node) !== null;
  }

  /** The keys of a mapping in file order; null (with an error when present) if it is not one. */
  fields(node: Node | null, path: string, what = 'a mapping'): Field[] | null {
    const n = this.deref(node);
    if (n === null) return null;
    if (!isMap(n)) {
      this.fail(n, path, `must be ${what}; got ${describe(n)}.`);
      return null;
    }
    const out: Field[] = [];
    const seen = new Set<string>();
    for (const pair of n.items) {
      const keyNode = this.deref(pair.key);
      if (!keyNode || !isScalar(keyNode)) {
        this.fail(keyNode ?? n, path, 'keys must be plain names, not lists or mappings.');
        continue;
      }
      const key = String(keyNode.value);
      if (seen.has(key)) this.fail(keyNode, childPath(path, key), `'${key}' is given twice; keys must be unique.`);
      seen.add(key);
      out.push({ key, keyNode, node: (pair.value as Node | null) ?? null, path: childPath(path, key) });
    }
    return out;
  }

  /** Reports every key not in `known`, naming the known ones. */
  /** The fields of a mapping by key, with unknown keys reported. */
  fieldMap(node: Node | null, path: string, known: readonly string[], what?: string): Map<string, Field> {
    const fields = this.fields(node, path, what) ?? [];
    this.onlyKnown(fields, known, path);
    return new Map(fields.map((f) => [f.key, f]));
  }

  onlyKnown(fields: readonly Field[], known: readonly string[], path: string): void {
    for (const f of fields) {
      if (known.includes(f.key)) continue;
      const guess = closest(f.key, known);
      const hint = guess ? ` Did you mean '${guess}'?` : '';
      this.fail(f.keyNode, path, `unknown key '${f.key}' (known: ${known.join(', ')}).${hint}`);
    }
  }

  /** The elements of a list; null (with an error when present) if it is not one. */
  items(node: Node | null, path: string, what = 'a list'): Item[] | null {
    const n = this.deref(node);
    if (n === null) return null;
    if (!isSeq(n)) {
      this.fail(n, path, `must be ${what}; got ${describe(n)}.`);
      return null;
    }
    return n.items.map((item, i) => ({ node: (item as Node | null) ?? null, path: `${path}[${i}]` }));
  }

  /** The plain value of a scalar; undefined for a collection. */
  scalar(node: Node | null): unknown {
    const n = this.deref(node);
    if (n === null) return null;
    return isScalar(n) ? n.value : undefined;
  }

  string(node: Node | null, path: string, pattern?: RegExp, what = 'a string'): string | null {
    const v = this.scalar(node);
    if (typeof v === 'string' && v !== '' && (!pattern || pattern.test(v))) return v;
    const problem = v === '' ? `must not be empty; give ${what}` : `must be ${what}; got ${describe(this.deref(node))}`;
    this.fail(this.deref(node) ?? node, path, `${problem}.`);
    return null;
  }

  number(node: Node | null, path: string, min: number, max: number, integer: boolean): number | null {
    const v = this.scalar(node);
    if (typeof v === 'number' && Number.isFinite(v) && (!integer || Number.isInteger(v)) && v >= min && v <= max) return v;
    const kind = integer ? 'an integer' : 'a number';
    const range = max === Number.MAX_SAFE_INTEGER ? `of at least ${min}` : `from ${min} to ${max}`;
    this.fail(this.deref(node) ?? node, path, `must be ${kind} ${range}; got ${describe(this.deref(node))}.`);
    return null;
  }

  boolean(node: Node | null, path: string): boolean | null {
    const v = this.scalar(node);
    if (typeof v === 'boolean') return v;
    this.fail(this.deref(node) ?? node, path, `must be true or false; got ${describe(this.deref(node))}.`);
    return null;
  }

  /**
   * A list of unique strings matching `pattern` (`noun` names one, `hint` says what it may hold);
   * with `single`, a lone string counts as a list of one.
   */
  names(node: Node | null, path: string, pattern: RegExp, noun: string, hint: string, single = false): { value: string; node: Node | null; path: string }[] {
    const n = this.deref(node);
    if (n === null) return [];
    if (single && isScalar(n)) {
      const value = this.string(n, path, pattern, `a ${noun} (${hint})`);
      return value === null ? [] : [{ value, node: n, path }];
    }
    const items = this.items(n, path, `a list of ${noun}s`);
    const out: { value: string; node: Node | null; path: string }[] = [];
    for (const item of items ?? []) {
      const value = this.string(item.node, item.path, pattern, `a ${noun} (${hint})`);
      if (value === null) continue;
      if (out.some((o) => o.value === value)) this.fail(item.node, item.path, `'${value}' is listed twice.`);
      else out.push({ value, node: item.node, path: item.path });
    }
    return out;
  }
}
