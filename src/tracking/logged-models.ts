import { randomBytes } from 'node:crypto';
import { invalidParam, notFound } from '../errors/index.js';
import type { Db, SqlValue } from '../store/sql/index.js';
import { compareSql } from './filter.sql.js';
import { decodePageToken, encodePageToken } from './page-token.js';
import { parseFilter, parseOrderBy } from './search-filter.js';
import type { TrackingService } from './tracking.service.js';
import type { KeyValue, Page } from './types.js';
import { validateKey, validateMaxResults } from './validation.js';

export const LOGGED_MODEL_STATUSES = ['LOGGED_MODEL_PENDING', 'LOGGED_MODEL_READY', 'LOGGED_MODEL_UPLOAD_FAILED'] as const;
export type LoggedModelStatus = (typeof LOGGED_MODEL_STATUSES)[number];

export interface LoggedModel {
  modelId: string;
  experimentId: string;
  name: string;
  modelType: string;
  sourceRunId: string;
  status: LoggedModelStatus;
  statusMessage: string;
  artifactLocation: string;
  creationTime: number;
  lastUpdateTime: number;
  params: KeyValue[];
  tags: KeyValue[];
}

interface Row {
  model_id: string; experiment_id: number; name: string; model_type: string; source_run_id: string; status: string; status_message: string;
  artifact_location: string; creation_time: number | string; last_update_time: number | string; params: string; tags: string;
}

const toModel = (r: Row): LoggedModel => ({
  modelId: r.model_id, experimentId: String(r.experiment_id), name: r.name, modelType: r.model_type, sourceRunId: r.source_run_id,
  status: r.status as LoggedModelStatus, statusMessage: r.status_message, artifactLocation: r.artifact_location,
  creationTime: Number(r.creation_time), lastUpdateTime: Number(r.last_update_time), params: JSON.parse(r.params), tags: JSON.parse(r.tags),
});

const COLUMNS: Record<string, string> = {
  name: 'name', model_id: 'model_id', model_type: 'model_type', status: 'status', source_run_id: 'source_run_id', creation_time: 'creation_time', last_update_time: 'last_update_time',
};

const merge = (old: KeyValue[], added: KeyValue[]) => {
  const byKey = new Map(old.map((t) => [t.key, t.value]));
  for (const t of added) byKey.set(t.key, t.value);
  return [...byKey].map(([key, value]) => ({ key, value })).sort((a, b) => (a.key < b.key ? -1 : 1));
};

/**
 * MLflow 3.x logged models: created pending, files uploaded under the experiment's
 * `models/<model_id>/artifacts`, then finalized READY (or UPLOAD_FAILED). Registering
 * `models:/<model_id>` makes a model version of those files.
 */
export class LoggedModels {
  constructor(private readonly db: Db, private readonly tracking: TrackingService, private readonly now: () => number = Date.now) {}

  async create(req: { experimentId: string; name?: string; modelType?: string; sourceRunId?: string; params: KeyValue[]; tags: KeyValue[] }): Promise<LoggedModel> {
    const experiment = await this.tracking.getExperiment(req.experimentId);
    if (experiment.lifecycleStage !== 'active') throw invalidParam(`Experiment ${req.experimentId} is deleted.`);
    if (req.sourceRunId) await this.sameProject(req.sourceRunId, req.experimentId);
    [...req.params, ...req.tags].forEach((kv) => validateKey('key', kv.key));
    const modelId = `m-${randomBytes(16).toString('hex')}`;
    const now = this.now();
    const name = req.name || `model-${modelId.slice(2, 10)}`;
    await this.db.run(
      `INSERT INTO logged_models (model_id, experiment_id, name, model_type, source_run_id, status, status_message, artifact_location, creation_time, last_update_time, params, tags)
       VALUES (?, ?, ?, ?, ?, 'LOGGED_MODEL_PENDING', '', ?, ?, ?, ?, ?)`,
      [modelId, Number(req.experimentId), name, req.modelType ?? '', req.sourceRunId ?? '', `${experiment.artifactLocation.replace(/\/+$/, '')}/models/${modelId}/artifacts`, now, now,
        JSON.stringify(merge([], req.params)), JSON.stringify(merge([], req.tags))],
    );
    return this.get(modelId);
  }

  async get(modelId: string): Promise<LoggedModel> {
    const row = await this.db.get<Row>('SELECT * FROM logged_models WHERE model_id = ?', [modelId]);
    if (!row) throw notFound(`Logged model with ID '${modelId}' not found.`);
    return toModel(row);
  }

  async experimentOf(modelId: string): Promise<string | undefined> {
    return (await this.db.get<{ experiment_id: number }>('SELECT experiment_id FROM logged_models WHERE model_id = ?', [modelId]))?.experiment_id?.toString();
  }

  async exists(modelId: string): Promise<boolean> {
    return (await this.experimentOf(modelId)) !== undefined;
  }

  async finalize(modelId: string, status: LoggedModelStatus): Promise<LoggedModel> {
    await this.get(modelId);
    await this.db.run('UPDATE logged_models SET status = ?, last_update_time = ? WHERE model_id = ?', [status, this.now(), modelId]);
    return this.get(modelId);
  }

  async delete(modelId: string): Promise<void> {
    await this.get(modelId);
    await this.db.run('DELETE FROM logged_models WHERE model_id = ?', [modelId]);
  }

  private async update(modelId: string, column: 'tags' | 'params', change: (old: KeyValue[]) => KeyValue[]): Promise<void> {
    const model = await this.get(modelId);
    await this.db.run(`UPDATE logged_models SET ${column} = ?, last_update_time = ? WHERE model_id = ?`, [JSON.stringify(change(model[column])), this.now(), modelId]);
  }

  async setTags(modelId: string, tags: KeyValue[]): Promise<void> {
    tags.forEach((t) => validateKey('tag', t.key));
    await this.update(modelId, 'tags', (old) => merge(old, tags));
  }

  async deleteTag(modelId: string, key: string): Promise<void> {
    await this.update(modelId, 'tags', (old) => old.filter((t) => t.key !== key));
  }

  async logParams(modelId: string, params: KeyValue[]): Promise<void> {
    params.forEach((p) => validateKey('param', p.key));
    await this.update(modelId, 'params', (old) => merge(old, params));
  }

  /** A run may only be linked with logged models of its own project. */
  private async sameProject(runId: string, experimentId: string): Promise<void> {
    await this.tracking.getRun(runId);
    const [runs, experiments] = await Promise.all([this.tracking.projectsOf('run', [runId]), this.tracking.projectsOf('experiment', [experimentId])]);
    if (runs.get(runId) !== experiments.get(experimentId)) throw invalidParam(`Run ${runId} is in another project than experiment ${experimentId}.`);
  }

  async linkOutputs(runId: string, models: { modelId: string; step: number }[]): Promise<void> {
    for (const m of models) await this.sameProject(runId, (await this.get(m.modelId)).experimentId);
    await this.db.transaction(async (tx) => {
      for (const m of models) {
        await tx.run('INSERT INTO run_outputs (run_id, model_id, step) VALUES (?, ?, ?) ON CONFLICT (run_id, model_id) DO UPDATE SET step = excluded.step', [runId, m.modelId, m.step]);
      }
    });
  }

  async search(req: { experimentIds: string[]; filter?: string; orderBy?: string[]; maxResults?: number; pageToken?: string }): Promise<Page<LoggedModel>> {
    const limit = validateMaxResults(req.maxResults, 100, 1000);
    const offset = decodePageToken(req.pageToken);
    const ids = req.experimentIds.filter((id) => /^\d{1,15}$/.test(id)).map(Number);
    if (ids.length === 0) return { items: [] };
    const params: SqlValue[] = [...ids];
    const where = [`experiment_id IN (${ids.map(() => '?').join(', ')})`];
    for (const c of parseFilter(req.filter, 'logged_model')) {
      if (c.kind === 'tag') throw invalidParam('Filtering logged models by tag is not supported; filter by name, model_type, status or source_run_id.');
      where.push(compareSql(COLUMNS[c.key] ?? 'name', c, params));
    }
    const order = parseOrderBy(req.orderBy, 'logged_model').map((t) => `${COLUMNS[t.key]} ${t.ascending ? 'ASC' : 'DESC'}`);
    const rows = await this.db.all<Row>(`SELECT * FROM logged_models WHERE ${where.join(' AND ')} ORDER BY ${[...order, 'creation_time DESC', 'model_id'].join(', ')} LIMIT ? OFFSET ?`, [...params, limit + 1, offset]);
    return { items: rows.slice(0, limit).map(toModel), nextPageToken: rows.length > limit ? encodePageToken(offset + limit) : undefined };
  }
}
