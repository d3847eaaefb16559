import { createHash } from 'node:crypto';
import type { Db } from './db.js';

/** `?, ?, ?` for n bound parameters. */
export const placeholders = (n: number): string => Array.from({ length: n }, () => '?').join(', ');

/**
 * The first `storage_root` in `table` at, above or below `key` (a '/'-separated prefix), if any.
 * Ancestors are matched exactly; descendants by the byte range `key/` ≤ root < `key0` ('0' follows
 * '/'), which the storage-root index serves when compared bytewise.
 */
export async function storageRootAt(db: Db, table: 'model_versions' | 'dataset_versions', key: string): Promise<string | undefined> {
  const parts = key.split('/').filter((p) => p !== '');
  const ancestors = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
  const c = db.dialect.bytewise;
  const row = await db.get<{ storage_root: string }>(
    `SELECT storage_root FROM ${table} WHERE storage_root${c} IN (${placeholders(ancestors.length)}) OR (storage_root${c} >= ? AND storage_root${c} < ?) LIMIT 1`,
    [...ancestors, `${key}/`, `${key}0`],
  );
  return row?.storage_root;
}

/** A 31-bit advisory-lock key for a name (PostgreSQL's pg_advisory_xact_lock takes a number). */
export const lockKeyOf = (name: string): number => createHash('sha256').update(name).digest().readUInt32BE(0) >>> 1;
