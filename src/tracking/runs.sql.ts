import type { Db } from '../store/sql/index.js';
import { stageFilter } from './experiments.sql.js';
import { compileOrder, compileWhere, type FilterTarget } from './filter.sql.js';
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

const RUN_TARGET: FilterTarget = {
  alias: 'r',
  keyColumn: 'r.run_id',
  attributes: {
    run_id: 'r.run_uuid',
    run_name: 'r.name',
    status: 'r.status',
    user_id: 'r.user_id',
    artifact_uri: 'r.artifact_uri',
    start_time: 'r.start_time',
    end_time: 'r.end_time',
    experiment_id: 'r.experiment_id',
  },
  tagTable: 'tags',
  tagKeyColumn: 'run_id',
};

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

const RUN_COLUMNS = 'r.run_id, r.run_uuid, r.experiment_id, r.name, r.user_id, r.status, r.start_time, r.end_time, r.lifecycle_stage, r.artifact_uri';

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
      if (change.status !== undefined) sets.push('status = ?') && params.push(change.status);
      if (change.endTime !== undefined) sets.push('end_time = ?') && params.push(change.endTime);
      if (change.runName !== undefined) sets.push('name = ?') && params.push(change.runName);
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
    const ids = experimentIds.map(Number);
    if (ids.length === 0) return [];
    const where = compileWhere(RUN_TARGET, q.clauses);
    const terms = q.orderBy.length ? q.orderBy : [{ kind: 'attribute' as const, key: 'start_time', ascending: false }];
    const order = compileOrder(RUN_TARGET, terms, 'r.start_time DESC, r.run_uuid ASC');
    const rows = await this.db.all<RunRow>(
      `SELECT ${RUN_COLUMNS} FROM runs r ${order.joins.sql}
       WHERE r.experiment_id IN (${ids.map(() => '?').join(', ')}) AND ${stageFilter('r.lifecycle_stage', q.viewType)} AND ${where.sql}
       ORDER BY ${order.orderBy} LIMIT ? OFFSET ?`,
      [...order.joins.params, ...ids, ...where.params, q.limit, q.offset],
    );
    const data = await loadRunData(this.db, rows.map((r) => r.run_id));
    return rows.map((r) => ({ info: infoOf(r), ...data.get(r.run_id)! }));
  }

  /** Up to `maxPoints` per run, evenly spread over the run's points in range, first and last kept. */
  async sampledHistory(runs: RunRef[], key: string, range: { startStep?: number; endStep?: number }, maxPoints: number): Promise<(Metric & { runId: string })[]> {
    const out: (Metric & { runId: string })[] = [];
    for (const run of runs) {
      const series = await readSeries(this.db, run.id, key, range.startStep, range.endStep);
      const n = seriesLength(series);
      const stride = n <= maxPoints ? 1 : (n - 1) / (maxPoints - 1);
      for (let k = 0; k < Math.min(n, maxPoints); k++) {
        const p = pointAt(series, stride === 1 ? k : Math.round(k * stride));
        out.push({ key, value: p.value, timestamp: p.timestamp, step: p.step, runId: run.runId });
      }
    }
    return out;
  }
}
