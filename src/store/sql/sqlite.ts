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
  /** The write transaction that commits the logical transactions finished so far (group commit). */
  batch: Batch | null;
}

interface Batch {
  owner: SqliteDb;
  committed: Promise<void>;
  resolve(): void;
  reject(err: unknown): void;
}

// Two connections to one file in one process must queue in JS: were the second to wait in SQLite's
// busy handler, it would block the event loop the first one needs to finish its transaction.
const gates = new Map<string, TxGate>();

function gateFor(path: string): TxGate {
  const gate = gates.get(path) ?? { tail: Promise.resolve(), done: Promise.resolve(), isOpen: false, users: 0, batch: null };
  gate.users += 1;
  if (path !== ':memory:') gates.set(path, gate);
  return gate;
}

/**
 * SQLite through better-sqlite3. The driver is synchronous, so an async transaction must keep other
 * callers' statements out of it: while a transaction is open, every other call queues behind it.
 * Outside a transaction a statement runs at once on the calling tick.
 *
 * Group commit: each transaction() runs as a SAVEPOINT inside one write transaction that commits
 * once the event loop has run the other requests that were ready, so a burst of small writes pays
 * for one COMMIT instead of one each. A transaction's promise resolves only after that COMMIT (an
 * acknowledged write is durable); a failed one rolls back to its savepoint alone. Statements outside
 * transactions wait for the pending COMMIT, so nobody reads a write that is not yet committed.
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
    while (this.gate.isOpen || this.gate.batch) {
      await (this.gate.isOpen ? this.gate.done : this.gate.batch!.committed.catch(() => undefined));
    }
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
    // Another connection's batch holds the write lock: let it commit before this one begins.
    while (gate.batch && gate.batch.owner !== this) await gate.batch.committed.catch(() => undefined);
    gate.isOpen = true;
    gate.done = mine;
    let batch: Batch;
    let result: T;
    try {
      batch = this.openBatch();
      this.prepare('SAVEPOINT capstan_tx').run();
      try {
        result = await fn(this.direct);
        this.prepare('RELEASE capstan_tx').run();
      } catch (err) {
        this.prepare('ROLLBACK TO capstan_tx').run();
        this.prepare('RELEASE capstan_tx').run();
        throw err;
      }
    } finally {
      gate.isOpen = false;
      release();
    }
    await batch.committed;
    return result;
  }

  private openBatch(): Batch {
    if (this.gate.batch) return this.gate.batch;
    this.prepare('BEGIN IMMEDIATE').run();
    let resolve!: () => void;
    let reject!: (err: unknown) => void;
    const committed = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
    const batch: Batch = { owner: this, committed, resolve, reject };
    this.gate.batch = batch;
    setImmediate(() => this.commitBatch(batch));
    return batch;
  }

  private commitBatch(batch: Batch): void {
    // A transaction still awaiting something inside its callback: commit once it has finished.
    if (this.gate.isOpen) {
      void this.gate.done.then(() => setImmediate(() => this.commitBatch(batch)));
      return;
    }
    this.gate.batch = null;
    try {
      this.prepare('COMMIT').run();
      batch.resolve();
    } catch (err) {
      if (this.db.inTransaction) this.prepare('ROLLBACK').run();
      batch.reject(err);
    }
  }

  async ping(): Promise<void> {
    await this.get('SELECT 1 AS ok');
  }

  async close(): Promise<void> {
    await this.gate.tail;
    if (this.gate.batch?.owner === this) await this.gate.batch.committed.catch(() => undefined);
    this.db.close();
    this.gate.users -= 1;
    if (this.gate.users === 0) gates.delete(this.gatePath);
  }
}
