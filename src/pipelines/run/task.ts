// What a runner is handed for one attempt of one step instance, and what it hands back. The
// engine resolves everything first (references rendered, secrets looked up, inputs located), so a
// runner only has to put files in place, start the command where it runs, and report.
import type { Resources, Run } from '../spec/index.js';

/** A file the step reads, put at `path` (relative to the step's work directory) before it starts. */
export interface InputFile {
  path: string;
  /** Where a runner outside the server downloads it: a path on the Capstan server (set for remote runners). */
  url?: string;
  source:
    /** An artifact of another step's tracked run (`outputs/NAME/…` inside that run). */
    | { kind: 'run-artifact'; runId: string; artifactPath: string }
    /** One file of a registered dataset version. */
    | { kind: 'dataset'; name: string; version: number; file: string };
}

/** An artifact the step declares: the file or directory at `path` (relative to its work directory). */
export interface OutputSpec {
  name: string;
  path: string;
}

export interface StepTask {
  /** `<pipeline run id>/<step instance index>`: unique per instance, stable across attempts. */
  id: string;
  pipelineRunId: string;
  projectId: number;
  /** The step's name and its instance's name (`train[lr=0.01]`). */
  step: string;
  instance: string;
  /** 1 for the first attempt. */
  attempt: number;
  /** The command with every `${{ }}` reference already rendered. */
  run: Run;
  image: string | null;
  /** Plain environment: the step's `env`, MLFLOW_TRACKING_URI, MLFLOW_RUN_ID, CAPSTAN_* and the scoped token. */
  env: Record<string, string>;
  /** Secret values by name; set in the environment, never logged, never stored by the runner. */
  secretEnv: Record<string, string>;
  resources: Resources;
  /** 0 for no limit. */
  timeoutMs: number;
  /** The step instance's tracked (MLflow) run; outputs are uploaded into it under `outputs/NAME/`. */
  mlflowRunId: string;
  inputs: InputFile[];
  outputs: OutputSpec[];
}

export type AttemptOutcome = 'succeeded' | 'failed' | 'timed_out' | 'cancelled';

/** One attempt's result. A runner never throws for the step's own failure: that is `outcome`. */
export interface StepAttempt {
  outcome: AttemptOutcome;
  /** null when the process was killed or never started. */
  exitCode: number | null;
  /** Metrics printed as `::metric NAME=NUMBER` lines. */
  metrics: Record<string, number>;
  /** `::metric` lines that could not be read, with the reason. */
  metricErrors: string[];
  /** Output name → artifact path inside the step's tracked run (`outputs/model/model.onnx`). */
  outputs: Record<string, string>;
  /** Why it did not succeed, in a sentence (empty on success). */
  message: string;
  /** True when the attempt was lost with its executor (a dead worker, a deleted pod) rather than failed by the step. */
  lost?: boolean;
}

export interface AttemptHooks {
  /** Aborted when the run is cancelled; the runner stops the step's processes. */
  signal: AbortSignal;
  /** Every line of the step's stdout and stderr, as it comes. */
  log(stream: 'stdout' | 'stderr' | 'system', line: string): void;
}

/** Runs step attempts somewhere: this machine, a Kubernetes Job, or a worker pulling from a queue. */
export interface StepRunner {
  readonly kind: 'local' | 'kubernetes' | 'workers';
  runAttempt(task: StepTask, hooks: AttemptHooks): Promise<StepAttempt>;
  close(): Promise<void>;
}

/** Moves files between a step's work directory and the stores (the blob store in-process, HTTP elsewhere). */
export interface FileTransfer {
  /** Writes the input to `dest` (an absolute path; parent directories are created). */
  fetchInput(projectId: number, input: InputFile, dest: string): Promise<void>;
  /** Uploads the file or directory `source` into the run's artifacts under `artifactPath`; returns the files written. */
  uploadOutput(projectId: number, runId: string, artifactPath: string, source: string): Promise<string[]>;
}
