import type { Dialect } from './dialect.js';

export type SqlValue = string | number | bigint | null | Buffer;
export type Row = Record<string, unknown>;

/** Runs SQL written with `?` placeholders. */
export interface SqlExecutor {
  all<T = Row>(sql: string, params?: readonly SqlValue[]): Promise<T[]>;
  get<T = Row>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined>;
  run(sql: string, params?: readonly SqlValue[]): Promise<{ changes: number }>;
  /** Runs one statement once per parameter row; inside a transaction this is the fast path for bulk inserts. */
  runMany(sql: string, rows: readonly (readonly SqlValue[])[]): Promise<void>;
}

/**
 * A metadata database. Contract:
 * - `transaction` commits when `fn` resolves and rolls back when it rejects; nothing `fn` wrote is
 *   visible to others before commit. Transactions do not retry by themselves.
 * - Statements outside a transaction are each atomic on their own.
 * - Acknowledged commits survive a crash of the process (SQLite WAL; PostgreSQL's own WAL).
 */
export interface Db extends SqlExecutor {
  readonly dialect: Dialect;
  /** A URI with any password masked, for logs. */
  readonly displayUri: string;
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  ping(): Promise<void>;
  close(): Promise<void>;
}
