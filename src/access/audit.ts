import { AsyncLocalStorage } from 'node:async_hooks';
import type { Db, SqlExecutor, SqlValue } from '../store/sql/index.js';
import { GENESIS_HASH, hashEvent, verifyChain, type AuditContent, type AuditEvent, type ChainVerdict } from './audit-chain.js';

/** Serialises audit appends on PostgreSQL: each event reads the previous one's hash. */
const AUDIT_LOCK_KEY = 7261627;
const PAGE = 1000;

export type AuditRecord = Omit<AuditContent, 'time'>;

/**
 * The tamper-evident audit log. Events are appended inside the transaction of the change they
 * record; appends are serialised so the chain never forks, even across replicas.
 */
export class AuditLog {
  constructor(
    private readonly db: Db,
    private readonly now: () => number = Date.now,
  ) {}

  async append(tx: SqlExecutor, record: AuditRecord): Promise<void> {
    const lock = this.db.dialect.writeLockSql(AUDIT_LOCK_KEY);
    if (lock) await tx.get(lock);
    const last = await tx.get<{ seq: number | string; hash: string }>('SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1');
    const content: AuditContent = { ...record, time: this.now() };
    const prevHash = last?.hash ?? GENESIS_HASH;
    const seq = last ? Number(last.seq) + 1 : 1;
    const values: SqlValue[] = [seq, content.time, content.actor, content.token_id, content.action, content.resource, content.project, content.outcome, content.summary, content.request_id, content.client_ip, prevHash, hashEvent(content, prevHash)];
    await tx.run(
      `INSERT INTO audit_events (seq, time, actor, token_id, action, resource, project, outcome, summary, request_id, client_ip, prev_hash, hash)
       VALUES (${values.map(() => '?').join(', ')})`,
      values,
    );
  }

  /** For events that accompany no change of their own: denials and failed sign-ins. */
  appendAlone(record: AuditRecord): Promise<void> {
    return this.db.transaction((tx) => this.append(tx, record));
  }

  /** Events in seq order, from `afterSeq` on and no older than `sinceMs`, read a page at a time. */
  async *events(opts: { sinceMs?: number; afterSeq?: number } = {}): AsyncGenerator<AuditEvent> {
    let after = opts.afterSeq ?? 0;
    for (;;) {
      const page = await this.db.all<AuditEvent>('SELECT * FROM audit_events WHERE seq > ? AND time >= ? ORDER BY seq LIMIT ?', [after, opts.sinceMs ?? 0, PAGE]);
      for (const row of page) yield { ...row, seq: Number(row.seq), time: Number(row.time) };
      if (page.length < PAGE) return;
      after = Number(page[page.length - 1]!.seq);
    }
  }

  async verify(): Promise<ChainVerdict> {
    return verifyChain(this.events(), async (hash) => (await this.db.get('SELECT 1 AS found FROM audit_events WHERE hash = ?', [hash])) !== undefined);
  }
}

/** The event a state-changing request will write, and whether a transaction has written it yet. */
export interface PendingAudit {
  record: AuditRecord;
  written: boolean;
}

const pendingAudit = new AsyncLocalStorage<PendingAudit>();

/**
 * Runs a state-changing handler so its audit event commits with its first write transaction. A
 * handler that wrote nothing through the database (blob uploads) gets its event after it succeeds.
 */
export async function runAudited<T>(log: AuditLog, record: AuditRecord, fn: () => Promise<T>): Promise<T> {
  const pending: PendingAudit = { record, written: false };
  const result = await pendingAudit.run(pending, fn);
  if (!pending.written) await log.appendAlone(pending.record);
  return result;
}

/**
 * Runs `fn` outside the current request's pending event: for bookkeeping that is not the change
 * the request asks for (failed sign-in counters), which must not commit the request's event.
 */
export const outsideAudit = <T>(fn: () => T): T => pendingAudit.exit(fn);

/**
 * Adds what the object looked like before the change to the current request's pending event. Call
 * it before the change's write: once the event is written it is part of the chain.
 */
export function noteAuditBefore(before: Record<string, unknown>): void {
  const pending = pendingAudit.getStore();
  if (!pending || pending.written) return;
  pending.record = { ...pending.record, summary: JSON.stringify({ ...JSON.parse(pending.record.summary), before }) };
}

/**
 * The database every domain store uses: any write made while a request's audit event is pending
 * carries that event in the same transaction, so a change and its record commit or vanish together.
 */
export function auditedDb(db: Db, log: AuditLog): Db {
  const withEvent = async <T>(tx: SqlExecutor, fn: (tx: SqlExecutor) => Promise<T>): Promise<T> => {
    const result = await fn(tx);
    const pending = pendingAudit.getStore();
    if (pending && !pending.written) {
      await log.append(tx, pending.record);
      pending.written = true;
    }
    return result;
  };
  const needsEvent = () => {
    const pending = pendingAudit.getStore();
    return pending !== undefined && !pending.written;
  };
  return {
    dialect: db.dialect,
    displayUri: db.displayUri,
    all: (sql, params) => db.all(sql, params),
    get: (sql, params) => db.get(sql, params),
    run: (sql, params) => (needsEvent() ? db.transaction((tx) => withEvent(tx, (t) => t.run(sql, params))) : db.run(sql, params)),
    runMany: (sql, rows) => (needsEvent() ? db.transaction((tx) => withEvent(tx, (t) => t.runMany(sql, rows))) : db.runMany(sql, rows)),
    transaction: (fn) => db.transaction((tx) => withEvent(tx, fn)),
    ping: () => db.ping(),
    close: () => db.close(),
  };
}
