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
  readonly requests: { discovery: number; jwks: number };
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
export async function startOidcIssuer(options: { path?: string; audience?: string } = {}): Promise<OidcIssuer> {
  const path = (options.path ?? '').replace(/\/+$/, '');
  const audience = options.audience ?? 'capstan';
  const keys: SigningKey[] = [await newKey('issuer-key')];
  let foreign: SigningKey | undefined;
  let discoveryFailures = 0;
  const requests = { discovery: 0, jwks: 0 };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const send = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(body));
    };
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method !== 'GET') return send(405, { error: 'method_not_allowed' });
    if (url.pathname === `${path}/.well-known/openid-configuration`) {
      requests.discovery++;
      if (discoveryFailures > 0) {
        discoveryFailures--;
        return send(503, { error: 'temporarily_unavailable' });
      }
      return send(200, {
        issuer,
        jwks_uri: jwksUri,
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

  return {
    issuer,
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
}
