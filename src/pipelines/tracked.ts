// Pipeline runs and their steps as MLflow runs: one experiment per pipeline (`pipelines/NAME`),
// the pipeline run as a parent run, each step instance as its child.
import { proxiedRoot } from '../artifacts/index.js';
import { AppError } from '../errors/index.js';
import type { BlobStore } from '../store/blob/index.js';
import type { TrackingService } from '../tracking/index.js';
import { blobsUnder } from './run/blob-transfer.js';
import type { TrackedSteps } from './run/instance.js';
import type { PipelineRunRow, StepRow } from './types.js';

const kv = (o: Record<string, unknown>) => Object.entries(o).map(([key, value]) => ({ key, value: typeof value === 'string' ? value : JSON.stringify(value) }));

export class PipelineTracking implements TrackedSteps {
  /** The experiment of each pipeline run's tracked run (a run never changes experiment). */
  private readonly experiments = new Map<string, string>();
  constructor(private readonly tracking: TrackingService, private readonly blobs: BlobStore) {}

  /** The experiment a pipeline's runs go to, made on first use. */
  async experimentFor(projectId: number, pipeline: string): Promise<string> {
    const name = `pipelines/${pipeline}`;
    try {
      return (await this.tracking.getExperimentByName(projectId, name)).experimentId;
    } catch (err) {
      if (!(err instanceof AppError) || err.code !== 'RESOURCE_DOES_NOT_EXIST') throw err;
    }
    try {
      return await this.tracking.createExperiment(projectId, name, undefined, [{ key: 'capstan.pipeline', value: pipeline }]);
    } catch (err) {
      // Made at the same moment by another run: use that one.
      if (err instanceof AppError && err.code === 'RESOURCE_ALREADY_EXISTS') return (await this.tracking.getExperimentByName(projectId, name)).experimentId;
      throw err;
    }
  }

  async startPipelineRun(projectId: number, pipeline: string, runName: string, params: Record<string, unknown>, tags: Record<string, string>, user: string): Promise<string> {
    const experimentId = await this.experimentFor(projectId, pipeline);
    const run = await this.tracking.createRun({ experimentId, runName, userId: user, tags: kv({ ...tags, 'capstan.pipeline': pipeline }) });
    if (Object.keys(params).length) await this.tracking.logBatch(run.info.runId, { metrics: [], params: kv(params), tags: [] });
    return run.info.runId;
  }

  async start(run: PipelineRunRow, row: StepRow, params: Record<string, unknown>, tags: Record<string, string>): Promise<string> {
    let experimentId = this.experiments.get(run.mlflowRunId);
    if (experimentId === undefined) {
      experimentId = (await this.tracking.getRun(run.mlflowRunId)).info.experimentId;
      if (this.experiments.size > 10_000) this.experiments.clear();
      this.experiments.set(run.mlflowRunId, experimentId);
    }
    const child = await this.tracking.createRun({
      experimentId, runName: row.instance, userId: run.createdBy,
      tags: kv({ ...tags, 'mlflow.parentRunId': run.mlflowRunId }),
    });
    if (Object.keys(params).length) await this.tracking.logBatch(child.info.runId, { metrics: [], params: kv(params), tags: [] });
    return child.info.runId;
  }

  async logMetrics(runId: string, metrics: Record<string, number>): Promise<void> {
    const timestamp = Date.now();
    await this.tracking.logBatch(runId, { metrics: Object.entries(metrics).map(([key, value]) => ({ key, value, timestamp, step: 0 })), params: [], tags: [] });
  }

  async metrics(runId: string): Promise<Record<string, number>> {
    const run = await this.tracking.getRun(runId);
    return Object.fromEntries(run.data.metrics.map((m) => [m.key, m.value]));
  }

  /** A retried pipeline run is running again. */
  async reopen(runId: string): Promise<void> {
    await this.tracking.updateRun(runId, { status: 'RUNNING' });
  }

  async end(runId: string, status: 'FINISHED' | 'FAILED' | 'KILLED'): Promise<void> {
    await this.tracking.updateRun(runId, { status, endTime: Date.now() });
  }

  /** The blob prefix of a run's artifacts (pipeline experiments always use the artifact proxy). */
  async runRoot(runId: string): Promise<string> {
    const run = await this.tracking.getRun(runId);
    const root = proxiedRoot(run.info.artifactUri);
    if (root === null) throw new AppError('INVALID_STATE', `Run ${runId} keeps its artifacts at ${run.info.artifactUri}, outside Capstan's store; pipeline steps need runs in a pipeline experiment.`);
    return root;
  }

  async outputFiles(runId: string, name: string): Promise<Array<{ path: string; sha256: string; size: number }>> {
    return blobsUnder(this.blobs, `${await this.runRoot(runId)}/outputs/${name}`);
  }
}
