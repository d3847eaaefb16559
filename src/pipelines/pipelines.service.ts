import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { AppError, invalidParam, notFound } from '../errors/index.js';
import { assertValidPipeline, expandMatrix, resolveParams, type Pipeline } from './spec/index.js';
import type { LogLine, PipelinesSql } from './pipelines.sql.js';
import { RunExecution, type EngineDeps } from './run/engine.js';
import type { PipelineTracking } from './tracked.js';
import type { Triggers } from './triggers/triggers.js';
import type { PipelineRunRow, RunStatus, StepRow } from './types.js';

export interface SubmitRequest {
  projectId: number;
  /** The pipeline file's text; or, with `pipeline` alone, the applied pipeline of that name. */
  source?: string;
  pipeline?: string;
  /** `name=value` overrides, coerced to each param's type. */
  params: Record<string, string> | string[];
  useCache: boolean;
  trigger: { kind: string; detail: unknown };
  createdBy: string;
  principalId: number | null;
}

export interface RunView {
  run: PipelineRunRow;
  steps: StepRow[];
}

export type PipelineEngineDeps = Omit<EngineDeps, 'finished'> & {
  tracking: PipelineTracking;
  defaultRunner: string;
  runners: readonly string[];
  /** Releases what a run held (its step token) once it ends. */
  release(run: PipelineRunRow): Promise<void>;
  tickMs: number;
  maxRuns: number;
};

/** Pipeline runs: submitted by people and triggers, executed by whichever replica claims them. */
export class PipelinesService {
  private readonly executing = new Map<string, RunExecution>();
  private timer: NodeJS.Timeout | null = null;
  private dispatching: Promise<void> | null = null;
  private stopped = true;
  private readonly logger: Logger;
  /** Set once wired: triggers start runs through this service. */
  triggers: Triggers | null = null;

  constructor(readonly sql: PipelinesSql, private readonly deps: PipelineEngineDeps) {
    this.logger = deps.logger;
  }

  parse(source: string, file = 'pipeline.yaml'): Pipeline {
    return assertValidPipeline(source, file);
  }

  async apply(projectId: number, source: string, by: string, principalId: number | null): Promise<Pipeline> {
    const pipeline = this.parse(source);
    const now = Date.now();
    const rows = this.triggers ? await this.triggers.rowsFor(projectId, pipeline.triggers, now) : [];
    await this.sql.db.transaction(async (tx) => {
      await this.sql.putPipeline({ projectId, name: pipeline.name, source, by, principalId, now }, tx);
      await this.sql.setTriggers(projectId, pipeline.name, rows, tx);
    });
    return pipeline;
  }

  async pipeline(projectId: number, name: string) {
    const p = await this.sql.pipeline(projectId, name);
    if (!p) throw notFound(`No pipeline named '${name}' in this project; apply it first (capstan pipelines apply FILE).`);
    return p;
  }

  async submit(req: SubmitRequest): Promise<PipelineRunRow> {
    const source = req.source ?? (await this.pipeline(req.projectId, req.pipeline ?? '')).source;
    const pipeline = this.parse(source);
    if (req.pipeline && req.source && pipeline.name !== req.pipeline) throw invalidParam(`The file names its pipeline '${pipeline.name}', not '${req.pipeline}'.`);
    const params = resolveParams(pipeline.params, req.params);
    const runner = this.deps.defaultRunner;
    const steps = pipeline.steps.flatMap((s) => expandMatrix(s)).map((inst, idx) => ({ idx, step: inst.step, instance: inst.name }));
    const runId = randomUUID().replaceAll('-', '');
    const now = Date.now();
    const mlflowRunId = await this.deps.tracking.startPipelineRun(req.projectId, pipeline.name, `${pipeline.name}-${runId.slice(0, 8)}`, params,
      { 'capstan.pipeline_run': runId, 'capstan.trigger': req.trigger.kind }, req.createdBy);
    await this.sql.createRun({
      runId, projectId: req.projectId, pipeline: pipeline.name, source, params, trigger: req.trigger, runner, useCache: req.useCache,
      mlflowRunId, createdBy: req.createdBy, principalId: req.principalId, createdTime: now, steps,
    });
    this.kick();
    return (await this.sql.run(runId))!;
  }

  async view(projectId: number, runId: string): Promise<RunView> {
    const run = await this.sql.run(runId);
    if (!run || run.projectId !== projectId) throw notFound(`No pipeline run '${runId}' in this project.`);
    return { run, steps: await this.sql.steps(runId) };
  }

  async logs(projectId: number, runId: string, f: { after: number; step?: string; limit: number }): Promise<{ lines: Array<LogLine & { step: string }>; status: RunStatus }> {
    const { run, steps } = await this.view(projectId, runId);
    let idx: number | undefined;
    if (f.step !== undefined) {
      const row = steps.find((s) => s.instance === f.step) ?? steps.find((s) => s.step === f.step);
      if (!row) throw notFound(`Run ${runId} has no step '${f.step}' (steps: ${[...new Set(steps.map((s) => s.instance))].join(', ')}).`);
      idx = row.idx;
    }
    const names = new Map(steps.map((s) => [s.idx, s.instance]));
    const lines = await this.sql.logs(runId, { after: f.after, idx, limit: f.limit });
    return { lines: lines.map((l) => ({ ...l, step: names.get(l.idx) ?? String(l.idx) })), status: run.status };
  }

  async cancel(projectId: number, runId: string): Promise<PipelineRunRow> {
    const { run } = await this.view(projectId, runId);
    if (run.status !== 'queued' && run.status !== 'running') throw new AppError('INVALID_STATE', `Run ${runId} has already ended (${run.status}).`);
    await this.sql.requestCancel(runId, Date.now());
    this.executing.get(runId)?.interrupt('cancel');
    return (await this.sql.run(runId))!;
  }

  /** Runs a failed or cancelled run again from where it stopped: steps that succeeded keep their results. */
  async retry(projectId: number, runId: string): Promise<PipelineRunRow> {
    const { run, steps } = await this.view(projectId, runId);
    if (run.status !== 'failed' && run.status !== 'cancelled') throw new AppError('INVALID_STATE', `Only a failed or cancelled run can be retried; run ${runId} is ${run.status}.`);
    const reset = steps.filter((s) => s.status !== 'succeeded').map((s) => s.idx);
    if (!(await this.sql.requeue(runId, reset))) throw new AppError('INVALID_STATE', `Run ${runId} changed while being retried; look at it again.`);
    await this.deps.tracking.reopen(run.mlflowRunId).catch(() => undefined);
    this.kick();
    return (await this.sql.run(runId))!;
  }

  // ---- execution ----

  start(): void {
    this.stopped = false;
    this.kick();
  }

  /** Looks for claimable runs now (and then every tickMs). */
  kick(): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.dispatching ??= this.dispatch().finally(() => {
        this.dispatching = null;
        if (!this.stopped && !this.timer) {
          this.timer = setTimeout(() => this.kick(), this.deps.tickMs);
          this.timer.unref();
        }
      });
    }, 0);
    this.timer.unref();
  }

  /** Claims queued runs and runs whose owner's lease lapsed, up to this replica's limit. */
  async dispatch(): Promise<void> {
    try {
      await this.triggers?.tick(Date.now());
      const room = this.deps.maxRuns - this.executing.size;
      if (room <= 0) return;
      for (const runId of await this.sql.claimable(Date.now(), room)) {
        if (this.stopped || this.executing.has(runId)) continue;
        const run = await this.sql.claimRun(runId, this.deps.replica, Date.now(), this.deps.leaseMs);
        if (!run) continue;
        this.execute(run);
      }
    } catch (err) {
      this.logger.warn({ err }, 'pipeline dispatch failed; tried again at the next tick');
    }
  }

  private execute(run: PipelineRunRow): void {
    const execution = new RunExecution({ ...this.deps, finished: (r, status) => this.finished(r, status) }, run);
    this.executing.set(run.runId, execution);
    this.logger.info({ pipeline_run: run.runId, pipeline: run.pipeline, project_id: run.projectId }, 'pipeline run started');
    void execution.execute()
      .then((status) => this.logger.info({ pipeline_run: run.runId, status: status ?? 'handed over' }, 'pipeline run stopped'))
      .catch((err: Error) => this.logger.error({ err, pipeline_run: run.runId }, 'pipeline run failed unexpectedly'))
      .finally(() => {
        this.executing.delete(run.runId);
        this.kick();
      });
  }

  private async finished(run: PipelineRunRow, status: RunStatus): Promise<void> {
    await this.deps.release(run);
    await this.deps.tracking.end(run.mlflowRunId, status === 'succeeded' ? 'FINISHED' : status === 'cancelled' ? 'KILLED' : 'FAILED');
  }

  /** Waits until a run this replica executes has stopped (tests, and the CLI's --wait through the API). */
  async settled(runId: string): Promise<void> {
    while (this.executing.has(runId) || this.dispatching) await new Promise((r) => setTimeout(r, 20));
  }

  /**
   * Stops executing: every run's steps are interrupted and left pending, and their leases released
   * so the next replica to start (or this one, restarted) resumes them at once.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.dispatching;
    const runs = [...this.executing.entries()];
    for (const [, e] of runs) e.interrupt('shutdown');
    await Promise.all(runs.map(([id]) => this.settled(id)));
    for (const [id] of runs) await this.sql.releaseLease(id, this.deps.replica).catch(() => undefined);
  }
}
