// One step instance from start to end: prepared, answered from the cache or run attempt by
// attempt under its retry policy, its metrics and outputs recorded in its tracked run.
import { backoffMs, shouldRetry } from './local-step.js';
import type { MatrixInstance, Pipeline, Step } from '../spec/index.js';
import type { PipelinesSql } from '../pipelines.sql.js';
import type { PipelineRunRow, StepRow, StoredOutputs } from '../types.js';
import type { LogBuffer } from './log-buffer.js';
import { prepareInstance, type PreparedInstance, type ResolvedDataset } from './prepare.js';
import type { InputFile, StepAttempt, StepRunner, StepTask } from './task.js';

const ARTIFACT_PROXY = '/api/2.0/mlflow-artifacts/artifacts';

/** The tracked (MLflow) runs behind pipeline steps. */
export interface TrackedSteps {
  /** A child run of the pipeline's run for one step instance, with its matrix values as params (the run's params are on the parent); returns its id. */
  start(run: PipelineRunRow, row: StepRow, params: Record<string, unknown>, tags: Record<string, string>): Promise<string>;
  logMetrics(runId: string, metrics: Record<string, number>): Promise<void>;
  /** The latest value of each metric the run has (what the step logged through MLflow, too). */
  metrics(runId: string): Promise<Record<string, number>>;
  end(runId: string, status: 'FINISHED' | 'FAILED' | 'KILLED'): Promise<void>;
  /** The blob prefix of the run's artifacts (what the artifact proxy serves them under). */
  runRoot(runId: string): Promise<string>;
  /** The files of one declared output in the run's artifacts (`outputs/NAME/…`). */
  outputFiles(runId: string, name: string): Promise<Array<{ path: string; sha256: string; size: number }>>;
}

export interface InstanceDeps {
  sql: PipelinesSql;
  log: LogBuffer;
  tracked: TrackedSteps;
  runner(kind: string): StepRunner;
  secrets(projectId: number, names: readonly string[]): Promise<Record<string, string>>;
  /** MLFLOW_TRACKING_URI, the scoped token, CAPSTAN_* for the run. */
  runEnv(run: PipelineRunRow): Promise<Record<string, string>>;
  sleep?(ms: number, signal: AbortSignal): Promise<void>;
}

export interface InstanceJob {
  run: PipelineRunRow;
  pipeline: Pipeline;
  step: Step;
  instance: MatrixInstance;
  row: StepRow;
  rows: readonly StepRow[];
  datasets: ReadonlyMap<string, ResolvedDataset>;
  signal: AbortSignal;
  update(change: Partial<StepRow>): Promise<void>;
}

const abortableSleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });

export class InstanceExecutor {
  constructor(private readonly deps: InstanceDeps) {}

  async execute(job: InstanceJob): Promise<void> {
    const { row, step, run } = job;
    const say = (line: string) => this.deps.log.push(row.idx, row.attempts, 'system', line);
    let prepared: PreparedInstance;
    let secretEnv: Record<string, string>;
    try {
      prepared = prepareInstance({ pipeline: job.pipeline, step, instance: job.instance, params: run.params as never, rows: job.rows, datasets: job.datasets });
      secretEnv = await this.deps.secrets(run.projectId, step.secrets);
    } catch (err) {
      say(`could not prepare the step: ${(err as Error).message}`);
      await job.update({ status: 'failed', message: (err as Error).message, finishedTime: Date.now() });
      return;
    }
    const tags = { 'capstan.pipeline': run.pipeline, 'capstan.pipeline_run': run.runId, 'capstan.step': step.name, 'capstan.cache_key': prepared.cacheKey };
    if (run.useCache && step.cache.enabled && (await this.fromCache(job, prepared, tags))) return;

    const mlflowRunId = row.mlflowRunId || (await this.deps.tracked.start(run, row, job.instance.values, tags));
    Object.assign(row, { mlflowRunId, cacheKey: prepared.cacheKey }); // stored with the first attempt's update
    const env: Record<string, string> = { ...prepared.env, ...(await this.deps.runEnv(run)), MLFLOW_RUN_ID: mlflowRunId, CAPSTAN_STEP: step.name, CAPSTAN_STEP_INSTANCE: job.instance.name };
    const runner = this.deps.runner(run.runner);
    if (runner.kind !== 'local') {
      // Runners elsewhere fetch inputs and upload outputs over HTTP, through the artifact proxy.
      for (const input of prepared.inputs) input.url = await this.urlOf(run.projectId, input);
      env.CAPSTAN_OUTPUTS_URL = `${ARTIFACT_PROXY}/${await this.deps.tracked.runRoot(mlflowRunId)}/outputs`;
    }
    for (let attempt = row.attempts + 1; ; attempt++) {
      await job.update({ attempts: attempt, status: 'running', mlflowRunId, cacheKey: prepared.cacheKey });
      const task: StepTask = {
        id: `${run.runId}/${row.idx}`, pipelineRunId: run.runId, projectId: run.projectId, step: step.name, instance: job.instance.name, attempt,
        run: prepared.run, image: step.image, env: { ...env, CAPSTAN_STEP_ATTEMPT: String(attempt) }, secretEnv, resources: step.resources,
        timeoutMs: (step.timeoutSeconds ?? 0) * 1000, mlflowRunId, inputs: prepared.inputs,
        outputs: Object.entries(step.outputs.artifacts).map(([name, path]) => ({ name, path })),
      };
      this.deps.log.push(row.idx, attempt, 'system', `attempt ${attempt} on the ${runner.kind} runner`);
      let result: StepAttempt;
      try {
        result = await runner.runAttempt(task, { signal: job.signal, log: (stream, line) => this.deps.log.push(row.idx, attempt, stream, line) });
      } catch (err) {
        result = { outcome: 'failed', exitCode: null, metrics: {}, metricErrors: [], outputs: {}, message: `the ${runner.kind} runner failed: ${(err as Error).message}`, lost: true };
      }
      for (const e of result.metricErrors) this.deps.log.push(row.idx, attempt, 'system', `ignored a metric line: ${e}`);
      if (result.outcome === 'succeeded') result = await this.collect(job, mlflowRunId, result);
      if (result.outcome === 'succeeded') return;
      this.deps.log.push(row.idx, attempt, 'system', `attempt ${attempt} ${result.message}`);
      const retry = shouldRetry(step.retry, attempt, { outcome: result.lost && result.outcome === 'failed' ? 'timed_out' : result.outcome, exitCode: result.exitCode, signal: null, durationMs: 0, metrics: {}, metricErrors: [] });
      if (!retry || job.signal.aborted) {
        const status = result.outcome === 'cancelled' ? 'cancelled' : 'failed';
        await this.deps.tracked.end(mlflowRunId, status === 'cancelled' ? 'KILLED' : 'FAILED').catch(() => undefined);
        await job.update({ status, exitCode: result.exitCode, message: result.message, finishedTime: Date.now() });
        return;
      }
      const wait = backoffMs(step.retry, attempt);
      this.deps.log.push(row.idx, attempt, 'system', `retrying in ${(wait / 1000).toFixed(wait < 1000 ? 1 : 0)} s (${attempt} of ${step.retry.count} retries)`);
      await (this.deps.sleep ?? abortableSleep)(wait, job.signal);
    }
  }

  private async urlOf(_projectId: number, input: InputFile): Promise<string> {
    const s = input.source;
    if (s.kind === 'dataset') return `/api/capstan/datasets/file?${new URLSearchParams({ name: s.name, version: String(s.version), path: s.file })}`;
    return `${ARTIFACT_PROXY}/${await this.deps.tracked.runRoot(s.runId)}/${s.artifactPath}`;
  }

  /** Metrics and outputs of a successful attempt; a declared one missing turns it into a failure. */
  private async collect(job: InstanceJob, mlflowRunId: string, result: StepAttempt): Promise<StepAttempt> {
    const { step, row } = job;
    if (Object.keys(result.metrics).length) await this.deps.tracked.logMetrics(mlflowRunId, result.metrics);
    const logged = step.outputs.metrics.length ? await this.deps.tracked.metrics(mlflowRunId) : {};
    const metrics: Record<string, number> = {};
    for (const name of step.outputs.metrics) {
      const v = result.metrics[name] ?? logged[name];
      if (v !== undefined) metrics[name] = v;
    }
    const missingMetrics = step.outputs.metrics.filter((m) => metrics[m] === undefined);
    const outputs: StoredOutputs = {};
    const missingOutputs: string[] = [];
    for (const [name, path] of Object.entries(step.outputs.artifacts)) {
      const files = await this.deps.tracked.outputFiles(mlflowRunId, name);
      const baseName = path.replace(/\/+$/, '').split('/').pop()!;
      if (files.length === 0) missingOutputs.push(`${name} (${path})`);
      else outputs[name] = { runId: mlflowRunId, artifactPath: `outputs/${name}`, files, baseName, isDir: !(files.length === 1 && files[0].path === baseName) };
    }
    const problems = [
      ...(missingMetrics.length ? [`did not report the metric${missingMetrics.length > 1 ? 's' : ''} ${missingMetrics.join(', ')} (print \`::metric NAME=VALUE\` or log it through MLflow)`] : []),
      ...(missingOutputs.length ? [`did not write the output${missingOutputs.length > 1 ? 's' : ''} ${missingOutputs.join(', ')}`] : []),
    ];
    if (problems.length) return { ...result, outcome: 'failed', message: `exited 0 but ${problems.join(' and ')}` };
    await this.deps.tracked.end(mlflowRunId, 'FINISHED');
    await job.update({ status: 'succeeded', exitCode: result.exitCode, outputs, metrics, message: '', finishedTime: Date.now() });
    if (job.run.useCache && step.cache.enabled) await this.deps.sql.putCache(job.run.projectId, row.cacheKey, { outputs, metrics, mlflowRunId }, Date.now());
    return result;
  }

  /** A cache hit: the step's results from an earlier run with the same key, within its ttl. */
  private async fromCache(job: InstanceJob, prepared: PreparedInstance, tags: Record<string, string>): Promise<boolean> {
    const { step, row, run } = job;
    const notBefore = step.cache.ttlSeconds === null ? 0 : Date.now() - step.cache.ttlSeconds * 1000;
    const hit = await this.deps.sql.cached(run.projectId, prepared.cacheKey, notBefore);
    if (!hit) return false;
    const mlflowRunId = row.mlflowRunId || (await this.deps.tracked.start(run, row, job.instance.values, { ...tags, 'capstan.cached_from': hit.mlflowRunId }));
    if (Object.keys(hit.metrics).length) await this.deps.tracked.logMetrics(mlflowRunId, hit.metrics);
    await this.deps.tracked.end(mlflowRunId, 'FINISHED');
    this.deps.log.push(row.idx, 0, 'system', `cache hit: reused the results of run ${hit.mlflowRunId} from ${new Date(hit.createdTime).toISOString()}`);
    await job.update({ status: 'succeeded', mlflowRunId, cacheKey: prepared.cacheKey, cachedFrom: hit.mlflowRunId, outputs: hit.outputs, metrics: hit.metrics, message: 'cached', finishedTime: Date.now() });
    return true;
  }
}
