import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SignJWT } from 'jose';
import { AppError } from '../errors/index.js';
import { startOidcIssuer, type OidcIssuer } from '../../test/support/oidc-issuer.js';
import { OidcVerifier, parseGroupRules, rolesForGroups, type OidcSettings } from './oidc.js';

const RULES = 'ml-team=default:editor,platform=*:admin,capstan-owners=owner';

function settingsFor(issuer: OidcIssuer, overrides: Partial<OidcSettings> = {}): OidcSettings {
  return {
    issuer: issuer.issuer,
    audience: issuer.audience,
    jwksUri: issuer.jwksUri,
    usernameClaim: 'preferred_username',
    groupsClaim: 'groups',
    groupRules: parseGroupRules(RULES, 'auth.oidc.group_roles'),
    ...overrides,
  };
}

/** Asserts `promise` rejects with an AppError of `code` whose message contains `text` and no part of `token`. */
async function assertRejects(promise: Promise<unknown>, code: string, text: string, token?: string): Promise<AppError> {
  let caught: unknown;
  try {
    await promise;
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof AppError, `expected an AppError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  assert.ok(caught.message.includes(text), `"${caught.message}" should contain "${text}"`);
  if (token) for (const part of token.split('.').filter((p) => p.length > 8)) assert.ok(!caught.message.includes(part), 'message leaks token text');
  return caught;
}

function b64(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

describe('parseGroupRules', () => {
  it('parses group=project:role and group=owner entries', () => {
    assert.deepEqual(parseGroupRules(RULES, 'k'), [
      { group: 'ml-team', project: 'default', role: 'editor' },
      { group: 'platform', project: '*', role: 'admin' },
      { group: 'capstan-owners', project: '*', role: 'owner' },
    ]);
  });

  it('ignores surrounding spaces and empty entries, and maps nothing for an empty spec', () => {
    assert.deepEqual(parseGroupRules(' /org/ml = fraud:deployer , ,viewers=*:viewer,', 'k'), [
      { group: '/org/ml', project: 'fraud', role: 'deployer' },
      { group: 'viewers', project: '*', role: 'viewer' },
    ]);
    assert.deepEqual(parseGroupRules('', 'k'), []);
    assert.deepEqual(parseGroupRules('  ', 'k'), []);
  });

  for (const spec of ['ml-team', '=default:editor', 'ml-team=default', 'ml-team=default:superuser', 'ml-team=:editor', 'ml-team=default:owner', 'a=b=c:viewer', 'ok=x:viewer,bad']) {
    it(`rejects ${JSON.stringify(spec)} as CONFIG_INVALID naming the setting`, () => {
      assert.throws(
        () => parseGroupRules(spec, 'auth.oidc.group_roles'),
        (err: unknown) => {
          assert.ok(err instanceof AppError);
          assert.equal(err.code, 'CONFIG_INVALID');
          assert.deepEqual(err.details, { key: 'auth.oidc.group_roles' });
          assert.ok(err.message.includes('auth.oidc.group_roles'), err.message);
          return true;
        },
      );
    });
  }
});

describe('rolesForGroups', () => {
  const rules = parseGroupRules('readers=default:viewer,ml-admins=default:admin,ml-team=default:editor,platform=*:deployer,ops=*:viewer,root=owner', 'k');

  it('keeps the strongest role per project whatever the rule order', () => {
    assert.deepEqual(rolesForGroups(['readers', 'ml-admins', 'ml-team'], rules), { isOwner: false, roles: [{ project: 'default', role: 'admin' }] });
    assert.deepEqual(rolesForGroups(['ml-team', 'readers'], rules).roles, [{ project: 'default', role: 'editor' }]);
    assert.deepEqual(rolesForGroups(['ops', 'platform'], rules).roles, [{ project: '*', role: 'deployer' }]);
  });

  it('makes members of an owner group owners, and nobody else', () => {
    assert.deepEqual(rolesForGroups(['root'], rules), { isOwner: true, roles: [] });
    assert.equal(rolesForGroups(['readers', 'unmapped'], rules).isOwner, false);
    assert.deepEqual(rolesForGroups([], rules), { isOwner: false, roles: [] });
  });
});

describe('OidcVerifier.looksLikeJwt', () => {
  it('is true for a JWT and false for opaque API tokens', async () => {
    const issuer = await startOidcIssuer();
    try {
      assert.equal(OidcVerifier.looksLikeJwt(await issuer.sign()), true);
    } finally {
      await issuer.close();
    }
    assert.equal(OidcVerifier.looksLikeJwt(`${b64({ alg: 'none' })}.${b64({ sub: 'x' })}.`), true);
    for (const opaque of ['capstan_abc123', 'capstan_abc.def.ghi', 'a.b.c', `${b64({ typ: 'JWT' })}.${b64({})}.sig`, `${b64({ alg: 'RS256' })}..sig`, `${b64({ alg: 'RS256' })}.e30.s.x`, '']) {
      assert.equal(OidcVerifier.looksLikeJwt(opaque), false, opaque);
    }
  });
});

describe('OidcVerifier.verify', () => {
  let issuer: OidcIssuer;
  before(async () => {
    issuer = await startOidcIssuer({ path: '/realms/capstan' });
  });
  after(() => issuer.close());

  it('returns the identity with username, groups and roles for a valid token', async () => {
    const exp = Math.floor(Date.now() / 1000) + 600;
    const token = await issuer.sign({ sub: 'u-42', preferred_username: 'alice', groups: ['ml-team', 'platform', 'other'] }, { expiresAt: exp });
    const identity = await new OidcVerifier(settingsFor(issuer)).verify(token);
    assert.deepEqual(identity, {
      subject: 'u-42',
      username: 'alice',
      groups: ['ml-team', 'platform', 'other'],
      isOwner: false,
      roles: [
        { project: 'default', role: 'editor' },
        { project: '*', role: 'admin' },
      ],
      expiresAt: exp * 1000,
    });
  });

  it('falls back to sub for the username, accepts one group as a string and no groups at all', async () => {
    const verifier = new OidcVerifier(settingsFor(issuer));
    const owner = await verifier.verify(await issuer.sign({ sub: 'svc-7', groups: 'capstan-owners' }));
    assert.equal(owner.username, 'svc-7');
    assert.deepEqual(owner.groups, ['capstan-owners']);
    assert.equal(owner.isOwner, true);
    const plain = await verifier.verify(await issuer.sign({ preferred_username: 'bob' }));
    assert.deepEqual([plain.username, plain.groups, plain.roles, plain.isOwner], ['bob', [], [], false]);
  });

  it('reads nested claims by dotted path', async () => {
    const verifier = new OidcVerifier(settingsFor(issuer, { groupsClaim: 'realm_access.roles' }));
    const identity = await verifier.verify(await issuer.sign({ realm_access: { roles: ['ml-team'] } }));
    assert.deepEqual(identity.roles, [{ project: 'default', role: 'editor' }]);
  });

  it('finds the JWKS through discovery once, then reuses it', async () => {
    const local = await startOidcIssuer({ path: '/realms/x/' });
    try {
      const verifier = new OidcVerifier(settingsFor(local, { jwksUri: undefined }));
      await verifier.verify(await local.sign({ preferred_username: 'alice' }));
      await verifier.verify(await local.sign({ preferred_username: 'carol' }));
      assert.deepEqual(local.requests, { discovery: 1, jwks: 1, authorize: 0, token: 0 });
    } finally {
      await local.close();
    }
  });

  it('skips discovery when jwksUri is given', async () => {
    const local = await startOidcIssuer();
    try {
      const verifier = new OidcVerifier(settingsFor(local));
      assert.equal((await verifier.verify(await local.sign({ preferred_username: 'alice' }))).username, 'alice');
      assert.deepEqual(local.requests, { discovery: 0, jwks: 1, authorize: 0, token: 0 });
    } finally {
      await local.close();
    }
  });

  it('retries a failed discovery on the next call', async () => {
    const local = await startOidcIssuer();
    try {
      local.failDiscovery(1);
      const verifier = new OidcVerifier(settingsFor(local, { jwksUri: '' }));
      const token = await local.sign();
      await assertRejects(verifier.verify(token), 'TEMPORARILY_UNAVAILABLE', 'identity provider unreachable');
      assert.equal((await verifier.verify(token)).subject, 'user-1');
      assert.deepEqual(local.requests, { discovery: 2, jwks: 1, authorize: 0, token: 0 });
    } finally {
      await local.close();
    }
  });

  it('rejects an expired token, within the clock tolerance only', async () => {
    const now = Math.floor(Date.now() / 1000);
    const verifier = new OidcVerifier(settingsFor(issuer));
    const expired = await issuer.sign({}, { expiresAt: now - 120 });
    await assertRejects(verifier.verify(expired), 'UNAUTHENTICATED', 'OIDC token expired', expired);
    assert.equal((await verifier.verify(await issuer.sign({}, { expiresAt: now - 10 }))).subject, 'user-1');
    const strict = new OidcVerifier(settingsFor(issuer, { clockToleranceSec: 0 }));
    await assertRejects(strict.verify(await issuer.sign({}, { expiresAt: now - 10 })), 'UNAUTHENTICATED', 'expired');
  });

  it('rejects a token for another audience', async () => {
    const token = await issuer.sign({}, { audience: 'someone-else' });
    await assertRejects(new OidcVerifier(settingsFor(issuer)).verify(token), 'UNAUTHENTICATED', 'OIDC token audience mismatch', token);
  });

  it('rejects a token from another issuer, even one that differs only by a trailing slash', async () => {
    const verifier = new OidcVerifier(settingsFor(issuer));
    for (const iss of ['https://evil.example.com', `${issuer.issuer}/`]) {
      const token = await issuer.sign({}, { issuer: iss });
      await assertRejects(verifier.verify(token), 'UNAUTHENTICATED', 'OIDC token issuer mismatch', token);
    }
  });

  it('rejects a token without exp or sub', async () => {
    const verifier = new OidcVerifier(settingsFor(issuer));
    await assertRejects(verifier.verify(await issuer.sign({ exp: undefined })), 'UNAUTHENTICATED', "'exp'");
    await assertRejects(verifier.verify(await issuer.sign({ sub: undefined })), 'UNAUTHENTICATED', "'sub'");
  });

  it('rejects a signature by a key the issuer does not publish', async () => {
    const verifier = new OidcVerifier(settingsFor(issuer));
    const posing = await issuer.sign({ groups: ['capstan-owners'] }, { foreignKey: true, kid: issuer.currentKid });
    await assertRejects(verifier.verify(posing), 'UNAUTHENTICATED', 'OIDC token signature invalid', posing);
    const noKid = await issuer.sign({}, { foreignKey: true, kid: null });
    await assertRejects(verifier.verify(noKid), 'UNAUTHENTICATED', 'signature invalid', noKid);
    const ownKid = await issuer.sign({}, { foreignKey: true });
    await assertRejects(verifier.verify(ownKid), 'UNAUTHENTICATED', 'signing key unknown', ownKid);
  });

  it('rejects a token whose payload was altered after signing', async () => {
    const token = await issuer.sign({ groups: ['ml-team'] });
    const [header, , signature] = token.split('.');
    const payload = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
    const forged = `${header}.${b64({ ...payload, groups: ['capstan-owners'] })}.${signature}`;
    await assertRejects(new OidcVerifier(settingsFor(issuer)).verify(forged), 'UNAUTHENTICATED', 'signature invalid', forged);
  });

  it("rejects alg 'none' and HS256 tokens", async () => {
    const verifier = new OidcVerifier(settingsFor(issuer));
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: issuer.issuer, aud: issuer.audience, sub: 'mallory', exp: now + 600, groups: ['capstan-owners'] };
    const none = `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`;
    await assertRejects(verifier.verify(none), 'UNAUTHENTICATED', 'algorithm not allowed', none);
    const hs256 = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid: issuer.currentKid }).sign(new TextEncoder().encode('a-shared-secret-of-32-bytes-long!'));
    await assertRejects(verifier.verify(hs256), 'UNAUTHENTICATED', 'algorithm not allowed', hs256);
  });

  it('rejects garbage as malformed', async () => {
    await assertRejects(new OidcVerifier(settingsFor(issuer)).verify('not-a-jwt'), 'UNAUTHENTICATED', 'malformed');
  });
});

describe('OidcVerifier: key rotation', () => {
  it('refetches the JWKS for an unknown kid, so tokens signed with the new key verify', async () => {
    const local = await startOidcIssuer();
    try {
      const verifier = new OidcVerifier(settingsFor(local, { jwksRefetchCooldownSec: 0 }));
      const before = await local.sign({ preferred_username: 'before' });
      assert.equal((await verifier.verify(before)).username, 'before');
      await local.rotate();
      assert.equal((await verifier.verify(await local.sign({ preferred_username: 'after' }))).username, 'after');
      assert.equal((await verifier.verify(before)).username, 'before', 'the old key is still published');
      assert.equal(local.requests.jwks, 2);
    } finally {
      await local.close();
    }
  });

  it('tries every published key for a token without kid', async () => {
    const local = await startOidcIssuer();
    try {
      await local.rotate();
      const verifier = new OidcVerifier(settingsFor(local));
      assert.equal((await verifier.verify(await local.sign({ preferred_username: 'old' }, { keyIndex: 0, kid: null }))).username, 'old');
      assert.equal((await verifier.verify(await local.sign({ preferred_username: 'new' }, { kid: null }))).username, 'new');
    } finally {
      await local.close();
    }
  });

  it('does not refetch within the cooldown', async () => {
    const local = await startOidcIssuer();
    try {
      const verifier = new OidcVerifier(settingsFor(local));
      await verifier.verify(await local.sign());
      await local.rotate();
      await assertRejects(verifier.verify(await local.sign()), 'UNAUTHENTICATED', 'signing key unknown');
      assert.equal(local.requests.jwks, 1);
    } finally {
      await local.close();
    }
  });
});

describe('OidcVerifier: identity provider down', () => {
  for (const discovery of [true, false]) {
    it(`answers TEMPORARILY_UNAVAILABLE with no cached JWKS (${discovery ? 'discovery' : 'explicit jwksUri'})`, async () => {
      const local = await startOidcIssuer();
      const token = await local.sign();
      const settings = settingsFor(local, discovery ? { jwksUri: undefined } : {});
      await local.close();
      const err = await assertRejects(new OidcVerifier(settings).verify(token), 'TEMPORARILY_UNAVAILABLE', 'identity provider unreachable: ', token);
      assert.equal(err.status, 503);
    });
  }

  it('keeps verifying with a cached JWKS', async () => {
    const local = await startOidcIssuer();
    const verifier = new OidcVerifier(settingsFor(local, { jwksUri: undefined }));
    try {
      await verifier.verify(await local.sign());
    } finally {
      await local.close();
    }
    assert.equal((await verifier.verify(await local.sign({ preferred_username: 'later' }))).username, 'later');
  });
});

describe('OidcVerifier: settings', () => {
  it('rejects a malformed issuer or jwksUri as CONFIG_INVALID', () => {
    const base: OidcSettings = { issuer: 'https://idp.example.com', audience: 'capstan', usernameClaim: 'sub', groupsClaim: 'groups', groupRules: [] };
    for (const bad of [{ issuer: 'idp.example.com' }, { jwksUri: 'not a url' }, { audience: '' }]) {
      assert.throws(() => new OidcVerifier({ ...base, ...bad }), (err: unknown) => err instanceof AppError && err.code === 'CONFIG_INVALID');
    }
    assert.ok(new OidcVerifier(base));
  });
});
