import type { Db, SqlExecutor, SqlValue } from '../store/sql/index.js';
import type { PipelineRunRow, RunStatus, StepRow, StepRowStatus, StoredOutputs, TriggerRow } from './types.js';

type R = Record<string, unknown>;
const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

const RUN_COLUMNS = 'run_id, project_id, pipeline, source, params, status, trigger_kind, trigger_detail, runner, use_cache, mlflow_run_id, created_by, principal_id, created_time, started_time, finished_time, message, owner, lease_until, cancel_requested';
const STEP_COLUMNS = 'run_id, idx, step, instance, status, attempts, mlflow_run_id, cache_key, cached_from, exit_code, message, outputs, metrics, started_time, finished_time';

const toRun = (r: R): PipelineRunRow => ({
  runId: String(r.run_id), projectId: Number(r.project_id), pipeline: String(r.pipeline), source: String(r.source),
  params: JSON.parse(String(r.params)), status: String(r.status) as RunStatus,
  trigger: { kind: String(r.trigger_kind), detail: JSON.parse(String(r.trigger_detail)) },
  runner: String(r.runner), useCache: Number(r.use_cache) === 1, mlflowRunId: String(r.mlflow_run_id),
  createdBy: String(r.created_by), principalId: num(r.principal_id), createdTime: Number(r.created_time),
  startedTime: num(r.started_time), finishedTime: num(r.finished_time), message: String(r.message),
  owner: String(r.owner), leaseUntil: Number(r.lease_until), cancelRequested: Number(r.cancel_requested) === 1,
});

const toStep = (r: R): StepRow => ({
  runId: String(r.run_id), idx: Number(r.idx), step: String(r.step), instance: String(r.instance), status: String(r.status) as StepRowStatus,
  attempts: Number(r.attempts), mlflowRunId: String(r.mlflow_run_id), cacheKey: String(r.cache_key), cachedFrom: String(r.cached_from),
  exitCode: num(r.exit_code), message: String(r.message), outputs: JSON.parse(String(r.outputs)), metrics: JSON.parse(String(r.metrics)),
  startedTime: num(r.started_time), finishedTime: num(r.finished_time),
});

const toTrigger = (r: R): TriggerRow => ({
  projectId: Number(r.project_id), pipeline: String(r.pipeline), key: String(r.trigger_key), kind: String(r.kind) as TriggerRow['kind'],
  config: JSON.parse(String(r.config)), nextTime: Number(r.next_time), lastSeen: String(r.last_seen),
});

export type NewRun = Pick<PipelineRunRow, 'runId' | 'projectId' | 'pipeline' | 'source' | 'params' | 'trigger' | 'runner' | 'useCache' | 'mlflowRunId' | 'createdBy' | 'principalId' | 'createdTime'> & {
  steps: Array<{ idx: number; step: string; instance: string }>;
};

export interface LogLine {
  logId: number;
  idx: number;
  attempt: number;
  time: number;
  stream: string;
  line: string;
}

export interface StepChange {
  status?: StepRowStatus;
  attempts?: number;
  mlflowRunId?: string;
  cacheKey?: string;
  cachedFrom?: string;
  exitCode?: number | null;
  message?: string;
  outputs?: StoredOutputs;
  metrics?: Record<string, number>;
  startedTime?: number | null;
  finishedTime?: number | null;
}

const STEP_FIELDS: Record<keyof StepChange, string> = {
  status: 'status', attempts: 'attempts', mlflowRunId: 'mlflow_run_id', cacheKey: 'cache_key', cachedFrom: 'cached_from', exitCode: 'exit_code',
  message: 'message', outputs: 'outputs', metrics: 'metrics', startedTime: 'started_time', finishedTime: 'finished_time',
};

/** Pipelines, their runs, step instances, logs, the step cache and triggers. */
export class PipelinesSql {
  constructor(readonly db: Db) {}

  // ---- applied pipelines ----

  async putPipeline(p: { projectId: number; name: string; source: string; by: string; principalId: number | null; now: number }, tx: SqlExecutor = this.db): Promise<void> {
    await tx.run(
      `INSERT INTO pipelines (project_id, name, source, created_time, updated_time, updated_by, principal_id) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (project_id, name) DO UPDATE SET source = excluded.source, updated_time = excluded.updated_time, updated_by = excluded.updated_by, principal_id = excluded.principal_id`,
      [p.projectId, p.name, p.source, p.now, p.now, p.by, p.principalId],
    );
  }

  async pipeline(projectId: number, name: string): Promise<{ name: string; source: string; updatedTime: number; updatedBy: string; principalId: number | null } | null> {
    const r = await this.db.get<R>('SELECT name, source, updated_time, updated_by, principal_id FROM pipelines WHERE project_id = ? AND name = ?', [projectId, name]);
    return r ? { name: String(r.name), source: String(r.source), updatedTime: Number(r.updated_time), updatedBy: String(r.updated_by), principalId: num(r.principal_id) } : null;
  }

  async listPipelines(projectId: number): Promise<Array<{ name: string; updatedTime: number; updatedBy: string }>> {
    const rows = await this.db.all<R>('SELECT name, updated_time, updated_by FROM pipelines WHERE project_id = ? ORDER BY name', [projectId]);
    return rows.map((r) => ({ name: String(r.name), updatedTime: Number(r.updated_time), updatedBy: String(r.updated_by) }));
  }

  async deletePipeline(projectId: number, name: string): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      await tx.run('DELETE FROM pipeline_triggers WHERE project_id = ? AND pipeline = ?', [projectId, name]);
      return (await tx.run('DELETE FROM pipelines WHERE project_id = ? AND name = ?', [projectId, name])).changes > 0;
    });
  }

  // ---- runs ----

  async createRun(run: NewRun): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.run(
        `INSERT INTO pipeline_runs (${RUN_COLUMNS}) VALUES (?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, '', '', 0, 0)`,
        [run.runId, run.projectId, run.pipeline, run.source, JSON.stringify(run.params), run.trigger.kind, JSON.stringify(run.trigger.detail ?? {}),
          run.runner, run.useCache ? 1 : 0, run.mlflowRunId, run.createdBy, run.principalId, run.createdTime],
      );
      await tx.runMany(
        `INSERT INTO pipeline_steps (${STEP_COLUMNS}) VALUES (?, ?, ?, ?, 'pending', 0, '', '', '', NULL, '', '{}', '{}', NULL, NULL)`,
        run.steps.map((s) => [run.runId, s.idx, s.step, s.instance]),
      );
    });
  }

  async run(runId: string): Promise<PipelineRunRow | null> {
    const r = await this.db.get<R>(`SELECT ${RUN_COLUMNS} FROM pipeline_runs WHERE run_id = ?`, [runId]);
    return r ? toRun(r) : null;
  }

  async listRuns(projectId: number, f: { pipeline?: string; status?: string; limit: number; before?: number }): Promise<PipelineRunRow[]> {
    const where = ['project_id = ?'];
    const args: SqlValue[] = [projectId];
    if (f.pipeline) (where.push('pipeline = ?'), args.push(f.pipeline));
    if (f.status) (where.push('status = ?'), args.push(f.status));
    if (f.before) (where.push('created_time < ?'), args.push(f.before));
    const rows = await this.db.all<R>(`SELECT ${RUN_COLUMNS} FROM pipeline_runs WHERE ${where.join(' AND ')} ORDER BY created_time DESC, run_id DESC LIMIT ?`, [...args, f.limit]);
    return rows.map(toRun);
  }

  /**
   * Takes a run to execute: a queued one, or a running one whose owner's lease has lapsed. A
   * compare-and-set on (owner, lease_until), so of several replicas exactly one wins.
   */
  async claimRun(runId: string, owner: string, now: number, leaseMs: number): Promise<PipelineRunRow | null> {
    const changed = await this.db.run(
      `UPDATE pipeline_runs SET owner = ?, lease_until = ?, status = 'running', started_time = COALESCE(started_time, ?)
       WHERE run_id = ? AND (status = 'queued' OR (status = 'running' AND lease_until < ?))`,
      [owner, now + leaseMs, now, runId, now],
    );
    return changed.changes === 1 ? this.run(runId) : null;
  }

  /** Runs waiting for a replica: queued, or running under a lapsed lease. */
  async claimable(now: number, limit: number): Promise<string[]> {
    const rows = await this.db.all<R>(
      `SELECT run_id FROM pipeline_runs WHERE status = 'queued' OR (status = 'running' AND lease_until < ?) ORDER BY created_time LIMIT ?`,
      [now, limit],
    );
    return rows.map((r) => String(r.run_id));
  }

  /** Extends the lease; false when another replica took the run over (this one must stop). */
  async renewLease(runId: string, owner: string, until: number): Promise<boolean> {
    const r = await this.db.run(`UPDATE pipeline_runs SET lease_until = ? WHERE run_id = ? AND owner = ? AND status = 'running'`, [until, runId, owner]);
    return r.changes === 1;
  }

  /** Gives a running run up at shutdown, so the next replica to look takes it over without waiting for the lease. */
  async releaseLease(runId: string, owner: string): Promise<void> {
    await this.db.run(`UPDATE pipeline_runs SET lease_until = 0 WHERE run_id = ? AND owner = ? AND status = 'running'`, [runId, owner]);
  }

  async finishRun(runId: string, owner: string, status: RunStatus, message: string, now: number): Promise<void> {
    await this.db.run(`UPDATE pipeline_runs SET status = ?, message = ?, finished_time = ?, lease_until = 0 WHERE run_id = ? AND owner = ?`, [status, message, now, runId, owner]);
  }

  /** A cancel on a queued run ends it at once; a running one is told through the flag its owner polls. */
  async requestCancel(runId: string, now: number): Promise<void> {
    await this.db.run(`UPDATE pipeline_runs SET cancel_requested = 1 WHERE run_id = ? AND status IN ('queued', 'running')`, [runId]);
    await this.db.run(`UPDATE pipeline_runs SET status = 'cancelled', message = 'cancelled before it started', finished_time = ? WHERE run_id = ? AND status = 'queued'`, [now, runId]);
  }

  /** The API token minted for a run's steps (revoked when the run ends, or replaced when another replica resumes it). */
  async setRunToken(runId: string, tokenId: number | null): Promise<number | null> {
    const before = await this.db.get<R>('SELECT token_id FROM pipeline_runs WHERE run_id = ?', [runId]);
    await this.db.run('UPDATE pipeline_runs SET token_id = ? WHERE run_id = ?', [tokenId, runId]);
    return num(before?.token_id);
  }

  async cancelRequested(runId: string): Promise<boolean> {
    const r = await this.db.get<R>('SELECT cancel_requested FROM pipeline_runs WHERE run_id = ?', [runId]);
    return Number(r?.cancel_requested ?? 0) === 1;
  }

  /** Puts a finished run back in the queue with its failed, cancelled and skipped steps pending again. */
  async requeue(runId: string, resetIdx: readonly number[]): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const r = await tx.run(
        `UPDATE pipeline_runs SET status = 'queued', owner = '', lease_until = 0, cancel_requested = 0, finished_time = NULL, message = '' WHERE run_id = ? AND status IN ('failed', 'cancelled')`,
        [runId],
      );
      if (r.changes !== 1) return false;
      await tx.runMany(
        `UPDATE pipeline_steps SET status = 'pending', attempts = 0, exit_code = NULL, message = '', outputs = '{}', metrics = '{}', started_time = NULL, finished_time = NULL, cached_from = '' WHERE run_id = ? AND idx = ?`,
        resetIdx.map((i) => [runId, i]),
      );
      return true;
    });
  }

  // ---- steps ----

  async steps(runId: string): Promise<StepRow[]> {
    return (await this.db.all<R>(`SELECT ${STEP_COLUMNS} FROM pipeline_steps WHERE run_id = ? ORDER BY idx`, [runId])).map(toStep);
  }

  async updateStep(runId: string, idx: number, change: StepChange): Promise<void> {
    const keys = (Object.keys(change) as Array<keyof StepChange>).filter((k) => change[k] !== undefined);
    if (keys.length === 0) return;
    const values = keys.map((k): SqlValue => {
      const v = change[k];
      return k === 'outputs' || k === 'metrics' ? JSON.stringify(v) : (v as SqlValue);
    });
    await this.db.run(`UPDATE pipeline_steps SET ${keys.map((k) => `${STEP_FIELDS[k]} = ?`).join(', ')} WHERE run_id = ? AND idx = ?`, [...values, runId, idx]);
  }

  // ---- logs ----

  async appendLogs(runId: string, lines: ReadonlyArray<Omit<LogLine, 'logId'>>): Promise<void> {
    if (lines.length === 0) return;
    await this.db.transaction((tx) =>
      tx.runMany('INSERT INTO pipeline_logs (run_id, idx, attempt, time, stream, line) VALUES (?, ?, ?, ?, ?, ?)', lines.map((l) => [runId, l.idx, l.attempt, l.time, l.stream, l.line])),
    );
  }

  async logs(runId: string, f: { after: number; idx?: number; limit: number }): Promise<LogLine[]> {
    const rows = await this.db.all<R>(
      `SELECT log_id, idx, attempt, time, stream, line FROM pipeline_logs WHERE run_id = ? AND log_id > ?${f.idx === undefined ? '' : ' AND idx = ?'} ORDER BY log_id LIMIT ?`,
      f.idx === undefined ? [runId, f.after, f.limit] : [runId, f.after, f.idx, f.limit],
    );
    return rows.map((r) => ({ logId: Number(r.log_id), idx: Number(r.idx), attempt: Number(r.attempt), time: Number(r.time), stream: String(r.stream), line: String(r.line) }));
  }

  // ---- cache ----

  async cached(projectId: number, key: string, notBefore: number): Promise<{ outputs: StoredOutputs; metrics: Record<string, number>; mlflowRunId: string; createdTime: number } | null> {
    const r = await this.db.get<R>('SELECT outputs, metrics, mlflow_run_id, created_time FROM pipeline_cache WHERE project_id = ? AND cache_key = ? AND created_time >= ?', [projectId, key, notBefore]);
    return r ? { outputs: JSON.parse(String(r.outputs)), metrics: JSON.parse(String(r.metrics)), mlflowRunId: String(r.mlflow_run_id), createdTime: Number(r.created_time) } : null;
  }

  async putCache(projectId: number, key: string, entry: { outputs: StoredOutputs; metrics: Record<string, number>; mlflowRunId: string }, now: number): Promise<void> {
    await this.db.run(
      `INSERT INTO pipeline_cache (project_id, cache_key, outputs, metrics, mlflow_run_id, created_time) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (project_id, cache_key) DO UPDATE SET outputs = excluded.outputs, metrics = excluded.metrics, mlflow_run_id = excluded.mlflow_run_id, created_time = excluded.created_time`,
      [projectId, key, JSON.stringify(entry.outputs), JSON.stringify(entry.metrics), entry.mlflowRunId, now],
    );
  }

  async clearCache(projectId: number): Promise<number> {
    return (await this.db.run('DELETE FROM pipeline_cache WHERE project_id = ?', [projectId])).changes;
  }

  // ---- triggers ----

  async setTriggers(projectId: number, pipeline: string, triggers: Array<Omit<TriggerRow, 'projectId' | 'pipeline'>>, tx: SqlExecutor = this.db): Promise<void> {
    const keep = new Set(triggers.map((t) => t.key));
    const existing = await tx.all<R>('SELECT trigger_key, config FROM pipeline_triggers WHERE project_id = ? AND pipeline = ?', [projectId, pipeline]);
    for (const e of existing) {
      if (!keep.has(String(e.trigger_key))) await tx.run('DELETE FROM pipeline_triggers WHERE project_id = ? AND pipeline = ? AND trigger_key = ?', [projectId, pipeline, String(e.trigger_key)]);
    }
    const unchanged = new Map(existing.map((e) => [String(e.trigger_key), String(e.config)]));
    for (const t of triggers) {
      const config = JSON.stringify(t.config);
      // A trigger re-applied as it was keeps its place (next firing time, what it saw last).
      if (unchanged.get(t.key) === config) continue;
      await tx.run(
        `INSERT INTO pipeline_triggers (project_id, pipeline, trigger_key, kind, config, next_time, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (project_id, pipeline, trigger_key) DO UPDATE SET kind = excluded.kind, config = excluded.config, next_time = excluded.next_time, last_seen = excluded.last_seen`,
        [projectId, pipeline, t.key, t.kind, config, t.nextTime, t.lastSeen],
      );
    }
  }

  async triggers(projectId?: number, pipeline?: string): Promise<TriggerRow[]> {
    const rows = projectId === undefined
      ? await this.db.all<R>('SELECT * FROM pipeline_triggers ORDER BY project_id, pipeline, trigger_key')
      : await this.db.all<R>('SELECT * FROM pipeline_triggers WHERE project_id = ? AND pipeline = ? ORDER BY trigger_key', [projectId, pipeline ?? '']);
    return rows.map(toTrigger);
  }

  /** Moves a trigger on from what it last saw; false when another replica already did. */
  async advanceTrigger(t: TriggerRow, next: { nextTime: number; lastSeen: string }): Promise<boolean> {
    const r = await this.db.run(
      'UPDATE pipeline_triggers SET next_time = ?, last_seen = ? WHERE project_id = ? AND pipeline = ? AND trigger_key = ? AND next_time = ? AND last_seen = ?',
      [next.nextTime, next.lastSeen, t.projectId, t.pipeline, t.key, t.nextTime, t.lastSeen],
    );
    return r.changes === 1;
  }
}
