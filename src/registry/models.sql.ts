import { AppError } from '../errors/index.js';
import { placeholders, uniquely, type Db, type SqlExecutor, type SqlValue } from '../store/sql/index.js';
import { compareSql, type Clause, type KeyValue, type OrderTerm } from '../tracking/index.js';
import type { ModelEvent, RegisteredModel } from './types.js';

interface ModelRow {
  model_id: number;
  project_id: number;
  name: string;
  description: string;
  creation_time: number | string;
  last_update_time: number | string;
}

const MODEL_COLUMNS = 'm.model_id, m.project_id, m.name, m.description, m.creation_time, m.last_update_time';
const ORDER_COLUMNS: Record<string, string> = { name: 'm.name', creation_timestamp: 'm.creation_time', last_updated_timestamp: 'm.last_update_time' };

function groupBy<T extends { model_id: number }>(rows: T[]): Map<number, T[]> {
  const map = new Map<number, T[]>();
  for (const r of rows) {
    const id = Number(r.model_id);
    map.set(id, [...(map.get(id) ?? []), r]);
  }
  return map;
}

/** A condition over registered models (alias `m`) for one parsed filter clause. */
export function modelClauseSql(c: Clause, params: SqlValue[]): string {
  if (c.kind === 'tag') {
    if (c.op === 'IS NULL' || c.op === 'IS NOT NULL') {
      params.push(c.key);
      return `${c.op === 'IS NULL' ? 'NOT ' : ''}EXISTS (SELECT 1 FROM registered_model_tags x WHERE x.model_id = m.model_id AND x.key = ?)`;
    }
    params.push(c.key);
    return `m.model_id IN (SELECT x.model_id FROM registered_model_tags x WHERE x.key = ? AND ${compareSql('x.value', c, params)})`;
  }
  return compareSql('m.name', c, params);
}

/** Registered models, their tags, aliases and history. Names are unique per project. */
export class ModelSql {
  constructor(private readonly db: Db) {}

  async create(projectId: number, name: string, description: string, tags: KeyValue[], now: number): Promise<number> {
    return this.db.transaction(async (tx) => {
      await uniquely(`Registered Model (name=${name})`, () =>
        tx.run('INSERT INTO registered_models (project_id, name, description, creation_time, last_update_time, next_version) VALUES (?, ?, ?, ?, ?, 1)', [projectId, name, description, now, now]),
      );
      const row = await tx.get<{ model_id: number }>('SELECT model_id FROM registered_models WHERE project_id = ? AND name = ?', [projectId, name]);
      const modelId = Number(row!.model_id);
      await tx.runMany('INSERT INTO registered_model_tags (model_id, key, value) VALUES (?, ?, ?)', tags.map((t) => [modelId, t.key, t.value]));
      return modelId;
    });
  }

  async get(projectId: number, name: string, tx: SqlExecutor = this.db): Promise<RegisteredModel | undefined> {
    const row = await tx.get<ModelRow>(`SELECT ${MODEL_COLUMNS} FROM registered_models m WHERE m.project_id = ? AND m.name = ?`, [projectId, name]);
    return row ? (await this.hydrate([row], tx))[0] : undefined;
  }

  async byIds(ids: number[]): Promise<RegisteredModel[]> {
    if (ids.length === 0) return [];
    const rows = await this.db.all<ModelRow>(`SELECT ${MODEL_COLUMNS} FROM registered_models m WHERE m.model_id IN (${placeholders(ids.length)})`, ids);
    return this.hydrate(rows);
  }

  async search(projectId: number, clauses: Clause[], order: OrderTerm[], offset: number, limit: number): Promise<RegisteredModel[]> {
    const params: SqlValue[] = [projectId];
    const where = ['m.project_id = ?', ...clauses.map((c) => modelClauseSql(c, params))];
    const orderBy = [...order.map((t) => `${ORDER_COLUMNS[t.key]} ${t.ascending ? 'ASC' : 'DESC'}`), 'm.name ASC'];
    const rows = await this.db.all<ModelRow>(
      `SELECT ${MODEL_COLUMNS} FROM registered_models m WHERE ${where.join(' AND ')} ORDER BY ${orderBy.join(', ')} LIMIT ? OFFSET ?`,
      [...params, limit, offset],
    );
    return this.hydrate(rows);
  }

  async rename(modelId: number, newName: string, now: number): Promise<void> {
    await uniquely(`Registered Model (name=${newName})`, () => this.db.run('UPDATE registered_models SET name = ?, last_update_time = ? WHERE model_id = ?', [newName, now, modelId]));
  }

  async setDescription(modelId: number, description: string, now: number): Promise<void> {
    await this.db.run('UPDATE registered_models SET description = ?, last_update_time = ? WHERE model_id = ?', [description, now, modelId]);
  }

  /** Removes the model with its versions, tags and aliases; the history stays, keyed by the old id. */
  async delete(modelId: number): Promise<void> {
    await this.db.transaction(async (tx) => {
      for (const table of ['model_version_tags', 'model_aliases', 'model_versions', 'registered_model_tags', 'registered_models']) {
        await tx.run(`DELETE FROM ${table} WHERE model_id = ?`, [modelId]);
      }
    });
  }

  async setTag(modelId: number, tag: KeyValue, now: number): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.run('INSERT INTO registered_model_tags (model_id, key, value) VALUES (?, ?, ?) ON CONFLICT (model_id, key) DO UPDATE SET value = excluded.value', [modelId, tag.key, tag.value]);
      await tx.run('UPDATE registered_models SET last_update_time = ? WHERE model_id = ?', [now, modelId]);
    });
  }

  async deleteTag(modelId: number, key: string): Promise<boolean> {
    return (await this.db.run('DELETE FROM registered_model_tags WHERE model_id = ? AND key = ?', [modelId, key])).changes > 0;
  }

  async setAlias(tx: SqlExecutor, modelId: number, alias: string, version: number): Promise<void> {
    await tx.run('INSERT INTO model_aliases (model_id, alias, version) VALUES (?, ?, ?) ON CONFLICT (model_id, alias) DO UPDATE SET version = excluded.version', [modelId, alias, version]);
  }

  async deleteAlias(tx: SqlExecutor, modelId: number, alias: string): Promise<boolean> {
    return (await tx.run('DELETE FROM model_aliases WHERE model_id = ? AND alias = ?', [modelId, alias])).changes > 0;
  }

  async aliasVersion(modelId: number, alias: string): Promise<number | undefined> {
    const row = await this.db.get<{ version: number }>('SELECT version FROM model_aliases WHERE model_id = ? AND alias = ?', [modelId, alias]);
    return row ? Number(row.version) : undefined;
  }

  async addEvent(tx: SqlExecutor, modelId: number, version: number | null, actor: string, kind: string, detail: Record<string, unknown>, now: number): Promise<void> {
    await tx.run('INSERT INTO model_events (model_id, version, time, actor, kind, detail) VALUES (?, ?, ?, ?, ?, ?)', [modelId, version, now, actor, kind, JSON.stringify(detail)]);
  }

  async events(modelId: number, afterId: number, limit: number): Promise<ModelEvent[]> {
    const rows = await this.db.all<{ event_id: number; version: number | null; time: number | string; actor: string; kind: string; detail: string }>(
      'SELECT event_id, version, time, actor, kind, detail FROM model_events WHERE model_id = ? AND event_id > ? ORDER BY event_id LIMIT ?',
      [modelId, afterId, limit],
    );
    return rows.map((r) => ({
      eventId: Number(r.event_id), version: r.version === null ? null : Number(r.version), time: Number(r.time), actor: r.actor, kind: r.kind, detail: JSON.parse(r.detail) as Record<string, unknown>,
    }));
  }

  private async hydrate(rows: ModelRow[], tx: SqlExecutor = this.db): Promise<RegisteredModel[]> {
    if (rows.length === 0) return [];
    const ids = rows.map((r) => Number(r.model_id));
    const [tags, aliases] = await Promise.all([
      tx.all<{ model_id: number; key: string; value: string }>(`SELECT model_id, key, value FROM registered_model_tags WHERE model_id IN (${placeholders(ids.length)}) ORDER BY key`, ids),
      tx.all<{ model_id: number; alias: string; version: number }>(`SELECT model_id, alias, version FROM model_aliases WHERE model_id IN (${placeholders(ids.length)}) ORDER BY alias`, ids),
    ]);
    const tagsBy = groupBy(tags);
    const aliasesBy = groupBy(aliases);
    return rows.map((r) => {
      const id = Number(r.model_id);
      return {
        modelId: id, projectId: Number(r.project_id), name: r.name, description: r.description,
        creationTime: Number(r.creation_time), lastUpdateTime: Number(r.last_update_time),
        tags: (tagsBy.get(id) ?? []).map((t) => ({ key: t.key, value: t.value })),
        aliases: (aliasesBy.get(id) ?? []).map((a) => ({ alias: a.alias, version: Number(a.version) })),
      };
    });
  }
}

export const modelNotFound = (name: string) => new AppError('RESOURCE_DOES_NOT_EXIST', `Registered Model with name=${name} not found`);
