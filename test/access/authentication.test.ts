// Authentication end to end through the HTTP layer: tokens (expiry, revocation seen by another
// replica within auth.cache_ms), passwords with lockout, OIDC JWTs mapped to roles, the auth-off
// guard, rate limiting and response headers.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import { loadConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/observability/logger.js';
import { createPlatform } from '../../src/server/platform.js';
import { testDatabases } from '../support/databases.js';
import { startOidcIssuer, type OidcIssuer } from '../support/oidc-issuer.js';
import { basicAuth, call as send, type Method } from '../support/inject.js';
import { startTestPlatform, type TestPlatform } from '../support/platform.js';

const OWNER = { username: 'root', password: 'root-password-123' };
const AUTH_ON = { 'auth.mode': 'on', 'auth.bootstrap_owner': OWNER.username, 'auth.bootstrap_password': OWNER.password, 'server.rate_limit_rps': 0 } as const;
const basic = (user: string, password: string) => ({ authorization: basicAuth(user, password) });
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const call = (app: FastifyInstance, method: Method, url: string, headers: Record<string, string>, payload?: unknown) => send(app, method, url, payload, headers);

async function ownerToken(app: FastifyInstance): Promise<string> {
  const res = await call(app, 'POST', '/api/capstan/auth/login', {}, OWNER);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.token;
}

const readExperiment = (app: FastifyInstance, headers: Record<string, string>) => call(app, 'GET', '/api/2.0/mlflow/experiments/get?experiment_id=0', headers);

for (const { db, skip } of await testDatabases()) {
  describe(`authentication (${db.name})`, { skip }, () => {
    let uri: string;
    let drop: () => Promise<void>;
    let a: TestPlatform;
    let b: TestPlatform;
    let owner: Record<string, string>;
    before(async () => {
      ({ uri, drop } = await db.create());
      // Two replicas on one database, as behind a load balancer.
      a = await startTestPlatform({ ...AUTH_ON, 'store.database_uri': uri, 'auth.cache_ms': 300, 'auth.lockout_threshold': 3, 'auth.lockout_max_seconds': 2 });
      b = await startTestPlatform({ ...AUTH_ON, 'store.database_uri': uri, 'auth.cache_ms': 300 });
      owner = bearer(await ownerToken(a.app));
    });
    after(async () => {
      await a?.close();
      await b?.close();
      await drop?.();
    });

    it('refuses requests without credentials, with a WWW-Authenticate challenge', async () => {
      const res = await readExperiment(a.app, {});
      assert.equal(res.status, 401);
      assert.equal(res.body.error_code, 'UNAUTHENTICATED');
      assert.match(String(res.headers['www-authenticate']), /Bearer/);
      assert.equal((await readExperiment(a.app, { authorization: 'Digest abc' })).status, 401);
      assert.equal((await readExperiment(a.app, bearer('capstan_not-a-real-token'))).status, 401);
    });

    it('a revoked token stops working on every replica within auth.cache_ms', async () => {
      const created = await call(a.app, 'POST', '/api/capstan/tokens', owner, { name: 'short-lived', scopes: ['read'] });
      const token = bearer(created.body.token);
      assert.equal((await readExperiment(a.app, token)).status, 200);
      assert.equal((await readExperiment(b.app, token)).status, 200);
      assert.equal((await call(a.app, 'DELETE', `/api/capstan/tokens/${created.body.info.token_id}`, owner)).status, 200);
      await sleep(400);
      assert.equal((await readExperiment(a.app, token)).status, 401);
      const onB = await readExperiment(b.app, token);
      assert.equal(onB.status, 401, 'the other replica still accepts a revoked token after auth.cache_ms');
      assert.match(onB.body.message, /revoked/);
    });

    it('an expired token is refused', async () => {
      const created = await call(a.app, 'POST', '/api/capstan/tokens', owner, { name: 'expiring', scopes: ['read'], expires_in_days: 1 });
      await a.platform.db.run('UPDATE api_tokens SET expires_at = ? WHERE token_id = ?', [Date.now() - 1, Number(created.body.info.token_id)]);
      await sleep(400);
      const res = await readExperiment(b.app, bearer(created.body.token));
      assert.equal(res.status, 401);
      assert.match(res.body.message, /expired/);
    });

    it('records when a token was last used', async () => {
      const created = await call(a.app, 'POST', '/api/capstan/tokens', owner, { name: 'used', scopes: ['read'] });
      assert.equal((await readExperiment(a.app, bearer(created.body.token))).status, 200);
      await a.platform.access.store.touchTokens(a.platform.access.request.authenticator.takeLastUsed());
      const listed = (await call(a.app, 'GET', '/api/capstan/tokens', owner)).body.tokens.find((t: { token_id: string }) => t.token_id === created.body.info.token_id);
      assert.ok(listed.last_used_at, 'last_used_at was not recorded');
    });

    it('Basic credentials work, wrong ones count towards a lockout that expires', async () => {
      assert.equal((await call(a.app, 'POST', '/api/capstan/accounts', owner, { name: 'dana', kind: 'user', password: 'dana-password-1' })).status, 200);
      assert.equal((await call(a.app, 'PUT', '/api/capstan/projects/default/members/dana', owner, { role: 'viewer' })).status, 200);
      assert.equal((await readExperiment(a.app, basic('dana', 'dana-password-1'))).status, 200);
      for (let i = 0; i < 3; i++) assert.equal((await readExperiment(a.app, basic('dana', `wrong-${i}-password`))).status, 401);
      const locked = await call(a.app, 'POST', '/api/capstan/auth/login', {}, { username: 'dana', password: 'dana-password-1' });
      assert.equal(locked.status, 401, 'the right password must not open a locked account');
      assert.match(locked.body.message, /locked/);
      assert.ok(Number(locked.headers['retry-after']) >= 1);
      await sleep(1100);
      assert.equal((await call(a.app, 'POST', '/api/capstan/auth/login', {}, { username: 'dana', password: 'dana-password-1' })).status, 200);
    });

    it('an unknown user and a wrong password get the same answer', async () => {
      const unknown = await call(a.app, 'POST', '/api/capstan/auth/login', {}, { username: 'nobody-here', password: 'whatever-password' });
      const wrong = await call(a.app, 'POST', '/api/capstan/auth/login', {}, { username: 'root', password: 'not-the-password' });
      assert.equal(unknown.status, 401);
      assert.equal(unknown.body.message, wrong.body.message);
    });

    it('a disabled account is refused, including its existing tokens', async () => {
      await call(a.app, 'POST', '/api/capstan/accounts', owner, { name: 'bot-off', kind: 'robot' });
      await call(a.app, 'PUT', '/api/capstan/projects/default/members/bot-off', owner, { role: 'viewer' });
      const t = await call(a.app, 'POST', '/api/capstan/tokens', owner, { name: 'bot', scopes: ['read'], account: 'bot-off' });
      assert.equal((await readExperiment(b.app, bearer(t.body.token))).status, 200);
      assert.equal((await call(a.app, 'PATCH', '/api/capstan/accounts/bot-off', owner, { disabled: true })).status, 200);
      await sleep(400);
      assert.equal((await readExperiment(b.app, bearer(t.body.token))).status, 401);
    });

    it('a token cannot grant more than its creator holds', async () => {
      const reader = await call(a.app, 'POST', '/api/capstan/tokens', owner, { name: 'reader', scopes: ['read'] });
      const escalate = await call(a.app, 'POST', '/api/capstan/tokens', bearer(reader.body.token), { name: 'more', scopes: ['admin'] });
      assert.equal(escalate.status, 403);
    });
  });
}

describe('OIDC sign-in through the server', () => {
  let issuer: OidcIssuer;
  let tp: TestPlatform;
  before(async () => {
    issuer = await startOidcIssuer();
    tp = await startTestPlatform({ ...AUTH_ON, 'auth.oidc_issuer': issuer.issuer, 'auth.oidc_group_roles': 'ml-team=vision:editor,auditors=*:viewer' });
    const owner = bearer(await ownerToken(tp.app));
    assert.equal((await call(tp.app, 'POST', '/api/capstan/projects', owner, { name: 'vision' })).status, 200);
  });
  after(async () => {
    await tp?.close();
    await issuer?.close();
  });

  it('maps groups to roles per project and creates the identity once', async () => {
    const jwt = await issuer.sign({ sub: 'u-1', preferred_username: 'erin', groups: ['ml-team'] });
    const inVision = { ...bearer(jwt), 'x-capstan-project': 'vision' };
    assert.equal((await call(tp.app, 'POST', '/api/2.0/mlflow/experiments/create', inVision, { name: 'oidc-exp' })).status, 200);
    const inDefault = await call(tp.app, 'POST', '/api/2.0/mlflow/experiments/create', bearer(jwt), { name: 'oidc-exp' });
    assert.equal(inDefault.status, 403, 'ml-team has no role in the default project');
    const who = await call(tp.app, 'GET', '/api/capstan/auth/whoami', bearer(jwt));
    assert.equal(who.body.name, 'erin');
    assert.equal(who.body.kind, 'oidc');
  });

  it('a wildcard group rule grants its role in every project, and no more', async () => {
    const jwt = await issuer.sign({ sub: 'u-2', preferred_username: 'fay', groups: ['auditors'] });
    assert.equal((await call(tp.app, 'GET', '/api/2.0/mlflow/experiments/get?experiment_id=0', bearer(jwt))).status, 200);
    assert.equal((await call(tp.app, 'POST', '/api/2.0/mlflow/experiments/create', bearer(jwt), { name: 'nope' })).status, 403);
  });

  it('refuses expired, foreign-signed and wrong-audience tokens', async () => {
    const expired = await issuer.sign({ sub: 'u-1', preferred_username: 'erin', groups: ['ml-team'] }, { expiresAt: Math.floor(Date.now() / 1000) - 3600 });
    const foreign = await issuer.sign({ sub: 'u-1', preferred_username: 'erin' }, { foreignKey: true });
    const otherAudience = await issuer.sign({ sub: 'u-1', preferred_username: 'erin' }, { audience: 'someone-else' });
    for (const jwt of [expired, foreign, otherAudience]) {
      const res = await call(tp.app, 'GET', '/api/2.0/mlflow/experiments/get?experiment_id=0', bearer(jwt));
      assert.equal(res.status, 401, res.body.message);
    }
  });
});

describe('server guards', () => {
  it('refuses to start with auth off on a non-loopback address', async () => {
    const config = loadConfig({ flags: { data_dir: '/tmp/capstan-never-created', 'server.host': '0.0.0.0' } });
    await assert.rejects(createPlatform(config, createLogger('silent')), (err: Error & { code?: string; details?: { key?: string } }) => {
      assert.equal(err.code, 'CONFIG_INVALID');
      assert.equal(err.details?.key, 'auth.mode');
      return true;
    });
  });

  it('rate-limits a principal with 429 and Retry-After, and sends security headers', async () => {
    const tp = await startTestPlatform({ ...AUTH_ON, 'server.rate_limit_rps': 1, 'server.rate_limit_burst': 3 });
    try {
      const h = basic(OWNER.username, OWNER.password);
      const statuses = [];
      for (let i = 0; i < 5; i++) statuses.push((await readExperiment(tp.app, h)).status);
      assert.deepEqual(statuses.slice(0, 3), [200, 200, 200]);
      const limited = await readExperiment(tp.app, h);
      assert.equal(limited.status, 429);
      assert.equal(limited.body.error_code, 'REQUEST_LIMIT_EXCEEDED');
      assert.ok(Number(limited.headers['retry-after']) >= 1);
      assert.equal(limited.headers['x-content-type-options'], 'nosniff');
      assert.equal(limited.headers['x-frame-options'], 'DENY');
      assert.match(String(limited.headers['content-security-policy']), /frame-ancestors 'none'/);
      // Probes are never limited.
      for (let i = 0; i < 10; i++) assert.equal((await tp.app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
    } finally {
      await tp.close();
    }
  });
});
