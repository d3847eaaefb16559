import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import {
  AccessService, AccessSql, AuditLog, Authenticator, KeyRing, OidcLogin, OidcVerifier, parseGroupRules, SecretStore, UrlSigner,
} from '../access/index.js';
import type { Config } from '../config/index.js';
import { AppError } from '../errors/index.js';
import type { Db } from '../store/sql/index.js';
import type { RequestAccess } from './access-hook.js';
import { RateLimiter } from './rate-limit.js';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);
const TOUCH_INTERVAL_MS = 30_000;

export interface AccessParts {
  request: RequestAccess;
  service: AccessService;
  store: AccessSql;
  secrets: SecretStore;
  signer: UrlSigner;
  /** Single sign-on for the web UI, when auth.oidc_client_id is set. */
  sso: OidcLogin | null;
  /** Writes pending last_used_at times and stops the timer. */
  close(): Promise<void>;
}

/** Refuses to expose an unauthenticated server beyond this machine. */
export function checkAuthMode(config: Config): void {
  if (config['auth.mode'] === 'off' && !LOOPBACK.has(config['server.host'])) {
    throw new AppError(
      'CONFIG_INVALID',
      `auth.mode is off, so every request would act as the admin, but server.host is ${config['server.host']}, reachable from other machines. Set auth.mode: on (and create an owner with \`capstan admin create\` or auth.bootstrap_owner), or bind to 127.0.0.1.`,
      { details: { key: 'auth.mode' } },
    );
  }
}

/** secrets.key, else secrets.key_file, else (embedded SQLite only) a key file made once in data_dir. */
function openKeyRing(config: Config, databaseUri: string): KeyRing | null {
  if (config['secrets.key']) return KeyRing.parse(config['secrets.key'], 'secrets.key');
  if (config['secrets.key_file']) return KeyRing.fromFile(config['secrets.key_file'], 'secrets.key_file');
  if (!databaseUri.startsWith('sqlite:')) return null;
  const file = resolve(config.data_dir, 'secrets.key');
  if (!existsSync(file)) {
    mkdirSync(config.data_dir, { recursive: true });
    writeFileSync(file, `${KeyRing.generate()}\n`, { mode: 0o600, flag: 'wx' });
  }
  return KeyRing.fromFile(file, 'secrets.key_file');
}

function oidcOf(config: Config): OidcVerifier | null {
  if (!config['auth.oidc_issuer']) return null;
  return new OidcVerifier({
    issuer: config['auth.oidc_issuer'],
    audience: config['auth.oidc_audience'],
    jwksUri: config['auth.oidc_jwks_uri'] || undefined,
    usernameClaim: config['auth.oidc_username_claim'],
    groupsClaim: config['auth.oidc_groups_claim'],
    groupRules: parseGroupRules(config['auth.oidc_group_roles'], 'auth.oidc_group_roles'),
  });
}

/**
 * Access control's parts over the (audited) database: authentication, projects and tokens, the
 * audit log, secrets, the upload URL signer and the rate limiter.
 */
export async function wireAccess(config: Config, db: Db, audit: AuditLog, databaseUri: string, logger: Logger): Promise<AccessParts> {
  checkAuthMode(config);
  const lockout = { threshold: config['auth.lockout_threshold'], maxSeconds: config['auth.lockout_max_seconds'] };
  const store = new AccessSql(db);
  const service = new AccessService(store, { sessionTtlMs: config['auth.session_ttl_hours'] * 3600_000, lockout });
  if (config['auth.bootstrap_owner'] && !(await service.hasOwner())) {
    if (!config['auth.bootstrap_password']) throw new AppError('CONFIG_INVALID', 'auth.bootstrap_owner is set without auth.bootstrap_password.', { details: { key: 'auth.bootstrap_password' } });
    await service.bootstrapOwner(config['auth.bootstrap_owner'], config['auth.bootstrap_password']);
    logger.info({ owner: config['auth.bootstrap_owner'] }, 'created the first owner account');
  }
  if (config['auth.mode'] === 'on' && !(await service.hasOwner())) {
    logger.warn('auth is on and no owner exists yet: create one with `capstan admin create` or auth.bootstrap_owner');
  }
  const oidc = oidcOf(config);
  const authenticator = new Authenticator(store, { cacheMs: config['auth.cache_ms'], lockout, oidc });
  const sso = oidc && config['auth.oidc_client_id']
    ? new OidcLogin({ issuer: config['auth.oidc_issuer'], clientId: config['auth.oidc_client_id'], clientSecret: config['auth.oidc_client_secret'], scopes: config['auth.oidc_scopes'] }, oidc)
    : null;
  const signingKey = await store.serverValue('upload_url_key', () => randomBytes(32).toString('base64'));
  const secrets = new SecretStore(db, openKeyRing(config, databaseUri));
  const touch = () => store.touchTokens(authenticator.takeLastUsed()).catch((err) => logger.warn({ err }, 'could not record token last use'));
  const timer = setInterval(touch, TOUCH_INTERVAL_MS);
  timer.unref();
  return {
    request: { isAuthOn: config['auth.mode'] === 'on', authenticator, access: service, audit, limiter: new RateLimiter(config['server.rate_limit_rps'], config['server.rate_limit_burst']), logger },
    service,
    store,
    secrets,
    signer: new UrlSigner(Buffer.from(signingKey, 'base64')),
    sso,
    close: async () => {
      clearInterval(timer);
      await touch();
    },
  };
}
