import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Db, Row, SqlExecutor, SqlValue } from './db.js';
import { sqliteDialect } from './dialect.js';

/**
 * SQLite through better-sqlite3. The driver is synchronous, so an async transaction must keep other
 * callers' statements out of it: while a transaction is open, every other call queues behind it.
 * Outside a transaction a statement runs at once on the calling tick.
 */
export class SqliteDb implements Db {
  readonly dialect = sqliteDialect;
  readonly displayUri: string;
  private readonly db: Database.Database;
  private readonly statements = new Map<string, Database.Statement>();
  /** Resolves when the last queued transaction has finished. */
  private txTail: Promise<void> = Promise.resolve();
  /** Resolves when the open transaction (if any) has finished. */
  private txDone: Promise<void> = Promise.resolve();
  private txOpen = false;
  private readonly direct: SqlExecutor;

  constructor(path: string) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.displayUri = `sqlite://${path}`;
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    // NORMAL in WAL mode: a commit is in the OS page cache before the call returns, so it survives
    // kill -9 of this process; only a power loss can take the last commits.
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 10000');
    this.db.pragma('cache_size = -65536');
    this.db.pragma('temp_store = MEMORY');
    this.db.pragma('case_sensitive_like = ON');
    this.direct = this.executor();
  }

  private prepare(sql: string): Database.Statement {
    let stmt = this.statements.get(sql);
    if (!stmt) {
      stmt = this.db.prepare(sql);
      this.statements.set(sql, stmt);
    }
    return stmt;
  }

  private executor(): SqlExecutor {
    return {
      all: async <T>(sql: string, params: readonly SqlValue[] = []) => this.prepare(sql).all(...params) as T[],
      get: async <T>(sql: string, params: readonly SqlValue[] = []) => this.prepare(sql).get(...params) as T | undefined,
      run: async (sql: string, params: readonly SqlValue[] = []) => ({ changes: this.prepare(sql).run(...params).changes }),
      runMany: async (sql: string, rows: readonly (readonly SqlValue[])[]) => {
        const stmt = this.prepare(sql);
        for (const row of rows) stmt.run(...row);
      },
    };
  }

  private async outside<T>(fn: (ex: SqlExecutor) => Promise<T>): Promise<T> {
    while (this.txOpen) await this.txDone;
    return fn(this.direct);
  }

  all<T = Row>(sql: string, params?: readonly SqlValue[]): Promise<T[]> {
    return this.outside((ex) => ex.all<T>(sql, params));
  }
  get<T = Row>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined> {
    return this.outside((ex) => ex.get<T>(sql, params));
  }
  run(sql: string, params?: readonly SqlValue[]): Promise<{ changes: number }> {
    return this.outside((ex) => ex.run(sql, params));
  }
  runMany(sql: string, rows: readonly (readonly SqlValue[])[]): Promise<void> {
    return this.transaction((tx) => tx.runMany(sql, rows));
  }

  async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    const previous = this.txTail;
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    this.txTail = mine;
    await previous;
    this.txOpen = true;
    this.txDone = mine;
    try {
      this.prepare('BEGIN IMMEDIATE').run();
      try {
        const result = await fn(this.direct);
        this.prepare('COMMIT').run();
        return result;
      } catch (err) {
        if (this.db.inTransaction) this.prepare('ROLLBACK').run();
        throw err;
      }
    } finally {
      this.txOpen = false;
      release();
    }
  }

  async ping(): Promise<void> {
    await this.get('SELECT 1 AS ok');
  }

  async close(): Promise<void> {
    await this.txTail;
    this.db.close();
  }
}
