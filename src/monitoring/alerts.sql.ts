import type { Db, SqlExecutor } from '../store/sql/index.js';

export interface StoredAlert {
  alertId: number;
  projectId: number;
  fingerprint: string;
  rule: string;
  severity: string;
  labels: Record<string, string>;
  summary: string;
  status: 'firing' | 'resolved';
  /** Lifecycle times and counters (the alert book's own record). */
  state: Record<string, unknown>;
  updatedTime: number;
}

export interface StoredSilence {
  silenceId: number;
  projectId: number;
  matchers: unknown[];
  startsTime: number;
  endsTime: number;
  createdBy: string;
  comment: string;
}

export interface Channel {
  name: string;
  kind: 'webhook' | 'slack';
  url: string;
  minSeverity: string;
  secretName: string;
}

type R = Record<string, unknown>;
const ALERT_COLUMNS = 'alert_id, project_id, fingerprint, rule, severity, labels, summary, status, state, updated_time';

const toAlert = (r: R): StoredAlert => ({
  alertId: Number(r.alert_id), projectId: Number(r.project_id), fingerprint: String(r.fingerprint), rule: String(r.rule), severity: String(r.severity),
  labels: JSON.parse(String(r.labels)), summary: String(r.summary), status: String(r.status) as StoredAlert['status'], state: JSON.parse(String(r.state)), updatedTime: Number(r.updated_time),
});

/** Alerts with their history, silences, notification channels and cost budgets. */
export class AlertsSql {
  constructor(readonly db: Db) {}

  async alerts(projectId: number, status: 'firing' | 'resolved' | null, limit: number): Promise<StoredAlert[]> {
    const rows = status
      ? await this.db.all<R>(`SELECT ${ALERT_COLUMNS} FROM alerts WHERE project_id = ? AND status = ? ORDER BY updated_time DESC LIMIT ?`, [projectId, status, limit])
      : await this.db.all<R>(`SELECT ${ALERT_COLUMNS} FROM alerts WHERE project_id = ? ORDER BY updated_time DESC LIMIT ?`, [projectId, limit]);
    return rows.map(toAlert);
  }

  /** The project's alerts whose label `key` has `value` (a monitor's own alerts). */
  async alertsLabelled(projectId: number, key: string, value: string, ex: SqlExecutor = this.db): Promise<StoredAlert[]> {
    const rows = await ex.all<R>(`SELECT ${ALERT_COLUMNS} FROM alerts WHERE project_id = ?`, [projectId]);
    return rows.map(toAlert).filter((a) => a.labels[key] === value);
  }

  async alert(projectId: number, alertId: number): Promise<StoredAlert | undefined> {
    const r = await this.db.get<R>(`SELECT ${ALERT_COLUMNS} FROM alerts WHERE project_id = ? AND alert_id = ?`, [projectId, alertId]);
    return r && toAlert(r);
  }

  /** Writes an alert's new record and appends an event in the caller's transaction. */
  async saveAlert(tx: SqlExecutor, a: Omit<StoredAlert, 'alertId'>, event: { kind: string; detail: unknown } | null): Promise<void> {
    await tx.run(
      `INSERT INTO alerts (project_id, fingerprint, rule, severity, labels, summary, status, state, updated_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (project_id, fingerprint) DO UPDATE SET severity = excluded.severity, summary = excluded.summary, status = excluded.status, state = excluded.state, updated_time = excluded.updated_time`,
      [a.projectId, a.fingerprint, a.rule, a.severity, JSON.stringify(a.labels), a.summary, a.status, JSON.stringify(a.state), a.updatedTime]);
    if (!event) return;
    const row = await tx.get<R>('SELECT alert_id FROM alerts WHERE project_id = ? AND fingerprint = ?', [a.projectId, a.fingerprint]);
    await tx.run('INSERT INTO alert_events (alert_id, time, kind, detail) VALUES (?, ?, ?, ?)', [Number(row!.alert_id), a.updatedTime, event.kind, JSON.stringify(event.detail)]);
  }

  /** Alerts that started firing after an event id, oldest first (what pipeline alert triggers watch). */
  async firedSince(projectId: number, afterEventId: number, limit = 1000): Promise<Array<{ eventId: number; alertId: number; severity: string; labels: Record<string, string>; summary: string }>> {
    const rows = await this.db.all<Record<string, unknown>>(
      `SELECT e.event_id, a.alert_id, a.severity, a.labels, a.summary FROM alert_events e JOIN alerts a ON a.alert_id = e.alert_id
       WHERE a.project_id = ? AND e.event_id > ? AND e.kind = 'firing' ORDER BY e.event_id LIMIT ?`,
      [projectId, afterEventId, limit],
    );
    return rows.map((r) => ({ eventId: Number(r.event_id), alertId: Number(r.alert_id), severity: String(r.severity), labels: JSON.parse(String(r.labels)), summary: String(r.summary) }));
  }

  async events(alertId: number, limit: number): Promise<{ time: number; kind: string; detail: unknown }[]> {
    const rows = await this.db.all<R>('SELECT time, kind, detail FROM alert_events WHERE alert_id = ? ORDER BY event_id DESC LIMIT ?', [alertId, limit]);
    return rows.map((r) => ({ time: Number(r.time), kind: String(r.kind), detail: JSON.parse(String(r.detail)) }));
  }

  async silences(projectId: number, activeAt: number | null): Promise<StoredSilence[]> {
    const rows = activeAt === null
      ? await this.db.all<R>('SELECT * FROM silences WHERE project_id = ? ORDER BY silence_id DESC', [projectId])
      : await this.db.all<R>('SELECT * FROM silences WHERE project_id = ? AND starts_time <= ? AND ends_time > ? ORDER BY silence_id', [projectId, activeAt, activeAt]);
    return rows.map((r) => ({
      silenceId: Number(r.silence_id), projectId: Number(r.project_id), matchers: JSON.parse(String(r.matchers)), startsTime: Number(r.starts_time),
      endsTime: Number(r.ends_time), createdBy: String(r.created_by), comment: String(r.comment),
    }));
  }

  async addSilence(s: Omit<StoredSilence, 'silenceId'>): Promise<number> {
    const r = await this.db.get<R>('INSERT INTO silences (project_id, matchers, starts_time, ends_time, created_by, comment) VALUES (?, ?, ?, ?, ?, ?) RETURNING silence_id',
      [s.projectId, JSON.stringify(s.matchers), s.startsTime, s.endsTime, s.createdBy, s.comment]);
    return Number(r!.silence_id);
  }

  /** Ends a silence now (kept for the record). */
  async expireSilence(projectId: number, silenceId: number, now: number): Promise<boolean> {
    return (await this.db.run('UPDATE silences SET ends_time = ? WHERE project_id = ? AND silence_id = ? AND ends_time > ?', [now, projectId, silenceId, now])).changes > 0;
  }

  async channels(projectId: number): Promise<Channel[]> {
    const rows = await this.db.all<R>('SELECT name, kind, url, min_severity, secret_name FROM notification_channels WHERE project_id = ? ORDER BY name', [projectId]);
    return rows.map((r) => ({ name: String(r.name), kind: String(r.kind) as Channel['kind'], url: String(r.url), minSeverity: String(r.min_severity), secretName: String(r.secret_name) }));
  }

  async putChannel(projectId: number, c: Channel): Promise<void> {
    await this.db.run(
      `INSERT INTO notification_channels (project_id, name, kind, url, min_severity, secret_name) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (project_id, name) DO UPDATE SET kind = excluded.kind, url = excluded.url, min_severity = excluded.min_severity, secret_name = excluded.secret_name`,
      [projectId, c.name, c.kind, c.url, c.minSeverity, c.secretName]);
  }

  async deleteChannel(projectId: number, name: string): Promise<boolean> {
    return (await this.db.run('DELETE FROM notification_channels WHERE project_id = ? AND name = ?', [projectId, name])).changes > 0;
  }

  async budget(projectId: number): Promise<number | null> {
    const r = await this.db.get<R>('SELECT monthly_limit FROM cost_budgets WHERE project_id = ?', [projectId]);
    return r ? Number(r.monthly_limit) : null;
  }

  /** Budgets due for a check; `claimBudget` makes one replica do each check. */
  async dueBudgets(now: number): Promise<{ projectId: number; monthlyLimit: number; nextCheckTime: number }[]> {
    return (await this.db.all<R>('SELECT project_id, monthly_limit, next_check_time FROM cost_budgets WHERE next_check_time <= ?', [now]))
      .map((r) => ({ projectId: Number(r.project_id), monthlyLimit: Number(r.monthly_limit), nextCheckTime: Number(r.next_check_time) }));
  }

  async claimBudget(projectId: number, seen: number, next: number): Promise<boolean> {
    return (await this.db.run('UPDATE cost_budgets SET next_check_time = ? WHERE project_id = ? AND next_check_time = ?', [next, projectId, seen])).changes === 1;
  }

  async putBudget(projectId: number, monthlyLimit: number | null, actor: string, now: number): Promise<void> {
    if (monthlyLimit === null) {
      await this.db.run('DELETE FROM cost_budgets WHERE project_id = ?', [projectId]);
      return;
    }
    await this.db.run(
      `INSERT INTO cost_budgets (project_id, monthly_limit, next_check_time, updated_time, updated_by) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (project_id) DO UPDATE SET monthly_limit = excluded.monthly_limit, next_check_time = excluded.next_check_time, updated_time = excluded.updated_time, updated_by = excluded.updated_by`,
      [projectId, monthlyLimit, now, now, actor]);
  }
}
