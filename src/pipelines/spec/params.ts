// Params: checking values against a declared type, and turning run-time overrides (`-p lr=0.02`)
// into typed values. Every problem names the param and what it accepts.
import { invalidParam } from '../../errors/index.js';
import type { ParamSpec, ParamValue } from './types.js';

export type ParamRule = Pick<ParamSpec, 'type' | 'enum' | 'min' | 'max'>;

const INTEGER_TEXT = /^[+-]?[0-9]+$/;
const NUMBER_TEXT = /^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** What a param accepts, as a phrase: `an integer from 1 to 100`, `one of fast, full`. */
export function expectedValue(rule: ParamRule): string {
  if (rule.enum) return `one of ${rule.enum.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join(', ')}`;
  if (rule.type === 'boolean') return 'true or false';
  if (rule.type === 'string') return 'a string';
  const kind = rule.type === 'integer' ? 'an integer' : 'a number';
  if (rule.min !== null && rule.max !== null) return `${kind} from ${rule.min} to ${rule.max}`;
  if (rule.min !== null) return `${kind} of at least ${rule.min}`;
  if (rule.max !== null) return `${kind} of at most ${rule.max}`;
  return kind;
}

function hasType(rule: ParamRule, value: unknown): value is ParamValue {
  if (rule.type === 'string') return typeof value === 'string';
  if (rule.type === 'boolean') return typeof value === 'boolean';
  if (typeof value !== 'number' || !Number.isFinite(value)) return false;
  return rule.type === 'number' || Number.isSafeInteger(value);
}

/** Whether `value` fits the rule: its type, then its enum, then its range. */
export function fitsParam(rule: ParamRule, value: unknown): value is ParamValue {
  if (!hasType(rule, value)) return false;
  if (rule.enum && !rule.enum.includes(value)) return false;
  if (typeof value === 'number' && ((rule.min !== null && value < rule.min) || (rule.max !== null && value > rule.max))) return false;
  return true;
}

function fromText(rule: ParamRule, text: string): ParamValue | undefined {
  if (rule.type === 'string') return text;
  if (rule.type === 'boolean') return /^(true|false)$/i.test(text) ? text.toLowerCase() === 'true' : undefined;
  const pattern = rule.type === 'integer' ? INTEGER_TEXT : NUMBER_TEXT;
  return pattern.test(text.trim()) ? Number(text.trim()) : undefined;
}

/** The typed value of an override's text; throws naming the param and what it accepts. */
export function coerceParam(spec: ParamSpec, text: string): ParamValue {
  const value = fromText(spec, text);
  if (value === undefined || !fitsParam(spec, value)) {
    throw invalidParam(`Param '${spec.name}' must be ${expectedValue(spec)}; got ${JSON.stringify(text)}.`, { param: spec.name });
  }
  return value;
}

/** `name=value` → its two parts; throws when there is no `=` or the name is not a param name. */
export function parseOverride(arg: string): { name: string; text: string } {
  const eq = arg.indexOf('=');
  const name = eq < 0 ? '' : arg.slice(0, eq).trim();
  if (!NAME.test(name)) throw invalidParam(`A param override must look like NAME=VALUE (as in lr=0.02); got ${JSON.stringify(arg)}.`);
  return { name, text: arg.slice(eq + 1) };
}

function overridePairs(overrides: readonly string[] | Readonly<Record<string, string>>, problems: string[]): { name: string; text: string }[] {
  if (!Array.isArray(overrides)) return Object.entries(overrides).map(([name, text]) => ({ name, text: String(text) }));
  const pairs: { name: string; text: string }[] = [];
  for (const arg of overrides as readonly string[]) {
    try {
      pairs.push(parseOverride(arg));
    } catch (err) {
      problems.push((err as Error).message);
    }
  }
  return pairs;
}

/**
 * The value of every declared param for one run: defaults, replaced by overrides (`lr=0.02` strings
 * or a name → text map). Throws one error listing every problem: unknown names, a name given twice,
 * a value that does not fit, a required param left out.
 */
export function resolveParams(params: readonly ParamSpec[], overrides: readonly string[] | Readonly<Record<string, string>> = []): Record<string, ParamValue> {
  const problems: string[] = [];
  const given = new Map<string, ParamValue>();
  for (const { name, text } of overridePairs(overrides, problems)) {
    const spec = params.find((p) => p.name === name);
    if (!spec) problems.push(`Unknown param '${name}' (declared: ${params.map((p) => p.name).join(', ') || 'none'}).`);
    else if (given.has(name)) problems.push(`Param '${name}' is given twice.`);
    else {
      try {
        given.set(name, coerceParam(spec, text));
      } catch (err) {
        problems.push((err as Error).message);
        given.set(name, text);
      }
    }
  }
  const values: [string, ParamValue][] = [];
  for (const p of params) {
    const value = given.get(p.name) ?? p.default;
    if (value === null) problems.push(`Param '${p.name}' has no default; give it a value (${p.name}=...), ${expectedValue(p)}.`);
    else values.push([p.name, value]);
  }
  if (problems.length) throw invalidParam(problems.length === 1 ? problems[0] : `Invalid params:\n${problems.map((m) => `  - ${m}`).join('\n')}`, { problems });
  return Object.fromEntries(values);
}
