import { uniquely, type Db, type SqlExecutor } from '../store/sql/index.js';
import type { Role, Scope } from './authorize.js';
import type { Account, AccountKind, Membership, Project, TokenGrant, TokenInfo, TokenKind } from './types.js';

interface AccountRow {
  principal_id: number | string;
  name: string;
  kind: AccountKind;
  password_hash: string | null;
  is_owner: number;
  disabled: number;
  created_time: number | string;
  failed_logins: number | string;
  locked_until: number | string;
}

interface TokenRow {
  token_id: number | string;
  principal_id: number | string;
  principal_name: string;
  name: string;
  kind: TokenKind;
  scopes: string;
  project_id: number | string | null;
  created_time: number | string;
  expires_at: number | string | null;
  revoked_at: number | string | null;
  last_used_at: number | string | null;
}

const num = (v: number | string | null): number | null => (v === null ? null : Number(v));

const toAccount = (r: AccountRow): Account => ({
  principalId: Number(r.principal_id),
  name: r.name,
  kind: r.kind,
  passwordHash: r.password_hash,
  isOwner: r.is_owner === 1,
  disabled: r.disabled === 1,
  createdTime: Number(r.created_time),
  failedLogins: Number(r.failed_logins),
  lockedUntil: Number(r.locked_until),
});

const toToken = (r: TokenRow): TokenInfo => ({
  tokenId: Number(r.token_id),
  principalId: Number(r.principal_id),
  principalName: r.principal_name,
  name: r.name,
  kind: r.kind,
  scopes: r.scopes.split(',') as Scope[],
  projectId: num(r.project_id),
  createdTime: Number(r.created_time),
  expiresAt: num(r.expires_at),
  revokedAt: num(r.revoked_at),
  lastUsedAt: num(r.last_used_at),
});

const TOKEN_SELECT = `SELECT t.token_id, t.principal_id, p.name AS principal_name, t.name, t.kind, t.scopes, t.project_id, t.created_time, t.expires_at, t.revoked_at, t.last_used_at
  FROM api_tokens t JOIN principals p ON p.principal_id = t.principal_id`;


/** Projects, accounts, memberships and API tokens in the metadata database. Each method is atomic. */
export class AccessSql {
  constructor(private readonly db: Db) {}

  async createProject(name: string, description: string, now: number): Promise<Project> {
    const row = await uniquely(`Project '${name}'`, () =>
      this.db.get<{ project_id: number | string }>('INSERT INTO projects (name, description, created_time) VALUES (?, ?, ?) RETURNING project_id', [name, description, now]),
    );
    return { projectId: Number(row!.project_id), name, description, createdTime: now };
  }

  async projectByName(name: string): Promise<Project | undefined> {
    const r = await this.db.get<{ project_id: number | string; name: string; description: string; created_time: number | string }>('SELECT * FROM projects WHERE name = ?', [name]);
    return r && { projectId: Number(r.project_id), name: r.name, description: r.description, createdTime: Number(r.created_time) };
  }

  async listProjects(): Promise<Project[]> {
    const rows = await this.db.all<{ project_id: number | string; name: string; description: string; created_time: number | string }>('SELECT * FROM projects ORDER BY name');
    return rows.map((r) => ({ projectId: Number(r.project_id), name: r.name, description: r.description, createdTime: Number(r.created_time) }));
  }

  /** Deletes a project with no experiments; false when it still has some. */
  async deleteProject(projectId: number, now: number): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      if (await tx.get('SELECT 1 AS found FROM experiments WHERE project_id = ? LIMIT 1', [projectId])) return false;
      await tx.run('DELETE FROM memberships WHERE project_id = ?', [projectId]);
      await tx.run('UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE project_id = ?', [now, projectId]);
      await tx.run('DELETE FROM secrets WHERE project_id = ?', [projectId]);
      await tx.run('DELETE FROM projects WHERE project_id = ?', [projectId]);
      return true;
    });
  }

  async createAccount(a: { name: string; kind: AccountKind; passwordHash: string | null; isOwner: boolean }, now: number): Promise<Account> {
    const row = await uniquely(`Account '${a.name}'`, () =>
      this.db.get<AccountRow>(
        `INSERT INTO principals (name, kind, password_hash, is_owner, disabled, created_time, failed_logins, locked_until)
         VALUES (?, ?, ?, ?, 0, ?, 0, 0) RETURNING *`,
        [a.name, a.kind, a.passwordHash, a.isOwner ? 1 : 0, now],
      ),
    );
    return toAccount(row!);
  }

  async accountByName(name: string): Promise<Account | undefined> {
    const r = await this.db.get<AccountRow>('SELECT * FROM principals WHERE name = ?', [name]);
    return r && toAccount(r);
  }

  async accountById(id: number): Promise<Account | undefined> {
    const r = await this.db.get<AccountRow>('SELECT * FROM principals WHERE principal_id = ?', [id]);
    return r && toAccount(r);
  }

  async listAccounts(): Promise<Account[]> {
    return (await this.db.all<AccountRow>('SELECT * FROM principals ORDER BY name')).map(toAccount);
  }

  async hasOwner(): Promise<boolean> {
    return (await this.db.get("SELECT 1 AS found FROM principals WHERE is_owner = 1 AND disabled = 0 AND kind <> 'robot' LIMIT 1")) !== undefined;
  }

  async updateAccount(id: number, change: { passwordHash?: string; disabled?: boolean; isOwner?: boolean }): Promise<void> {
    const sets: string[] = [];
    const params: (string | number)[] = [];
    if (change.passwordHash !== undefined) sets.push('password_hash = ?', 'failed_logins = 0', 'locked_until = 0') && params.push(change.passwordHash);
    if (change.disabled !== undefined) sets.push('disabled = ?') && params.push(change.disabled ? 1 : 0);
    if (change.isOwner !== undefined) sets.push('is_owner = ?') && params.push(change.isOwner ? 1 : 0);
    if (sets.length) await this.db.run(`UPDATE principals SET ${sets.join(', ')} WHERE principal_id = ?`, [...params, id]);
  }

  /** Records a failed sign-in; returns the new count so the caller can set a lockout. */
  async recordFailedLogin(id: number, lockedUntil: (failures: number) => number): Promise<number> {
    return this.db.transaction(async (tx) => {
      await tx.run('UPDATE principals SET failed_logins = failed_logins + 1 WHERE principal_id = ?', [id]);
      const r = await tx.get<{ failed_logins: number | string }>('SELECT failed_logins FROM principals WHERE principal_id = ?', [id]);
      const failures = Number(r?.failed_logins ?? 0);
      await tx.run('UPDATE principals SET locked_until = ? WHERE principal_id = ?', [lockedUntil(failures), id]);
      return failures;
    });
  }

  async clearFailedLogins(id: number): Promise<void> {
    await this.db.run('UPDATE principals SET failed_logins = 0, locked_until = 0 WHERE principal_id = ? AND failed_logins > 0', [id]);
  }

  async setMembership(projectId: number, principalId: number, role: Role, now: number): Promise<Role | null> {
    return this.db.transaction(async (tx) => {
      const before = await tx.get<{ role: Role }>('SELECT role FROM memberships WHERE project_id = ? AND principal_id = ?', [projectId, principalId]);
      await tx.run(
        'INSERT INTO memberships (project_id, principal_id, role, created_time) VALUES (?, ?, ?, ?) ON CONFLICT (project_id, principal_id) DO UPDATE SET role = excluded.role',
        [projectId, principalId, role, now],
      );
      return before?.role ?? null;
    });
  }

  async removeMembership(projectId: number, principalId: number): Promise<boolean> {
    return (await this.db.run('DELETE FROM memberships WHERE project_id = ? AND principal_id = ?', [projectId, principalId])).changes > 0;
  }

  async memberships(filter: { projectId?: number; principalId?: number }): Promise<Membership[]> {
    const where: string[] = [];
    const params: number[] = [];
    if (filter.projectId !== undefined) where.push('m.project_id = ?') && params.push(filter.projectId);
    if (filter.principalId !== undefined) where.push('m.principal_id = ?') && params.push(filter.principalId);
    const rows = await this.db.all<{ project_id: number | string; project_name: string; principal_id: number | string; principal_name: string; role: Role }>(
      `SELECT m.project_id, pr.name AS project_name, m.principal_id, p.name AS principal_name, m.role
       FROM memberships m JOIN projects pr ON pr.project_id = m.project_id JOIN principals p ON p.principal_id = m.principal_id
       ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY pr.name, p.name`,
      params,
    );
    return rows.map((r) => ({ projectId: Number(r.project_id), projectName: r.project_name, principalId: Number(r.principal_id), principalName: r.principal_name, role: r.role }));
  }

  async createToken(t: { principalId: number; name: string; kind: TokenKind; tokenHash: string; scopes: Scope[]; projectId: number | null; expiresAt: number | null }, now: number): Promise<number> {
    const row = await this.db.get<{ token_id: number | string }>(
      `INSERT INTO api_tokens (principal_id, name, kind, token_hash, scopes, project_id, created_time, expires_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING token_id`,
      [t.principalId, t.name, t.kind, t.tokenHash, t.scopes.join(','), t.projectId, now, t.expiresAt],
    );
    return Number(row!.token_id);
  }

  /** One round trip per table for a token lookup; the caller caches the result briefly. */
  async grantByTokenHash(tokenHash: string): Promise<TokenGrant | undefined> {
    const row = await this.db.get<TokenRow & { token_hash: string }>(`${TOKEN_SELECT} WHERE t.token_hash = ?`, [tokenHash]);
    if (!row) return undefined;
    return this.grantOf(toToken(row));
  }

  private async grantOf(token: TokenInfo): Promise<TokenGrant | undefined> {
    const account = await this.accountById(token.principalId);
    if (!account) return undefined;
    const memberships = (await this.memberships({ principalId: account.principalId })).map((m) => ({ projectId: m.projectId, role: m.role }));
    return { token, account, memberships };
  }

  async token(tokenId: number): Promise<TokenInfo | undefined> {
    const row = await this.db.get<TokenRow>(`${TOKEN_SELECT} WHERE t.token_id = ?`, [tokenId]);
    return row && toToken(row);
  }

  async listTokens(principalId?: number): Promise<TokenInfo[]> {
    const rows = principalId === undefined
      ? await this.db.all<TokenRow>(`${TOKEN_SELECT} ORDER BY t.token_id`)
      : await this.db.all<TokenRow>(`${TOKEN_SELECT} WHERE t.principal_id = ? ORDER BY t.token_id`, [principalId]);
    return rows.map(toToken);
  }

  async revokeToken(tokenId: number, now: number): Promise<boolean> {
    return (await this.db.run('UPDATE api_tokens SET revoked_at = ? WHERE token_id = ? AND revoked_at IS NULL', [now, tokenId])).changes > 0;
  }

  /** Batched: written at most once per interval per token, never in the request's path. */
  async touchTokens(lastUsed: ReadonlyMap<number, number>): Promise<void> {
    if (lastUsed.size === 0) return;
    await this.db.transaction(async (tx: SqlExecutor) => {
      await tx.runMany('UPDATE api_tokens SET last_used_at = ? WHERE token_id = ?', [...lastUsed].map(([id, at]) => [at, id]));
    });
  }

  async serverValue(key: string, create: () => string): Promise<string> {
    await this.db.run('INSERT INTO server_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING', [key, create()]);
    const row = await this.db.get<{ value: string }>('SELECT value FROM server_state WHERE key = ?', [key]);
    return row!.value;
  }
}
