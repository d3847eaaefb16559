export type { Db, SqlExecutor, SqlValue, Row } from './db.js';
export type { Dialect } from './dialect.js';
export { openDb, type OpenDbOptions } from './open.js';
export { migrate, type MigrationResult } from './migrate.js';
export { MIGRATIONS, type Migration } from './migrations.js';
export { insertRows } from './bulk.js';
export { isUniqueViolation, uniquely } from './unique.js';
export { lockKeyOf, placeholders, storageRootAt } from './text.js';
