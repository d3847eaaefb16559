import { resolveStoreUris } from '../config/index.js';
import { fail, printRows } from './output.js';
import { parseCommand } from './remote.js';
import { configFromFlags, SERVER_FLAGS } from './up.js';

const BACKUP_USAGE = 'capstan backup DIR [--artifacts] [--config capstan.yaml] [--data DIR]   (run on a server machine, with its settings; DIR must be new or empty)';
const RESTORE_USAGE = 'capstan restore DIR [--config capstan.yaml] [--data DIR]   (into a new, empty database and artifact store, before the server starts)';

async function stores(values: Record<string, unknown>) {
  const config = configFromFlags(values as Record<string, string | boolean | undefined>);
  const uris = resolveStoreUris(config);
  const [{ openBlobStore }, { s3Options }, { capstanVersion }] = await Promise.all([import('../store/blob/index.js'), import('../server/platform.js'), import('../server/version.js')]);
  return { uris, blobs: await openBlobStore(uris.artifactsUri, s3Options(config)), version: capstanVersion() };
}

const say = (line: string) => process.stderr.write(`${line}\n`);

/** A consistent snapshot of the metadata and the artifact list (and, with --artifacts, the files). */
export async function backupCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseCommand(args, { ...SERVER_FLAGS, artifacts: { type: 'boolean', default: false }, json: { type: 'boolean', default: false } }, BACKUP_USAGE);
  const [dir] = positionals;
  if (!dir || positionals.length > 1) fail(`usage: ${BACKUP_USAGE}`);
  const { writeBackup } = await import('../ops/backup.js');
  const s = await stores(values);
  try {
    const m = await writeBackup({ databaseUri: s.uris.databaseUri, blobs: s.blobs, dir, includeArtifacts: Boolean(values.artifacts), version: s.version, log: say });
    if (values.json) printRows([], [], true, m);
    else process.stdout.write(`backup of ${m.tables.length} tables and ${m.artifacts.files} artifact files written to ${dir}\n`);
  } finally {
    await s.blobs.close();
  }
}

/** Rebuilds an installation from a backup directory; exits 1 when artifact files are missing. */
export async function restoreCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseCommand(args, { ...SERVER_FLAGS, json: { type: 'boolean', default: false } }, RESTORE_USAGE);
  const [dir] = positionals;
  if (!dir || positionals.length > 1) fail(`usage: ${RESTORE_USAGE}`);
  const [{ restoreBackup }, { openDb }] = await Promise.all([import('../ops/restore.js'), import('../store/sql/index.js')]);
  const s = await stores(values);
  const db = openDb(s.uris.databaseUri, { poolSize: 2 });
  try {
    const r = await restoreBackup({ db, blobs: s.blobs, dir, log: say });
    if (values.json) printRows([], [], true, r);
    else process.stdout.write(`restored ${r.rows} rows in ${r.tables} tables; artifacts: ${r.artifacts.copied} copied, ${r.artifacts.present} already present\n`);
    if (r.artifacts.missing.length) {
      say(`${r.artifacts.missing.length} artifact files are neither in the backup nor in the artifact store, e.g. ${r.artifacts.missing.slice(0, 3).join(', ')}`);
      process.exitCode = 1;
    }
  } finally {
    await db.close();
    await s.blobs.close();
  }
}
