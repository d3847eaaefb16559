// The parsed form of a pipeline file (`pipelines/*.yaml`). Keys are snake_case in the file and
// camelCase here; every step and reference keeps the line and column it came from.
import type { Expr } from './expr-ast.js';
import type { TriggerSpec } from './triggers.js';

/** 1-based line and column in the pipeline file. */
export interface Position {
  line: number;
  column: number;
}

/** One problem in a pipeline file; `path` names the key (`steps.train.retry.count`). */
export interface PipelineError extends Position {
  path: string;
  message: string;
}

export type ParamType = 'string' | 'number' | 'integer' | 'boolean';
export type ParamValue = string | number | boolean;

export interface ParamSpec extends Position {
  name: string;
  type: ParamType;
  /** null when the param has no default and must be given at run time (booleans default to false). */
  default: ParamValue | null;
  enum: ParamValue[] | null;
  min: number | null;
  max: number | null;
  description: string;
}

export type StepField = 'outputs' | 'metrics' | 'status';

/** What a `${{ ... }}` reference or a condition's path points at. */
export type Reference =
  | { kind: 'param'; name: string }
  /** `field` and `name` are null where the reference stops early (`needs`, or `steps.x.metrics` in a condition). */
  | { kind: 'step'; step: string; field: StepField | null; name: string | null }
  | { kind: 'dataset'; name: string; version: number | 'latest' };

/** Where a step names something outside itself; the graph checks each site. */
export interface ReferenceSite extends Position {
  field: 'needs' | 'inputs' | 'run' | 'env' | 'when';
  /** Path of the key holding the reference (`steps.train.inputs.data`). */
  path: string;
  /** The reference as written, without `${{ }}` (`steps.prep.outputs.table`). */
  text: string;
  target: Reference;
}

export type Run = { kind: 'shell'; command: string } | { kind: 'argv'; argv: string[] };

export interface Outputs {
  /** Artifact name → path relative to the step's work directory. */
  artifacts: Record<string, string>;
  /** Names of the metrics the step reports. */
  metrics: string[];
}

export interface RetryPolicy {
  count: number;
  backoffSeconds: number;
  /** Exit codes worth a retry; empty means any failure. */
  onExitCodes: number[];
}

export interface Resources {
  /** CPU in thousandths of a core (`500m` → 500, `2` → 2000); null when not set. */
  cpuMillis: number | null;
  memoryBytes: number | null;
  gpu: number;
  nodeLabels: Record<string, string>;
}

export interface MatrixAxis {
  param: string;
  values: ParamValue[];
}

export interface Matrix {
  axes: MatrixAxis[];
  /** How many instances may run at once; null for no limit. */
  maxParallel: number | null;
}

export interface CachePolicy {
  enabled: boolean;
  /** How long a cached result stays usable; null for as long as it is stored. */
  ttlSeconds: number | null;
}

export interface Condition {
  source: string;
  ast: Expr;
}

export interface Step extends Position {
  name: string;
  run: Run;
  image: string | null;
  /** Input name → what it is bound to. */
  inputs: Record<string, Reference>;
  outputs: Outputs;
  /** Steps named in `needs` (implicit dependencies are in `references`). */
  needs: string[];
  when: Condition | null;
  retry: RetryPolicy;
  timeoutSeconds: number | null;
  resources: Resources;
  env: Record<string, string>;
  secrets: string[];
  matrix: Matrix | null;
  cache: CachePolicy;
  /** Every reference the step makes, explicit (`needs`) and implicit, with its position. */
  references: ReferenceSite[];
}

export interface Pipeline {
  /** The file it was read from, for messages. */
  file: string;
  name: string;
  description: string;
  /** In file order. */
  params: ParamSpec[];
  /** In file order. */
  steps: Step[];
  /** What starts runs besides a person, in file order. */
  triggers: TriggerSpec[];
}

export interface ParseResult {
  pipeline: Pipeline | null;
  errors: PipelineError[];
}

export type StepStatus = 'succeeded' | 'failed' | 'skipped';

/** What one finished step instance reports; conditions read it as `steps.NAME.metrics.X`, `.outputs.Y`, `.status`. */
export interface StepResult {
  status: StepStatus;
  outputs: Record<string, unknown>;
  metrics: Record<string, unknown>;
}

/** The variables a condition can read. */
export interface ConditionContext {
  params: Record<string, unknown>;
  steps: Record<string, StepResult>;
}
