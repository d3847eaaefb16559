import type { Point, Series } from './metric-chunks.js';
import type { HistoryJsonPage } from './metric-history.sql.js';
import type { Clause, OrderTerm } from './search-filter.js';
import type { Batch, DatasetInput, Experiment, KeyValue, LifecycleStage, Metric, Run, RunInfo, RunRef, RunStatus, ViewType } from './types.js';

export interface NewExperiment {
  projectId: number;
  name: string;
  /** null: the store derives it from the new id with `defaultArtifactLocation`. */
  artifactLocation: string | null;
  tags: KeyValue[];
  now: number;
}

export interface NewRun {
  runId: string;
  experimentId: string;
  runName: string;
  userId: string;
  startTime: number;
  artifactUri: string;
  tags: KeyValue[];
}

export interface SearchQuery {
  viewType: ViewType;
  clauses: Clause[];
  orderBy: OrderTerm[];
  offset: number;
  limit: number;
}

/**
 * Persistence of experiments and runs. Contract:
 * - Every method is one atomic unit: it writes all or nothing.
 * - The store enforces what needs the database to be enforced under concurrency (unique names,
 *   write-once params); the service checks everything else before calling.
 * - Ids are MLflow's: experiment ids are decimal strings, run ids 32 hex characters.
 */
export interface TrackingStore {
  createExperiment(e: NewExperiment, defaultArtifactLocation: (experimentId: string) => string): Promise<string>;
  getExperiment(experimentId: string): Promise<Experiment | undefined>;
  getExperimentByName(projectId: number, name: string): Promise<Experiment | undefined>;
  searchExperiments(projectId: number, q: SearchQuery): Promise<Experiment[]>;
  /** The project of each experiment (by experiment id) or run (by run id) that exists. */
  projectsOf(kind: 'experiment' | 'run', ids: readonly string[]): Promise<Map<string, number>>;
  renameExperiment(experimentId: string, name: string, now: number): Promise<void>;
  /** Moves the experiment and all its runs to `stage`. */
  setExperimentStage(experimentId: string, stage: LifecycleStage, now: number): Promise<void>;
  setExperimentTag(experimentId: string, tag: KeyValue, now: number): Promise<void>;
  deleteExperimentTag(experimentId: string, key: string): Promise<boolean>;

  createRun(r: NewRun): Promise<void>;
  getRunRef(runId: string): Promise<RunRef | undefined>;
  getRun(runId: string): Promise<Run | undefined>;
  updateRun(run: RunRef, change: { status?: RunStatus; endTime?: number; runName?: string }): Promise<RunInfo>;
  setRunStage(run: RunRef, stage: LifecycleStage, now: number): Promise<void>;
  /**
   * Writes metrics, params and tags in one transaction. A param already logged with another value
   * fails the whole batch with INVALID_PARAMETER_VALUE; the same value again is accepted. A tag
   * `mlflow.runName` also renames the run.
   */
  logBatch(run: RunRef, batch: Batch): Promise<void>;
  deleteTag(run: RunRef, key: string): Promise<boolean>;
  logInputs(run: RunRef, inputs: DatasetInput[]): Promise<void>;
  /** Points ordered by (step, timestamp, value), exact repeats once, strictly after `after`; `limit` null means all. */
  getMetricHistory(run: RunRef, key: string, after: Point | null, limit: number | null): Promise<Series>;
  /** The same points as MLflow metric JSON (comma-joined objects), at most `limit`, for the history route. */
  getMetricHistoryJson(run: RunRef, key: string, after: Point | null, limit: number): Promise<HistoryJsonPage>;
  /** Up to `maxPoints` per run, evenly spread over the steps, always keeping the first and last. */
  getMetricHistorySampled(runs: RunRef[], key: string, range: { startStep?: number; endStep?: number }, maxPoints: number): Promise<(Metric & { runId: string })[]>;
  searchRuns(experimentIds: string[], q: SearchQuery): Promise<Run[]>;
}
