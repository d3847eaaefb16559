import pg from 'pg';
import type { Db, Row, SqlExecutor, SqlValue } from './db.js';
import { postgresDialect } from './dialect.js';
import { maskUriPassword } from '../../config/index.js';

// BIGINT (int8) and NUMERIC come back as strings by default; Capstan's BIGINTs are millisecond
// timestamps, steps and ids, all well inside Number's safe range.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

function executorOf(client: pg.Pool | pg.PoolClient): SqlExecutor {
  const q = (sql: string, params: readonly SqlValue[] = []) =>
    client.query({ text: postgresDialect.placeholders(sql), values: params as unknown[] });
  return {
    all: async <T>(sql: string, params?: readonly SqlValue[]) => (await q(sql, params)).rows as T[],
    get: async <T>(sql: string, params?: readonly SqlValue[]) => (await q(sql, params)).rows[0] as T | undefined,
    run: async (sql: string, params?: readonly SqlValue[]) => ({ changes: (await q(sql, params)).rowCount ?? 0 }),
    runMany: async (sql: string, rows: readonly (readonly SqlValue[])[]) => {
      // One at a time: pg deprecates queueing queries on a busy client. Bulk row inserts use
      // insertRows (one multi-row statement) instead.
      for (const row of rows) await q(sql, row);
    },
  };
}

/** PostgreSQL through a pg Pool. A transaction holds one pooled connection from BEGIN to COMMIT. */
export class PostgresDb implements Db {
  readonly dialect = postgresDialect;
  readonly displayUri: string;
  private readonly pool: pg.Pool;
  private readonly direct: SqlExecutor;

  constructor(uri: string, poolSize: number) {
    this.displayUri = maskUriPassword(uri);
    this.pool = new pg.Pool({ connectionString: uri, max: poolSize });
    // An idle client's error (server restart) must not crash the process; the next query reconnects.
    this.pool.on('error', () => undefined);
    this.direct = executorOf(this.pool);
  }

  all<T = Row>(sql: string, params?: readonly SqlValue[]): Promise<T[]> {
    return this.direct.all<T>(sql, params);
  }
  get<T = Row>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined> {
    return this.direct.get<T>(sql, params);
  }
  run(sql: string, params?: readonly SqlValue[]): Promise<{ changes: number }> {
    return this.direct.run(sql, params);
  }
  runMany(sql: string, rows: readonly (readonly SqlValue[])[]): Promise<void> {
    return this.transaction((tx) => tx.runMany(sql, rows));
  }

  async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      try {
        const result = await fn(executorOf(client));
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
    } finally {
      client.release();
    }
  }

  async ping(): Promise<void> {
    await this.pool.query('SELECT 1');
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
