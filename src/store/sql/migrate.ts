import type { Db } from './db.js';
import { MIGRATIONS, type Migration } from './migrations.js';

export interface MigrationResult {
  applied: number[];
  current: number;
}

/**
 * Brings the schema to the newest version. Every migration runs in its own transaction that first
 * takes the dialect's migration lock and re-reads the version, so concurrent start-ups of several
 * processes apply each migration exactly once.
 */
export async function migrate(db: Db, migrations: readonly Migration[] = MIGRATIONS): Promise<MigrationResult> {
  // Under the lock too: PostgreSQL's CREATE TABLE IF NOT EXISTS is not safe against a concurrent one.
  await db.transaction(async (tx) => {
    if (db.dialect.migrationLockSql) await tx.get(db.dialect.migrationLockSql);
    await tx.run(
      `CREATE TABLE IF NOT EXISTS schema_migrations (version ${db.dialect.types.bigint} PRIMARY KEY, name ${db.dialect.types.text} NOT NULL, applied_at ${db.dialect.types.bigint} NOT NULL)`,
    );
  });
  const applied: number[] = [];
  for (const migration of migrations) {
    const didApply = await db.transaction(async (tx) => {
      if (db.dialect.migrationLockSql) await tx.get(db.dialect.migrationLockSql);
      const done = await tx.get('SELECT version FROM schema_migrations WHERE version = ?', [migration.version]);
      if (done) return false;
      for (const statement of migration.statements(db.dialect)) await tx.run(statement);
      await tx.run('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)', [
        migration.version,
        migration.name,
        Date.now(),
      ]);
      return true;
    });
    if (didApply) applied.push(migration.version);
  }
  const row = await db.get<{ v: number | null }>('SELECT MAX(version) AS v FROM schema_migrations');
  return { applied, current: row?.v ?? 0 };
}
