import { invalidParam } from '../errors/index.js';

/**
 * Request fields declared once per route: the same declaration validates input (with MLflow's
 * messages) and describes the route in the OpenAPI document.
 */
export type FieldSpec =
  | { type: 'string' | 'int' | 'double' | 'bool' | 'any'; required?: boolean; doc?: string; enum?: readonly string[]; sensitive?: boolean }
  | { type: 'string[]'; required?: boolean; doc?: string }
  | { type: 'object[]'; required?: boolean; doc?: string; fields: Fields }
  | { type: 'object'; required?: boolean; doc?: string; fields: Fields };

export type Fields = Record<string, FieldSpec>;

const NON_FINITE: Record<string, number> = { NaN: NaN, Infinity: Infinity, '-Infinity': -Infinity };

function bad(path: string, raw: unknown, what: string): Error {
  const shown = JSON.stringify(raw)?.slice(0, 100);
  return invalidParam(`Invalid value ${shown} for parameter '${path}' supplied: ${what}.`);
}

function parseInt64(path: string, raw: unknown): number {
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^-?\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n)) throw bad(path, raw, 'expected an integer');
  return n;
}

/** Doubles follow proto3 JSON: numbers, numeric strings, and the strings NaN / ±Infinity. */
function parseDouble(path: string, raw: unknown): number {
  if (typeof raw === 'number') return raw;
  if (typeof raw === 'string') {
    if (raw in NON_FINITE) return NON_FINITE[raw]!;
    const n = raw.trim() === '' ? NaN : Number(raw);
    if (!Number.isNaN(n)) return n;
  }
  throw bad(path, raw, 'expected a number');
}

function parseBool(path: string, raw: unknown): boolean {
  if (typeof raw === 'boolean') return raw;
  if (raw === 'true' || raw === 'True') return true;
  if (raw === 'false' || raw === 'False') return false;
  throw bad(path, raw, 'expected true or false');
}

/**
 * PostgreSQL cannot store NUL in text, and SQLite would: rejected here so both backends answer alike
 * (a 400, not a driver error).
 */
function checkText(path: string, raw: string): string {
  if (raw.includes('\0')) throw bad(path, raw, 'NUL characters are not allowed');
  return raw;
}

function parseValue(path: string, spec: FieldSpec, raw: unknown): unknown {
  // A sensitive field's value (a password, a secret) is checked like any other but never quoted back.
  if ('sensitive' in spec && spec.sensitive) {
    try {
      return parsePlainValue(path, { ...spec, sensitive: false }, raw);
    } catch {
      throw bad(path, '[redacted]', `expected a ${spec.type} without NUL characters`);
    }
  }
  return parsePlainValue(path, spec, raw);
}

function parsePlainValue(path: string, spec: FieldSpec, raw: unknown): unknown {
  switch (spec.type) {
    case 'string':
      if (typeof raw !== 'string') throw bad(path, raw, 'expected a string');
      checkText(path, raw);
      if (spec.enum && !spec.enum.includes(raw)) throw bad(path, raw, `expected one of ${spec.enum.join(', ')}`);
      return raw;
    case 'int':
      return parseInt64(path, raw);
    case 'double':
      return parseDouble(path, raw);
    case 'bool':
      return parseBool(path, raw);
    case 'any':
      return raw;
    case 'string[]': {
      const list = Array.isArray(raw) ? raw : [raw];
      return list.map((v, i) => {
        if (typeof v !== 'string') throw bad(`${path}[${i}]`, v, 'expected a string');
        return checkText(`${path}[${i}]`, v);
      });
    }
    case 'object[]':
      if (!Array.isArray(raw)) throw bad(path, raw, 'expected a list');
      return raw.map((item, i) => parseObject(`${path}[${i}]`, spec.fields, item));
    case 'object':
      return parseObject(path, spec.fields, raw);
  }
}

export function parseObject(path: string, fields: Fields, raw: unknown): Record<string, unknown> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw bad(path || 'body', raw, 'expected a JSON object');
  const input = raw as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const name in fields) {
    const spec = fields[name]!;
    const value = input[name];
    const fieldPath = path ? `${path}.${name}` : name;
    if (value === undefined || value === null) {
      if (spec.required) throw invalidParam(`Missing value for required parameter '${fieldPath}'. See the API docs for more information about request parameters.`);
      continue;
    }
    out[name] = parseValue(fieldPath, spec, value);
  }
  return out;
}

/** Query strings carry every value as text; repeated keys arrive as arrays. */
export function parseQuery(fields: Fields, query: Record<string, unknown>): Record<string, unknown> {
  const normalised: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(query)) {
    const spec = fields[name];
    if (!spec) continue;
    const single = Array.isArray(value) && spec.type !== 'string[]' ? value[value.length - 1] : value;
    normalised[name] = spec.type === 'any' && typeof single === 'string' ? tryJson(single) : single;
  }
  return parseObject('', fields, normalised);
}

function tryJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Sensitive fields replaced by a mask, lists by their length and long text cut: what an audit event keeps of a request. */
export function summarizeInput(fields: Fields | undefined, input: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(input)) {
    const spec = fields?.[name];
    if (spec && 'sensitive' in spec && spec.sensitive) out[name] = '[redacted]';
    else if (Array.isArray(value)) out[name] = { count: value.length };
    else if (typeof value === 'string' && value.length > 200) out[name] = `${value.slice(0, 200)}… (${value.length} chars)`;
    else if (typeof value === 'object' && value !== null) out[name] = '{…}';
    else out[name] = value;
  }
  return out;
}

/** A `max_results` value clamped to [1, max]; absent means `dflt`. */
export const pageSize = (value: number | undefined, dflt: number, max = 10_000): number => Math.min(Math.max(1, value ?? dflt), max);
