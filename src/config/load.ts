import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { AppError } from '../errors/index.js';
import { SETTINGS, type Config, type SettingKey, type SettingSpec } from './settings.js';

/** The YAML parser, loaded only when there is a config file: every CLI command loads this module. */
const parseYaml = (text: string): unknown => (createRequire(import.meta.url)('yaml') as typeof import('yaml')).parse(text);

export interface ConfigSources {
  /** Path of a YAML file; a missing file named explicitly is an error. */
  file?: string;
  /** Environment (only config/ reads process.env; callers pass it in). */
  env?: Record<string, string | undefined>;
  /** Values from command-line flags, already keyed by setting. */
  flags?: Partial<Record<SettingKey, string | number | boolean>>;
}

const KEYS = Object.keys(SETTINGS) as SettingKey[];

function configError(message: string, key?: string): AppError {
  return new AppError('CONFIG_INVALID', message, { details: key ? { key } : undefined });
}

function coerce(key: SettingKey, spec: SettingSpec, raw: unknown, source: string): string | number | boolean {
  const where = source === 'environment' ? `environment variable ${spec.env} ('${key}')` : `${source} '${key}'`;
  switch (spec.type) {
    case 'int': {
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^-?\d+$/.test(raw.trim()) ? Number(raw) : NaN;
      if (!Number.isSafeInteger(n)) throw configError(`${where} must be an integer, got ${JSON.stringify(raw)}`, key);
      if (spec.min !== undefined && n < spec.min) throw configError(`${where} must be >= ${spec.min}, got ${n}`, key);
      if (spec.max !== undefined && n > spec.max) throw configError(`${where} must be <= ${spec.max}, got ${n}`, key);
      return n;
    }
    case 'number': {
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^-?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(raw.trim()) ? Number(raw) : NaN;
      if (!Number.isFinite(n)) throw configError(`${where} must be a number, got ${JSON.stringify(raw)}`, key);
      if (spec.min !== undefined && n < spec.min) throw configError(`${where} must be >= ${spec.min}, got ${n}`, key);
      if (spec.max !== undefined && n > spec.max) throw configError(`${where} must be <= ${spec.max}, got ${n}`, key);
      return n;
    }
    case 'bool': {
      if (typeof raw === 'boolean') return raw;
      const s = String(raw).trim().toLowerCase();
      if (['true', '1', 'yes', 'on'].includes(s)) return true;
      if (['false', '0', 'no', 'off'].includes(s)) return false;
      throw configError(`${where} must be a boolean, got ${JSON.stringify(raw)}`, key);
    }
    case 'enum': {
      const s = String(raw);
      if (!spec.values?.includes(s)) throw configError(`${where} must be one of ${spec.values?.join(', ')}, got ${JSON.stringify(raw)}`, key);
      return s;
    }
    case 'string':
      if (typeof raw === 'object' && raw !== null) throw configError(`${where} must be a string`, key);
      return String(raw);
  }
}

/** Flattens nested YAML sections into dotted keys, rejecting any key not declared in SETTINGS. */
function flattenFile(doc: unknown, file: string): Map<SettingKey, unknown> {
  const out = new Map<SettingKey, unknown>();
  const walk = (node: unknown, prefix: string): void => {
    if (node === null || node === undefined) return;
    if (typeof node !== 'object' || Array.isArray(node)) {
      throw configError(`config file ${file}: '${prefix || '(root)'}' must be a mapping`);
    }
    for (const [k, v] of Object.entries(node as Record<string, unknown>)) {
      const key = prefix ? `${prefix}.${k}` : k;
      if ((KEYS as string[]).includes(key)) out.set(key as SettingKey, v);
      else if (KEYS.some((known) => known.startsWith(`${key}.`))) walk(v, key);
      else throw configError(`config file ${file}: unknown key '${key}'`, key);
    }
  };
  walk(doc, '');
  return out;
}

function readFile(file: string): Map<SettingKey, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    throw new AppError('CONFIG_INVALID', `cannot read config file ${file}: ${(cause as Error).message}`, { cause });
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (cause) {
    throw new AppError('CONFIG_INVALID', `config file ${file} is not valid YAML: ${(cause as Error).message}`, { cause });
  }
  return flattenFile(doc, file);
}

/** Unknown CAPSTAN_* variables are rejected too, so a typo cannot silently fall back to a default. */
function readEnv(env: Record<string, string | undefined>): Map<SettingKey, unknown> {
  const byEnv = new Map(KEYS.map((k) => [SETTINGS[k].env as string, k]));
  const out = new Map<SettingKey, unknown>();
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('CAPSTAN_') || value === undefined) continue;
    const key = byEnv.get(name);
    if (key) out.set(key, value);
    else if (!IGNORED_ENV.has(name)) throw configError(`unknown environment variable ${name}`, name);
  }
  return out;
}

/** Variables that are not settings but are read by tests and tools. */
const IGNORED_ENV = new Set(['CAPSTAN_SLOW_TESTS', 'CAPSTAN_TEST_PG_URL', 'CAPSTAN_TEST_REDIS_URL', 'CAPSTAN_UPDATE_SCHEMA_SNAPSHOTS', 'CAPSTAN_URL', 'CAPSTAN_TOKEN', 'CAPSTAN_PROJECT']);

/** Precedence: defaults < file < environment < flags. The result is frozen. */
export function loadConfig(sources: ConfigSources = {}): Config {
  const layers: [string, Map<SettingKey, unknown>][] = [];
  if (sources.file) layers.push([`config file ${sources.file}:`, readFile(sources.file)]);
  if (sources.env) layers.push(['environment', readEnv(sources.env)]);
  if (sources.flags) layers.push(['flag', new Map(Object.entries(sources.flags) as [SettingKey, unknown][])]);
  const values: Record<string, unknown> = {};
  for (const key of KEYS) values[key] = SETTINGS[key].default;
  for (const [source, layer] of layers) {
    for (const [key, raw] of layer) {
      if (raw === undefined) continue;
      values[key] = coerce(key, SETTINGS[key], raw, source);
    }
  }
  return Object.freeze(values) as Config;
}

/** Effective locations derived from data_dir when the explicit URIs are empty. */
export function resolveStoreUris(config: Config): { databaseUri: string; artifactsUri: string } {
  const dataDir = resolve(config.data_dir);
  return {
    databaseUri: config['store.database_uri'] || `sqlite://${resolve(dataDir, 'capstan.db')}`,
    artifactsUri: config['store.artifacts_uri'] || `file://${resolve(dataDir, 'artifacts')}`,
  };
}

/** The configuration as `capstan config --print` shows it: secrets masked, passwords in URIs too. */
export function maskedConfig(config: Config): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of KEYS) {
    const value = config[key];
    const spec: SettingSpec = SETTINGS[key];
    if (!spec.secret || value === '') out[key] = value;
    else if (typeof value === 'string' && /^[a-z]+:\/\//i.test(value)) out[key] = maskUriPassword(value);
    else out[key] = '********';
  }
  return out;
}

export function maskUriPassword(uri: string): string {
  return uri.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*:)[^@]*@/i, '$1********@');
}

/** The process environment; the one place Capstan reads it. */
export function processEnv(): Record<string, string | undefined> {
  return process.env;
}
