import type { Series } from './metric-chunks.js';
import type { DatasetInput, Experiment, KeyValue, Metric, Run, RunInfo } from './types.js';

/**
 * MLflow's JSON shapes (proto3 JSON mapping, snake_case): empty lists and unset fields are omitted,
 * non-finite doubles are the strings "NaN", "Infinity", "-Infinity".
 */
export function doubleToWire(v: number): number | string {
  if (Number.isFinite(v)) return v;
  return Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity';
}

function withList<T extends object>(obj: T, key: string, list: readonly unknown[]): T {
  if (list.length) (obj as Record<string, unknown>)[key] = list;
  return obj;
}

const kvToWire = (kv: KeyValue) => ({ key: kv.key, value: kv.value });

export function experimentToWire(e: Experiment) {
  return withList(
    {
      experiment_id: e.experimentId,
      name: e.name,
      artifact_location: e.artifactLocation,
      lifecycle_stage: e.lifecycleStage,
      last_update_time: e.lastUpdateTime,
      creation_time: e.creationTime,
    },
    'tags',
    e.tags.map(kvToWire),
  );
}

export function metricToWire(m: Metric) {
  return { key: m.key, value: doubleToWire(m.value), timestamp: m.timestamp, step: m.step };
}

export function runInfoToWire(i: RunInfo) {
  const out: Record<string, unknown> = {
    run_uuid: i.runId,
    run_id: i.runId,
    run_name: i.runName,
    experiment_id: i.experimentId,
    user_id: i.userId,
    status: i.status,
    start_time: i.startTime,
    artifact_uri: i.artifactUri,
    lifecycle_stage: i.lifecycleStage,
  };
  if (i.endTime !== null) out.end_time = i.endTime;
  return out;
}

function datasetInputToWire(d: DatasetInput) {
  const dataset: Record<string, unknown> = {
    name: d.dataset.name,
    digest: d.dataset.digest,
    source_type: d.dataset.sourceType,
    source: d.dataset.source,
  };
  if (d.dataset.schema !== undefined) dataset.schema = d.dataset.schema;
  if (d.dataset.profile !== undefined) dataset.profile = d.dataset.profile;
  return withList({ dataset }, 'tags', d.tags.map(kvToWire));
}

export function runToWire(r: Run) {
  const data = {};
  withList(data, 'metrics', r.data.metrics.map(metricToWire));
  withList(data, 'params', r.data.params.map(kvToWire));
  withList(data, 'tags', r.data.tags.map(kvToWire));
  return { info: runInfoToWire(r.info), data, inputs: withList({}, 'dataset_inputs', r.inputs.datasetInputs.map(datasetInputToWire)) };
}

/** Builds a response object, leaving out undefined fields and empty lists as MLflow does. */
export function compact(obj: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    if (v === undefined || (Array.isArray(v) && v.length === 0)) continue;
    out[k] = v;
  }
  return out;
}

/** Points as MLflow metric JSON objects joined by commas, without the surrounding brackets. */
export function pointsJson(key: string, series: Series): string {
  const n = series.steps.length;
  const metrics = new Array(n);
  for (let i = 0; i < n; i++) {
    const v = series.values[i]!;
    metrics[i] = { key, value: Number.isFinite(v) ? v : doubleToWire(v), timestamp: series.timestamps[i], step: series.steps[i] };
  }
  return JSON.stringify(metrics).slice(1, -1);
}

/** A get-history response around already rendered points. */
export function historyResponseJson(pointsJsonText: string, nextPageToken?: string): string {
  const parts: string[] = [];
  if (pointsJsonText) parts.push(`"metrics":[${pointsJsonText}]`);
  if (nextPageToken) parts.push(`"next_page_token":${JSON.stringify(nextPageToken)}`);
  return `{${parts.join(',')}}`;
}
