// Pipeline runs as stored and as the API shows them.

export type RunStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
export type StepRowStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'skipped' | 'cancelled';

/** Where one output of a finished step instance lives: files inside a tracked run's artifacts. */
export interface StoredOutput {
  runId: string;
  /** `outputs/NAME` inside the run. */
  artifactPath: string;
  /** Files under artifactPath, relative to it, with the digests the cache key uses. */
  files: Array<{ path: string; sha256: string; size: number }>;
  /** The file or directory name the step wrote (the last part of its declared path). */
  baseName: string;
  isDir: boolean;
}

export type StoredOutputs = Record<string, StoredOutput>;

export interface PipelineRunRow {
  runId: string;
  projectId: number;
  pipeline: string;
  source: string;
  params: Record<string, unknown>;
  status: RunStatus;
  trigger: { kind: string; detail: unknown };
  runner: string;
  useCache: boolean;
  mlflowRunId: string;
  createdBy: string;
  principalId: number | null;
  createdTime: number;
  startedTime: number | null;
  finishedTime: number | null;
  message: string;
  owner: string;
  leaseUntil: number;
  cancelRequested: boolean;
}

export interface StepRow {
  runId: string;
  idx: number;
  step: string;
  instance: string;
  status: StepRowStatus;
  attempts: number;
  mlflowRunId: string;
  cacheKey: string;
  /** The tracked run whose results a cache hit reused ('' when the step ran). */
  cachedFrom: string;
  exitCode: number | null;
  message: string;
  outputs: StoredOutputs;
  metrics: Record<string, number>;
  startedTime: number | null;
  finishedTime: number | null;
}

export type TriggerKind = 'schedule' | 'dataset' | 'alias' | 'alert' | 'webhook';

export interface TriggerRow {
  projectId: number;
  pipeline: string;
  key: string;
  kind: TriggerKind;
  config: Record<string, unknown>;
  nextTime: number;
  lastSeen: string;
}
