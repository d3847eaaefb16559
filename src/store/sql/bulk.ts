import type { SqlExecutor, SqlValue } from './db.js';
import { placeholders } from './text.js';

const CHUNK_ROWS = 200;

/**
 * Inserts many rows with multi-row VALUES statements of at most CHUNK_ROWS rows (one round trip per
 * chunk on PostgreSQL, one prepared statement per chunk size on SQLite). `suffix` is appended to every
 * statement, e.g. an ON CONFLICT clause. Call inside a transaction for all-or-nothing.
 */
export async function insertRows(
  tx: SqlExecutor,
  head: string,
  width: number,
  rows: readonly (readonly SqlValue[])[],
  suffix = '',
): Promise<void> {
  const tuple = `(${placeholders(width)})`;
  for (let start = 0; start < rows.length; start += CHUNK_ROWS) {
    const chunk = rows.slice(start, start + CHUNK_ROWS);
    const params: SqlValue[] = [];
    for (const row of chunk) for (const v of row) params.push(v);
    await tx.run(`${head} VALUES ${new Array(chunk.length).fill(tuple).join(', ')} ${suffix}`, params);
  }
}
