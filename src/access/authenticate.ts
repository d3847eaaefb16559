import { createHash, randomBytes } from 'node:crypto';
import { AppError } from '../errors/index.js';
import type { AccessSql } from './access.sql.js';
import { outsideAudit } from './audit.js';
import { strongerRole, type Principal, type Role } from './authorize.js';
import type { OidcVerifier } from './oidc.js';
import { TOKEN_PREFIX, tokenHash, verifyAgainstNothing, verifyPassword } from './passwords.js';
import type { Account, TokenGrant } from './types.js';

export type Credentials = { kind: 'bearer'; token: string } | { kind: 'basic'; username: string; password: string };

/** Parses an Authorization header; undefined when absent, UNAUTHENTICATED when unreadable. */
export function credentialsOf(header: string | undefined): Credentials | undefined {
  if (!header) return undefined;
  const space = header.indexOf(' ');
  const scheme = header.slice(0, space).toLowerCase();
  const value = header.slice(space + 1).trim();
  if (space > 0 && scheme === 'bearer' && value) return { kind: 'bearer', token: value };
  if (space > 0 && scheme === 'basic') {
    const text = Buffer.from(value, 'base64').toString('utf8');
    const colon = text.indexOf(':');
    if (colon > 0) return { kind: 'basic', username: text.slice(0, colon), password: text.slice(colon + 1) };
  }
  throw new AppError('UNAUTHENTICATED', 'The Authorization header is neither "Bearer <token>" nor "Basic <base64 user:password>".');
}

export interface LockoutPolicy {
  /** Failed sign-ins allowed before the account locks. */
  threshold: number;
  /** Longest lock; each failure past the threshold doubles it from one second. */
  maxSeconds: number;
}

export const lockedUntil = (policy: LockoutPolicy, failures: number, now: number): number =>
  failures < policy.threshold ? 0 : now + 1000 * Math.min(policy.maxSeconds, 2 ** (failures - policy.threshold));

export interface AuthenticatorOptions {
  /** How long a verified credential is trusted before it is looked up again: the bound on how late a revocation bites. */
  cacheMs: number;
  lockout: LockoutPolicy;
  oidc: OidcVerifier | null;
  now?: () => number;
}

interface Cached {
  principal: Principal;
  until: number;
}

const MAX_CACHED = 10_000;

const unauthenticated = (message: string, details?: Record<string, unknown>) => new AppError('UNAUTHENTICATED', message, details ? { details } : {});

/**
 * Turns credentials into a Principal: API and session tokens, HTTP Basic passwords, and OIDC JWTs.
 * Verified credentials are cached for `cacheMs`, so a hot request path costs one hash and one map
 * lookup, and a revoked token, disabled account or changed role takes effect within `cacheMs` on
 * every replica without any cross-replica messaging.
 */
export class Authenticator {
  private readonly cache = new Map<string, Cached>();
  private readonly lastUsed = new Map<number, number>();
  /** Basic-auth cache keys are keyed with a per-process secret so the map never holds a password's plain hash. */
  private readonly pepper = randomBytes(32);
  private readonly now: () => number;

  constructor(
    private readonly store: AccessSql,
    private readonly opts: AuthenticatorOptions,
  ) {
    this.now = opts.now ?? Date.now;
  }

  async authenticate(credentials: Credentials): Promise<Principal> {
    const key = credentials.kind === 'bearer' ? tokenHash(credentials.token) : this.basicKey(credentials);
    const hit = this.cache.get(key);
    const now = this.now();
    if (hit && hit.until > now) {
      if (hit.principal.tokenId) this.lastUsed.set(Number(hit.principal.tokenId), now);
      return hit.principal;
    }
    const { principal, validUntil } = await this.resolve(credentials, key, now);
    if (this.cache.size >= MAX_CACHED) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(key, { principal, until: Math.min(validUntil, now + this.opts.cacheMs) });
    return principal;
  }

  /** Token ids used since the last call, with when; the caller batches them into last_used_at. */
  takeLastUsed(): Map<number, number> {
    const used = new Map(this.lastUsed);
    this.lastUsed.clear();
    return used;
  }

  private basicKey(c: { username: string; password: string }): string {
    return 'basic:' + createHash('sha256').update(this.pepper).update(c.username).update('\0').update(c.password).digest('hex');
  }

  private async resolve(credentials: Credentials, key: string, now: number): Promise<{ principal: Principal; validUntil: number }> {
    if (credentials.kind === 'basic') return { principal: await this.byPassword(credentials.username, credentials.password, now), validUntil: Infinity };
    if (credentials.token.startsWith(TOKEN_PREFIX)) return this.byToken(key, now);
    if (this.opts.oidc && isJwtShaped(credentials.token)) return this.byOidc(credentials.token);
    throw unauthenticated('The bearer token is not a Capstan token' + (this.opts.oidc ? ' or an OIDC JWT.' : '.'));
  }

  private async byToken(hash: string, now: number): Promise<{ principal: Principal; validUntil: number }> {
    const grant = await this.store.grantByTokenHash(hash);
    if (!grant) throw unauthenticated('Unknown token.');
    const { token, account } = grant;
    if (token.revokedAt !== null) throw unauthenticated('The token has been revoked.', { token_id: String(token.tokenId) });
    if (token.expiresAt !== null && token.expiresAt <= now) throw unauthenticated('The token has expired.', { token_id: String(token.tokenId) });
    checkUsable(account);
    this.lastUsed.set(token.tokenId, now);
    return { principal: principalOf(grant), validUntil: token.expiresAt ?? Infinity };
  }

  private async byPassword(username: string, password: string, now: number): Promise<Principal> {
    const account = await checkSignIn(this.store, this.opts.lockout, username, password, now);
    const memberships = (await this.store.memberships({ principalId: account.principalId })).map((m) => ({ projectId: m.projectId, role: m.role }));
    return principalOf({ account, memberships, token: null });
  }

  private async byOidc(jwt: string): Promise<{ principal: Principal; validUntil: number }> {
    const identity = await this.opts.oidc!.verify(jwt);
    let account = await this.store.accountByName(identity.username);
    if (account && account.kind !== 'oidc') throw unauthenticated(`The OIDC identity '${identity.username}' has the name of a local account; rename one of them.`);
    account ??= await this.store.createAccount({ name: identity.username, kind: 'oidc', passwordHash: null, isOwner: false }, this.now());
    checkUsable(account);
    const memberships = (await this.store.memberships({ principalId: account.principalId })).map((m) => ({ projectId: m.projectId as number | '*', role: m.role }));
    for (const rule of identity.roles) {
      const project = rule.project === '*' ? '*' : (await this.store.projectByName(rule.project))?.projectId;
      if (project !== undefined) memberships.push({ projectId: project, role: rule.role });
    }
    const base = principalOf({ account, memberships, token: null });
    return { principal: { ...base, isOwner: base.isOwner || identity.isOwner }, validUntil: identity.expiresAt };
  }
}

/**
 * Checks a username and password, counting failures towards the account's lockout. The same answer
 * and about the same time for an unknown name as for a wrong password.
 */
export async function checkSignIn(store: AccessSql, lockout: LockoutPolicy, username: string, password: string, now: number): Promise<Account> {
  const account = await store.accountByName(username);
  if (!account || account.passwordHash === null) {
    await verifyAgainstNothing(password);
    throw unauthenticated('Wrong username or password.');
  }
  if (account.lockedUntil > now) {
    const retryAfter = Math.ceil((account.lockedUntil - now) / 1000);
    throw unauthenticated(`Too many failed sign-ins; the account is locked for ${retryAfter} s.`, { retry_after_seconds: retryAfter });
  }
  if (!(await verifyPassword(password, account.passwordHash))) {
    await outsideAudit(() => store.recordFailedLogin(account.principalId, (failures) => lockedUntil(lockout, failures, now)));
    throw unauthenticated('Wrong username or password.');
  }
  checkUsable(account);
  if (account.failedLogins > 0) await outsideAudit(() => store.clearFailedLogins(account.principalId));
  return account;
}

function checkUsable(account: Account): void {
  if (account.disabled) throw unauthenticated(`The account '${account.name}' is disabled.`);
}

const isJwtShaped = (token: string): boolean => /^[\w-]+\.[\w-]+\.[\w-]+$/.test(token);

function principalOf(g: { account: Account; memberships: Array<{ projectId: number | '*'; role: Role }>; token: TokenGrant['token'] | null }): Principal {
  const roles = new Map<number | '*', Role>();
  for (const m of g.memberships) roles.set(m.projectId, roles.has(m.projectId) ? strongerRole(roles.get(m.projectId)!, m.role) : m.role);
  return Object.freeze({
    id: String(g.account.principalId),
    name: g.account.name,
    kind: g.account.kind,
    // A session token carries its account's full rights; an API token only its scopes.
    isOwner: g.account.isOwner,
    roles,
    scopes: g.token && g.token.kind === 'api' ? g.token.scopes : null,
    tokenProjectId: g.token?.projectId ?? null,
    tokenId: g.token ? String(g.token.tokenId) : null,
  });
}
