// Turning one step instance of a run into what a runner executes: references rendered against the
// results so far, the files it reads located, and the cache key that identifies its work.
import { createHash } from 'node:crypto';
import { conditionContext, instanceParams, renderTemplate, type ConditionContext, type MatrixInstance, type ParamValue, type Pipeline, type Run, type Step, type StepResult } from '../spec/index.js';
import type { StepRow } from '../types.js';
import type { InputFile } from './task.js';

/** A dataset version a run reads, resolved when the run starts (`latest` pinned to a number). */
export interface ResolvedDataset {
  name: string;
  version: number;
  digest: string;
  files: Array<{ path: string; sha256: string }>;
}

export interface PreparedInstance {
  run: Run;
  /** The step's own environment (`env`, rendered) and CAPSTAN_INPUT_<NAME> for each `inputs` entry. */
  env: Record<string, string>;
  inputs: InputFile[];
  cacheKey: string;
  params: Record<string, ParamValue>;
}

const statusOf = (row: StepRow): StepResult['status'] => (row.status === 'succeeded' ? 'succeeded' : row.status === 'skipped' ? 'skipped' : 'failed');

/** Where an upstream instance's output is put in this step's work directory. */
const inputDir = (step: Step, index: number, output: string) => (step.matrix ? `inputs/${step.name}/${index}/${output}` : `inputs/${step.name}/${output}`);
export const datasetDir = (name: string, version: number) => `inputs/datasets/${name}@${version}`;

/**
 * The variables references and conditions read: params, and for each finished upstream step its
 * metrics and, for each output artifact, the path where it will sit in this step's directory.
 */
export function contextFor(pipeline: Pipeline, params: Readonly<Record<string, ParamValue>>, rows: readonly StepRow[], only?: ReadonlySet<string>): ConditionContext {
  const results: Record<string, StepResult[]> = {};
  for (const step of pipeline.steps) {
    if (only && !only.has(step.name)) continue;
    const mine = rows.filter((r) => r.step === step.name);
    if (mine.length === 0 || mine.some((r) => r.status === 'pending' || r.status === 'running')) continue;
    results[step.name] = mine.map((r, i) => ({
      status: statusOf(r),
      metrics: { ...r.metrics },
      outputs: Object.fromEntries(Object.entries(r.outputs).map(([name, o]) => {
        const dir = inputDir(step, i, name);
        return [name, o.isDir ? dir : `${dir}/${o.baseName}`];
      })),
    }));
  }
  return conditionContext(pipeline, params, results);
}

/** The datasets a pipeline names, as `name@version` → what the reference renders to. */
export function datasetValues(datasets: ReadonlyMap<string, ResolvedDataset>): Record<string, string> {
  return Object.fromEntries([...datasets].map(([ref, d]) => [ref, datasetDir(d.name, d.version)]));
}

const render = (s: string, ctx: ConditionContext, datasets: Record<string, string>) => renderTemplate(s, ctx, datasets);

export function prepareInstance(a: {
  pipeline: Pipeline;
  step: Step;
  instance: MatrixInstance;
  params: Readonly<Record<string, ParamValue>>;
  rows: readonly StepRow[];
  datasets: ReadonlyMap<string, ResolvedDataset>;
}): PreparedInstance {
  const params = instanceParams(a.params, a.instance);
  const upstream = new Set(a.step.references.flatMap((r) => (r.target.kind === 'step' ? [r.target.step] : [])));
  const ctx = contextFor(a.pipeline, params, a.rows, upstream);
  const ds = datasetValues(a.datasets);
  const run: Run = a.step.run.kind === 'shell' ? { kind: 'shell', command: render(a.step.run.command, ctx, ds) } : { kind: 'argv', argv: a.step.run.argv.map((s) => render(s, ctx, ds)) };
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(a.step.env)) env[k] = render(v, ctx, ds);
  for (const [name, ref] of Object.entries(a.step.inputs)) {
    const text = ref.kind === 'param' ? `params.${ref.name}` : ref.kind === 'dataset' ? `datasets.${ref.name}@${ref.version}` : `steps.${ref.step}.${ref.field}.${ref.name}`;
    env[`CAPSTAN_INPUT_${name.toUpperCase()}`] = render(`\${{ ${text} }}`, ctx, ds);
  }
  for (const [k, v] of Object.entries(a.instance.values)) env[`CAPSTAN_MATRIX_${k.toUpperCase()}`] = String(v);

  const inputs: InputFile[] = [];
  const digests: Array<[string, string]> = [];
  const seen = new Set<string>();
  for (const site of a.step.references) {
    const t = site.target;
    if (t.kind === 'dataset') {
      const d = a.datasets.get(`${t.name}@${t.version}`);
      if (!d || seen.has(`d:${d.name}@${d.version}`)) continue;
      seen.add(`d:${d.name}@${d.version}`);
      for (const f of d.files) {
        inputs.push({ path: `${datasetDir(d.name, d.version)}/${f.path}`, source: { kind: 'dataset', name: d.name, version: d.version, file: f.path } });
        digests.push([`${datasetDir(d.name, d.version)}/${f.path}`, f.sha256]);
      }
    } else if (t.kind === 'step' && t.field === 'outputs' && t.name !== null) {
      const key = `s:${t.step}.${t.name}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const from = a.pipeline.steps.find((s) => s.name === t.step)!;
      a.rows.filter((r) => r.step === t.step).forEach((row, i) => {
        const out = row.outputs[t.name!];
        if (!out) return;
        const dir = inputDir(from, i, t.name!);
        for (const f of out.files) {
          inputs.push({ path: `${dir}/${f.path}`, source: { kind: 'run-artifact', runId: out.runId, artifactPath: `${out.artifactPath}/${f.path}` } });
          digests.push([`${dir}/${f.path}`, f.sha256]);
        }
      });
    }
  }
  return { run, env, inputs, params, cacheKey: cacheKeyOf(a.step, run, env, digests) };
}

/**
 * What makes two executions of a step the same work: the rendered command, image, environment,
 * secret names, resources, declared outputs and the digests of every file it reads. Params count
 * where the step uses them: rendered into its command or environment (matrix values are in both).
 */
export function cacheKeyOf(step: Step, run: Run, env: Record<string, string>, inputDigests: Array<[string, string]>): string {
  const sorted = <T>(o: Record<string, T>) => Object.fromEntries(Object.entries(o).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)));
  const identity = {
    v: 1, run, image: step.image, env: sorted(env), secrets: [...step.secrets].sort(),
    resources: { ...step.resources, nodeLabels: sorted(step.resources.nodeLabels) },
    outputs: { artifacts: sorted(step.outputs.artifacts), metrics: [...step.outputs.metrics].sort() },
    inputs: [...inputDigests].sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)),
  };
  return createHash('sha256').update(JSON.stringify(identity)).digest('hex');
}
