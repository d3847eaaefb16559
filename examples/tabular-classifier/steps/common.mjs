// Helpers shared by the example's steps: flags, the example directory, MLflow logging over REST.
import { isAbsolute, join } from 'node:path';
import { parseArgs } from 'node:util';

/** `--name value` flags as strings. */
export function flags(names) {
  return parseArgs({ options: Object.fromEntries(names.map((n) => [n, { type: 'string' }])) }).values;
}

/** A path given relative to the example directory (CAPSTAN_PIPELINE_DIR), or as is when absolute. */
export function inExample(path) {
  return isAbsolute(path) ? path : join(process.env.CAPSTAN_PIPELINE_DIR ?? process.cwd(), path);
}

/** Prints metrics the way a Capstan step reports them. */
export function report(metrics) {
  console.log(`::metric ${Object.entries(metrics).map(([k, v]) => `${k}=${v}`).join(' ')}`);
}

/** Logs params and metrics into this step's tracked run through MLflow's REST API, when there is one. */
export async function mlflowLog({ params = {}, metrics = {} }) {
  const base = process.env.MLFLOW_TRACKING_URI;
  const runId = process.env.MLFLOW_RUN_ID;
  if (!base || !runId) return;
  const headers = { 'content-type': 'application/json' };
  if (process.env.MLFLOW_TRACKING_TOKEN) headers.authorization = `Bearer ${process.env.MLFLOW_TRACKING_TOKEN}`;
  const timestamp = Date.now();
  const body = {
    run_id: runId,
    params: Object.entries(params).map(([key, value]) => ({ key, value: String(value) })),
    metrics: Object.entries(metrics).map(([key, value]) => ({ key, value, timestamp, step: 0 })),
  };
  const res = await fetch(`${base.replace(/\/+$/, '')}/api/2.0/mlflow/runs/log-batch`, { method: 'POST', headers, body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`MLflow log-batch answered ${res.status}: ${await res.text()}`);
}

export function fail(message) {
  console.error(message);
  process.exit(1);
}
