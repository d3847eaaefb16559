// Reading declarative documents (deployment and monitor files): every check names the key it
// rejects and what it accepts, so a user can fix the file from the message alone.
import { invalidParam } from '../errors/index.js';

export type Obj = Record<string, unknown>;

/** A mapping (absent counts as empty); anything else is an error naming `where`. */
export function obj(v: unknown, where: string): Obj {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw invalidParam(`${where} must be a mapping.`);
  return v as Obj;
}

export function onlyKeys(o: Obj, keys: readonly string[], where: string): void {
  const unknown = Object.keys(o).filter((k) => !keys.includes(k));
  if (unknown.length) throw invalidParam(`${where}: unknown key${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `'${k}'`).join(', ')} (known: ${keys.join(', ')}).`);
}

export function num(o: Obj, key: string, where: string, dflt: number, min: number, max: number, integer = true): number {
  const v = o[key];
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'number' || !Number.isFinite(v) || (integer && !Number.isInteger(v)) || v < min || v > max) {
    throw invalidParam(`${where}.${key} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}; got ${JSON.stringify(v)}.`);
  }
  return v;
}

export function str(o: Obj, key: string, where: string, dflt: string): string {
  const v = o[key];
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'string') throw invalidParam(`${where}.${key} must be a string.`);
  return v;
}

/** One of `allowed`, or the default when absent. */
export function oneOf<T extends string>(o: Obj, key: string, where: string, allowed: readonly T[], dflt: T): T {
  const v = str(o, key, where, dflt);
  if (!(allowed as readonly string[]).includes(v)) throw invalidParam(`${where}.${key} must be one of ${allowed.join(', ')}; got ${JSON.stringify(v)}.`);
  return v as T;
}

/** A list of strings (absent counts as empty). */
export function strings(o: Obj, key: string, where: string): string[] {
  const v = o[key];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) throw invalidParam(`${where}.${key} must be a list of strings.`);
  return v as string[];
}
