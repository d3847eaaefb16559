// Single sign-on for the web UI: OpenID Connect's authorization-code flow with PKCE. The browser
// goes to the identity provider and comes back with a code; Capstan exchanges the code at the
// provider's token endpoint itself, so a confidential client's secret never reaches the browser
// and the browser needs no cross-origin access to the provider. What it hands back is a token the
// API already accepts (an OIDC JWT checked like any other bearer token), never a new credential.
import { AppError, invalidParam } from '../errors/index.js';
import { OidcVerifier } from './oidc.js';

export interface OidcLoginSettings {
  issuer: string;
  clientId: string;
  /** Empty for a public client. */
  clientSecret: string;
  scopes: string;
}

interface Endpoints {
  authorization: string;
  token: string;
}

const TIMEOUT_MS = 5000;

export class OidcLogin {
  private endpoints: Promise<Endpoints> | null = null;

  constructor(private readonly settings: OidcLoginSettings, private readonly verifier: OidcVerifier, private readonly doFetch: typeof fetch = (i, o) => fetch(i, o)) {}

  private discover(): Promise<Endpoints> {
    this.endpoints ??= (async () => {
      const url = `${this.settings.issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
      const res = await this.doFetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS) });
      if (!res.ok) throw new Error(`${url} answered HTTP ${res.status}`);
      const doc = (await res.json()) as { authorization_endpoint?: unknown; token_endpoint?: unknown };
      if (typeof doc.authorization_endpoint !== 'string' || typeof doc.token_endpoint !== 'string') throw new Error(`${url} names no authorization_endpoint and token_endpoint`);
      return { authorization: doc.authorization_endpoint, token: doc.token_endpoint };
    })().catch((err: Error) => {
      this.endpoints = null; // asked again next time
      throw new AppError('TEMPORARILY_UNAVAILABLE', `The identity provider's discovery document could not be read: ${err.message}`, { cause: err });
    });
    return this.endpoints;
  }

  /** What the sign-in page needs to send the browser to the provider. */
  async provider(): Promise<{ issuer: string; client_id: string; authorization_endpoint: string; scopes: string }> {
    const e = await this.discover();
    return { issuer: this.settings.issuer, client_id: this.settings.clientId, authorization_endpoint: e.authorization, scopes: this.settings.scopes };
  }

  /** Trades the code for the provider's tokens and returns the first the API accepts. */
  async exchange(code: string, codeVerifier: string, redirectUri: string): Promise<{ token: string; expires_at: string; name: string }> {
    if (!/^https?:\/\/[^/]+\/ui\/oidc\/callback$/.test(redirectUri)) throw invalidParam("'redirect_uri' must be this server's /ui/oidc/callback page.");
    if (!/^[A-Za-z0-9._~-]{43,128}$/.test(codeVerifier)) throw invalidParam("'code_verifier' must be 43 to 128 characters of [A-Za-z0-9._~-] (RFC 7636).");
    const e = await this.discover();
    const form = new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, client_id: this.settings.clientId, code_verifier: codeVerifier });
    if (this.settings.clientSecret) form.set('client_secret', this.settings.clientSecret);
    let res: Response;
    try {
      res = await this.doFetch(e.token, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' }, body: form, signal: AbortSignal.timeout(TIMEOUT_MS) });
    } catch (err) {
      throw new AppError('TEMPORARILY_UNAVAILABLE', `The identity provider's token endpoint could not be reached: ${(err as Error).message}`, { cause: err });
    }
    const body = (await res.json().catch(() => ({}))) as { access_token?: unknown; id_token?: unknown; error?: unknown; error_description?: unknown };
    if (!res.ok) {
      throw new AppError('UNAUTHENTICATED', `The identity provider refused the sign-in: ${String(body.error ?? `HTTP ${res.status}`)}${body.error_description ? ` (${String(body.error_description)})` : ''}.`);
    }
    // An access token made for Capstan's audience is preferred; an ID token works when the client
    // id is that audience.
    const candidates = [body.access_token, body.id_token].filter((t): t is string => typeof t === 'string' && OidcVerifier.looksLikeJwt(t));
    const refusals: string[] = [];
    for (const token of candidates) {
      try {
        const identity = await this.verifier.verify(token);
        return { token, expires_at: new Date(identity.expiresAt).toISOString(), name: identity.username };
      } catch (err) {
        if (err instanceof AppError && err.code === 'TEMPORARILY_UNAVAILABLE') throw err;
        refusals.push((err as Error).message);
      }
    }
    throw new AppError('UNAUTHENTICATED', `The identity provider signed you in, but none of its tokens is accepted by this server${refusals.length ? ` (${refusals.join('; ')})` : ' (it returned no JWT)'}: set auth.oidc_audience to the client id '${this.settings.clientId}', or have the provider add Capstan's audience to its access tokens.`);
  }
}
