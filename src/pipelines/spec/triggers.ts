// `triggers:` in a pipeline file: what starts a run besides a person. Each entry names one kind —
// a cron schedule, a new dataset version, a model alias moving, a monitoring alert, a signed
// webhook — and may give param values for the runs it starts.
import type { Node } from 'yaml';
import { parseCron } from '../triggers/cron.js';
import { coerceParam } from './params.js';
import type { Reader } from './reader.js';
import type { ParamSpec, Position } from './types.js';

export const TRIGGER_KINDS = ['schedule', 'dataset', 'model_alias', 'alert', 'webhook'] as const;
export const TRIGGER_KEYS = [...TRIGGER_KINDS, 'timezone', 'params'] as const;
export const SEVERITIES = ['P1', 'P2', 'P3'] as const;
const SECRET_NAME = /^[A-Z_][A-Z0-9_]{0,127}$/;
const NAME = /^[A-Za-z0-9_.-]{1,200}$/;

export type TriggerSpec = Position & { params: Record<string, string | number | boolean> } & (
  | { kind: 'schedule'; cron: string; timeZone: string | null }
  | { kind: 'dataset'; dataset: string }
  | { kind: 'alias'; model: string; alias: string }
  | { kind: 'alert'; monitor: string | null; minSeverity: (typeof SEVERITIES)[number] }
  | { kind: 'webhook'; secret: string });

function readParams(r: Reader, node: Node | null, path: string, declared: readonly ParamSpec[]): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const f of r.fields(node, path, 'a mapping of param name to value') ?? []) {
    const spec = declared.find((p) => p.name === f.key);
    if (!spec) {
      r.fail(f.keyNode, f.path, `'${f.key}' is not a declared param (declared: ${declared.map((p) => p.name).join(', ') || 'none'}).`);
      continue;
    }
    const v = r.scalar(f.node);
    try {
      out[f.key] = coerceParam(spec, typeof v === 'string' ? v : JSON.stringify(v));
    } catch (err) {
      r.fail(r.deref(f.node) ?? f.keyNode, f.path, (err as Error).message);
    }
  }
  return out;
}

function readOne(r: Reader, node: Node | null, path: string, declared: readonly ParamSpec[]): TriggerSpec | null {
  const f = r.fieldMap(node, path, TRIGGER_KEYS, `a mapping with one of ${TRIGGER_KINDS.join(', ')}`);
  const kinds = TRIGGER_KINDS.filter((k) => f.has(k));
  const at = r.at(r.deref(node));
  if (kinds.length !== 1) {
    r.fail(r.deref(node), path, kinds.length ? `names ${kinds.join(' and ')}; give one kind per trigger.` : `needs one of ${TRIGGER_KINDS.join(', ')}.`);
    return null;
  }
  const kind = kinds[0];
  const field = f.get(kind)!;
  const params = f.has('params') ? readParams(r, f.get('params')!.node, `${path}.params`, declared) : {};
  if (f.has('timezone') && kind !== 'schedule') r.fail(f.get('timezone')!.keyNode, `${path}.timezone`, 'only a schedule has a time zone.');
  if (kind === 'schedule') {
    const cron = r.string(field.node, field.path, undefined, "a cron expression such as '0 3 * * *'");
    const timeZone = f.has('timezone') ? r.string(f.get('timezone')!.node, `${path}.timezone`, undefined, 'an IANA time zone such as Europe/Berlin') : null;
    if (cron === null) return null;
    try {
      parseCron(cron, timeZone ?? undefined);
    } catch (err) {
      r.fail(r.deref(field.node), field.path, (err as Error).message);
      return null;
    }
    return { kind, cron, timeZone, params, ...at };
  }
  if (kind === 'dataset') {
    const dataset = r.string(field.node, field.path, NAME, 'a dataset name');
    return dataset === null ? null : { kind, dataset, params, ...at };
  }
  if (kind === 'model_alias') {
    const text = r.string(field.node, field.path, /^[^@\s]{1,256}@[A-Za-z0-9_-]{1,64}$/, 'MODEL@ALIAS, as in cancer@champion');
    if (text === null) return null;
    const [model, alias] = text.split('@');
    return { kind: 'alias', model, alias, params, ...at };
  }
  if (kind === 'alert') {
    const a = r.deref(field.node) === null ? new Map() : r.fieldMap(field.node, field.path, ['monitor', 'min_severity'], 'a mapping with monitor and min_severity');
    const monitor = a.has('monitor') ? r.string(a.get('monitor')!.node, `${field.path}.monitor`, NAME, 'a monitor name') : null;
    const sev = a.has('min_severity') ? r.scalar(a.get('min_severity')!.node) : 'P3';
    if (!SEVERITIES.includes(sev as never)) {
      r.fail(r.deref(a.get('min_severity')!.node), `${field.path}.min_severity`, `must be one of ${SEVERITIES.join(', ')}.`);
      return null;
    }
    return { kind: 'alert', monitor, minSeverity: sev as (typeof SEVERITIES)[number], params, ...at };
  }
  const w = r.fieldMap(field.node, field.path, ['secret'], 'a mapping with secret (the name of the project secret that signs requests)');
  const secret = w.has('secret') ? r.string(w.get('secret')!.node, `${field.path}.secret`, SECRET_NAME, 'a project secret name (A-Z, 0-9, _)') : null;
  if (!w.has('secret')) r.fail(r.deref(field.node) ?? field.keyNode, field.path, 'needs secret: the project secret whose value signs each request (HMAC-SHA256).');
  return secret === null ? null : { kind: 'webhook', secret, params, ...at };
}

export function readTriggers(r: Reader, node: Node | null, declared: readonly ParamSpec[]): TriggerSpec[] {
  const items = r.items(node, 'triggers', 'a list of triggers') ?? [];
  const out = items.map((item) => readOne(r, item.node, item.path, declared)).filter((t): t is TriggerSpec => t !== null);
  if (out.filter((t) => t.kind === 'webhook').length > 1) r.fail(r.deref(node), 'triggers', 'has more than one webhook; one is enough (its requests may carry params).');
  return out;
}
