// Single sign-on from the browser: OpenID Connect's authorization-code flow with PKCE (S256). The
// verifier and state stay in this tab's sessionStorage; Capstan exchanges the code server-side.
import { CapstanClient } from '../../../src/client/index.js';
import { refreshPrincipal, setToken } from './session.js';

const KEY = 'capstan.sso';
const redirectUri = () => `${location.origin}/ui/oidc/callback`;

function b64url(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export async function startSignOn(p: { authorization_endpoint: string; client_id: string; scopes: string }): Promise<void> {
  if (!globalThis.crypto?.subtle) throw new Error('Single sign-on needs a secure page: open Capstan over HTTPS (or on localhost).');
  const verifier = b64url(crypto.getRandomValues(new Uint8Array(32)));
  const challenge = b64url(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier))));
  const state = b64url(crypto.getRandomValues(new Uint8Array(16)));
  const back = location.pathname.startsWith('/ui/oidc') ? '/ui/experiments' : location.pathname + location.search;
  sessionStorage.setItem(KEY, JSON.stringify({ verifier, state, back }));
  const url = new URL(p.authorization_endpoint);
  for (const [k, v] of Object.entries({ response_type: 'code', client_id: p.client_id, redirect_uri: redirectUri(), scope: p.scopes, state, code_challenge: challenge, code_challenge_method: 'S256' })) url.searchParams.set(k, v);
  location.assign(url.toString());
}

/** On /ui/oidc/callback: checks the state, has the server exchange the code, signs in; returns where to go. */
export async function finishSignOn(query: URLSearchParams): Promise<string> {
  const saved = JSON.parse(sessionStorage.getItem(KEY) ?? 'null') as { verifier: string; state: string; back: string } | null;
  sessionStorage.removeItem(KEY);
  const error = query.get('error');
  if (error) throw new Error(`The identity provider did not sign you in: ${error}${query.get('error_description') ? ` (${query.get('error_description')})` : ''}.`);
  if (!saved || saved.state !== query.get('state')) throw new Error('This sign-in was not started from this tab (its state does not match); sign in again.');
  const code = query.get('code');
  if (!code) throw new Error('The identity provider sent no code back; sign in again.');
  const r = await new CapstanClient({ url: location.origin }).finishOidcSignIn(code, saved.verifier, redirectUri());
  setToken(r.token);
  await refreshPrincipal();
  return saved.back;
}
