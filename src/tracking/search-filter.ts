// Parses MLflow search filters (`metrics.acc > 0.9 AND tags.team = 'nlp'`) and
// order_by clauses (`metrics.acc DESC`) into a small AST. Nothing here knows SQL;
// the store compiles the AST. Every rejection is INVALID_PARAMETER_VALUE naming
// the 0-based position and what was expected there.
import { AppError } from '../errors/index.js';
import { tokenize, type Fail, type Token } from './search-filter.lexer.js';

export const COMPARATORS = [
  '=', '!=', '>', '>=', '<', '<=', 'LIKE', 'ILIKE', 'IN', 'NOT IN', 'IS NULL', 'IS NOT NULL',
] as const;
export type Comparator = (typeof COMPARATORS)[number];
export type ClauseKind = 'metric' | 'param' | 'tag' | 'attribute' | 'dataset';

/** One `<prefix>.<key> <op> <value>` clause; a filter is the conjunction of its clauses. */
export interface Clause {
  kind: ClauseKind;
  key: string;
  op: Comparator;
  /** A number for numeric ops, a list for IN / NOT IN, null for IS [NOT] NULL, else a string. */
  value: number | string | string[] | null;
}

export interface OrderTerm {
  kind: ClauseKind;
  key: string;
  ascending: boolean;
}

export type SearchEntity = 'run' | 'experiment' | 'registered_model' | 'model_version' | 'logged_model';

/** Entities whose filters take only tags and attributes. */
const TAGS_ONLY: ReadonlySet<SearchEntity> = new Set(['experiment', 'registered_model', 'model_version', 'logged_model']);

const SYMBOL_OPS: readonly Comparator[] = ['=', '!=', '>', '>=', '<', '<='];
const NUMERIC_OPS = SYMBOL_OPS;
const STRING_OPS: readonly Comparator[] = ['=', '!=', 'LIKE', 'ILIKE'];
const LIST_OPS: readonly Comparator[] = [...STRING_OPS, 'IN', 'NOT IN'];
const NULLABLE_OPS: readonly Comparator[] = [...STRING_OPS, 'IS NULL', 'IS NOT NULL'];

const PREFIXES = new Map<string, ClauseKind>([
  ['metrics', 'metric'], ['metric', 'metric'],
  ['params', 'param'], ['param', 'param'], ['parameters', 'param'],
  ['tags', 'tag'], ['tag', 'tag'],
  ['attributes', 'attribute'], ['attribute', 'attribute'], ['attr', 'attribute'], ['run', 'attribute'],
  ['datasets', 'dataset'], ['dataset', 'dataset'],
]);

/** What a clause on one field may compare with; `key` is the normalised field name. */
interface FieldRule {
  key: string;
  ops: readonly Comparator[];
  isNumeric: boolean;
}

const textField = (key: string, ops = LIST_OPS): FieldRule => ({ key, ops, isNumeric: false });
const numberField = (key: string): FieldRule => ({ key, ops: NUMERIC_OPS, isNumeric: true });

// Maps rather than object literals so keys such as `constructor` never hit the prototype.
const FILTER_ATTRIBUTES: Record<SearchEntity, ReadonlyMap<string, FieldRule>> = {
  run: new Map([
    ['run_id', textField('run_id')],
    ['run_name', textField('run_name')],
    ['run name', textField('run_name')],
    ['status', textField('status')],
    ['user_id', textField('user_id')],
    ['artifact_uri', textField('artifact_uri')],
    ['start_time', numberField('start_time')],
    ['end_time', numberField('end_time')],
    ['created', numberField('start_time')],
  ]),
  experiment: new Map([
    ['name', textField('name', STRING_OPS)],
    ['creation_time', numberField('creation_time')],
    ['last_update_time', numberField('last_update_time')],
  ]),
  registered_model: new Map([['name', textField('name', STRING_OPS)]]),
  logged_model: new Map([
    ['name', textField('name', STRING_OPS)],
    ['model_id', textField('model_id')],
    ['model_type', textField('model_type', STRING_OPS)],
    ['status', textField('status')],
    ['source_run_id', textField('source_run_id')],
    ['creation_timestamp', numberField('creation_time')],
    ['last_updated_timestamp', numberField('last_update_time')],
  ]),
  model_version: new Map([
    ['name', textField('name', STRING_OPS)],
    ['version_number', numberField('version_number')],
    ['run_id', textField('run_id', ['=', '!=', 'IN', 'NOT IN'])],
    ['source_path', textField('source_path', STRING_OPS)],
  ]),
};

const RUN_ORDER_KEYS = [
  'start_time', 'end_time', 'run_name', 'status', 'run_id', 'user_id', 'artifact_uri', 'experiment_id',
];
const ORDER_ATTRIBUTES: Record<SearchEntity, ReadonlyMap<string, string>> = {
  run: new Map([
    ...RUN_ORDER_KEYS.map((key): [string, string] => [key, key]),
    ['run name', 'run_name'],
    ['created', 'start_time'],
  ]),
  experiment: new Map(
    ['name', 'experiment_id', 'creation_time', 'last_update_time'].map((key): [string, string] => [key, key]),
  ),
  logged_model: new Map([
    ['name', 'name'], ['creation_timestamp', 'creation_time'], ['last_updated_timestamp', 'last_update_time'], ['model_id', 'model_id'],
  ]),
  registered_model: new Map([
    ['name', 'name'], ['creation_timestamp', 'creation_timestamp'], ['timestamp', 'creation_timestamp'],
    ['last_updated_timestamp', 'last_updated_timestamp'],
  ]),
  model_version: new Map([
    ['name', 'name'], ['version_number', 'version_number'], ['creation_timestamp', 'creation_timestamp'],
    ['timestamp', 'creation_timestamp'], ['last_updated_timestamp', 'last_updated_timestamp'],
  ]),
};

const DATASET_KEYS = new Set(['name', 'digest', 'context']);
const MAX_QUOTED_INPUT = 200;

interface Cursor {
  tokens: Token[];
  index: number;
  fail: Fail;
}

interface Identifier {
  kind: ClauseKind;
  key: string;
  /** Where the identifier starts, and where its key (after the prefix) starts. */
  start: number;
  keyStart: number;
}

/** Parses a filter into clauses; empty, blank or missing text means no filter. */
export function parseFilter(text: string | undefined, entity: SearchEntity): Clause[] {
  if (text == null) return [];
  if (typeof text !== 'string') invalid('Invalid filter: expected a string');
  if (text.trim() === '') return [];
  const cursor = openCursor('filter', text);
  const clauses: Clause[] = [];
  do {
    clauses.push(parseClause(cursor, entity));
  } while (acceptAnd(cursor));
  return clauses;
}

/** Parses order_by clauses in order; a (kind, key) may appear only once. */
export function parseOrderBy(clauses: string[] | undefined, entity: SearchEntity): OrderTerm[] {
  if (clauses == null) return [];
  if (!Array.isArray(clauses)) invalid('Invalid order_by: expected a list of strings');
  const seen = new Set<string>();
  return clauses.map((clause) => parseOrderTerm(clause, entity, seen));
}

function parseOrderTerm(clause: unknown, entity: SearchEntity, seen: Set<string>): OrderTerm {
  if (typeof clause !== 'string') invalid('Invalid order_by clause: expected a string');
  const cursor = openCursor('order_by clause', clause);
  const ident = parseIdentifier(cursor, entity);
  const key = orderKey(cursor, ident, entity);
  const ascending = parseDirection(cursor);
  const id = `${ident.kind}.${key}`;
  if (seen.has(id)) {
    cursor.fail(ident.start, `expected each key at most once, but ${ident.kind} '${key}' is already ordered`);
  }
  seen.add(id);
  return { kind: ident.kind, key, ascending };
}

function parseClause(cursor: Cursor, entity: SearchEntity): Clause {
  const ident = parseIdentifier(cursor, entity);
  const rule = filterRule(cursor, ident, entity);
  const opStart = peek(cursor).start;
  const op = parseComparator(cursor);
  if (!rule.ops.includes(op)) {
    const allowed = rule.ops.join(', ');
    cursor.fail(opStart, `expected a comparator valid for ${ident.kind} '${rule.key}' (${allowed}), got ${op}`);
  }
  return { kind: ident.kind, key: rule.key, op, value: parseValue(cursor, op, rule.isNumeric) };
}

function acceptAnd(cursor: Cursor): boolean {
  const token = peek(cursor);
  if (token.type === 'eof') return false;
  if (isKeyword(token, 'AND')) {
    advance(cursor);
    return true;
  }
  if (isKeyword(token, 'OR')) return cursor.fail(token.start, 'expected AND (OR is not supported)');
  if (token.type === 'lparen' || token.type === 'rparen') {
    return cursor.fail(token.start, 'expected AND (parentheses are not supported)');
  }
  return cursor.fail(token.start, 'expected AND or the end of the filter');
}

// `metrics.acc`, `tags.mlflow.source.type` (the key is everything after the first
// dot), `` tags.`my key` ``, `metrics."f1 score"`, or a bare attribute such as
// `status`, `` `run name` `` or `"run name"`.
function parseIdentifier(cursor: Cursor, entity: SearchEntity): Identifier {
  const token = peek(cursor);
  if (isQuotedName(token)) {
    advance(cursor);
    return { kind: 'attribute', key: nonEmptyKey(cursor, token), start: token.start, keyStart: token.start };
  }
  if (token.type !== 'word') return cursor.fail(token.start, identifierExpectation(token));
  advance(cursor);
  const dot = token.text.indexOf('.');
  if (dot < 0) return { kind: 'attribute', key: token.text, start: token.start, keyStart: token.start };
  const prefix = token.text.slice(0, dot);
  const kind = prefixKind(cursor, token, prefix, entity);
  const key = token.text.slice(dot + 1);
  if (key !== '') return { kind, key, start: token.start, keyStart: token.start + dot + 1 };
  const quotedKey = peek(cursor);
  if (!isQuotedName(quotedKey) || quotedKey.start !== token.end) {
    return cursor.fail(token.end, `expected a key after '${prefix}.'`);
  }
  advance(cursor);
  return { kind, key: nonEmptyKey(cursor, quotedKey), start: token.start, keyStart: quotedKey.start };
}

function prefixKind(cursor: Cursor, token: Token, prefix: string, entity: SearchEntity): ClauseKind {
  const kind = PREFIXES.get(prefix);
  if (kind === undefined) {
    const known = 'metrics., params., tags., attributes. or datasets.';
    return cursor.fail(token.start, `expected a prefix such as ${known}, got '${prefix}.'`);
  }
  if (TAGS_ONLY.has(entity) && kind !== 'tag' && kind !== 'attribute') {
    return cursor.fail(token.start, `expected tags. or an attribute in ${entity === 'experiment' ? 'an experiment' : `a ${entity.replace('_', ' ')}`} search, got '${prefix}.'`);
  }
  return kind;
}

function identifierExpectation(token: Token): string {
  if (token.type === 'lparen' || token.type === 'rparen') {
    return 'expected a clause (parentheses are not supported)';
  }
  return 'expected a key such as metrics.<name>, params.<name>, tags.<name> or an attribute';
}

function isQuotedName(token: Token): boolean {
  return token.type === 'backtick' || (token.type === 'string' && token.quote === '"');
}

function nonEmptyKey(cursor: Cursor, token: Token): string {
  if (token.value === '') return cursor.fail(token.start, 'expected a non-empty key');
  return token.value;
}

function filterRule(cursor: Cursor, ident: Identifier, entity: SearchEntity): FieldRule {
  switch (ident.kind) {
    case 'metric':
      return numberField(ident.key);
    case 'param':
    case 'tag':
      return textField(ident.key, NULLABLE_OPS);
    case 'dataset':
      if (DATASET_KEYS.has(ident.key)) return textField(ident.key);
      return cursor.fail(ident.keyStart, `expected a dataset field (name, digest, context), got '${ident.key}'`);
    case 'attribute':
      return attributeRule(cursor, ident, entity);
  }
}

function attributeRule(cursor: Cursor, ident: Identifier, entity: SearchEntity): FieldRule {
  const attributes = FILTER_ATTRIBUTES[entity];
  const rule = attributes.get(ident.key);
  if (rule !== undefined) return rule;
  if (entity === 'run' && ident.key === 'lifecycle_stage') {
    // MLflow selects active/deleted runs with run_view_type, never through the filter.
    return cursor.fail(ident.keyStart, 'expected a searchable attribute (use run_view_type for lifecycle_stage)');
  }
  const names = [...new Set([...attributes.values()].map((field) => field.key))].join(', ');
  return cursor.fail(ident.keyStart, `expected a searchable attribute (${names}), got '${ident.key}'`);
}

function parseComparator(cursor: Cursor): Comparator {
  const token = peek(cursor);
  const symbol = SYMBOL_OPS.find((op) => op === token.text);
  if (token.type === 'operator' && symbol !== undefined) {
    advance(cursor);
    return symbol;
  }
  const word = keywordOf(token);
  if (word === 'LIKE' || word === 'ILIKE' || word === 'IN') {
    advance(cursor);
    return word;
  }
  if (word === 'NOT') {
    advance(cursor);
    expectKeyword(cursor, 'IN', 'expected IN after NOT');
    return 'NOT IN';
  }
  if (word === 'IS') {
    advance(cursor);
    const negated = isKeyword(peek(cursor), 'NOT');
    if (negated) advance(cursor);
    expectKeyword(cursor, 'NULL', negated ? 'expected NULL after IS NOT' : 'expected NULL or NOT NULL after IS');
    return negated ? 'IS NOT NULL' : 'IS NULL';
  }
  return cursor.fail(token.start, 'expected a comparator');
}

function parseValue(cursor: Cursor, op: Comparator, isNumeric: boolean): Clause['value'] {
  if (op === 'IS NULL' || op === 'IS NOT NULL') return null;
  if (op === 'IN' || op === 'NOT IN') return parseList(cursor);
  return isNumeric ? parseNumber(cursor) : parseString(cursor);
}

function parseNumber(cursor: Cursor): number {
  const token = peek(cursor);
  if (token.type === 'string') return cursor.fail(token.start, 'expected a number, got a quoted string');
  if (token.type !== 'number') return cursor.fail(token.start, 'expected a number');
  const value = Number(token.text);
  if (!Number.isFinite(value)) return cursor.fail(token.start, 'expected a finite number');
  advance(cursor);
  return value;
}

function parseString(cursor: Cursor): string {
  const token = peek(cursor);
  if (token.type === 'number') return cursor.fail(token.start, 'expected a quoted string, got a number');
  if (token.type !== 'string') return cursor.fail(token.start, 'expected a quoted string');
  advance(cursor);
  return token.value;
}

function parseList(cursor: Cursor): string[] {
  const open = peek(cursor);
  if (open.type !== 'lparen') return cursor.fail(open.start, "expected '(' to open a list of quoted strings");
  advance(cursor);
  const values = [parseString(cursor)];
  while (peek(cursor).type === 'comma') {
    advance(cursor);
    values.push(parseString(cursor));
  }
  const close = peek(cursor);
  if (close.type !== 'rparen') return cursor.fail(close.start, "expected ',' or ')'");
  advance(cursor);
  return values;
}

function orderKey(cursor: Cursor, ident: Identifier, entity: SearchEntity): string {
  if (ident.kind === 'attribute') {
    const attributes = ORDER_ATTRIBUTES[entity];
    const key = attributes.get(ident.key);
    if (key !== undefined) return key;
    const names = [...new Set(attributes.values())].join(', ');
    return cursor.fail(ident.keyStart, `expected an attribute to order by (${names}), got '${ident.key}'`);
  }
  if (TAGS_ONLY.has(entity)) {
    return cursor.fail(ident.start, `expected an attribute (${entity === 'experiment' ? 'experiments' : `${entity.replace('_', ' ')}s`} cannot be ordered by tags)`);
  }
  if (ident.kind === 'dataset') {
    return cursor.fail(ident.start, 'expected metrics., params., tags. or an attribute (not datasets.)');
  }
  return ident.key;
}

function parseDirection(cursor: Cursor): boolean {
  const token = peek(cursor);
  const isDescending = isKeyword(token, 'DESC');
  if (isDescending || isKeyword(token, 'ASC')) advance(cursor);
  const end = peek(cursor);
  if (end.type !== 'eof') return cursor.fail(end.start, 'expected ASC, DESC or the end of the clause');
  return !isDescending;
}

function openCursor(label: string, source: string): Cursor {
  const shown = source.length > MAX_QUOTED_INPUT ? `${source.slice(0, MAX_QUOTED_INPUT)}...` : source;
  const fail: Fail = (position, detail) =>
    invalid(`Invalid ${label} '${shown}' at position ${position}: ${detail}`);
  return { tokens: tokenize(source, fail), index: 0, fail };
}

function invalid(message: string): never {
  throw new AppError('INVALID_PARAMETER_VALUE', message);
}

function peek(cursor: Cursor): Token {
  return cursor.tokens[cursor.index];
}

/** Moves past the current token; the final `eof` token is never passed. */
function advance(cursor: Cursor): void {
  if (cursor.index < cursor.tokens.length - 1) cursor.index += 1;
}

function isKeyword(token: Token, keyword: string): boolean {
  return keywordOf(token) === keyword;
}

// Keywords are ASCII, compared case-insensitively; checking the letters first keeps
// look-alikes such as the dotless 'ı' (upper-cased to 'I') from matching.
function keywordOf(token: Token): string {
  if (token.type !== 'word' || token.text.length > 5 || !/^[A-Za-z]+$/.test(token.text)) return '';
  return token.text.toUpperCase();
}

function expectKeyword(cursor: Cursor, keyword: string, detail: string): void {
  const token = peek(cursor);
  if (!isKeyword(token, keyword)) cursor.fail(token.start, detail);
  advance(cursor);
}
