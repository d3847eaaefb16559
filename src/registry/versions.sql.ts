import { placeholders, storageRootAt, type Db, type SqlExecutor, type SqlValue } from '../store/sql/index.js';
import { compareSql, type Clause, type KeyValue, type OrderTerm } from '../tracking/index.js';
import { DELETED_STAGE, type ModelVersion, type Stage } from './types.js';

interface VersionRow {
  model_id: number;
  name: string;
  version: number | string;
  semver: string;
  description: string;
  source: string;
  storage_root: string;
  run_id: string;
  run_link: string;
  user_id: string;
  stage: string;
  status: string;
  creation_time: number | string;
  last_update_time: number | string;
  manifest: string;
  manifest_digest: string;
  signing_key_id: string;
  manifest_signature: string;
  model_signature: string | null;
  card: string;
  unsafe_files: string;
  code_version: string;
  logged_model_id: string;
}

/** What a new version stores; the number is allocated on insert. */
export type NewVersion = Omit<ModelVersion, 'version' | 'name' | 'tags' | 'aliases' | 'signatureReason'>;

const VERSION_SELECT = `SELECT v.*, m.name FROM model_versions v JOIN registered_models m ON m.model_id = v.model_id`;
const ORDER_COLUMNS: Record<string, string> = {
  name: 'm.name', version_number: 'v.version', creation_timestamp: 'v.creation_time', last_updated_timestamp: 'v.last_update_time',
};

/**
 * `narrowed`: another clause already picks a few versions (a name or run id), so each is checked
 * for the tag in place; otherwise the tag index drives, so a rare or absent tag costs one probe.
 */
function versionClauseSql(c: Clause, params: SqlValue[], narrowed: boolean): string {
  if (c.kind === 'tag') {
    if (c.op === 'IS NULL' || c.op === 'IS NOT NULL') {
      params.push(c.key);
      return `${c.op === 'IS NULL' ? 'NOT ' : ''}EXISTS (SELECT 1 FROM model_version_tags x WHERE x.model_id = v.model_id AND x.version = v.version AND x.key = ?)`;
    }
    params.push(c.key);
    if (narrowed) return `EXISTS (SELECT 1 FROM model_version_tags x WHERE x.model_id = v.model_id AND x.version = v.version AND x.key = ? AND ${compareSql('x.value', c, params)})`;
    return `(v.model_id, v.version) IN (SELECT x.model_id, x.version FROM model_version_tags x WHERE x.key = ? AND ${compareSql('x.value', c, params)})`;
  }
  const column = { name: 'm.name', version_number: 'v.version', run_id: 'v.run_id', source_path: 'v.source' }[c.key] ?? 'm.name';
  return compareSql(column, c, params);
}

/** Model versions and their tags. Numbers are allocated from the model's counter and never reused. */
export class VersionSql {
  constructor(private readonly db: Db) {}

  /**
   * Takes the model's next version number, in the caller's transaction. The update locks the model's
   * row until commit, so concurrent registrations of one model queue here: call it before reading
   * anything the new version is derived from (its semver).
   */
  async allocate(tx: SqlExecutor, modelId: number, now: number): Promise<number> {
    await tx.run('UPDATE registered_models SET next_version = next_version + 1, last_update_time = ? WHERE model_id = ?', [now, modelId]);
    const row = await tx.get<{ n: number | string }>('SELECT next_version - 1 AS n FROM registered_models WHERE model_id = ?', [modelId]);
    return Number(row!.n);
  }

  /** Inserts the version under a number `allocate` gave, in the same transaction. */
  async insert(tx: SqlExecutor, version: number, v: NewVersion, tags: KeyValue[]): Promise<void> {
    await tx.run(
      `INSERT INTO model_versions (model_id, version, semver, description, source, storage_root, run_id, run_link, user_id, stage, status, creation_time,
        last_update_time, manifest, manifest_digest, signing_key_id, manifest_signature, model_signature, card, unsafe_files, code_version, logged_model_id)
       VALUES (${placeholders(22)})`,
      [v.modelId, version, v.semver, v.description, v.source, v.storageRoot, v.runId, v.runLink, v.userId, v.stage, v.status, v.creationTime,
        v.lastUpdateTime, JSON.stringify(v.manifest), v.manifestDigest, v.signingKeyId, v.manifestSignature,
        v.signature ? JSON.stringify(v.signature) : null, JSON.stringify(v.card), JSON.stringify(v.unsafeFiles), v.codeVersion, v.loggedModelId],
    );
    await tx.runMany('INSERT INTO model_version_tags (model_id, version, key, value) VALUES (?, ?, ?, ?)', tags.map((t) => [v.modelId, version, t.key, t.value]));
  }

  /** Records what a pending registration found and signed, and makes the version READY. */
  async complete(tx: SqlExecutor, modelId: number, version: number, v: Pick<NewVersion, 'manifest' | 'manifestDigest' | 'signingKeyId' | 'manifestSignature' | 'signature' | 'unsafeFiles'>, now: number): Promise<void> {
    await tx.run(
      `UPDATE model_versions SET status = 'READY', manifest = ?, manifest_digest = ?, signing_key_id = ?, manifest_signature = ?, model_signature = ?, unsafe_files = ?, last_update_time = ?
       WHERE model_id = ? AND version = ?`,
      [JSON.stringify(v.manifest), v.manifestDigest, v.signingKeyId, v.manifestSignature, v.signature ? JSON.stringify(v.signature) : null, JSON.stringify(v.unsafeFiles), now, modelId, version],
    );
  }

  /** Every semantic version the model ever had, deleted versions included. */
  async semvers(tx: SqlExecutor, modelId: number): Promise<string[]> {
    return (await tx.all<{ semver: string }>('SELECT semver FROM model_versions WHERE model_id = ?', [modelId])).map((r) => r.semver);
  }

  async get(modelId: number, version: number, tx: SqlExecutor = this.db): Promise<ModelVersion | undefined> {
    const row = await tx.get<VersionRow>(`${VERSION_SELECT} WHERE v.model_id = ? AND v.version = ? AND v.stage <> ?`, [modelId, version, DELETED_STAGE]);
    return row ? (await this.hydrate([row], tx))[0] : undefined;
  }

  async listOfModel(modelId: number): Promise<ModelVersion[]> {
    return this.hydrate(await this.db.all<VersionRow>(`${VERSION_SELECT} WHERE v.model_id = ? AND v.stage <> ? ORDER BY v.version`, [modelId, DELETED_STAGE]));
  }

  async search(projectId: number, clauses: Clause[], order: OrderTerm[], offset: number, limit: number): Promise<ModelVersion[]> {
    const params: SqlValue[] = [projectId, DELETED_STAGE];
    const narrowed = clauses.some((c) => c.kind === 'attribute' && c.op === '=' && (c.key === 'name' || c.key === 'run_id'));
    const where = ['m.project_id = ?', 'v.stage <> ?', ...clauses.map((c) => versionClauseSql(c, params, narrowed))];
    const orderBy = [...order.map((t) => `${ORDER_COLUMNS[t.key]} ${t.ascending ? 'ASC' : 'DESC'}`), 'm.name ASC', 'v.version DESC'];
    const rows = await this.db.all<VersionRow>(`${VERSION_SELECT} WHERE ${where.join(' AND ')} ORDER BY ${orderBy.join(', ')} LIMIT ? OFFSET ?`, [...params, limit, offset]);
    return this.hydrate(rows);
  }

  /** The newest live version in each stage. */
  async latestPerStage(modelIds: number[]): Promise<ModelVersion[]> {
    if (modelIds.length === 0) return [];
    const rows = await this.db.all<VersionRow>(
      `${VERSION_SELECT} WHERE v.model_id IN (${placeholders(modelIds.length)}) AND v.stage <> ?
       AND v.version = (SELECT MAX(w.version) FROM model_versions w WHERE w.model_id = v.model_id AND w.stage = v.stage) ORDER BY v.model_id, v.version`,
      [...modelIds, DELETED_STAGE],
    );
    return this.hydrate(rows);
  }

  /** Moves a live version to `stage`; false when it was deleted meanwhile. */
  async setStage(tx: SqlExecutor, modelId: number, version: number, stage: Stage, now: number): Promise<boolean> {
    const { changes } = await tx.run('UPDATE model_versions SET stage = ?, last_update_time = ? WHERE model_id = ? AND version = ? AND stage <> ?', [stage, now, modelId, version, DELETED_STAGE]);
    return changes > 0;
  }

  /**
   * Touches a live version's row, which on PostgreSQL holds it until commit so a concurrent delete
   * waits; false when it is already deleted. Call first in a transaction that hangs something on it.
   */
  async holdLive(tx: SqlExecutor, modelId: number, version: number, now: number): Promise<boolean> {
    const { changes } = await tx.run('UPDATE model_versions SET last_update_time = ? WHERE model_id = ? AND version = ? AND stage <> ?', [now, modelId, version, DELETED_STAGE]);
    return changes > 0;
  }

  /** Live versions other than `version` currently in `stage`. */
  async othersInStage(tx: SqlExecutor, modelId: number, version: number, stage: Stage): Promise<number[]> {
    const rows = await tx.all<{ version: number }>('SELECT version FROM model_versions WHERE model_id = ? AND stage = ? AND version <> ?', [modelId, stage, version]);
    return rows.map((r) => Number(r.version));
  }

  async setDescription(modelId: number, version: number, description: string, now: number): Promise<void> {
    await this.db.run('UPDATE model_versions SET description = ?, last_update_time = ? WHERE model_id = ? AND version = ?', [description, now, modelId, version]);
  }

  async setCard(tx: SqlExecutor, modelId: number, version: number, card: string, now: number): Promise<void> {
    await tx.run('UPDATE model_versions SET card = ?, last_update_time = ? WHERE model_id = ? AND version = ?', [card, now, modelId, version]);
  }

  /** Soft delete as MLflow does: the row stays (its number is spent), its aliases and tags go, its files are no longer pinned. */
  async softDelete(tx: SqlExecutor, modelId: number, version: number, now: number, opts: { unlessHeld?: boolean } = {}): Promise<boolean> {
    // Retention deletes only what is still unheld at this moment: no alias, not Staging or Production.
    const held = opts.unlessHeld
      ? ` AND stage NOT IN ('Staging', 'Production') AND NOT EXISTS (SELECT 1 FROM model_aliases a WHERE a.model_id = model_versions.model_id AND a.version = model_versions.version)`
      : '';
    const { changes } = await tx.run(
      `UPDATE model_versions SET stage = ?, source = 'REDACTED-SOURCE-PATH', run_id = 'REDACTED-RUN-ID', storage_root = '', last_update_time = ?
       WHERE model_id = ? AND version = ? AND stage <> ?${held}`,
      [DELETED_STAGE, now, modelId, version, DELETED_STAGE],
    );
    if (changes === 0) return false;
    await tx.run('DELETE FROM model_aliases WHERE model_id = ? AND version = ?', [modelId, version]);
    await tx.run('DELETE FROM model_version_tags WHERE model_id = ? AND version = ?', [modelId, version]);
    return true;
  }

  async setTag(modelId: number, version: number, tag: KeyValue): Promise<void> {
    await this.db.run('INSERT INTO model_version_tags (model_id, version, key, value) VALUES (?, ?, ?, ?) ON CONFLICT (model_id, version, key) DO UPDATE SET value = excluded.value', [modelId, version, tag.key, tag.value]);
  }

  async deleteTag(modelId: number, version: number, key: string): Promise<void> {
    await this.db.run('DELETE FROM model_version_tags WHERE model_id = ? AND version = ? AND key = ?', [modelId, version, key]);
  }

  /** A live version's storage root at, above or below `key`, if any: writing there would change its files. */
  pinnedAt(key: string): Promise<string | undefined> {
    return storageRootAt(this.db, 'model_versions', key);
  }

  /** Every live version's storage root: what the garbage collector must keep. */
  async allRoots(): Promise<string[]> {
    return (await this.db.all<{ storage_root: string }>(`SELECT DISTINCT storage_root FROM model_versions WHERE storage_root <> ''`)).map((r) => r.storage_root);
  }

  async hydrate(rows: VersionRow[], tx: SqlExecutor = this.db): Promise<ModelVersion[]> {
    if (rows.length === 0) return [];
    const tags: { model_id: number; version: number; key: string; value: string }[] = [];
    const aliases: { model_id: number; version: number; alias: string }[] = [];
    // Row-value IN over (model_id, version), in slices that stay under every driver's parameter limit.
    for (let i = 0; i < rows.length; i += 500) {
      const slice = rows.slice(i, i + 500);
      const values = slice.map(() => '(CAST(? AS BIGINT), CAST(? AS BIGINT))').join(', ');
      const params = slice.flatMap((r) => [Number(r.model_id), Number(r.version)]);
      tags.push(...(await tx.all<(typeof tags)[number]>(`SELECT model_id, version, key, value FROM model_version_tags WHERE (model_id, version) IN (VALUES ${values}) ORDER BY key`, params)));
      aliases.push(...(await tx.all<(typeof aliases)[number]>(`SELECT model_id, version, alias FROM model_aliases WHERE (model_id, version) IN (VALUES ${values}) ORDER BY alias`, params)));
    }
    const tagsBy = new Map<string, KeyValue[]>();
    for (const t of tags) {
      const k = `${t.model_id}:${t.version}`;
      tagsBy.set(k, [...(tagsBy.get(k) ?? []), { key: t.key, value: t.value }]);
    }
    const aliasesBy = new Map<string, string[]>();
    for (const a of aliases) {
      const k = `${a.model_id}:${a.version}`;
      aliasesBy.set(k, [...(aliasesBy.get(k) ?? []), a.alias]);
    }
    return rows.map((r) => {
      const k = `${r.model_id}:${r.version}`;
      return {
        modelId: Number(r.model_id), name: r.name, version: Number(r.version), semver: r.semver, description: r.description,
        source: r.source, storageRoot: r.storage_root, runId: r.run_id, runLink: r.run_link, userId: r.user_id,
        stage: r.stage as ModelVersion['stage'], status: r.status as ModelVersion['status'], creationTime: Number(r.creation_time), lastUpdateTime: Number(r.last_update_time),
        manifest: JSON.parse(r.manifest) as ModelVersion['manifest'], manifestDigest: r.manifest_digest, signingKeyId: r.signing_key_id,
        manifestSignature: r.manifest_signature, signature: r.model_signature ? (JSON.parse(r.model_signature) as ModelVersion['signature']) : null,
        card: JSON.parse(r.card) as ModelVersion['card'], unsafeFiles: JSON.parse(r.unsafe_files) as ModelVersion['unsafeFiles'],
        codeVersion: r.code_version, loggedModelId: r.logged_model_id, tags: tagsBy.get(k) ?? [], aliases: aliasesBy.get(k) ?? [],
      };
    });
  }
}
