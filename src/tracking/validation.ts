import { invalidParam } from '../errors/index.js';
import type { Batch, KeyValue, Metric } from './types.js';

/** MLflow's limits (mlflow/utils/validation.py, 2.x values). */
export const LIMITS = {
  keyLength: 250,
  paramValueLength: 6000,
  tagValueLength: 5000,
  experimentNameLength: 500,
  batchMetrics: 1000,
  batchParamsOrTags: 100,
  batchEntities: 1000,
  datasetName: 500,
  datasetDigest: 36,
  datasetSource: 65535,
  datasetSchema: 1048575,
  datasetProfile: 16777215,
  inputTagKey: 255,
  inputTagValue: 500,
  searchMaxResults: 50000,
} as const;

// Python's \w, which MLflow's pattern uses, matches letters and digits of every script.
const KEY_CHARS = /^[/\p{L}\p{N}_.\- :]*$/u;

/** Metric, param and tag keys: MLflow's character set, and nothing that escapes a path. */
export function validateKey(kind: string, key: string): void {
  if (key.length === 0) throw invalidParam(`Invalid ${kind} name: ''. Names may not be empty.`);
  if (key.length > LIMITS.keyLength) throw invalidParam(`${kind} name '${key.slice(0, 40)}…' is ${key.length} characters; the limit is ${LIMITS.keyLength}.`);
  if (!KEY_CHARS.test(key)) {
    throw invalidParam(`Invalid ${kind} name: '${key}'. Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), colons (:) and slashes (/).`);
  }
  if (key.startsWith('/') || key.split('/').some((part) => part === '..' || part === '.')) {
    throw invalidParam(`Invalid ${kind} name: '${key}'. Names may not be absolute paths or contain '.' or '..' path segments.`);
  }
}

/** Over-long values are cut as MLflow does when truncation is on, else rejected. */
export function fitValue(kind: string, kv: KeyValue, limit: number, truncate: boolean): KeyValue {
  if (kv.value.length <= limit) return kv;
  if (!truncate) throw invalidParam(`${kind} '${kv.key}' has a value of ${kv.value.length} characters; the limit is ${limit}.`);
  return { key: kv.key, value: kv.value.slice(0, limit) };
}

function rejectDuplicateKeys(kind: string, items: KeyValue[]): void {
  const seen = new Set<string>();
  for (const { key } of items) {
    if (seen.has(key)) throw invalidParam(`Duplicate ${kind} key '${key}' in one batch.`);
    seen.add(key);
  }
}

/** One entry per key, the last one given winning (MLflow applies repeated tags in order). */
export function lastPerKey(items: KeyValue[]): KeyValue[] {
  return [...new Map(items.map((kv) => [kv.key, kv])).values()];
}

/** Checks a whole batch before anything is written, so a rejected batch writes nothing. */
export function validateBatch(batch: Batch, truncate: boolean): Batch {
  const { metrics, params, tags } = batch;
  if (metrics.length > LIMITS.batchMetrics) throw invalidParam(`A batch logging request can contain at most ${LIMITS.batchMetrics} metrics. Got ${metrics.length} metrics.`);
  if (params.length > LIMITS.batchParamsOrTags) throw invalidParam(`A batch logging request can contain at most ${LIMITS.batchParamsOrTags} params. Got ${params.length} params.`);
  if (tags.length > LIMITS.batchParamsOrTags) throw invalidParam(`A batch logging request can contain at most ${LIMITS.batchParamsOrTags} tags. Got ${tags.length} tags.`);
  const total = metrics.length + params.length + tags.length;
  if (total > LIMITS.batchEntities) throw invalidParam(`A batch logging request can contain at most ${LIMITS.batchEntities} metrics, params and tags in total. Got ${total}.`);
  rejectDuplicateKeys('param', params);
  metrics.forEach((m: Metric) => validateKey('metric', m.key));
  params.forEach((p) => validateKey('param', p.key));
  tags.forEach((t) => validateKey('tag', t.key));
  return {
    metrics,
    params: params.map((p) => fitValue('Param', p, LIMITS.paramValueLength, truncate)),
    // Deduplicated: one INSERT … ON CONFLICT DO UPDATE may not touch a row twice on PostgreSQL.
    tags: lastPerKey(tags).map((t) => fitValue('Tag', t, LIMITS.tagValueLength, truncate)),
  };
}

export function validateExperimentName(name: string): void {
  if (name.trim().length === 0) throw invalidParam('Invalid experiment name: an experiment name must be a non-empty string.');
  if (name.length > LIMITS.experimentNameLength) throw invalidParam(`Experiment name is ${name.length} characters; the limit is ${LIMITS.experimentNameLength}.`);
}

export function validateMaxResults(value: number | undefined, fallback: number, max: number): number {
  const n = value ?? fallback;
  if (!Number.isInteger(n) || n < 1) throw invalidParam(`Invalid value ${n} for parameter 'max_results': it must be a positive integer.`);
  if (n > max) throw invalidParam(`Invalid value ${n} for parameter 'max_results' supplied. It must be at most ${max}.`);
  return n;
}

export function checkLength(field: string, value: string | undefined, limit: number): void {
  if (value !== undefined && value.length > limit) throw invalidParam(`'${field}' is ${value.length} characters; the limit is ${limit}.`);
}
