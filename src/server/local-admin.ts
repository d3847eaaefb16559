import { AuditLog, auditedDb, runAudited, type AccessService, type AuditRecord, type SecretStore } from '../access/index.js';
import { processEnv, resolveStoreUris, type Config } from '../config/index.js';
import { createLogger } from '../observability/logger.js';
import { migrate, openDb } from '../store/sql/index.js';
import { wireAccess } from './access-wiring.js';

export interface LocalAdmin {
  access: AccessService;
  audit: AuditLog;
  secrets: SecretStore;
  /** Runs an operator action with its audit event, as a request would be recorded. */
  audited<T>(action: string, resource: string, fn: () => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/**
 * The platform's stores without its HTTP server, for operator commands run on a server machine
 * (`capstan admin create` before any account exists, `capstan secrets rotate` with the key ring).
 */
export async function openLocalAdmin(config: Config): Promise<LocalAdmin> {
  const uris = resolveStoreUris(config);
  const base = openDb(uris.databaseUri, { poolSize: 2 });
  await migrate(base);
  const audit = new AuditLog(base);
  const db = auditedDb(base, audit);
  const parts = await wireAccess(config, db, audit, uris.databaseUri, createLogger('silent'));
  const actor = `cli:${processEnv().USER ?? 'operator'}`;
  return {
    access: parts.service,
    audit,
    secrets: parts.secrets,
    audited: (action, resource, fn) => {
      const record: AuditRecord = { actor, token_id: null, action, resource, project: null, outcome: 'ok', summary: '{}', request_id: null, client_ip: null };
      return runAudited(audit, record, fn);
    },
    close: async () => {
      await parts.close();
      await base.close();
    },
  };
}
