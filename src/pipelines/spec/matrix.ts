// Fan-out: a step with a `matrix` runs once per combination of its axes' values. Instances are
// named after their values (`train[lr=0.01,depth=3]`) and come in a fixed order: the first axis
// changes slowest, values in the order they are listed. Steps downstream of a matrix step see each
// output and metric as the list of every instance's value, in that order.
import { invalidParam } from '../../errors/index.js';
import type { ConditionContext, ParamValue, Pipeline, Step, StepResult, StepStatus } from './types.js';

export const MAX_MATRIX_INSTANCES = 256;

export interface MatrixInstance {
  /** `train[lr=0.01,depth=3]`; the step's own name when it has no matrix. */
  name: string;
  step: string;
  /** Position in the expansion order. */
  index: number;
  /** The instance's value of each matrix param; they replace the run's param values. */
  values: Record<string, ParamValue>;
}

type MatrixStep = Pick<Step, 'name' | 'matrix'>;

/** How many instances a step runs as (1 without a matrix). */
export function matrixSize(step: MatrixStep): number {
  return (step.matrix?.axes ?? []).reduce((n, axis) => n * axis.values.length, 1);
}

function formatValue(v: ParamValue): string {
  if (typeof v === 'string' && /^[A-Za-z0-9_.:/+-]+$/.test(v)) return v;
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

export function instanceName(step: string, values: Readonly<Record<string, ParamValue>>): string {
  const parts = Object.entries(values).map(([k, v]) => `${k}=${formatValue(v)}`);
  return parts.length ? `${step}[${parts.join(',')}]` : step;
}

/** Why a matrix is too large, or null when it is within `limit`. */
export function matrixTooLarge(step: MatrixStep, limit = MAX_MATRIX_INSTANCES): string | null {
  const size = matrixSize(step);
  if (size <= limit) return null;
  const factors = (step.matrix?.axes ?? []).map((a) => `${a.values.length} ${a.param}`).join(' × ');
  return `step '${step.name}' fans out into ${size} instances (${factors}); at most ${limit} are allowed. List fewer values or split the step.`;
}

/** Every instance of a step, in expansion order; throws when there are more than `limit`. */
export function expandMatrix(step: MatrixStep, limit = MAX_MATRIX_INSTANCES): MatrixInstance[] {
  const tooLarge = matrixTooLarge(step, limit);
  if (tooLarge) throw invalidParam(tooLarge[0].toUpperCase() + tooLarge.slice(1), { step: step.name, instances: matrixSize(step) });
  let combos: [string, ParamValue][][] = [[]];
  for (const axis of step.matrix?.axes ?? []) combos = combos.flatMap((c) => axis.values.map((v): [string, ParamValue][] => [...c, [axis.param, v]]));
  return combos.map((pairs, index) => {
    const values = Object.fromEntries(pairs);
    return { name: instanceName(step.name, values), step: step.name, index, values };
  });
}

/** The params one instance runs with: the run's values with the instance's matrix values on top. */
export function instanceParams(params: Readonly<Record<string, ParamValue>>, instance: MatrixInstance): Record<string, ParamValue> {
  return { ...params, ...instance.values };
}

function combinedStatus(statuses: StepStatus[]): StepStatus {
  if (statuses.includes('failed')) return 'failed';
  return statuses.every((s) => s === 'skipped') ? 'skipped' : 'succeeded';
}

function columns(rows: readonly Record<string, unknown>[]): Record<string, unknown[]> {
  const keys = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  return Object.fromEntries(keys.map((k) => [k, rows.map((r) => (Object.hasOwn(r, k) ? r[k] : null))]));
}

/**
 * What downstream steps see of a step, given its instances' results in expansion order: the one
 * result as is, or for a matrix step each output and metric as a list (null where an instance has
 * no value), failed if any instance failed, skipped if all were skipped.
 */
export function combineResults(step: MatrixStep, results: readonly StepResult[]): StepResult {
  const size = matrixSize(step);
  if (results.length !== size) throw invalidParam(`Step '${step.name}' runs as ${size} instance${size === 1 ? '' : 's'}; got ${results.length} result${results.length === 1 ? '' : 's'}.`);
  if (!step.matrix) return results[0];
  return {
    status: combinedStatus(results.map((r) => r.status)),
    outputs: columns(results.map((r) => r.outputs)),
    metrics: columns(results.map((r) => r.metrics)),
  };
}

/** The variables a condition reads, from the run's params and the results of the steps done so far. */
export function conditionContext(pipeline: Pipeline, params: Readonly<Record<string, ParamValue>>, results: Readonly<Record<string, readonly StepResult[]>>): ConditionContext {
  const steps: [string, StepResult][] = [];
  for (const step of pipeline.steps) if (Object.hasOwn(results, step.name)) steps.push([step.name, combineResults(step, results[step.name])]);
  return { params: { ...params }, steps: Object.fromEntries(steps) };
}
