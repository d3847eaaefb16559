import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { assertOk, call } from './inject.js';

const API = '/api/2.0/mlflow';
const PROXY = '/api/2.0/mlflow-artifacts/artifacts';
const FIXTURES = new URL('../fixtures/onnx/', import.meta.url);

/** A fixture model's bytes and (where it has one) its sidecar of examples. */
export function fixtureModel(name: 'tabular_mlp' | 'tree_ensemble' | 'broken_canary' | 'dtype_echo'): { bytes: Buffer; sidecar: any } {
  const bytes = readFileSync(new URL(`${name}.onnx`, FIXTURES));
  const sidecar = name === 'broken_canary' || name === 'dtype_echo' ? null : JSON.parse(readFileSync(new URL(`${name}.json`, FIXTURES), 'utf8'));
  return { bytes, sidecar };
}

/** Logs `bytes` as model.onnx of a new run and registers it as the next version of `model`; answers the version number. */
export async function registerModel(app: FastifyInstance, model: string, bytes: Buffer, headers: Record<string, string> = {}): Promise<string> {
  let experiment = await call(app, 'GET', `${API}/experiments/get-by-name?experiment_name=serving-fixtures`, undefined, headers);
  if (experiment.status !== 200) experiment = await call(app, 'POST', `${API}/experiments/create`, { name: 'serving-fixtures' }, headers);
  const experimentId = experiment.body.experiment_id ?? experiment.body.experiment.experiment_id;
  const runId = assertOk(await call(app, 'POST', `${API}/runs/create`, { experiment_id: experimentId }, headers)).run.info.run_id;
  assertOk(await call(app, 'PUT', `${PROXY}/${experimentId}/${runId}/artifacts/model/model.onnx`, bytes, headers));
  await call(app, 'POST', `${API}/registered-models/create`, { name: model }, headers);
  return assertOk(await call(app, 'POST', `${API}/model-versions/create`, { name: model, source: `runs:/${runId}/model`, run_id: runId }, headers)).model_version.version;
}

/** |got - expected| <= atol + rtol * |expected| for every element. */
export function assertClose(got: ArrayLike<number>, expected: ArrayLike<number>, rtol: number, atol: number, what: string): void {
  if (got.length !== expected.length) throw new Error(`${what}: ${got.length} values, expected ${expected.length}`);
  for (let i = 0; i < got.length; i++) {
    if (!(Math.abs(got[i] - expected[i]) <= atol + rtol * Math.abs(expected[i]))) throw new Error(`${what}[${i}]: got ${got[i]}, expected ${expected[i]}`);
  }
}
