import type { Db, SqlExecutor } from '../store/sql/index.js';
import type { RolloutState, StoredDeployment, DeploymentEvent } from './deployment-types.js';

interface Row {
  deployment_id: number | string;
  project_id: number | string;
  name: string;
  spec: string;
  revision: number | string;
  rollout: string;
  created_time: number | string;
  updated_time: number | string;
  updated_by: string;
}

const COLUMNS = 'deployment_id, project_id, name, spec, revision, rollout, created_time, updated_time, updated_by';

function toDeployment(r: Row): StoredDeployment {
  return {
    deploymentId: Number(r.deployment_id), projectId: Number(r.project_id), name: r.name,
    spec: JSON.parse(r.spec), revision: Number(r.revision), rollout: JSON.parse(r.rollout) as RolloutState,
    createdTime: Number(r.created_time), updatedTime: Number(r.updated_time), updatedBy: r.updated_by,
  };
}

/** Deployments and their event history. Writers pass the revision they read: a stale one changes nothing. */
export class DeploymentsSql {
  constructor(private readonly db: Db) {}

  async get(projectId: number, name: string, ex: SqlExecutor = this.db): Promise<StoredDeployment | undefined> {
    const row = await ex.get<Row>(`SELECT ${COLUMNS} FROM deployments WHERE project_id = ? AND name = ?`, [projectId, name]);
    return row && toDeployment(row);
  }

  async byId(id: number): Promise<StoredDeployment | undefined> {
    const row = await this.db.get<Row>(`SELECT ${COLUMNS} FROM deployments WHERE deployment_id = ?`, [id]);
    return row && toDeployment(row);
  }

  async list(projectId: number | null): Promise<StoredDeployment[]> {
    const rows = projectId === null
      ? await this.db.all<Row>(`SELECT ${COLUMNS} FROM deployments ORDER BY project_id, name`)
      : await this.db.all<Row>(`SELECT ${COLUMNS} FROM deployments WHERE project_id = ? ORDER BY name`, [projectId]);
    return rows.map(toDeployment);
  }

  /** (id, revision) of every deployment: what replicas poll to notice changes. */
  async revisions(): Promise<Map<number, number>> {
    const rows = await this.db.all<{ deployment_id: number | string; revision: number | string }>('SELECT deployment_id, revision FROM deployments');
    return new Map(rows.map((r) => [Number(r.deployment_id), Number(r.revision)]));
  }

  async insert(tx: SqlExecutor, projectId: number, name: string, spec: unknown, rollout: RolloutState, actor: string, now: number): Promise<void> {
    await tx.run(`INSERT INTO deployments (project_id, name, spec, revision, rollout, created_time, updated_time, updated_by) VALUES (?, ?, ?, 1, ?, ?, ?, ?)`,
      [projectId, name, JSON.stringify(spec), JSON.stringify(rollout), now, now, actor]);
  }

  /** Writes a new spec and rollout state if the row is still at `revision`; false when someone else changed it first. */
  async update(tx: SqlExecutor, id: number, revision: number, spec: unknown, rollout: RolloutState, actor: string, now: number): Promise<boolean> {
    const { changes } = await tx.run('UPDATE deployments SET spec = ?, rollout = ?, revision = revision + 1, updated_time = ?, updated_by = ? WHERE deployment_id = ? AND revision = ?',
      [JSON.stringify(spec), JSON.stringify(rollout), now, actor, id, revision]);
    return changes === 1;
  }

  async remove(tx: SqlExecutor, id: number): Promise<void> {
    await tx.run('DELETE FROM deployment_events WHERE deployment_id = ?', [id]);
    await tx.run('DELETE FROM deployments WHERE deployment_id = ?', [id]);
  }

  async addEvent(tx: SqlExecutor, id: number, actor: string, kind: string, detail: Record<string, unknown>, now: number): Promise<void> {
    await tx.run('INSERT INTO deployment_events (deployment_id, time, actor, kind, detail) VALUES (?, ?, ?, ?, ?)', [id, now, actor, kind, JSON.stringify(detail)]);
  }

  async events(id: number, limit = 200): Promise<DeploymentEvent[]> {
    const rows = await this.db.all<{ event_id: number | string; time: number | string; actor: string; kind: string; detail: string }>(
      'SELECT event_id, time, actor, kind, detail FROM deployment_events WHERE deployment_id = ? ORDER BY event_id DESC LIMIT ?', [id, limit]);
    return rows.reverse().map((r) => ({ eventId: Number(r.event_id), time: Number(r.time), actor: r.actor, kind: r.kind, detail: JSON.parse(r.detail) }));
  }
}
