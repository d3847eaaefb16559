import { AppError } from '../errors/index.js';
import { isUniqueViolation, type Db, type SqlExecutor } from '../store/sql/index.js';
import { compileOrder, compileWhere, type FilterTarget } from './filter.sql.js';
import type { NewExperiment, SearchQuery } from './tracking.store.js';
import type { Experiment, KeyValue, LifecycleStage, ViewType } from './types.js';

interface ExperimentRow {
  experiment_id: number;
  name: string;
  artifact_location: string;
  lifecycle_stage: LifecycleStage;
  creation_time: number;
  last_update_time: number;
}

const EXPERIMENT_TARGET: FilterTarget = {
  alias: 'e',
  keyColumn: 'e.experiment_id',
  attributes: { name: 'e.name', creation_time: 'e.creation_time', last_update_time: 'e.last_update_time', experiment_id: 'e.experiment_id' },
  tagTable: 'experiment_tags',
  tagKeyColumn: 'experiment_id',
};

export function stageFilter(column: string, viewType: ViewType): string {
  if (viewType === 'ALL') return '1 = 1';
  return `${column} = '${viewType === 'ACTIVE_ONLY' ? 'active' : 'deleted'}'`;
}

/** Decimal experiment ids only; anything else cannot name an experiment. */
export function experimentKey(experimentId: string): number | undefined {
  return /^\d{1,15}$/.test(experimentId) ? Number(experimentId) : undefined;
}

export class ExperimentSql {
  constructor(private readonly db: Db) {}

  private async withTags(rows: ExperimentRow[]): Promise<Experiment[]> {
    if (rows.length === 0) return [];
    const ids = rows.map((r) => r.experiment_id);
    const tags = await this.db.all<{ experiment_id: number; key: string; value: string }>(
      `SELECT experiment_id, key, value FROM experiment_tags WHERE experiment_id IN (${ids.map(() => '?').join(', ')}) ORDER BY key`,
      ids,
    );
    const byId = new Map<number, KeyValue[]>();
    for (const t of tags) {
      const list = byId.get(t.experiment_id) ?? [];
      list.push({ key: t.key, value: t.value });
      byId.set(t.experiment_id, list);
    }
    return rows.map((r) => ({
      experimentId: String(r.experiment_id),
      name: r.name,
      artifactLocation: r.artifact_location,
      lifecycleStage: r.lifecycle_stage,
      creationTime: r.creation_time,
      lastUpdateTime: r.last_update_time,
      tags: byId.get(r.experiment_id) ?? [],
    }));
  }

  async create(e: NewExperiment, defaultLocation: (id: string) => string, fixedId?: number): Promise<string> {
    try {
      return await this.db.transaction(async (tx) => {
        const row = await tx.get<{ experiment_id: number }>(
          `INSERT INTO experiments (${fixedId === undefined ? '' : 'experiment_id, '}project_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time)
           VALUES (${fixedId === undefined ? '' : '?, '}?, ?, ?, 'active', ?, ?) RETURNING experiment_id`,
          [...(fixedId === undefined ? [] : [fixedId]), e.projectId, e.name, e.artifactLocation ?? '', e.now, e.now],
        );
        const id = String(row!.experiment_id);
        if (e.artifactLocation === null) {
          await tx.run('UPDATE experiments SET artifact_location = ? WHERE experiment_id = ?', [defaultLocation(id), row!.experiment_id]);
        }
        await this.insertTags(tx, row!.experiment_id, e.tags);
        return id;
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw new AppError('RESOURCE_ALREADY_EXISTS', `Experiment '${e.name}' already exists.`);
      throw err;
    }
  }

  private async insertTags(tx: SqlExecutor, id: number, tags: KeyValue[]): Promise<void> {
    await tx.runMany(
      'INSERT INTO experiment_tags (experiment_id, key, value) VALUES (?, ?, ?) ON CONFLICT (experiment_id, key) DO UPDATE SET value = excluded.value',
      tags.map((t) => [id, t.key, t.value]),
    );
  }

  async get(experimentId: string): Promise<Experiment | undefined> {
    const key = experimentKey(experimentId);
    if (key === undefined) return undefined;
    const row = await this.db.get<ExperimentRow>('SELECT * FROM experiments WHERE experiment_id = ?', [key]);
    return row ? (await this.withTags([row]))[0] : undefined;
  }

  async getByName(projectId: number, name: string): Promise<Experiment | undefined> {
    const row = await this.db.get<ExperimentRow>('SELECT * FROM experiments WHERE project_id = ? AND name = ?', [projectId, name]);
    return row ? (await this.withTags([row]))[0] : undefined;
  }

  async projectsOf(kind: 'experiment' | 'run', ids: readonly string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    const keys = kind === 'experiment' ? ids.filter((id) => experimentKey(id) !== undefined) : [...ids];
    if (keys.length === 0) return out;
    const marks = keys.map(() => '?').join(', ');
    const rows = kind === 'experiment'
      ? await this.db.all<{ id: number | string; project_id: number | string }>(`SELECT experiment_id AS id, project_id FROM experiments WHERE experiment_id IN (${marks})`, keys.map(Number))
      : await this.db.all<{ id: string; project_id: number | string }>(`SELECT r.run_uuid AS id, e.project_id FROM runs r JOIN experiments e ON e.experiment_id = r.experiment_id WHERE r.run_uuid IN (${marks})`, keys);
    for (const r of rows) out.set(String(r.id), Number(r.project_id));
    return out;
  }

  async search(projectId: number, q: SearchQuery): Promise<Experiment[]> {
    const where = compileWhere(EXPERIMENT_TARGET, q.clauses);
    const terms = q.orderBy.length ? q.orderBy : [{ kind: 'attribute' as const, key: 'creation_time', ascending: false }];
    const order = compileOrder(EXPERIMENT_TARGET, terms, 'e.experiment_id ASC');
    const rows = await this.db.all<ExperimentRow>(
      `SELECT e.* FROM experiments e ${order.joins.sql}
       WHERE e.project_id = ? AND ${stageFilter('e.lifecycle_stage', q.viewType)} AND ${where.sql}
       ORDER BY ${order.orderBy} LIMIT ? OFFSET ?`,
      [...order.joins.params, projectId, ...where.params, q.limit, q.offset],
    );
    return this.withTags(rows);
  }

  async rename(experimentId: string, name: string, now: number): Promise<void> {
    try {
      await this.db.run('UPDATE experiments SET name = ?, last_update_time = ? WHERE experiment_id = ?', [name, now, Number(experimentId)]);
    } catch (err) {
      if (isUniqueViolation(err)) throw new AppError('RESOURCE_ALREADY_EXISTS', `Experiment '${name}' already exists.`);
      throw err;
    }
  }

  async setStage(experimentId: string, stage: LifecycleStage, now: number): Promise<void> {
    const id = Number(experimentId);
    await this.db.transaction(async (tx) => {
      await tx.run('UPDATE experiments SET lifecycle_stage = ?, last_update_time = ? WHERE experiment_id = ?', [stage, now, id]);
      await tx.run('UPDATE runs SET lifecycle_stage = ?, deleted_time = ? WHERE experiment_id = ?', [stage, stage === 'deleted' ? now : null, id]);
    });
  }

  async setTag(experimentId: string, tag: KeyValue, now: number): Promise<void> {
    const id = Number(experimentId);
    await this.db.transaction(async (tx) => {
      await this.insertTags(tx, id, [tag]);
      await tx.run('UPDATE experiments SET last_update_time = ? WHERE experiment_id = ?', [now, id]);
    });
  }

  async deleteTag(experimentId: string, key: string): Promise<boolean> {
    const r = await this.db.run('DELETE FROM experiment_tags WHERE experiment_id = ? AND key = ?', [Number(experimentId), key]);
    return r.changes > 0;
  }
}
