import { AppError, invalidParam, notFound } from '../errors/index.js';
import type { AccessSql } from './access.sql.js';
import { noteAuditBefore } from './audit.js';
import { checkSignIn, type LockoutPolicy } from './authenticate.js';
import { ROLES, SCOPES, roleIn, type Principal, type Role, type Scope } from './authorize.js';
import { checkPasswordStrength, hashPassword, newTokenValue, tokenHash } from './passwords.js';
import type { Account, AccountKind, Membership, Project, TokenInfo } from './types.js';

const NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;
const ACCOUNT_NAME = /^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$/;
const DAY_MS = 86_400_000;
const PROJECT_CACHE_MS = 1000;

export interface ProjectRef {
  projectId: number;
  name: string;
}

export const DEFAULT_PROJECT: ProjectRef = Object.freeze({ projectId: 1, name: 'default' });

export interface NewToken {
  name: string;
  scopes: Scope[];
  project: string | null;
  expiresInDays: number | null;
  /** Create it for a robot account (project admins, for robots in their project) instead of the caller. */
  forAccount: string | null;
}

/** Rules over projects, accounts, memberships and tokens. Permission to call each is checked by the route. */
export class AccessService {
  private readonly projectCache = new Map<string, { ref: ProjectRef | null; until: number }>();

  constructor(
    private readonly store: AccessSql,
    private readonly opts: { sessionTtlMs: number; lockout: LockoutPolicy; now?: () => number },
  ) {}

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  /** Name → project, cached for a second (projects are rarely created and deletion waits for emptiness). */
  async project(name: string): Promise<ProjectRef> {
    if (name === DEFAULT_PROJECT.name) return DEFAULT_PROJECT;
    const now = this.now();
    const hit = this.projectCache.get(name);
    let ref = hit && hit.until > now ? hit.ref : undefined;
    if (ref === undefined) {
      const p = await this.store.projectByName(name);
      ref = p ? { projectId: p.projectId, name: p.name } : null;
      if (this.projectCache.size > 1000) this.projectCache.clear();
      this.projectCache.set(name, { ref, until: now + PROJECT_CACHE_MS });
    }
    if (!ref) throw notFound(`No project named '${name}'.`);
    return ref;
  }

  async projectById(projectId: number): Promise<ProjectRef> {
    if (projectId === DEFAULT_PROJECT.projectId) return DEFAULT_PROJECT;
    const key = `#${projectId}`;
    const hit = this.projectCache.get(key);
    if (hit?.ref && hit.until > this.now()) return hit.ref;
    const p = (await this.store.listProjects()).find((x) => x.projectId === projectId);
    if (!p) throw notFound(`No project with id ${projectId}.`);
    const ref = { projectId: p.projectId, name: p.name };
    this.projectCache.set(key, { ref, until: this.now() + PROJECT_CACHE_MS });
    return ref;
  }

  /** Project id → name, for listings that store ids. */
  async projectNames(): Promise<Map<number, string>> {
    return new Map((await this.store.listProjects()).map((p) => [p.projectId, p.name]));
  }

  async createProject(name: string, description: string): Promise<Project> {
    if (!NAME.test(name)) throw invalidParam(`Project name '${name}' must be 1-63 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit.`);
    return this.store.createProject(name, description, this.now());
  }

  /** The projects `principal` is a member of (all of them for owners), with its role in each. */
  async visibleProjects(principal: Principal): Promise<Array<Project & { role: Role }>> {
    const all = await this.store.listProjects();
    return all.flatMap((p) => {
      const role = roleIn(principal, p.projectId);
      return role ? [{ ...p, role }] : [];
    });
  }

  async deleteProject(ref: ProjectRef): Promise<void> {
    if (ref.projectId === DEFAULT_PROJECT.projectId) throw invalidParam('The default project cannot be deleted.');
    if (!(await this.store.deleteProject(ref.projectId, this.now()))) throw new AppError('INVALID_STATE', `Project '${ref.name}' still has experiments; delete them first.`);
    this.projectCache.delete(ref.name);
  }

  async createAccount(a: { name: string; kind: AccountKind; password: string | null; isOwner: boolean }): Promise<Account> {
    if (!ACCOUNT_NAME.test(a.name)) throw invalidParam(`Account name '${a.name}' must be 1-128 letters, digits or . _ @ + -, starting with a letter or digit.`);
    if (a.kind === 'oidc') throw invalidParam('OIDC accounts are created by signing in through the identity provider.');
    if (a.kind === 'robot' && a.password !== null) throw invalidParam('Robot accounts sign in with tokens, not passwords.');
    if (a.kind === 'user' && a.password === null) throw invalidParam('A user account needs a password.');
    const passwordHash = a.password === null ? null : await hashPassword(a.password);
    return this.store.createAccount({ name: a.name, kind: a.kind, passwordHash, isOwner: a.isOwner }, this.now());
  }

  async account(name: string): Promise<Account> {
    const a = await this.store.accountByName(name);
    if (!a) throw notFound(`No account named '${name}'.`);
    return a;
  }

  listAccounts(): Promise<Account[]> {
    return this.store.listAccounts();
  }

  async updateAccount(name: string, change: { password?: string; disabled?: boolean; isOwner?: boolean }): Promise<Account> {
    const a = await this.account(name);
    if (change.password !== undefined && a.kind !== 'user') throw invalidParam(`Only user accounts have passwords; '${name}' is a ${a.kind} account.`);
    const passwordHash = change.password === undefined ? undefined : await hashPassword(change.password);
    noteAuditBefore({ disabled: a.disabled, is_owner: a.isOwner });
    await this.store.updateAccount(a.principalId, { passwordHash, disabled: change.disabled, isOwner: change.isOwner });
    return (await this.store.accountById(a.principalId))!;
  }

  hasOwner(): Promise<boolean> {
    return this.store.hasOwner();
  }

  members(ref: ProjectRef): Promise<Membership[]> {
    return this.store.memberships({ projectId: ref.projectId });
  }

  async setMember(ref: ProjectRef, accountName: string, role: Role): Promise<Role | null> {
    if (!ROLES.includes(role)) throw invalidParam(`Role must be one of ${ROLES.join(', ')}.`);
    const a = await this.account(accountName);
    return this.store.setMembership(ref.projectId, a.principalId, role, this.now());
  }

  async removeMember(ref: ProjectRef, accountName: string): Promise<void> {
    const a = await this.account(accountName);
    if (!(await this.store.removeMembership(ref.projectId, a.principalId))) throw notFound(`'${accountName}' is not a member of project '${ref.name}'.`);
  }

  /**
   * Creates an API token and returns its value, the only time it is ever visible. A token never
   * exceeds its creator: scopes beyond the caller's own are refused, and a caller restricted to a
   * project can only mint tokens for that project.
   */
  async createToken(caller: Principal, req: NewToken): Promise<{ value: string; info: TokenInfo }> {
    if (req.scopes.length === 0 || !req.scopes.every((s) => SCOPES.includes(s))) throw invalidParam(`scopes must be a non-empty list of ${SCOPES.join(', ')}.`);
    if (caller.scopes && !req.scopes.every((s) => caller.scopes!.includes(s) || caller.scopes!.includes('admin'))) {
      throw new AppError('PERMISSION_DENIED', 'A token cannot grant scopes its creator lacks.');
    }
    if (req.expiresInDays !== null && !(req.expiresInDays > 0 && req.expiresInDays <= 3650)) throw invalidParam('expires_in_days must be between 1 and 3650.');
    const project = req.project === null ? null : await this.project(req.project);
    if (caller.tokenProjectId !== null && project?.projectId !== caller.tokenProjectId) {
      throw new AppError('PERMISSION_DENIED', 'A project-restricted token can only create tokens for its own project.');
    }
    let principalId = Number(caller.id);
    if (req.forAccount !== null) {
      const target = await this.account(req.forAccount);
      const isProjectAdminForRobot = target.kind === 'robot' && project !== null && roleIn(caller, project.projectId) === 'admin';
      if (!caller.isOwner && !isProjectAdminForRobot) {
        throw new AppError('PERMISSION_DENIED', 'Only owners create tokens for other accounts; project admins may for robot accounts, restricted to their project.');
      }
      principalId = target.principalId;
    } else if (caller.kind === 'local') {
      throw invalidParam('With authentication off there is no account to own a token; create an account first.');
    }
    const value = newTokenValue();
    const expiresAt = req.expiresInDays === null ? null : this.now() + req.expiresInDays * DAY_MS;
    const tokenId = await this.store.createToken(
      { principalId, name: req.name, kind: 'api', tokenHash: tokenHash(value), scopes: req.scopes, projectId: project?.projectId ?? null, expiresAt },
      this.now(),
    );
    return { value, info: (await this.store.token(tokenId))! };
  }

  /**
   * A token for the processes one pipeline run starts: the rights of the account that started the
   * run, restricted to its project, without admin, expiring on its own and revoked when the run ends.
   */
  async mintRunToken(principalId: number, projectId: number, name: string, ttlMs: number): Promise<{ value: string; tokenId: number }> {
    const value = newTokenValue();
    const now = this.now();
    const tokenId = await this.store.createToken({ principalId, name, kind: 'api', tokenHash: tokenHash(value), scopes: ['read', 'write', 'deploy'], projectId, expiresAt: now + ttlMs }, now);
    return { value, tokenId };
  }

  async revokeRunToken(tokenId: number): Promise<void> {
    await this.store.revokeToken(tokenId, this.now());
  }

  /** Owners see every token; others their own and, as project admins, their project's robot tokens. */
  async listTokens(caller: Principal): Promise<TokenInfo[]> {
    if (caller.isOwner) return this.store.listTokens();
    const all = await this.store.listTokens();
    return all.filter((t) => String(t.principalId) === caller.id || (t.projectId !== null && roleIn(caller, t.projectId) === 'admin'));
  }

  async revokeToken(caller: Principal, tokenId: number): Promise<void> {
    const token = await this.store.token(tokenId);
    const mayRevoke = token && (caller.isOwner || String(token.principalId) === caller.id || (token.projectId !== null && roleIn(caller, token.projectId) === 'admin'));
    if (!token || !mayRevoke) throw notFound(`No token with id ${tokenId}.`);
    if (!(await this.store.revokeToken(tokenId, this.now()))) throw invalidParam(`Token ${tokenId} is already revoked.`);
  }

  /**
   * Exchanges a username and password for a session token (used by `capstan login` and the web UI).
   * Failed attempts count towards the account's lockout.
   */
  async login(username: string, password: string): Promise<{ value: string; info: TokenInfo }> {
    const now = this.now();
    const account = await checkSignIn(this.store, this.opts.lockout, username, password, now);
    const value = newTokenValue();
    const tokenId = await this.store.createToken(
      { principalId: account.principalId, name: 'session', kind: 'session', tokenHash: tokenHash(value), scopes: ['admin'], projectId: null, expiresAt: now + this.opts.sessionTtlMs },
      now,
    );
    return { value, info: (await this.store.token(tokenId))! };
  }

  /** The first owner, from `capstan admin create` or the bootstrap settings; refused once an owner exists. */
  async bootstrapOwner(name: string, password: string): Promise<Account> {
    checkPasswordStrength(password);
    if (await this.store.hasOwner()) throw new AppError('RESOURCE_ALREADY_EXISTS', 'An owner account already exists; owners add further accounts through the API.');
    return this.createAccount({ name, kind: 'user', password, isOwner: true });
  }
}
