import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';

export interface SignOptions {
  /** Sign with a key the issuer never publishes (for bad-signature tests). */
  foreignKey?: boolean;
  /** The `kid` header; defaults to the signing key's own id. `null` leaves `kid` out. */
  kid?: string | null;
  /** Overrides the default `iss` (the issuer's URL). */
  issuer?: string;
  /** Overrides the default `aud` (the issuer's `audience`). */
  audience?: string | string[];
  /** `exp` as seconds since the epoch; defaults to one hour from now. */
  expiresAt?: number;
  /** Mint with an older published key instead of the current one (index into the JWKS, oldest first). */
  keyIndex?: number;
}

export interface OidcIssuer {
  /** The issuer identifier, `http://127.0.0.1:<port><path>`; also the default `iss`. */
  readonly issuer: string;
  readonly discoveryUri: string;
  readonly jwksUri: string;
  /** The default `aud` of minted tokens. */
  readonly audience: string;
  /** The `kid` of the key new tokens are signed with. */
  readonly currentKid: string;
  /** Requests served so far, by endpoint. */
  readonly requests: { discovery: number; jwks: number; authorize: number; token: number };
  /** The client the authorization-code flow serves (its ID tokens' `aud`). */
  readonly clientId: string;
  /**
   * Who the next browser sign-in is: /authorize redirects straight back with a code for these
   * claims (there is no login form), and /token answers an ID token for them.
   */
  signInAs(claims: JWTPayload): void;
  /** Mints an RS256 token: `iss`, `aud`, `sub`, `iat` and `exp` default sensibly and `claims` override them. */
  sign(claims?: JWTPayload, options?: SignOptions): Promise<string>;
  /** Publishes a new key (keeping the old ones) and signs new tokens with it; returns its kid. */
  rotate(): Promise<string>;
  /** Makes the next `count` discovery requests answer 503. */
  failDiscovery(count: number): void;
  close(): Promise<void>;
}

interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

let keyCounter = 0;

async function newKey(prefix: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const kid = `${prefix}-${++keyCounter}`;
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
  return { kid, privateKey, publicJwk };
}

/**
 * A local identity provider on an ephemeral 127.0.0.1 port: OpenID discovery at
 * `<path>/.well-known/openid-configuration` and the public keys at `<path>/jwks`. `path` lets it
 * look like a realm-style issuer (e.g. '/realms/capstan').
 */
export async function startOidcIssuer(options: { path?: string; audience?: string; clientId?: string } = {}): Promise<OidcIssuer> {
  const path = (options.path ?? '').replace(/\/+$/, '');
  const audience = options.audience ?? 'capstan';
  const keys: SigningKey[] = [await newKey('issuer-key')];
  let foreign: SigningKey | undefined;
  let discoveryFailures = 0;
  const requests = { discovery: 0, jwks: 0, authorize: 0, token: 0 };
  const clientId = options.clientId ?? 'capstan';
  let nextLogin: JWTPayload = { sub: 'user-1', preferred_username: 'user-1' };
  const codes = new Map<string, { redirectUri: string; challenge: string; claims: JWTPayload }>();
  let signer: OidcIssuer['sign'];

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const send = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(body));
    };
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method === 'POST' && url.pathname === `${path}/token`) {
      requests.token++;
      let text = '';
      req.setEncoding('utf8').on('data', (c: string) => (text += c)).on('end', () => {
        const form = new URLSearchParams(text);
        const grant = codes.get(form.get('code') ?? '');
        codes.delete(form.get('code') ?? '');
        const verifier = form.get('code_verifier') ?? '';
        const challenge = createHash('sha256').update(verifier).digest('base64url');
        if (form.get('grant_type') !== 'authorization_code' || !grant) return send(400, { error: 'invalid_grant', error_description: 'unknown or used code' });
        if (form.get('client_id') !== clientId) return send(401, { error: 'invalid_client' });
        if (form.get('redirect_uri') !== grant.redirectUri) return send(400, { error: 'invalid_grant', error_description: 'redirect_uri differs' });
        if (challenge !== grant.challenge) return send(400, { error: 'invalid_grant', error_description: 'PKCE verification failed' });
        void signer(grant.claims, { audience: clientId }).then((idToken) => send(200, { token_type: 'Bearer', expires_in: 3600, access_token: `opaque-${randomBytes(8).toString('hex')}`, id_token: idToken }));
      });
      return;
    }
    if (req.method !== 'GET') return send(405, { error: 'method_not_allowed' });
    if (url.pathname === `${path}/authorize`) {
      requests.authorize++;
      const q = url.searchParams;
      const redirectUri = q.get('redirect_uri') ?? '';
      if (q.get('client_id') !== clientId || q.get('response_type') !== 'code' || q.get('code_challenge_method') !== 'S256' || !q.get('code_challenge') || !redirectUri) {
        return send(400, { error: 'invalid_request' });
      }
      const code = randomBytes(16).toString('hex');
      codes.set(code, { redirectUri, challenge: q.get('code_challenge')!, claims: nextLogin });
      const back = new URL(redirectUri);
      back.searchParams.set('code', code);
      if (q.get('state')) back.searchParams.set('state', q.get('state')!);
      res.writeHead(302, { location: back.toString() });
      return res.end();
    }
    if (url.pathname === `${path}/.well-known/openid-configuration`) {
      requests.discovery++;
      if (discoveryFailures > 0) {
        discoveryFailures--;
        return send(503, { error: 'temporarily_unavailable' });
      }
      return send(200, {
        issuer,
        jwks_uri: jwksUri,
        authorization_endpoint: `${issuer}/authorize`,
        token_endpoint: `${issuer}/token`,
        code_challenge_methods_supported: ['S256'],
        id_token_signing_alg_values_supported: ['RS256'],
        subject_types_supported: ['public'],
        response_types_supported: ['code'],
      });
    }
    if (url.pathname === `${path}/jwks`) {
      requests.jwks++;
      return send(200, { keys: keys.map((k) => k.publicJwk) });
    }
    return send(404, { error: 'not_found' });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const issuer = `http://127.0.0.1:${port}${path}`;
  const jwksUri = `${issuer}/jwks`;
  let closed: Promise<void> | undefined;

  const handle: OidcIssuer = {
    issuer,
    clientId,
    signInAs(claims) {
      nextLogin = claims;
    },
    discoveryUri: `${issuer}/.well-known/openid-configuration`,
    jwksUri,
    audience,
    get currentKid() {
      return keys[keys.length - 1]!.kid;
    },
    requests,
    async sign(claims = {}, opts = {}) {
      let key: SigningKey;
      if (opts.foreignKey) key = foreign ??= await newKey('foreign-key');
      else if (opts.keyIndex !== undefined) key = keys[opts.keyIndex] ?? keys[keys.length - 1]!;
      else key = keys[keys.length - 1]!;
      const now = Math.floor(Date.now() / 1000);
      const payload: JWTPayload = {
        iss: opts.issuer ?? issuer,
        aud: opts.audience ?? audience,
        sub: 'user-1',
        iat: now,
        exp: opts.expiresAt ?? now + 3600,
        ...claims,
      };
      const kid = opts.kid === null ? undefined : (opts.kid ?? key.kid);
      return new SignJWT(payload).setProtectedHeader({ alg: 'RS256', typ: 'JWT', ...(kid === undefined ? {} : { kid }) }).sign(key.privateKey);
    },
    async rotate() {
      const key = await newKey('issuer-key');
      keys.push(key);
      return key.kid;
    },
    failDiscovery(count: number) {
      discoveryFailures = count;
    },
    close() {
      closed ??= new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        // Clients keep connections alive; drop them so close() does not wait for their idle timeout.
        server.closeAllConnections();
      });
      return closed;
    },
  };
  signer = (claims, opts) => handle.sign(claims, opts);
  return handle;
}
