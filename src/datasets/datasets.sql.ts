import { lockKeyOf, placeholders, storageRootAt, type Db, type SqlValue } from '../store/sql/index.js';
import type { DatasetVersion } from './types.js';

interface Row {
  dataset_version_id: number;
  project_id: number;
  name: string;
  version: number | string;
  digest: string;
  storage_root: string;
  source: string;
  format: string;
  size_bytes: number | string;
  file_count: number | string;
  row_count: number | string;
  schema_json: string;
  profile: string;
  manifest: string;
  description: string;
  sensitive: number;
  access: string;
  created_time: number | string;
  created_by: string;
}

const toVersion = (r: Row): DatasetVersion => ({
  id: Number(r.dataset_version_id), projectId: Number(r.project_id), name: r.name, version: Number(r.version), digest: r.digest,
  storageRoot: r.storage_root, source: r.source, format: r.format, sizeBytes: Number(r.size_bytes), fileCount: Number(r.file_count),
  rowCount: Number(r.row_count), schema: JSON.parse(r.schema_json), profile: JSON.parse(r.profile), files: JSON.parse(r.manifest).files,
  description: r.description, sensitive: Number(r.sensitive) === 1, access: r.access as DatasetVersion['access'],
  createdTime: Number(r.created_time), createdBy: r.created_by,
});

/** A 31-bit advisory-lock key from a name. */


/** Dataset versions: content-addressed per (project, name); numbers count up per name. */
export class DatasetSql {
  constructor(private readonly db: Db) {}

  /**
   * Inserts under the next number, or returns the existing version with the same content.
   * Registrations of one name queue on a lock (PostgreSQL; a SQLite write transaction is already
   * exclusive), so concurrent ones get consecutive numbers instead of racing for one.
   */
  async insert(v: Omit<DatasetVersion, 'id' | 'version'>): Promise<{ version: DatasetVersion; created: boolean }> {
    const created = await this.db.transaction(async (tx) => {
      const lock = this.db.dialect.writeLockSql(lockKeyOf(`dataset:${v.projectId}:${v.name}`));
      if (lock) await tx.get(lock);
      if (await tx.get('SELECT 1 AS found FROM dataset_versions WHERE project_id = ? AND name = ? AND digest = ?', [v.projectId, v.name, v.digest])) return false;
      const row = await tx.get<{ n: number | string | null }>('SELECT MAX(version) AS n FROM dataset_versions WHERE project_id = ? AND name = ?', [v.projectId, v.name]);
      const values: SqlValue[] = [v.projectId, v.name, Number(row?.n ?? 0) + 1, v.digest, v.storageRoot, v.source, v.format, v.sizeBytes, v.fileCount, v.rowCount,
        JSON.stringify(v.schema), JSON.stringify(v.profile), JSON.stringify({ files: v.files }), v.description, v.sensitive ? 1 : 0, v.access, v.createdTime, v.createdBy];
      await tx.run(
        `INSERT INTO dataset_versions (project_id, name, version, digest, storage_root, source, format, size_bytes, file_count, row_count, schema_json, profile,
          manifest, description, sensitive, access, created_time, created_by) VALUES (${placeholders(values.length)})`,
        values,
      );
      return true;
    });
    return { version: (await this.byDigest(v.projectId, v.name, v.digest))!, created };
  }

  async byDigest(projectId: number, name: string, digest: string): Promise<DatasetVersion | undefined> {
    const row = await this.db.get<Row>('SELECT * FROM dataset_versions WHERE project_id = ? AND name = ? AND digest = ?', [projectId, name, digest]);
    return row && toVersion(row);
  }

  async get(projectId: number, name: string, version: number): Promise<DatasetVersion | undefined> {
    const row = await this.db.get<Row>('SELECT * FROM dataset_versions WHERE project_id = ? AND name = ? AND version = ?', [projectId, name, version]);
    return row && toVersion(row);
  }

  async latest(projectId: number, name: string): Promise<DatasetVersion | undefined> {
    const row = await this.db.get<Row>('SELECT * FROM dataset_versions WHERE project_id = ? AND name = ? ORDER BY version DESC LIMIT 1', [projectId, name]);
    return row && toVersion(row);
  }

  async list(projectId: number, name: string | undefined, limit: number): Promise<DatasetVersion[]> {
    const rows = name === undefined
      ? await this.db.all<Row>('SELECT * FROM dataset_versions WHERE project_id = ? ORDER BY name, version DESC LIMIT ?', [projectId, limit])
      : await this.db.all<Row>('SELECT * FROM dataset_versions WHERE project_id = ? AND name = ? ORDER BY version DESC LIMIT ?', [projectId, name, limit]);
    return rows.map(toVersion);
  }

  /** Versions of these names in the project, for matching MLflow run inputs (name + digest prefix). */
  async byNames(projectId: number, names: string[]): Promise<DatasetVersion[]> {
    if (names.length === 0) return [];
    return (await this.db.all<Row>(`SELECT * FROM dataset_versions WHERE project_id = ? AND name IN (${placeholders(names.length)})`, [projectId, ...names])).map(toVersion);
  }

  async rootExists(root: string): Promise<boolean> {
    return (await this.db.get('SELECT 1 AS found FROM dataset_versions WHERE storage_root = ? LIMIT 1', [root])) !== undefined;
  }

  /** A dataset version's storage root at, above or below `key`. */
  pinnedAt(key: string): Promise<string | undefined> {
    return storageRootAt(this.db, 'dataset_versions', key);
  }
}
