// `capstan restore`: rebuilds an installation from a `capstan backup` directory into an empty store
// (a new SQLite file or an empty PostgreSQL database, and an artifact store). The schema is made by
// the running version's migrations and must be the one the backup was taken with; every table is
// then filled in one transaction, so a restore that fails leaves the database as it found it. The
// artifact files are copied from the backup (or, for a backup that only listed them, found in the
// target store) and each is checked against its recorded sha256.
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AppError } from '../errors/index.js';
import type { BlobStore } from '../store/blob/index.js';
import { migrate, type Db, type SqlValue } from '../store/sql/index.js';
import { BACKUP_FORMAT, schemaVersionOf, tablesOf, type BackupManifest } from './backup.js';
import { decodeValue, readNdjson } from './backup-files.js';

const BATCH = 1000;
/** Tables whose rows mean the installation is in use; migrations alone leave them empty. */
const IN_USE = ['audit_events', 'runs', 'registered_models', 'dataset_versions', 'principals'];
const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;

export interface RestoreReport {
  tables: number;
  rows: number;
  artifacts: { copied: number; present: number; missing: string[] };
}

export function readManifest(dir: string): BackupManifest {
  const file = join(dir, 'manifest.json');
  if (!existsSync(file)) throw new AppError('INVALID_PARAMETER_VALUE', `${dir} holds no manifest.json: not a finished capstan backup.`);
  const m = JSON.parse(readFileSync(file, 'utf8')) as BackupManifest;
  if (m.format !== BACKUP_FORMAT) throw new AppError('INVALID_PARAMETER_VALUE', `${file} is format '${m.format}', this Capstan reads '${BACKUP_FORMAT}'.`);
  return m;
}

export async function restoreBackup(o: { db: Db; blobs: BlobStore; dir: string; log?: (line: string) => void }): Promise<RestoreReport> {
  const log = o.log ?? (() => {});
  const manifest = readManifest(o.dir);
  await migrate(o.db);
  const version = await schemaVersionOf(o.db);
  if (version !== manifest.schema_version) {
    throw new AppError('INVALID_STATE', `The backup has schema version ${manifest.schema_version} (Capstan ${manifest.capstan_version}); this Capstan's is ${version}. Restore with the version that took the backup, then upgrade.`);
  }
  const present = new Set(await tablesOf(o.db));
  for (const t of IN_USE) {
    if (present.has(t) && Number((await o.db.get<{ n: unknown }>(`SELECT COUNT(*) AS n FROM ${quote(t)}`))?.n) > 0) {
      throw new AppError('INVALID_STATE', `The target database is in use (${t} has rows); restore into a new, empty database.`);
    }
  }
  const unknown = manifest.tables.filter((t) => !present.has(t.name)).map((t) => t.name);
  if (unknown.length) throw new AppError('INVALID_STATE', `The backup has tables this schema lacks: ${unknown.join(', ')}.`);
  let rows = 0;
  await o.db.transaction(async (tx) => {
    for (const table of manifest.tables) {
      // Rows the migrations seeded (the default project, the default experiment) are replaced.
      await tx.run(`DELETE FROM ${quote(table.name)}`);
      const digest: { sha256?: string } = {};
      let columns: string[] | null = null;
      let sql = '';
      let batch: SqlValue[][] = [];
      for await (const row of readNdjson(join(o.dir, table.file), digest)) {
        if (!columns) {
          columns = Object.keys(row);
          sql = `INSERT INTO ${quote(table.name)} (${columns.map(quote).join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`;
        }
        batch.push(columns.map((c) => decodeValue(row[c])));
        if (batch.length >= BATCH) {
          await tx.runMany(sql, batch);
          batch = [];
        }
        rows++;
      }
      if (batch.length) await tx.runMany(sql, batch);
      if (digest.sha256 !== table.sha256) throw new AppError('ARTIFACT_INTEGRITY_ERR', `${table.file} does not match the sha256 in manifest.json; the backup is damaged.`);
    }
    await resetCounters(o.db, tx, manifest.tables.map((t) => t.name));
  });
  log(`metadata: ${manifest.tables.length} tables, ${rows} rows`);
  const artifacts = await restoreArtifacts(o.blobs, o.dir, manifest);
  log(`artifacts: ${artifacts.copied} copied, ${artifacts.present} already there, ${artifacts.missing.length} missing`);
  return { tables: manifest.tables.length, rows, artifacts };
}

/** Identity columns continue after the restored ids. */
async function resetCounters(db: Db, tx: Parameters<Parameters<Db['transaction']>[0]>[0], tables: string[]): Promise<void> {
  if (db.dialect.name === 'sqlite') {
    const seq = await tx.all<{ name: string }>('SELECT name FROM sqlite_sequence');
    for (const { name } of seq) {
      if (!tables.includes(name)) continue;
      await tx.run(`UPDATE sqlite_sequence SET seq = (SELECT COALESCE(MAX(rowid), 0) FROM ${quote(name)}) WHERE name = ?`, [name]);
    }
    return;
  }
  const identity = await tx.all<{ table_name: string; column_name: string }>(
    "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema() AND is_identity = 'YES'",
  );
  for (const { table_name: t, column_name: c } of identity) {
    if (!tables.includes(t)) continue;
    await tx.get(`SELECT setval(pg_get_serial_sequence(?, ?), COALESCE((SELECT MAX(${quote(c)}) FROM ${quote(t)}), 0) + 1, false)`, [quote(t), c]);
  }
}

async function restoreArtifacts(blobs: BlobStore, dir: string, manifest: BackupManifest): Promise<RestoreReport['artifacts']> {
  const out: RestoreReport['artifacts'] = { copied: 0, present: 0, missing: [] };
  const digest: { sha256?: string } = {};
  for await (const entry of readNdjson(join(dir, manifest.artifacts.list), digest)) {
    const { key, size, sha256 } = entry as { key: string; size: number; sha256: string };
    const there = await blobs.head(key);
    if (there?.sha256 === sha256) {
      out.present++;
      continue;
    }
    const file = join(dir, 'artifacts', key);
    if (!manifest.artifacts.included || !existsSync(file)) {
      out.missing.push(key);
      continue;
    }
    const info = await blobs.put(key, createReadStream(file), { sizeBytes: size });
    if (info.sha256 !== sha256) throw new AppError('ARTIFACT_INTEGRITY_ERR', `Artifact ${key} in the backup does not match its recorded sha256.`);
    out.copied++;
  }
  if (digest.sha256 !== manifest.artifacts.list_sha256) throw new AppError('ARTIFACT_INTEGRITY_ERR', `${manifest.artifacts.list} does not match the sha256 in manifest.json; the backup is damaged.`);
  return out;
}
