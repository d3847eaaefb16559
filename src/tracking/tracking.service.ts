import { randomUUID } from 'node:crypto';
import { AppError, invalidParam, notFound } from '../errors/index.js';
import { pointAt, seriesLength, sliceSeries, type Series } from './metric-chunks.js';
import { decodePageToken, decodePointToken, encodePageToken, encodePointToken } from './page-token.js';
import { randomRunName } from './run-names.js';
import { parseFilter, parseOrderBy } from './search-filter.js';
import type { TrackingStore } from './tracking.store.js';
import type { Batch, DatasetInput, Experiment, KeyValue, Metric, Page, Run, RunInfo, RunRef, RunStatus, ViewType } from './types.js';
import { checkLength, fitValue, LIMITS, validateBatch, validateExperimentName, validateKey, validateMaxResults } from './validation.js';

export interface TrackingOptions {
  truncateLongValues: boolean;
  now?: () => number;
}

export interface SearchRequest {
  maxResults?: number;
  pageToken?: string;
  filter?: string;
  orderBy?: string[];
  viewType?: ViewType;
}

/** Artifact locations MLflow clients resolve through the artifact proxy. */
const PROJECT_CACHE_SIZE = 100_000;

export const defaultArtifactLocation = (experimentId: string): string => `mlflow-artifacts:/${experimentId}`;

/** Tracking rules: MLflow's validation and lifecycle semantics over a TrackingStore. */
export class TrackingService {
  private readonly now: () => number;
  private readonly experimentProjects = new Map<string, number>();
  private readonly runProjects = new Map<string, number>();

  constructor(private readonly store: TrackingStore, private readonly options: TrackingOptions) {
    this.now = options.now ?? Date.now;
  }

  /**
   * The project each experiment or run belongs to, for authorization. Cached without expiry: an
   * experiment never changes project and a run never changes experiment.
   */
  async projectsOf(kind: 'experiment' | 'run', ids: readonly string[]): Promise<Map<string, number>> {
    const cache = kind === 'experiment' ? this.experimentProjects : this.runProjects;
    const found = new Map<string, number>();
    const missing = ids.filter((id) => {
      const p = cache.get(id);
      if (p !== undefined) found.set(id, p);
      return p === undefined;
    });
    if (missing.length === 0) return found;
    for (const [id, p] of await this.store.projectsOf(kind, missing)) {
      if (cache.size >= PROJECT_CACHE_SIZE) cache.delete(cache.keys().next().value!);
      cache.set(id, p);
      found.set(id, p);
    }
    return found;
  }

  async createExperiment(projectId: number, name: string, artifactLocation: string | undefined, tags: KeyValue[]): Promise<string> {
    validateExperimentName(name);
    tags.forEach((t) => validateKey('tag', t.key));
    const fitted = tags.map((t) => fitValue('Experiment tag', t, LIMITS.tagValueLength, this.options.truncateLongValues));
    return this.store.createExperiment({ projectId, name, artifactLocation: artifactLocation || null, tags: fitted, now: this.now() }, defaultArtifactLocation);
  }

  async getExperiment(experimentId: string): Promise<Experiment> {
    const e = await this.store.getExperiment(experimentId);
    if (!e) throw notFound(`No Experiment with id=${experimentId} exists`);
    return e;
  }

  async getExperimentByName(projectId: number, name: string): Promise<Experiment> {
    const e = await this.store.getExperimentByName(projectId, name);
    if (!e) throw notFound(`Could not find experiment with name '${name}'`);
    return e;
  }

  private async activeExperiment(experimentId: string): Promise<Experiment> {
    const e = await this.getExperiment(experimentId);
    if (e.lifecycleStage !== 'active') {
      throw invalidParam(`The experiment ${experimentId} must be in the 'active' state. Current state is ${e.lifecycleStage}.`);
    }
    return e;
  }

  async searchExperiments(projectId: number, req: SearchRequest): Promise<Page<Experiment>> {
    if (!req.maxResults) throw invalidParam("Invalid value for parameter 'max_results': it must be a positive integer.");
    const limit = validateMaxResults(req.maxResults, 1000, LIMITS.searchMaxResults);
    const offset = decodePageToken(req.pageToken);
    const rows = await this.store.searchExperiments(projectId, {
      viewType: req.viewType ?? 'ACTIVE_ONLY',
      clauses: parseFilter(req.filter, 'experiment'),
      orderBy: parseOrderBy(req.orderBy, 'experiment'),
      offset,
      limit: limit + 1,
    });
    // Looks one row ahead: no token on the last page.
    const items = rows.slice(0, limit);
    return { items, nextPageToken: rows.length > limit ? encodePageToken(offset + limit) : undefined };
  }

  async renameExperiment(experimentId: string, newName: string): Promise<void> {
    validateExperimentName(newName);
    const e = await this.getExperiment(experimentId);
    if (e.lifecycleStage !== 'active') throw new AppError('INVALID_STATE', `Cannot rename a non-active experiment ${experimentId}.`);
    if (e.name !== newName) await this.store.renameExperiment(experimentId, newName, this.now());
  }

  async setExperimentDeleted(experimentId: string, deleted: boolean): Promise<void> {
    const e = await this.getExperiment(experimentId);
    if (deleted && experimentId === '0') throw invalidParam('The Default experiment cannot be deleted.');
    const target = deleted ? 'deleted' : 'active';
    if (e.lifecycleStage === target) {
      throw invalidParam(`Cannot ${deleted ? 'delete' : 'restore'} experiment ${experimentId}: it is already ${target}.`);
    }
    await this.store.setExperimentStage(experimentId, target, this.now());
  }

  async setExperimentTag(experimentId: string, tag: KeyValue): Promise<void> {
    validateKey('tag', tag.key);
    await this.activeExperiment(experimentId);
    await this.store.setExperimentTag(experimentId, fitValue('Experiment tag', tag, LIMITS.tagValueLength, this.options.truncateLongValues), this.now());
  }

  async deleteExperimentTag(experimentId: string, key: string): Promise<void> {
    await this.activeExperiment(experimentId);
    if (!(await this.store.deleteExperimentTag(experimentId, key))) throw notFound(`No tag with name: ${key} in experiment ${experimentId}.`);
  }

  async createRun(req: { experimentId?: string; runName?: string; startTime?: number; userId?: string; tags: KeyValue[] }): Promise<Run> {
    const experiment = await this.activeExperiment(req.experimentId || '0');
    const nameTag = req.tags.find((t) => t.key === 'mlflow.runName')?.value;
    if (req.runName && nameTag && req.runName !== nameTag) {
      throw invalidParam(`Both 'run_name' (${req.runName}) and tag 'mlflow.runName' (${nameTag}) were set to different values.`);
    }
    const runName = req.runName || nameTag || randomRunName();
    const tags = [...req.tags.filter((t) => t.key !== 'mlflow.runName'), { key: 'mlflow.runName', value: runName }];
    const batch = validateBatch({ metrics: [], params: [], tags }, this.options.truncateLongValues);
    const runId = randomUUID().replaceAll('-', '');
    const userTag = tags.find((t) => t.key === 'mlflow.user')?.value;
    await this.store.createRun({
      runId,
      experimentId: experiment.experimentId,
      runName,
      userId: req.userId || userTag || '',
      startTime: req.startTime ?? this.now(),
      artifactUri: `${experiment.artifactLocation}/${runId}/artifacts`,
      tags: batch.tags,
    });
    return this.getRun(runId);
  }

  async getRun(runId: string): Promise<Run> {
    const run = await this.store.getRun(runId);
    if (!run) throw notFound(`Run '${runId}' not found`);
    return run;
  }

  private async runRef(runId: string): Promise<RunRef> {
    const ref = await this.store.getRunRef(runId);
    if (!ref) throw notFound(`Run '${runId}' not found`);
    return ref;
  }

  private async activeRun(runId: string): Promise<RunRef> {
    const ref = await this.runRef(runId);
    if (ref.lifecycleStage !== 'active') {
      throw invalidParam(`The run ${runId} must be in the 'active' state. Current state is ${ref.lifecycleStage}.`);
    }
    return ref;
  }

  async updateRun(runId: string, change: { status?: RunStatus; endTime?: number; runName?: string }): Promise<RunInfo> {
    const ref = await this.activeRun(runId);
    return this.store.updateRun(ref, change);
  }

  async setRunDeleted(runId: string, deleted: boolean): Promise<void> {
    const ref = await this.runRef(runId);
    await this.store.setRunStage(ref, deleted ? 'deleted' : 'active', this.now());
  }

  /** The one write path for metrics, params and tags; the single-item calls go through it. */
  async logBatch(runId: string, batch: Batch): Promise<void> {
    const checked = validateBatch(batch, this.options.truncateLongValues);
    const ref = await this.activeRun(runId);
    await this.store.logBatch(ref, checked);
  }

  logMetric(runId: string, metric: Metric): Promise<void> {
    return this.logBatch(runId, { metrics: [metric], params: [], tags: [] });
  }

  logParam(runId: string, param: KeyValue): Promise<void> {
    return this.logBatch(runId, { metrics: [], params: [param], tags: [] });
  }

  setTag(runId: string, tag: KeyValue): Promise<void> {
    return this.logBatch(runId, { metrics: [], params: [], tags: [tag] });
  }

  /** MLflow 2.x `log-model`: the model's MLmodel JSON appended to tag `mlflow.log-model.history`. */
  async logModel(runId: string, modelJson: string): Promise<void> {
    let model: unknown;
    try {
      model = JSON.parse(modelJson);
    } catch {
      throw invalidParam("Parameter 'model_json' is not valid JSON.");
    }
    const run = await this.getRun(runId);
    const old = run.data.tags.find((t) => t.key === 'mlflow.log-model.history')?.value;
    let history: unknown[] = [];
    try {
      history = old ? (JSON.parse(old) as unknown[]) : [];
    } catch {
      history = [];
    }
    const value = JSON.stringify([...(Array.isArray(history) ? history : []), model]);
    // Written directly: the history outgrows the 5000-character tag limit that applies to users' tags.
    await this.store.logBatch(await this.activeRun(runId), { metrics: [], params: [], tags: [{ key: 'mlflow.log-model.history', value }] });
  }

  async deleteTag(runId: string, key: string): Promise<void> {
    const ref = await this.activeRun(runId);
    if (!(await this.store.deleteTag(ref, key))) throw notFound(`No tag with name: ${key} in run with id ${runId}`);
  }

  async logInputs(runId: string, inputs: DatasetInput[]): Promise<void> {
    for (const { dataset, tags } of inputs) {
      checkLength('dataset.name', dataset.name, LIMITS.datasetName);
      checkLength('dataset.digest', dataset.digest, LIMITS.datasetDigest);
      checkLength('dataset.source', dataset.source, LIMITS.datasetSource);
      checkLength('dataset.schema', dataset.schema, LIMITS.datasetSchema);
      checkLength('dataset.profile', dataset.profile, LIMITS.datasetProfile);
      for (const t of tags) {
        checkLength('input tag key', t.key, LIMITS.inputTagKey);
        checkLength('input tag value', t.value, LIMITS.inputTagValue);
      }
    }
    const ref = await this.activeRun(runId);
    await this.store.logInputs(ref, inputs);
  }

  /** All points when maxResults is absent (MLflow 2.x); pages by the last point returned when it is given. */
  async getMetricHistory(runId: string, key: string, maxResults?: number, pageToken?: string): Promise<{ series: Series; nextPageToken?: string }> {
    const ref = await this.runRef(runId);
    const after = decodePointToken(pageToken);
    const limit = maxResults === undefined ? null : validateMaxResults(maxResults, 25000, Number.MAX_SAFE_INTEGER);
    const series = await this.store.getMetricHistory(ref, key, after, limit === null ? null : limit + 1);
    if (limit === null || seriesLength(series) <= limit) return { series };
    const page = sliceSeries(series, 0, limit);
    return { series: page, nextPageToken: encodePointToken(pointAt(page, limit - 1)) };
  }

  /**
   * All points when maxResults is absent (MLflow 2.x); pages by the last point returned when it is
   * given. Answers MLflow metric JSON (comma-joined objects) for the route to wrap.
   */
  async getMetricHistoryJson(runId: string, key: string, maxResults?: number, pageToken?: string): Promise<{ json: string; nextPageToken?: string }> {
    const ref = await this.runRef(runId);
    const after = decodePointToken(pageToken);
    const limit = maxResults === undefined ? Number.MAX_SAFE_INTEGER : validateMaxResults(maxResults, 25000, Number.MAX_SAFE_INTEGER);
    const page = await this.store.getMetricHistoryJson(ref, key, after, limit);
    return { json: page.json, nextPageToken: page.hasMore && page.last ? encodePointToken(page.last) : undefined };
  }

  /** The first `maxResults` points (at most 25000) of one key for each of up to 100 runs, runs in id order. */
  async getMetricHistoryBulk(runIds: string[], key: string, maxResults?: number): Promise<{ runId: string; series: Series }[]> {
    if (runIds.length === 0) throw invalidParam('GetMetricHistoryBulk request must specify at least one run_id.');
    if (runIds.length > 100) throw invalidParam(`GetMetricHistoryBulk request cannot specify more than 100 run_ids. Received ${runIds.length} run_ids.`);
    const limit = Math.min(validateMaxResults(maxResults, 25000, Number.MAX_SAFE_INTEGER), 25000);
    const out: { runId: string; series: Series }[] = [];
    for (const runId of [...runIds].sort()) {
      out.push({ runId, series: await this.store.getMetricHistory(await this.runRef(runId), key, null, limit) });
    }
    return out;
  }

  async getMetricHistoryBulkInterval(req: { runIds: string[]; key: string; startStep?: number; endStep?: number; maxResults?: number }): Promise<(Metric & { runId: string })[]> {
    if (req.runIds.length === 0) throw invalidParam("Missing value for required parameter 'run_ids'.");
    if (req.runIds.length > 100) throw invalidParam(`'run_ids' may name at most 100 runs; got ${req.runIds.length}.`);
    const maxPoints = validateMaxResults(req.maxResults, 320, 2500);
    const refs = await Promise.all(req.runIds.map((id) => this.runRef(id)));
    return this.store.getMetricHistorySampled(refs, req.key, { startStep: req.startStep, endStep: req.endStep }, maxPoints);
  }

  async searchRuns(req: SearchRequest & { experimentIds: string[] }): Promise<Page<Run>> {
    const limit = validateMaxResults(req.maxResults, 1000, LIMITS.searchMaxResults);
    const offset = decodePageToken(req.pageToken);
    const items = await this.store.searchRuns(req.experimentIds, {
      viewType: req.viewType ?? 'ACTIVE_ONLY',
      clauses: parseFilter(req.filter, 'run'),
      orderBy: parseOrderBy(req.orderBy, 'run'),
      offset,
      limit,
    });
    // MLflow returns a token whenever the page is full, so the last page may be empty.
    return { items, nextPageToken: items.length === limit ? encodePageToken(offset + limit) : undefined };
  }
}
