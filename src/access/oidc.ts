import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload, type JWTVerifyOptions, type JWTVerifyGetKey } from 'jose';
import { AppError } from '../errors/index.js';

import { ROLES as PROJECT_ROLES, type Role as ProjectRole } from './authorize.js';

export { PROJECT_ROLES, type ProjectRole };

/**
 * One entry of a group mapping. Specs are "group=project:role" entries separated by commas, e.g.
 * "ml-team=default:editor,platform=*:admin,capstan-owners=owner". Project '*' means every project;
 * the special right-hand side 'owner' makes the identity a server-wide owner.
 */
export interface GroupRule {
  group: string;
  project: string | '*';
  role: ProjectRole | 'owner';
}

/** Parses a group mapping spec; an empty spec maps nothing. Throws CONFIG_INVALID naming `settingName`. */
export function parseGroupRules(spec: string, settingName: string): GroupRule[] {
  const rules: GroupRule[] = [];
  const invalid = (entry: string, why: string): AppError =>
    new AppError('CONFIG_INVALID', `${settingName}: entry '${entry}' ${why} (expected "group=project:role" or "group=owner").`, {
      details: { key: settingName },
    });
  for (const raw of spec.split(',')) {
    const entry = raw.trim();
    if (entry === '') continue;
    const eq = entry.indexOf('=');
    if (eq < 0) throw invalid(entry, "has no '='");
    const group = entry.slice(0, eq).trim();
    const target = entry.slice(eq + 1).trim();
    if (group === '') throw invalid(entry, 'has an empty group');
    if (target.includes('=')) throw invalid(entry, "has more than one '='");
    if (target === 'owner') {
      rules.push({ group, project: '*', role: 'owner' });
      continue;
    }
    const colon = target.lastIndexOf(':');
    if (colon < 0) throw invalid(entry, "has no ':' between project and role");
    const project = target.slice(0, colon).trim();
    const role = target.slice(colon + 1).trim();
    if (project === '' || /\s/.test(project)) throw invalid(entry, 'has an empty or malformed project');
    if (!(PROJECT_ROLES as readonly string[]).includes(role)) {
      throw invalid(entry, `has unknown role '${role}'; roles are ${PROJECT_ROLES.join(', ')}`);
    }
    rules.push({ group, project, role: role as ProjectRole });
  }
  return rules;
}

export interface OidcSettings {
  /** Must equal the token's `iss` exactly, e.g. https://idp.example.com/realms/x. */
  issuer: string;
  /** Required `aud`. */
  audience: string;
  /**
   * When empty, read from the `jwks_uri` of `${issuer}/.well-known/openid-configuration`, fetched
   * once on first use and cached; a failed discovery is retried on the next call.
   */
  jwksUri?: string;
  /** e.g. 'preferred_username'; `sub` is used when the claim is absent. */
  usernameClaim: string;
  /** e.g. 'groups': an array of strings, or one string as a single group; absent means no groups. */
  groupsClaim: string;
  groupRules: GroupRule[];
  /** Allowed clock skew for exp/nbf. Default 30. */
  clockToleranceSec?: number;
  /**
   * Minimum time between two JWKS refetches triggered by an unknown `kid`, so a flood of tokens
   * with made-up key ids cannot hammer the identity provider. Default 30.
   */
  jwksRefetchCooldownSec?: number;
}

export interface OidcIdentity {
  subject: string;
  username: string;
  groups: string[];
  isOwner: boolean;
  roles: Array<{ project: string | '*'; role: ProjectRole }>;
  /** The token's `exp`, in ms since the epoch. */
  expiresAt: number;
}

/** Asymmetric algorithms only: never 'none', never a shared-secret HS* algorithm. */
const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'ES256', 'ES384', 'EdDSA'];
const HTTP_TIMEOUT_MS = 5000;

/** Raised inside the key lookup when the identity provider cannot be asked; mapped to TEMPORARILY_UNAVAILABLE. */
class IdpUnavailable extends Error {}

function unauthenticated(why: string): AppError {
  return new AppError('UNAUTHENTICATED', `OIDC token ${why}`);
}

function unavailable(err: unknown): AppError {
  return new AppError('TEMPORARILY_UNAVAILABLE', `identity provider unreachable: ${describe(err)}`, { cause: err });
}

function describe(err: unknown): string {
  if (err instanceof IdpUnavailable) return err.message;
  if (err instanceof errors.JWKSTimeout) return `no answer within ${HTTP_TIMEOUT_MS} ms`;
  if (err instanceof Error) {
    const cause = err.cause as { code?: unknown; message?: unknown } | undefined;
    const detail = typeof cause?.code === 'string' ? cause.code : typeof cause?.message === 'string' ? cause.message : '';
    return detail && !err.message.includes(detail) ? `${err.message} (${detail})` : err.message;
  }
  return String(err);
}

/** A claim by exact name, else by dotted path (e.g. 'realm_access.roles'). */
function claim(payload: JWTPayload, name: string): unknown {
  if (Object.hasOwn(payload, name)) return payload[name];
  if (!name.includes('.')) return undefined;
  let value: unknown = payload;
  for (const part of name.split('.')) {
    if (value === null || typeof value !== 'object' || !Object.hasOwn(value, part)) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

function groupsOf(value: unknown): string[] {
  if (typeof value === 'string') return value === '' ? [] : [value];
  if (Array.isArray(value)) return [...new Set(value.filter((g): g is string => typeof g === 'string' && g !== ''))];
  return [];
}

/** Applies the rules to a set of groups, keeping the strongest role per project. */
export function rolesForGroups(groups: readonly string[], rules: readonly GroupRule[]): Pick<OidcIdentity, 'isOwner' | 'roles'> {
  const member = new Set(groups);
  const strongest = new Map<string, ProjectRole>();
  let isOwner = false;
  for (const rule of rules) {
    if (!member.has(rule.group)) continue;
    if (rule.role === 'owner') {
      isOwner = true;
      continue;
    }
    const current = strongest.get(rule.project);
    if (current === undefined || PROJECT_ROLES.indexOf(rule.role) > PROJECT_ROLES.indexOf(current)) strongest.set(rule.project, rule.role);
  }
  return { isOwner, roles: [...strongest].map(([project, role]) => ({ project, role })) };
}

/** Maps a jose verification failure to a short reason; never includes token text. */
function rejection(err: unknown): AppError | undefined {
  if (err instanceof errors.JWTExpired) return unauthenticated('expired');
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'iss') return unauthenticated('issuer mismatch');
    if (err.claim === 'aud') return unauthenticated('audience mismatch');
    if (err.claim === 'nbf') return unauthenticated('not yet valid');
    if (err.reason === 'missing') return unauthenticated(`has no '${err.claim}' claim`);
    return unauthenticated(`claim '${err.claim}' invalid`);
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) return unauthenticated('signature invalid');
  if (err instanceof errors.JWKSNoMatchingKey) return unauthenticated('signing key unknown to the identity provider');
  if (err instanceof errors.JWKSMultipleMatchingKeys) return unauthenticated('signature invalid');
  if (err instanceof errors.JOSEAlgNotAllowed) return unauthenticated('algorithm not allowed');
  if (err instanceof errors.JOSENotSupported) return unauthenticated('algorithm or key type not supported');
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid) return unauthenticated('malformed');
  if (err instanceof errors.JOSEError) return unauthenticated('invalid');
  return undefined;
}

const B64URL_SEGMENT = /^[A-Za-z0-9_-]*$/;

export class OidcVerifier {
  private readonly settings: OidcSettings;
  private readonly options: JWTVerifyOptions;
  private keys: Promise<JWTVerifyGetKey> | undefined;

  constructor(settings: OidcSettings) {
    for (const key of ['issuer', 'jwksUri'] as const) {
      const value = settings[key];
      if (value === undefined || (key === 'jwksUri' && value === '')) continue;
      if (!URL.canParse(value)) throw new AppError('CONFIG_INVALID', `OIDC ${key} '${value}' is not a URL.`, { details: { key } });
    }
    if (settings.audience === '') throw new AppError('CONFIG_INVALID', 'OIDC audience is empty.', { details: { key: 'audience' } });
    this.settings = settings;
    this.options = {
      issuer: settings.issuer,
      audience: settings.audience,
      clockTolerance: settings.clockToleranceSec ?? 30,
      algorithms: ALGORITHMS,
      requiredClaims: ['exp', 'sub'],
    };
  }

  /** Cheap syntactic check: three base64url segments whose header decodes to JSON with an alg — used to tell JWTs from opaque API tokens. */
  static looksLikeJwt(token: string): boolean {
    const parts = token.split('.');
    if (parts.length !== 3) return false;
    const [header, payload] = parts as [string, string, string];
    if (header === '' || payload === '' || !parts.every((p) => B64URL_SEGMENT.test(p))) return false;
    try {
      const decoded: unknown = JSON.parse(Buffer.from(header, 'base64url').toString('utf8'));
      return decoded !== null && typeof decoded === 'object' && typeof (decoded as { alg?: unknown }).alg === 'string';
    } catch {
      return false;
    }
  }

  async verify(token: string): Promise<OidcIdentity> {
    const getKey = await this.keySet();
    let payload: JWTPayload;
    try {
      payload = (await this.verifyWith(token, getKey)).payload;
    } catch (err) {
      if (err instanceof AppError) throw err;
      if (err instanceof IdpUnavailable) throw unavailable(err.cause ?? err);
      throw rejection(err) ?? err;
    }
    const subject = payload.sub;
    if (typeof subject !== 'string' || subject === '') throw unauthenticated("has no valid 'sub' claim");
    const name = claim(payload, this.settings.usernameClaim);
    const username = typeof name === 'string' && name !== '' ? name : subject;
    const groups = groupsOf(claim(payload, this.settings.groupsClaim));
    return { subject, username, groups, ...rolesForGroups(groups, this.settings.groupRules), expiresAt: (payload.exp as number) * 1000 };
  }

  /** Verifies against the key set; a token without `kid` that matches several keys is tried against each. */
  private async verifyWith(token: string, getKey: JWTVerifyGetKey): Promise<{ payload: JWTPayload }> {
    try {
      return await jwtVerify(token, getKey, this.options);
    } catch (err) {
      if (!(err instanceof errors.JWKSMultipleMatchingKeys)) throw err;
      let last: unknown = err;
      for await (const key of err) {
        try {
          return await jwtVerify(token, key, this.options);
        } catch (inner) {
          last = inner;
          if (!(inner instanceof errors.JWSSignatureVerificationFailed)) break;
        }
      }
      throw last;
    }
  }

  /** The remote key set, resolving the JWKS address through discovery on first use. */
  private keySet(): Promise<JWTVerifyGetKey> {
    if (!this.keys) {
      const pending = this.jwksUri().then((uri) => this.remoteKeySet(uri));
      // A failed discovery is not remembered: the next call asks the identity provider again.
      pending.catch(() => {
        if (this.keys === pending) this.keys = undefined;
      });
      this.keys = pending;
    }
    return this.keys;
  }

  private remoteKeySet(uri: string): JWTVerifyGetKey {
    const remote = createRemoteJWKSet(new URL(uri), {
      timeoutDuration: HTTP_TIMEOUT_MS,
      cooldownDuration: (this.settings.jwksRefetchCooldownSec ?? 30) * 1000,
    });
    // Key-selection failures are the token's fault; anything else (network, HTTP status, a
    // malformed key set) means the identity provider could not be asked.
    return async (header, token) => {
      try {
        return await remote(header, token);
      } catch (err) {
        if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys || err instanceof errors.JOSENotSupported) {
          throw err;
        }
        throw new IdpUnavailable(describe(err), { cause: err });
      }
    };
  }

  private async jwksUri(): Promise<string> {
    if (this.settings.jwksUri) return this.settings.jwksUri;
    const url = `${this.settings.issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
    let response: Response;
    try {
      response = await fetch(url, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(HTTP_TIMEOUT_MS) });
    } catch (err) {
      throw unavailable(err);
    }
    if (response.status !== 200) {
      await response.body?.cancel().catch(() => undefined);
      throw new AppError('TEMPORARILY_UNAVAILABLE', `identity provider unreachable: discovery answered HTTP ${response.status}`);
    }
    let document: unknown;
    try {
      document = await response.json();
    } catch (err) {
      throw new AppError('TEMPORARILY_UNAVAILABLE', 'identity provider unreachable: discovery document is not JSON', { cause: err });
    }
    const jwksUri = (document as { jwks_uri?: unknown } | null)?.jwks_uri;
    if (typeof jwksUri !== 'string' || !URL.canParse(jwksUri)) {
      throw new AppError('TEMPORARILY_UNAVAILABLE', 'identity provider unreachable: discovery document has no valid jwks_uri');
    }
    return jwksUri;
  }
}
