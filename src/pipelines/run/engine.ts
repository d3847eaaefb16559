// Executes one pipeline run on the replica that claimed it: steps start as soon as what they need
// has finished, within the concurrency limits; conditions and failures skip what depends on them;
// a lease renewed while it works lets another replica (or this one, restarted) take over a run
// whose executor died, keeping every step that had finished.
import type { Logger } from 'pino';
import { assertValidPipeline, dependencies, evaluateCondition, expandMatrix, referencedPaths, type MatrixInstance, type Pipeline, type ParamValue, type Step } from '../spec/index.js';
import type { PipelinesSql } from '../pipelines.sql.js';
import type { PipelineRunRow, RunStatus, StepRow } from '../types.js';
import { contextFor, type ResolvedDataset } from './prepare.js';
import { InstanceExecutor, type InstanceDeps } from './instance.js';
import { LogBuffer } from './log-buffer.js';

export interface EngineDeps extends Omit<InstanceDeps, 'log' | 'sql'> {
  sql: PipelinesSql;
  logger: Logger;
  /** This replica's name in run leases. */
  replica: string;
  leaseMs: number;
  /** Step instances this replica runs at once, across all its runs. */
  slots: Slots;
  resolveDatasets(projectId: number, pipeline: Pipeline): Promise<Map<string, ResolvedDataset>>;
  /** Ends the pipeline's tracked run and revokes the token its steps used. */
  finished(run: PipelineRunRow, status: RunStatus): Promise<void>;
}

/** A counting semaphore: the replica-wide limit on step processes. */
export class Slots {
  private free: number;
  private readonly waiting: Array<() => void> = [];
  constructor(size: number) {
    this.free = Math.max(1, size);
  }
  async take(): Promise<void> {
    if (this.free > 0) {
      this.free--;
      return;
    }
    await new Promise<void>((r) => this.waiting.push(r));
  }
  give(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.free++;
  }
}

const TERMINAL = new Set(['succeeded', 'failed', 'skipped', 'cancelled']);

/** Why a condition came out false, with the values it read (`steps.evaluate.metrics.f1 = 0.87`). */
function conditionReport(step: Step, vars: object): string {
  const values = referencedPaths(step.when!.ast).map((p) => {
    let v: unknown = vars;
    for (const k of [p.root, ...p.parts]) v = v !== null && typeof v === 'object' && Object.hasOwn(v, k) ? (v as Record<string, unknown>)[k] : undefined;
    return v === undefined ? `${p.path} has no value` : `${p.path} = ${JSON.stringify(v)}`;
  });
  return `condition \`${step.when!.source}\` is false${values.length ? ` (${values.join(', ')})` : ''}`;
}

export class RunExecution {
  private readonly abort = new AbortController();
  private lostLease = false;
  private cancelled = false;
  private readonly logs: LogBuffer;

  constructor(private readonly deps: EngineDeps, private run: PipelineRunRow) {
    this.logs = new LogBuffer(deps.sql, run.runId, deps.logger);
  }

  /**
   * Stops the run's steps. A cancel ends the run; a shutdown leaves its unfinished steps pending
   * for the replica that takes the run over once this one's lease lapses.
   */
  interrupt(why: 'cancel' | 'shutdown'): void {
    if (why === 'cancel') this.cancelled = true;
    this.abort.abort();
  }

  async execute(): Promise<RunStatus | null> {
    const { sql } = this.deps;
    const heartbeat = setInterval(() => void this.renew(), Math.max(200, Math.floor(this.deps.leaseMs / 3)));
    heartbeat.unref();
    try {
      let pipeline: Pipeline;
      let datasets: Map<string, ResolvedDataset>;
      try {
        pipeline = assertValidPipeline(this.run.source, `${this.run.pipeline}.yaml`);
        datasets = await this.deps.resolveDatasets(this.run.projectId, pipeline);
      } catch (err) {
        return await this.finish('failed', `could not start: ${(err as Error).message}`);
      }
      const rows = await sql.steps(this.run.runId);
      for (const r of rows.filter((x) => x.status === 'running')) {
        this.logs.push(r.idx, r.attempts, 'system', 'the replica running this step stopped; it runs again from its last attempt');
        await this.update(r, { status: 'pending' });
      }
      await this.schedule(pipeline, rows, datasets);
      await this.logs.flush();
      if (this.lostLease) return null;
      if (this.abort.signal.aborted && (this.cancelled || (await sql.cancelRequested(this.run.runId)))) {
        for (const r of rows.filter((x) => x.status === 'pending')) await this.update(r, { status: 'cancelled', message: 'the run was cancelled' });
        return await this.finish('cancelled', 'cancelled');
      }
      if (this.abort.signal.aborted) return null; // shutting down: the lease lapses and a replica resumes it
      const failed = rows.filter((r) => r.status === 'failed' || r.status === 'cancelled');
      return await this.finish(failed.length ? 'failed' : 'succeeded', failed.length ? `step${failed.length > 1 ? 's' : ''} ${failed.map((r) => r.instance).join(', ')} failed` : '');
    } finally {
      clearInterval(heartbeat);
      await this.logs.flush();
    }
  }

  private async renew(): Promise<void> {
    try {
      if (!(await this.deps.sql.renewLease(this.run.runId, this.deps.replica, Date.now() + this.deps.leaseMs))) {
        this.lostLease = true;
        this.abort.abort();
        return;
      }
      if (await this.deps.sql.cancelRequested(this.run.runId)) this.interrupt('cancel');
    } catch (err) {
      this.deps.logger.warn({ err, pipeline_run: this.run.runId }, 'could not renew a pipeline run lease');
    }
  }

  private async finish(status: RunStatus, message: string): Promise<RunStatus> {
    await this.deps.sql.finishRun(this.run.runId, this.deps.replica, status, message, Date.now());
    this.run = { ...this.run, status, message };
    await this.deps.finished(this.run, status).catch((err: Error) => this.deps.logger.warn({ err, pipeline_run: this.run.runId }, 'could not close the tracked run of a pipeline run'));
    return status;
  }

  private async update(row: StepRow, change: Partial<StepRow>): Promise<void> {
    if (this.lostLease) return; // another replica owns the run now
    if (change.status === 'cancelled' && this.abort.signal.aborted && !this.cancelled) {
      change = { ...change, status: 'pending', message: 'interrupted by a server shutdown; runs again when the run resumes', finishedTime: null };
    }
    Object.assign(row, change);
    await this.deps.sql.updateStep(row.runId, row.idx, change);
  }

  /** Starts what is ready until nothing is pending or running. */
  private async schedule(pipeline: Pipeline, rows: StepRow[], datasets: Map<string, ResolvedDataset>): Promise<void> {
    const instances = new Map<string, MatrixInstance[]>(pipeline.steps.map((s) => [s.name, expandMatrix(s)]));
    const byStep = (name: string) => rows.filter((r) => r.step === name);
    const running = new Map<number, Promise<void>>();
    const perStep = new Map<string, number>();
    const executor = new InstanceExecutor({ ...this.deps, log: this.logs });
    // One listener for the whole run: the loop below waits on it once per finished step.
    const aborted = new Promise<void>((r) => (this.abort.signal.aborted ? r() : this.abort.signal.addEventListener('abort', () => r(), { once: true })));
    for (;;) {
      if (this.abort.signal.aborted) break;
      let progressed = false;
      for (const step of pipeline.steps) {
        const pending = byStep(step.name).filter((r) => r.status === 'pending');
        if (pending.length === 0) continue;
        const deps = dependencies(step);
        if (!deps.every((d) => byStep(d).every((r) => TERMINAL.has(r.status)))) continue;
        const blocked = deps.find((d) => byStep(d).some((r) => r.status === 'failed' || r.status === 'cancelled'))
          ?? deps.find((d) => byStep(d).every((r) => r.status === 'skipped'));
        if (blocked) {
          const why = byStep(blocked).some((r) => r.status === 'failed' || r.status === 'cancelled') ? 'failed' : 'was skipped';
          for (const r of pending) await this.skip(r, `not run: step '${blocked}' ${why}`);
          progressed = true;
          continue;
        }
        for (const r of pending) {
          if (running.has(r.idx)) continue;
          const instance = instances.get(step.name)![byStep(step.name).indexOf(r)];
          const params = { ...(this.run.params as Record<string, ParamValue>), ...instance.values };
          if (step.when) {
            const vars = contextFor(pipeline, params, rows);
            let go: boolean;
            try {
              go = evaluateCondition(step.when.ast, vars);
            } catch (err) {
              await this.update(r, { status: 'failed', message: `condition \`${step.when.source}\` could not be evaluated: ${(err as Error).message}`, finishedTime: Date.now() });
              progressed = true;
              continue;
            }
            if (!go) {
              await this.skip(r, conditionReport(step, vars));
              progressed = true;
              continue;
            }
          }
          const limit = step.matrix?.maxParallel ?? Infinity;
          if ((perStep.get(step.name) ?? 0) >= limit) continue;
          perStep.set(step.name, (perStep.get(step.name) ?? 0) + 1);
          await this.update(r, { status: 'running', startedTime: Date.now() });
          const job = (async () => {
            await this.deps.slots.take();
            try {
              if (this.abort.signal.aborted) await this.update(r, { status: this.cancelled ? 'cancelled' : 'pending' });
              else await executor.execute({ run: this.run, pipeline, step, instance, row: r, rows, datasets, signal: this.abort.signal, update: (c) => this.update(r, c) });
            } catch (err) {
              this.deps.logger.error({ err, pipeline_run: this.run.runId, step: r.instance }, 'step instance failed unexpectedly');
              await this.update(r, { status: 'failed', message: `internal error: ${(err as Error).message}`, finishedTime: Date.now() }).catch(() => undefined);
            } finally {
              this.deps.slots.give();
              perStep.set(step.name, perStep.get(step.name)! - 1);
              running.delete(r.idx);
            }
          })();
          running.set(r.idx, job);
          progressed = true;
        }
      }
      if (running.size === 0 && !progressed) break;
      if (!progressed || running.size > 0) await Promise.race([...running.values(), aborted]);
    }
    await Promise.all(running.values());
  }

  private async skip(row: StepRow, why: string): Promise<void> {
    this.logs.push(row.idx, 0, 'system', `skipped: ${why}`);
    await this.update(row, { status: 'skipped', message: why, finishedTime: Date.now() });
  }
}
