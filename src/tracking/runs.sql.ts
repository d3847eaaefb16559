import type { Db } from '../store/sql/index.js';
import { experimentKey } from './experiments.sql.js';
import { RUN_COLUMNS, searchRunRows } from './run-search.sql.js';
import { insertRows } from '../store/sql/index.js';
import { pointAt, seriesLength } from './metric-chunks.js';
import { loadRunData, readSeries } from './run-data.sql.js';
import type { NewRun, SearchQuery } from './tracking.store.js';
import type { LifecycleStage, Metric, Run, RunInfo, RunRef, RunStatus } from './types.js';

interface RunRow {
  run_id: number;
  run_uuid: string;
  experiment_id: number;
  name: string;
  user_id: string;
  status: RunStatus;
  start_time: number;
  end_time: number | null;
  lifecycle_stage: LifecycleStage;
  artifact_uri: string;
}


function infoOf(r: RunRow): RunInfo {
  return {
    runId: r.run_uuid,
    runName: r.name,
    experimentId: String(r.experiment_id),
    userId: r.user_id,
    status: r.status,
    startTime: r.start_time,
    endTime: r.end_time,
    artifactUri: r.artifact_uri,
    lifecycleStage: r.lifecycle_stage,
  };
}

function refOf(r: Pick<RunRow, 'run_id' | 'run_uuid' | 'experiment_id' | 'lifecycle_stage'>): RunRef {
  return { id: r.run_id, runId: r.run_uuid, experimentId: String(r.experiment_id), lifecycleStage: r.lifecycle_stage };
}


export class RunSql {
  constructor(private readonly db: Db) {}

  async create(r: NewRun): Promise<void> {
    await this.db.transaction(async (tx) => {
      const row = await tx.get<{ run_id: number }>(
        `INSERT INTO runs (run_uuid, experiment_id, name, user_id, status, start_time, end_time, lifecycle_stage, artifact_uri)
         VALUES (?, ?, ?, ?, 'RUNNING', ?, NULL, 'active', ?) RETURNING run_id`,
        [r.runId, Number(r.experimentId), r.runName, r.userId, r.startTime, r.artifactUri],
      );
      await insertRows(tx, 'INSERT INTO tags (run_id, key, value)', 3, r.tags.map((t) => [row!.run_id, t.key, t.value]), 'ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value');
    });
  }

  async getRef(runId: string): Promise<RunRef | undefined> {
    const row = await this.db.get<RunRow>('SELECT run_id, run_uuid, experiment_id, lifecycle_stage FROM runs WHERE run_uuid = ?', [runId]);
    return row ? refOf(row) : undefined;
  }

  async get(runId: string): Promise<Run | undefined> {
    const row = await this.db.get<RunRow>(`SELECT ${RUN_COLUMNS} FROM runs r WHERE r.run_uuid = ?`, [runId]);
    if (!row) return undefined;
    const data = await loadRunData(this.db, [row.run_id]);
    return { info: infoOf(row), ...data.get(row.run_id)! };
  }

  async update(run: RunRef, change: { status?: RunStatus; endTime?: number; runName?: string }): Promise<RunInfo> {
    return this.db.transaction(async (tx) => {
      const sets: string[] = [];
      const params: (string | number)[] = [];
      for (const [column, value] of [['status', change.status], ['end_time', change.endTime], ['name', change.runName]] as const) {
        if (value === undefined) continue;
        sets.push(`${column} = ?`);
        params.push(value);
      }
      if (sets.length) await tx.run(`UPDATE runs SET ${sets.join(', ')} WHERE run_id = ?`, [...params, run.id]);
      if (change.runName !== undefined) {
        await tx.run('INSERT INTO tags (run_id, key, value) VALUES (?, ?, ?) ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value', [run.id, 'mlflow.runName', change.runName]);
      }
      const row = await tx.get<RunRow>(`SELECT ${RUN_COLUMNS} FROM runs r WHERE r.run_id = ?`, [run.id]);
      return infoOf(row!);
    });
  }

  async setStage(run: RunRef, stage: LifecycleStage, now: number): Promise<void> {
    await this.db.run('UPDATE runs SET lifecycle_stage = ?, deleted_time = ? WHERE run_id = ?', [stage, stage === 'deleted' ? now : null, run.id]);
  }

  async deleteTag(run: RunRef, key: string): Promise<boolean> {
    return (await this.db.run('DELETE FROM tags WHERE run_id = ? AND key = ?', [run.id, key])).changes > 0;
  }

  async search(experimentIds: string[], q: SearchQuery): Promise<Run[]> {
    // An id that cannot name an experiment matches nothing (PostgreSQL would reject it as a BIGINT).
    const ids = experimentIds.map(experimentKey).filter((id) => id !== undefined);
    const rows = await searchRunRows<RunRow>(this.db, ids, q);
    const data = await loadRunData(this.db, rows.map((r) => r.run_id));
    return rows.map((r) => ({ info: infoOf(r), ...data.get(r.run_id)! }));
  }

  /** Up to `maxPoints` per run, evenly spread over the run's points in range, first and last kept. */
  async sampledHistory(runs: RunRef[], key: string, range: { startStep?: number; endStep?: number }, maxPoints: number): Promise<(Metric & { runId: string })[]> {
    const out: (Metric & { runId: string })[] = [];
    for (const run of runs) {
      const series = await readSeries(this.db, run.id, key, range.startStep, range.endStep);
      const n = seriesLength(series);
      // At least two picks, as MLflow keeps the first and the last step even for max_results 1.
      const picks = Math.min(n, Math.max(maxPoints, 2));
      const stride = n <= picks ? 1 : (n - 1) / (picks - 1);
      for (let k = 0; k < picks; k++) {
        const p = pointAt(series, stride === 1 ? k : Math.round(k * stride));
        out.push({ key, value: p.value, timestamp: p.timestamp, step: p.step, runId: run.runId });
      }
    }
    return out;
  }
}
