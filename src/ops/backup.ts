// `capstan backup`: a consistent snapshot of a Capstan installation in a directory — every table of
// the metadata database as NDJSON, the list of every artifact file with its size and sha256, and
// optionally the files themselves — described by a manifest written last (a directory without
// manifest.json is not a backup). The database is read at one instant: PostgreSQL in a
// REPEATABLE READ, READ ONLY transaction; SQLite through its online backup API into a copy that is
// then read at leisure. Artifacts are listed after that instant, so every file the snapshot
// refers to is in the list (files are only ever removed by the garbage collector, which never
// removes referenced ones).
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import Database from 'better-sqlite3';
import { AppError } from '../errors/index.js';
import type { BlobStore } from '../store/blob/index.js';
import { openDb, type Db, type Row, type SqlExecutor } from '../store/sql/index.js';
import { NdjsonWriter, encodeRow, walkBlobs, writeJson } from './backup-files.js';

export const BACKUP_FORMAT = 'capstan-backup/1';
const PAGE = 5000;

export interface BackupManifest {
  format: typeof BACKUP_FORMAT;
  capstan_version: string;
  created_time: number;
  dialect: 'sqlite' | 'postgres';
  schema_version: number;
  tables: { name: string; rows: number; file: string; sha256: string }[];
  artifacts: { files: number; bytes: number; list: string; list_sha256: string; included: boolean };
}

/** The tables of the current schema, without the migration ledger (the restoring server writes its own). */
export async function tablesOf(db: SqlExecutor & { dialect: Db['dialect'] }): Promise<string[]> {
  const rows = db.dialect.name === 'sqlite'
    ? await db.all<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
    : await db.all<{ name: string }>('SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename');
  return rows.map((r) => r.name).filter((n) => n !== 'schema_migrations');
}

export const schemaVersionOf = async (db: SqlExecutor): Promise<number> => Number((await db.get<{ v: unknown }>('SELECT MAX(version) AS v FROM schema_migrations'))?.v ?? 0);

const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;

async function dumpTables(db: SqlExecutor & { dialect: Db['dialect'] }, dir: string): Promise<BackupManifest['tables']> {
  const out: BackupManifest['tables'] = [];
  // Within one snapshot a table's physical order is stable: page by it.
  // (A SQLite snapshot is a private copy nothing writes, and some of its tables have no rowid.)
  const order = db.dialect.name === 'sqlite' ? '' : ' ORDER BY ctid';
  for (const name of await tablesOf(db)) {
    const file = `tables/${name}.ndjson`;
    const writer = new NdjsonWriter(join(dir, file));
    let rows = 0;
    for (let offset = 0; ; offset += PAGE) {
      const page = await db.all<Row>(`SELECT * FROM ${quote(name)} ${order} LIMIT ${PAGE} OFFSET ${offset}`);
      for (const row of page) await writer.write(encodeRow(row));
      rows += page.length;
      if (page.length < PAGE) break;
    }
    out.push({ name, rows, file, sha256: await writer.close() });
  }
  return out;
}

export interface BackupOptions {
  databaseUri: string;
  blobs: BlobStore;
  dir: string;
  includeArtifacts: boolean;
  version: string;
  log?: (line: string) => void;
}

export async function writeBackup(o: BackupOptions): Promise<BackupManifest> {
  if (existsSync(o.dir) && readdirSync(o.dir).length > 0) throw new AppError('INVALID_PARAMETER_VALUE', `${o.dir} is not empty; a backup goes into a new or empty directory.`);
  mkdirSync(join(o.dir, 'tables'), { recursive: true });
  const log = o.log ?? (() => {});
  const createdTime = Date.now();
  let dialect: 'sqlite' | 'postgres';
  let schemaVersion: number;
  let tables: BackupManifest['tables'];
  if (/^sqlite:/i.test(o.databaseUri)) {
    // The online backup API copies a consistent image even while a server writes the file.
    const source = o.databaseUri.replace(/^sqlite:\/\//i, '');
    const copy = join(o.dir, 'snapshot.sqlite');
    const live = new Database(source, { readonly: true, fileMustExist: true });
    try {
      await live.backup(copy);
    } finally {
      live.close();
    }
    const db = openDb(`sqlite://${copy}`);
    try {
      dialect = 'sqlite';
      schemaVersion = await schemaVersionOf(db);
      tables = await dumpTables(db, o.dir);
    } finally {
      await db.close();
      rmSync(copy, { force: true });
      rmSync(`${copy}-wal`, { force: true });
      rmSync(`${copy}-shm`, { force: true });
    }
  } else {
    const db = openDb(o.databaseUri, { poolSize: 1 });
    try {
      dialect = 'postgres';
      ({ schemaVersion, tables } = await db.transaction(async (tx) => {
        await tx.run('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
        return { schemaVersion: await schemaVersionOf(tx), tables: await dumpTables(Object.assign(tx, { dialect: db.dialect }), o.dir) };
      }));
    } finally {
      await db.close();
    }
  }
  log(`metadata: ${tables.length} tables, ${tables.reduce((n, t) => n + t.rows, 0)} rows (schema version ${schemaVersion})`);
  const list = new NdjsonWriter(join(o.dir, 'artifacts.ndjson'));
  let files = 0;
  let bytes = 0;
  for await (const key of walkBlobs(o.blobs, '')) {
    const info = await o.blobs.head(key);
    if (!info) continue; // removed since it was listed
    if (o.includeArtifacts) {
      const target = join(o.dir, 'artifacts', key);
      mkdirSync(dirname(target), { recursive: true });
      const { body } = await o.blobs.get(key);
      const hash = createHash('sha256');
      body.on('data', (c: Buffer) => hash.update(c));
      await pipeline(body, createWriteStream(target));
      if (hash.digest('hex') !== info.sha256) throw new AppError('ARTIFACT_INTEGRITY_ERR', `Artifact ${key} does not match its recorded sha256; the backup stopped.`);
    }
    await list.write({ key, size: info.sizeBytes, sha256: info.sha256 });
    files++;
    bytes += info.sizeBytes;
  }
  const listSha = await list.close();
  log(`artifacts: ${files} files, ${bytes} bytes${o.includeArtifacts ? ' (copied)' : ' (listed)'}`);
  const manifest: BackupManifest = {
    format: BACKUP_FORMAT, capstan_version: o.version, created_time: createdTime, dialect, schema_version: schemaVersion, tables,
    artifacts: { files, bytes, list: 'artifacts.ndjson', list_sha256: listSha, included: o.includeArtifacts },
  };
  await writeJson(join(o.dir, 'manifest.json'), manifest);
  return manifest;
}

/** sha256 of a file, hex. */
export async function fileSha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}
