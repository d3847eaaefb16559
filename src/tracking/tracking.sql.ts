import type { Db } from '../store/sql/index.js';
import type { Point } from './metric-chunks.js';
import { metricHistoryJson } from './metric-history.sql.js';
import { ExperimentSql } from './experiments.sql.js';
import { logBatch, logInputs, metricHistory } from './run-data.sql.js';
import { RunSql } from './runs.sql.js';
import type { NewExperiment, NewRun, SearchQuery, TrackingStore } from './tracking.store.js';
import type { Batch, DatasetInput, KeyValue, LifecycleStage, RunRef, RunStatus } from './types.js';

/** The TrackingStore for both SQL dialects. */
export class SqlTrackingStore implements TrackingStore {
  private readonly experiments: ExperimentSql;
  private readonly runs: RunSql;

  constructor(private readonly db: Db) {
    this.experiments = new ExperimentSql(db);
    this.runs = new RunSql(db);
  }

  /** Creates the `Default` experiment (id 0) that MLflow clients expect, once. */
  async ensureDefaultExperiment(defaultLocation: (id: string) => string, now: number): Promise<void> {
    if (await this.experiments.get('0')) return;
    await this.experiments
      .create({ projectId: 1, name: 'Default', artifactLocation: defaultLocation('0'), tags: [], now }, defaultLocation, 0)
      .catch(async (err) => {
        // Another process created it first.
        if (!(await this.experiments.get('0'))) throw err;
      });
  }

  createExperiment(e: NewExperiment, loc: (id: string) => string) { return this.experiments.create(e, loc); }
  getExperiment(id: string) { return this.experiments.get(id); }
  getExperimentByName(projectId: number, name: string) { return this.experiments.getByName(projectId, name); }
  searchExperiments(projectId: number, q: SearchQuery) { return this.experiments.search(projectId, q); }
  projectsOf(kind: 'experiment' | 'run', ids: readonly string[]) { return this.experiments.projectsOf(kind, ids); }
  renameExperiment(id: string, name: string, now: number) { return this.experiments.rename(id, name, now); }
  setExperimentStage(id: string, stage: LifecycleStage, now: number) { return this.experiments.setStage(id, stage, now); }
  setExperimentTag(id: string, tag: KeyValue, now: number) { return this.experiments.setTag(id, tag, now); }
  deleteExperimentTag(id: string, key: string) { return this.experiments.deleteTag(id, key); }

  createRun(r: NewRun) { return this.runs.create(r); }
  getRunRef(runId: string) { return this.runs.getRef(runId); }
  getRun(runId: string) { return this.runs.get(runId); }
  updateRun(run: RunRef, change: { status?: RunStatus; endTime?: number; runName?: string }) { return this.runs.update(run, change); }
  setRunStage(run: RunRef, stage: LifecycleStage, now: number) { return this.runs.setStage(run, stage, now); }
  logBatch(run: RunRef, batch: Batch) { return logBatch(this.db, run, batch); }
  deleteTag(run: RunRef, key: string) { return this.runs.deleteTag(run, key); }
  logInputs(run: RunRef, inputs: DatasetInput[]) { return logInputs(this.db, run, inputs); }
  getMetricHistory(run: RunRef, key: string, after: Point | null, limit: number | null) { return metricHistory(this.db, run, key, after, limit); }
  getMetricHistoryJson(run: RunRef, key: string, after: Point | null, limit: number) { return metricHistoryJson(this.db, run, key, after, limit); }
  getMetricHistorySampled(runs: RunRef[], key: string, range: { startStep?: number; endStep?: number }, maxPoints: number) {
    return this.runs.sampledHistory(runs, key, range, maxPoints);
  }
  searchRuns(experimentIds: string[], q: SearchQuery) { return this.runs.search(experimentIds, q); }
}
