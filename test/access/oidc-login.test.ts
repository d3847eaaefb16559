// Single sign-on for the web UI against a local OIDC provider with real authorization and token
// endpoints: the browser's part (PKCE, following the redirect) is done here with fetch.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { call } from '../support/inject.js';
import { startOidcIssuer, type OidcIssuer } from '../support/oidc-issuer.js';
import { startTestPlatform, type TestPlatform } from '../support/platform.js';

const REDIRECT = 'https://capstan.example/ui/oidc/callback';
const API = '/api/capstan/auth';

/** What the browser does: a verifier, its S256 challenge, the provider's redirect back with a code. */
async function authorize(tp: TestPlatform): Promise<{ code: string; verifier: string }> {
  const providers = (await call(tp.app, 'GET', `${API}/providers`)).body;
  const verifier = randomBytes(32).toString('base64url');
  const url = new URL(providers.oidc.authorization_endpoint);
  const q = { response_type: 'code', client_id: providers.oidc.client_id, redirect_uri: REDIRECT, scope: providers.oidc.scopes, state: 's1', code_challenge: createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256' };
  for (const [k, v] of Object.entries(q)) url.searchParams.set(k, v);
  const res = await fetch(url, { redirect: 'manual' });
  assert.equal(res.status, 302);
  const back = new URL(res.headers.get('location')!);
  assert.equal(back.origin + back.pathname, REDIRECT);
  assert.equal(back.searchParams.get('state'), 's1');
  return { code: back.searchParams.get('code')!, verifier };
}

describe('access: single sign-on (OIDC authorization code with PKCE)', () => {
  let issuer: OidcIssuer;
  let tp: TestPlatform;

  before(async () => {
    issuer = await startOidcIssuer({ clientId: 'capstan' });
    tp = await startTestPlatform({
      'auth.mode': 'on', 'auth.oidc_issuer': issuer.issuer, 'auth.oidc_client_id': 'capstan', 'auth.oidc_audience': 'capstan', 'auth.oidc_group_roles': 'ml=default:editor',
    });
  });
  after(async () => {
    await tp?.close();
    await issuer?.close();
  });

  it('names the provider for the sign-in page, without credentials', async () => {
    const r = await call(tp.app, 'GET', `${API}/providers`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, { password: true, oidc: { issuer: issuer.issuer, client_id: 'capstan', authorization_endpoint: `${issuer.issuer}/authorize`, scopes: 'openid profile email' } });
  });

  it('exchanges the code for a token the API accepts, with the roles of the identity’s groups', async () => {
    issuer.signInAs({ sub: 'u-42', preferred_username: 'dana', groups: ['ml'] });
    const { code, verifier } = await authorize(tp);
    const r = await call(tp.app, 'POST', `${API}/oidc/callback`, { code, code_verifier: verifier, redirect_uri: REDIRECT });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.name, 'dana');
    assert.ok(Date.parse(r.body.expires_at) > Date.now());
    const who = await call(tp.app, 'GET', `${API}/whoami`, undefined, { authorization: `Bearer ${r.body.token}` });
    assert.equal(who.status, 200);
    assert.equal(who.body.name, 'dana');
    assert.deepEqual(who.body.projects, [{ name: 'default', role: 'editor' }]);
  });

  it('refuses a wrong verifier, a used code and a foreign redirect URI, saying why', async () => {
    const { code, verifier } = await authorize(tp);
    const wrong = await call(tp.app, 'POST', `${API}/oidc/callback`, { code, code_verifier: randomBytes(32).toString('base64url'), redirect_uri: REDIRECT });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.body.error_code, 'UNAUTHENTICATED');
    assert.match(wrong.body.message, /PKCE verification failed/);
    // The provider burnt the code on the failed attempt.
    const again = await call(tp.app, 'POST', `${API}/oidc/callback`, { code, code_verifier: verifier, redirect_uri: REDIRECT });
    assert.equal(again.status, 401);
    assert.match(again.body.message, /invalid_grant/);
    const foreign = await call(tp.app, 'POST', `${API}/oidc/callback`, { code, code_verifier: verifier, redirect_uri: 'https://evil.example/steal' });
    assert.equal(foreign.status, 400);
    assert.equal(foreign.body.error_code, 'INVALID_PARAMETER_VALUE');
    const short = await call(tp.app, 'POST', `${API}/oidc/callback`, { code, code_verifier: 'short', redirect_uri: REDIRECT });
    assert.equal(short.body.error_code, 'INVALID_PARAMETER_VALUE');
  });

  it('explains a client whose tokens the API would not accept (audience), and a server without single sign-on', async () => {
    const other = await startOidcIssuer({ clientId: 'capstan-web' });
    const mismatched = await startTestPlatform({ 'auth.mode': 'on', 'auth.oidc_issuer': other.issuer, 'auth.oidc_client_id': 'capstan-web', 'auth.oidc_audience': 'capstan' });
    const plain = await startTestPlatform({ 'auth.mode': 'on' });
    try {
      const { code, verifier } = await authorize(mismatched);
      const r = await call(mismatched.app, 'POST', `${API}/oidc/callback`, { code, code_verifier: verifier, redirect_uri: REDIRECT });
      assert.equal(r.status, 401);
      assert.match(r.body.message, /set auth\.oidc_audience to the client id 'capstan-web'/);
      assert.deepEqual((await call(plain.app, 'GET', `${API}/providers`)).body, { password: true, oidc: null });
      const none = await call(plain.app, 'POST', `${API}/oidc/callback`, { code: 'x', code_verifier: randomBytes(32).toString('base64url'), redirect_uri: REDIRECT });
      assert.equal(none.body.error_code, 'INVALID_STATE');
    } finally {
      await mismatched.close();
      await plain.close();
      await other.close();
    }
  });
});
