import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Db, Row, SqlExecutor, SqlValue } from './db.js';
import { sqliteDialect } from './dialect.js';

/** Transaction queue state, shared by every SqliteDb open on the same file in this process. */
interface TxGate {
  /** Resolves when the last queued transaction has finished. */
  tail: Promise<void>;
  /** Resolves when the open transaction (if any) has finished. */
  done: Promise<void>;
  isOpen: boolean;
  users: number;
}

// Two connections to one file in one process must queue in JS: were the second to wait in SQLite's
// busy handler, it would block the event loop the first one needs to finish its transaction.
const gates = new Map<string, TxGate>();

function gateFor(path: string): TxGate {
  const gate = gates.get(path) ?? { tail: Promise.resolve(), done: Promise.resolve(), isOpen: false, users: 0 };
  gate.users += 1;
  if (path !== ':memory:') gates.set(path, gate);
  return gate;
}

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
  private readonly gatePath: string;
  private readonly gate: TxGate;
  private readonly direct: SqlExecutor;

  constructor(path: string) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.displayUri = `sqlite://${path}`;
    this.db = new Database(path);
    this.gatePath = path === ':memory:' ? path : resolve(path);
    this.gate = gateFor(this.gatePath);
    this.db.pragma('journal_mode = WAL');
    // NORMAL in WAL mode: a commit is in the OS page cache before the call returns, so it survives
    // kill -9 of this process; only a power loss can take the last commits.
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 10000');
    this.db.pragma('cache_size = -65536');
    // Fewer, larger checkpoints: each one syncs the database file, the costliest step of a write burst.
    this.db.pragma('wal_autocheckpoint = 10000');
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
    while (this.gate.isOpen) await this.gate.done;
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
    const gate = this.gate;
    const previous = gate.tail;
    let release!: () => void;
    const mine = new Promise<void>((done) => (release = done));
    gate.tail = mine;
    await previous;
    gate.isOpen = true;
    gate.done = mine;
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
      gate.isOpen = false;
      release();
    }
  }

  async ping(): Promise<void> {
    await this.get('SELECT 1 AS ok');
  }

  async close(): Promise<void> {
    await this.gate.tail;
    this.db.close();
    this.gate.users -= 1;
    if (this.gate.users === 0) gates.delete(this.gatePath);
  }
}
