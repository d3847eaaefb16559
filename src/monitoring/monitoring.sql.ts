import type { Db, SqlExecutor } from '../store/sql/index.js';

export interface StoredMonitor {
  monitorId: number;
  projectId: number;
  name: string;
  spec: unknown;
  nextRunTime: number;
  createdTime: number;
  updatedTime: number;
  updatedBy: string;
}

export interface MonitorRunRow {
  runId: number;
  monitorId: number;
  time: number;
  windowStart: number;
  windowEnd: number;
  rowCount: number;
  mode: string;
  status: string;
  summary: unknown;
}

export interface StoredProfile {
  projectId: number;
  model: string;
  version: number;
  source: unknown;
  rowCount: number;
  profile: unknown;
  sample: unknown;
  createdTime: number;
  createdBy: string;
}

export interface LogRow {
  logId: number;
  requestId: string;
  time: number;
  version: string;
  inputs: string;
  outputs: string;
}

type R = Record<string, unknown>;
const MONITOR_COLUMNS = 'monitor_id, project_id, name, spec, next_run_time, created_time, updated_time, updated_by';
const RUN_COLUMNS = 'run_id, monitor_id, time, window_start, window_end, row_count, mode, status, summary';

const toMonitor = (r: R): StoredMonitor => ({
  monitorId: Number(r.monitor_id), projectId: Number(r.project_id), name: String(r.name), spec: JSON.parse(String(r.spec)),
  nextRunTime: Number(r.next_run_time), createdTime: Number(r.created_time), updatedTime: Number(r.updated_time), updatedBy: String(r.updated_by),
});
const toRun = (r: R): MonitorRunRow => ({
  runId: Number(r.run_id), monitorId: Number(r.monitor_id), time: Number(r.time), windowStart: Number(r.window_start), windowEnd: Number(r.window_end),
  rowCount: Number(r.row_count), mode: String(r.mode), status: String(r.status), summary: JSON.parse(String(r.summary)),
});

/** Monitors, their runs, reference profiles, feedback and the prediction log they read. */
export class MonitoringSql {
  constructor(readonly db: Db) {}

  async monitor(projectId: number, name: string): Promise<StoredMonitor | undefined> {
    const r = await this.db.get<R>(`SELECT ${MONITOR_COLUMNS} FROM monitors WHERE project_id = ? AND name = ?`, [projectId, name]);
    return r && toMonitor(r);
  }

  async monitors(projectId: number | null): Promise<StoredMonitor[]> {
    const rows = projectId === null
      ? await this.db.all<R>(`SELECT ${MONITOR_COLUMNS} FROM monitors ORDER BY monitor_id`)
      : await this.db.all<R>(`SELECT ${MONITOR_COLUMNS} FROM monitors WHERE project_id = ? ORDER BY name`, [projectId]);
    return rows.map(toMonitor);
  }

  async upsertMonitor(projectId: number, name: string, spec: unknown, nextRunTime: number, actor: string, now: number): Promise<void> {
    await this.db.run(
      `INSERT INTO monitors (project_id, name, spec, next_run_time, created_time, updated_time, updated_by) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (project_id, name) DO UPDATE SET spec = excluded.spec, updated_time = excluded.updated_time, updated_by = excluded.updated_by`,
      [projectId, name, JSON.stringify(spec), nextRunTime, now, now, actor]);
  }

  async deleteMonitor(projectId: number, name: string): Promise<boolean> {
    return (await this.db.run('DELETE FROM monitors WHERE project_id = ? AND name = ?', [projectId, name])).changes > 0;
  }

  /** Monitors whose next run is due. */
  async due(now: number): Promise<StoredMonitor[]> {
    return (await this.db.all<R>(`SELECT ${MONITOR_COLUMNS} FROM monitors WHERE next_run_time <= ? ORDER BY next_run_time LIMIT 100`, [now])).map(toMonitor);
  }

  /** Moves a due monitor's next run forward if no other replica did first: true means this replica runs it. */
  async claim(monitorId: number, seenNextRun: number, nextRun: number): Promise<boolean> {
    return (await this.db.run('UPDATE monitors SET next_run_time = ? WHERE monitor_id = ? AND next_run_time = ?', [nextRun, monitorId, seenNextRun])).changes === 1;
  }

  async insertRun(ex: SqlExecutor, run: Omit<MonitorRunRow, 'runId'>, report: unknown): Promise<void> {
    await ex.run(`INSERT INTO monitor_runs (monitor_id, time, window_start, window_end, row_count, mode, status, summary, report) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [run.monitorId, run.time, run.windowStart, run.windowEnd, run.rowCount, run.mode, run.status, JSON.stringify(run.summary), JSON.stringify(report)]);
  }

  async runs(monitorId: number, limit: number): Promise<MonitorRunRow[]> {
    return (await this.db.all<R>(`SELECT ${RUN_COLUMNS} FROM monitor_runs WHERE monitor_id = ? ORDER BY run_id DESC LIMIT ?`, [monitorId, limit])).map(toRun);
  }

  async runReport(monitorId: number, runId: number | null): Promise<(MonitorRunRow & { report: unknown }) | undefined> {
    const r = runId === null
      ? await this.db.get<R>(`SELECT ${RUN_COLUMNS}, report FROM monitor_runs WHERE monitor_id = ? ORDER BY run_id DESC LIMIT 1`, [monitorId])
      : await this.db.get<R>(`SELECT ${RUN_COLUMNS}, report FROM monitor_runs WHERE monitor_id = ? AND run_id = ?`, [monitorId, runId]);
    return r && { ...toRun(r), report: JSON.parse(String(r.report)) };
  }

  async profile(projectId: number, model: string, version: number): Promise<StoredProfile | undefined> {
    const r = await this.db.get<R>('SELECT project_id, model, version, source, row_count, profile, sample, created_time, created_by FROM reference_profiles WHERE project_id = ? AND model = ? AND version = ?', [projectId, model, version]);
    return r && {
      projectId: Number(r.project_id), model: String(r.model), version: Number(r.version), source: JSON.parse(String(r.source)), rowCount: Number(r.row_count),
      profile: JSON.parse(String(r.profile)), sample: JSON.parse(String(r.sample)), createdTime: Number(r.created_time), createdBy: String(r.created_by),
    };
  }

  async putProfile(p: StoredProfile): Promise<void> {
    await this.db.run(
      `INSERT INTO reference_profiles (project_id, model, version, source, row_count, profile, sample, created_time, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (project_id, model, version) DO UPDATE SET source = excluded.source, row_count = excluded.row_count, profile = excluded.profile, sample = excluded.sample, created_time = excluded.created_time, created_by = excluded.created_by`,
      [p.projectId, p.model, p.version, JSON.stringify(p.source), p.rowCount, JSON.stringify(p.profile), JSON.stringify(p.sample), p.createdTime, p.createdBy]);
  }

  /** Deletes what is older than `before` (ms): logged predictions, feedback, usage minutes and monitor runs. */
  async prune(before: number): Promise<void> {
    await this.db.run('DELETE FROM prediction_logs WHERE time < ?', [before]);
    await this.db.run('DELETE FROM prediction_feedback WHERE time < ?', [before]);
    await this.db.run('DELETE FROM serving_minutes WHERE minute < ?', [Math.floor(before / 60_000)]);
    await this.db.run('DELETE FROM monitor_runs WHERE time < ?', [before]);
  }

  /** Stores ground truth; a second label for the same request replaces the first. All rows or none. */
  async putFeedback(projectId: number, deployment: string, labels: readonly { requestId: string; label: unknown }[], now: number): Promise<void> {
    await this.db.transaction((tx) => tx.runMany(
      `INSERT INTO prediction_feedback (project_id, deployment, request_id, label, time) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (project_id, deployment, request_id) DO UPDATE SET label = excluded.label, time = excluded.time`,
      labels.map((l) => [projectId, deployment, l.requestId, JSON.stringify(l.label), now])));
  }

  async feedbackFor(projectId: number, deployment: string, requestIds: readonly string[]): Promise<Map<string, unknown>> {
    const out = new Map<string, unknown>();
    for (let i = 0; i < requestIds.length; i += 500) {
      const ids = requestIds.slice(i, i + 500);
      const rows = await this.db.all<R>(`SELECT request_id, label FROM prediction_feedback WHERE project_id = ? AND deployment = ? AND request_id IN (${ids.map(() => '?').join(', ')})`, [projectId, deployment, ...ids]);
      for (const r of rows) out.set(String(r.request_id), JSON.parse(String(r.label)));
    }
    return out;
  }

  /**
   * Visits the window [from, to) a page at a time, newest first, until `visit` returns false or the
   * window is read. Memory: one page.
   */
  async eachLogPage(projectId: number, deployment: string, from: number, to: number, visit: (page: LogRow[]) => Promise<boolean> | boolean, pageSize = 2000): Promise<void> {
    const first = await this.firstLogFrom(projectId, deployment, from);
    if (first === null) return;
    let before = Number.MAX_SAFE_INTEGER;
    for (;;) {
      const page = await this.logPage(projectId, deployment, from, to, before, pageSize, first);
      if (page.length === 0 || !(await visit(page)) || page.length < pageSize) return;
      before = page[page.length - 1].logId;
      await new Promise((r) => setImmediate(r)); // a long window never holds the event loop
    }
  }

  /** The first log id at or after `from` (the window's oldest possible row), or null when none. */
  async firstLogFrom(projectId: number, deployment: string, from: number): Promise<number | null> {
    const r = await this.db.get<R>('SELECT MIN(log_id) AS id FROM prediction_logs WHERE project_id = ? AND deployment = ? AND time >= ?', [projectId, deployment, from]);
    return r?.id === null || r?.id === undefined ? null : Number(r.id);
  }

  /**
   * Requests a deployment answered (shadows excluded) in [from, to), newest first, a page at a time
   * with log ids in [`firstLogId`, `beforeLogId`): a backward range scan of one index, however
   * large the log.
   */
  async logPage(projectId: number, deployment: string, from: number, to: number, beforeLogId: number, limit: number, firstLogId = 0): Promise<LogRow[]> {
    const rows = await this.db.all<R>(
      `SELECT log_id, request_id, time, version, inputs, outputs FROM prediction_logs
       WHERE project_id = ? AND deployment = ? AND log_id < ? AND log_id >= ? AND time >= ? AND time < ? AND role >= 'target:' AND role < 'target;' ORDER BY log_id DESC LIMIT ?`,
      [projectId, deployment, beforeLogId, firstLogId, from, to, limit]);
    return rows.map((r) => ({ logId: Number(r.log_id), requestId: String(r.request_id), time: Number(r.time), version: String(r.version), inputs: String(r.inputs), outputs: String(r.outputs) }));
  }
}
