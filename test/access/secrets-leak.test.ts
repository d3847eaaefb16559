// Secret values, passwords and tokens must never reach a log line, a response body or the audit log.
// The platform runs in-process with authentication on and every log line captured; distinct values
// are planted through every path that handles them, then everything captured is searched for them.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { KeyRing } from '../../src/access/secret-cipher.js';
import { loadConfig, type SettingKey } from '../../src/config/index.js';
import { AppError, type ErrorCode } from '../../src/errors/index.js';
import { createLogger } from '../../src/observability/logger.js';
import { createPlatform, type Platform } from '../../src/server/platform.js';
import { testDatabases } from '../support/databases.js';
import { assertError, assertOk, basicAuth, call, type Answer, type Method } from '../support/inject.js';

const CAPSTAN = '/api/capstan';
const PROJECT = 'p';
const hex = (bytes: number) => randomBytes(bytes).toString('hex');

/** The forms a value takes in captured text: as it is, and escaped inside a JSON string. */
const formsOf = (value: string) => [...new Set([value, JSON.stringify(value).slice(1, -1)])];

interface Captured {
  label: string;
  status: number;
  text: string;
  /** Planted values this response is meant to carry (the token a sign-in returns). */
  allowed: string[];
}

for (const { db: backend, skip } of await testDatabases()) {
  describe(`secret values never leak on ${backend.name}`, { skip }, () => {
    // Distinct per backend: the process-wide scrubber remembers values across suites.
    const S1 = `s1-db-password-${hex(8)}`;
    /** Short enough (≤ 20 characters) that a JSON parser would quote all of it in its error. */
    const S2 = `s2-${hex(7)}`;
    /** Quote and backslash: JSON-escaped in a log line, it must still be masked. */
    const S3 = `s3"runtime\\${hex(8)}`;
    const OWNER = 'root';
    const OWNER_PASSWORD = `owner-pw-${hex(8)}`;
    const USER = 'alice';
    const USER_PASSWORD = `alice-pw-${hex(8)}`;
    const WRONG_BASIC_PASSWORD = `wrong-basic-${hex(6)}`;
    const WRONG_LOGIN_PASSWORD = `wrong-login-${hex(6)}`;
    const MALFORMED_LOGIN_PASSWORD = `bad-login-${hex(6)}`;
    const UNKNOWN_TOKEN = `capstan_${hex(24)}`;
    const CANARY = `canary-${hex(8)}`;
    const secretsKey = KeyRing.generate();

    let platform: Platform;
    let app: FastifyInstance;
    let dataDir = '';
    let dropDb: (() => Promise<void>) | undefined;
    let sessionToken = '';
    let apiToken = '';
    const lines: string[] = [];
    const responses: Captured[] = [];

    const planted = (): [string, string][] => [
      ['S1 (stored secret)', S1],
      ['S2 (secret in a refused request)', S2],
      ['S3 (secret resolved for a runtime)', S3],
      ['owner password', OWNER_PASSWORD],
      ['user password', USER_PASSWORD],
      ['wrong Basic password', WRONG_BASIC_PASSWORD],
      ['wrong login password', WRONG_LOGIN_PASSWORD],
      ['malformed login password', MALFORMED_LOGIN_PASSWORD],
      ['unknown bearer token', UNKNOWN_TOKEN],
      ['session token', sessionToken],
      ['API token', apiToken],
      ...(backend.name === 'postgres' ? [['secrets key', secretsKey.slice(secretsKey.indexOf(':') + 1)] as [string, string]] : []),
    ];

    /** Where in `text` a planted value (other than `allowed`) appears. */
    function leaksIn(text: string, allowed: string[] = []): string[] {
      const found: string[] = [];
      for (const [label, value] of planted()) {
        if (!value || allowed.includes(value)) continue;
        if (formsOf(value).some((form) => text.includes(form))) found.push(label);
      }
      return found;
    }

    async function send(label: string, method: Method, url: string, payload?: unknown, headers: Record<string, string> = {}, allowed: string[] = []): Promise<Answer> {
      const res = await call(app, method, url, payload, headers);
      responses.push({ label, status: res.status, text: `${JSON.stringify(res.headers)}\n${res.text}`, allowed });
      return res;
    }

    const asOwner = (): Record<string, string> => ({ authorization: `Bearer ${apiToken}`, 'x-capstan-project': PROJECT });
    const asUser = (): Record<string, string> => ({ authorization: basicAuth(USER, USER_PASSWORD), 'x-capstan-project': PROJECT });

    function assertNoLeak(res: Answer, what: string): void {
      assert.deepEqual(leaksIn(res.text), [], `${what} leaks: ${res.status} ${res.text.slice(0, 300)}`);
    }

    before(async () => {
      dataDir = mkdtempSync(join(tmpdir(), 'capstan-leak-'));
      const settings: Partial<Record<SettingKey, string | number | boolean>> = {
        data_dir: dataDir,
        'log.level': 'debug',
        'auth.mode': 'on',
        'auth.bootstrap_owner': OWNER,
        'auth.bootstrap_password': OWNER_PASSWORD,
        'server.rate_limit_rps': 0,
      };
      if (backend.name === 'postgres') {
        const db = await backend.create();
        dropDb = db.drop;
        settings['store.database_uri'] = db.uri;
        settings['secrets.key'] = secretsKey;
      }
      // With the default embedded SQLite the platform makes data_dir/secrets.key itself.
      const config = loadConfig({ flags: settings });
      platform = await createPlatform(config, createLogger('debug', { write: (line: string) => lines.push(line) } as any));
      await platform.app.ready();
      app = platform.app;

      const login = await send('owner sign-in', 'POST', `${CAPSTAN}/auth/login`, { username: OWNER, password: OWNER_PASSWORD });
      sessionToken = assertOk(login).token;
      responses.at(-1)!.allowed.push(sessionToken);
      const session = { authorization: `Bearer ${sessionToken}` };
      const created = await send('API token', 'POST', `${CAPSTAN}/tokens`, { name: 'ci', scopes: ['admin'] }, session);
      apiToken = assertOk(created).token;
      responses.at(-1)!.allowed.push(apiToken);
      assertOk(await send('project', 'POST', `${CAPSTAN}/projects`, { name: PROJECT }, session));
      assertOk(await send('user', 'POST', `${CAPSTAN}/accounts`, { name: USER, kind: 'user', password: USER_PASSWORD }, session));
      assertOk(await send('member', 'PUT', `${CAPSTAN}/projects/${PROJECT}/members/${USER}`, { role: 'admin' }, session));
    });
    after(async () => {
      await platform?.close();
      await dropDb?.();
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    });

    it('the log is captured (a value logged on purpose shows up)', () => {
      platform.logger.info({ note: CANARY }, 'capture check');
      assert.ok(lines.some((l) => l.includes(CANARY)), 'the captured log should hold the canary');
      assert.ok(lines.some((l) => l.includes('"msg":"request"')), 'request lines are captured too');
    });

    describe('(a) a stored secret', () => {
      it('is set with a token, and its value comes back in no response', async () => {
        const res = await send('set DB_PASSWORD', 'PUT', `${CAPSTAN}/projects/${PROJECT}/secrets/DB_PASSWORD`, { value: S1 }, asOwner());
        assert.deepEqual(assertOk(res), {});
        assertNoLeak(res, 'setting a secret');
        // Again over Basic auth (a password in the header), as a project admin: same value, no leak.
        assertOk(await send('set DB_PASSWORD again', 'PUT', `${CAPSTAN}/projects/${PROJECT}/secrets/DB_PASSWORD`, { value: S1 }, asUser()));
      });

      it('is stored sealed, not as text', async () => {
        const rows = await platform.db.all<{ name: string; sealed: Buffer }>('SELECT name, sealed FROM secrets');
        assert.deepEqual(rows.map((r) => r.name), ['DB_PASSWORD']);
        assert.equal(Buffer.from(rows[0]!.sealed).includes(Buffer.from(S1)), false);
      });

      it('is listed by name only', async () => {
        const res = await send('list secrets', 'GET', `${CAPSTAN}/projects/${PROJECT}/secrets`, undefined, asOwner());
        const { secrets } = assertOk(res);
        assert.deepEqual(secrets.map((s: { name: string }) => s.name), ['DB_PASSWORD']);
        assert.deepEqual(Object.keys(secrets[0]).sort(), ['created_at', 'key_id', 'name', 'updated_at', 'updated_by']);
        assertNoLeak(res, 'the secrets list');
      });
    });

    describe('(b) a refused secret request does not quote the value', () => {
      const url = (name: string) => `${CAPSTAN}/projects/${PROJECT}/secrets/${name}`;
      const cases: [string, string, unknown, ErrorCode][] = [
        ['an invalid name', 'bad-name', { value: S2 }, 'INVALID_PARAMETER_VALUE'],
        ['a value inside a list', 'OTHER', { value: [S2] }, 'INVALID_PARAMETER_VALUE'],
        ['a value inside an object', 'OTHER', { value: { nested: S2 } }, 'INVALID_PARAMETER_VALUE'],
        ['a number-typed value next to a secret in an unknown field', 'OTHER', { value: 12345678, note: S2 }, 'INVALID_PARAMETER_VALUE'],
        ['a value with a NUL character', 'OTHER', { value: `${S2}\u0000` }, 'INVALID_PARAMETER_VALUE'],
        ['a value sent as a bare, non-JSON body', 'OTHER', S2, 'BAD_REQUEST'],
      ];
      for (const [what, name, body, code] of cases) {
        it(what, async () => {
          const res = await send(`refused secret: ${what}`, 'PUT', url(name), body, asOwner());
          assertError(res, code);
          assertNoLeak(res, `the refusal of ${what}`);
        });
      }

      it('nothing was stored by the refused requests', async () => {
        const rows = await platform.db.all<{ name: string }>('SELECT name FROM secrets ORDER BY name');
        assert.deepEqual(rows.map((r) => r.name), ['DB_PASSWORD']);
      });
    });

    it('(c) values resolved for a runtime are masked wherever the app logs them', async () => {
      const { projectId } = await platform.access.service.project(PROJECT);
      // RUNTIME_TOKEN was set by another replica: this process sees its value first when it resolves it.
      const ring = backend.name === 'postgres' ? KeyRing.parse(secretsKey, 'secrets.key') : KeyRing.fromFile(join(dataDir, 'secrets.key'), 'secrets.key_file');
      const sealed = ring.seal(S3, `capstan-secret/${projectId}/RUNTIME_TOKEN`);
      await platform.db.run('INSERT INTO secrets (project_id, name, key_id, sealed, created_time, updated_time, updated_by) VALUES (?, ?, ?, ?, ?, ?, ?)', [
        projectId, 'RUNTIME_TOKEN', sealed.keyId, sealed.blob, Date.now(), Date.now(), 'replica-2',
      ]);

      const resolved = await platform.access.secrets.resolveForRuntime(projectId, ['DB_PASSWORD', 'RUNTIME_TOKEN']);
      assert.deepEqual(resolved, { DB_PASSWORD: S1, RUNTIME_TOKEN: S3 });

      const from = lines.length;
      platform.logger.info({ env: resolved }, 'starting runtime');
      platform.logger.debug({ command: `env DB_PASSWORD=${resolved.DB_PASSWORD} RUNTIME_TOKEN=${resolved.RUNTIME_TOKEN} python serve.py` }, 'runtime command');
      try {
        throw new AppError('INTERNAL_ERROR', `runtime exited: RUNTIME_TOKEN=${S3} was refused`);
      } catch (err) {
        platform.logger.error({ err }, 'runtime failed');
      }
      platform.logger.warn(`runtime said: ${S3}`);
      const logged = lines.slice(from);
      assert.equal(logged.length, 4, logged.join(''));
      for (const line of logged) {
        assert.deepEqual(leaksIn(line), [], `leaks in: ${line}`);
        assert.ok(line.includes('[redacted]'), `expected a mask in: ${line}`);
      }
      const start = JSON.parse(logged[0]!);
      assert.deepEqual(start.env, { DB_PASSWORD: '[redacted]', RUNTIME_TOKEN: '[redacted]' });
      const failed = JSON.parse(logged[2]!);
      assert.equal(failed.err.message, 'runtime exited: RUNTIME_TOKEN=[redacted] was refused');
      assert.ok(String(failed.err.stack).includes('[redacted]'));
    });

    describe('(d) passwords and tokens sent in requests', () => {
      it('a password over Basic auth, right and wrong', async () => {
        assertOk(await send('Basic auth', 'GET', `${CAPSTAN}/auth/whoami`, undefined, asUser()));
        const wrong = await send('wrong Basic password', 'GET', `${CAPSTAN}/auth/whoami`, undefined, { authorization: basicAuth(USER, WRONG_BASIC_PASSWORD) });
        assertError(wrong, 'UNAUTHENTICATED');
      });

      it('a password in the login body, right and wrong', async () => {
        const ok = await send('user sign-in', 'POST', `${CAPSTAN}/auth/login`, { username: USER, password: USER_PASSWORD });
        responses.at(-1)!.allowed.push(assertOk(ok).token);
        assertError(await send('wrong login password', 'POST', `${CAPSTAN}/auth/login`, { username: USER, password: WRONG_LOGIN_PASSWORD }), 'UNAUTHENTICATED');
      });

      it('a password of the wrong type in the login body is refused as invalid, unquoted', async () => {
        const res = await send('login password in a list', 'POST', `${CAPSTAN}/auth/login`, { username: USER, password: [WRONG_LOGIN_PASSWORD] });
        assertError(res, 'INVALID_PARAMETER_VALUE');
        assertNoLeak(res, 'the refusal of a password in a list');
      });

      it('a password with a NUL character in the login body', async () => {
        const res = await send('login password with NUL', 'POST', `${CAPSTAN}/auth/login`, { username: USER, password: `${MALFORMED_LOGIN_PASSWORD}\u0000` });
        assertError(res, 'INVALID_PARAMETER_VALUE');
        assertNoLeak(res, 'the refusal of a malformed password');
      });

      it('bearer tokens, known and unknown', async () => {
        assertOk(await send('API token use', 'POST', '/api/2.0/mlflow/experiments/create', { name: 'leak-check' }, asOwner()));
        assertOk(await send('session token use', 'GET', `${CAPSTAN}/auth/whoami`, undefined, { authorization: `Bearer ${sessionToken}` }));
        assertError(await send('unknown token', 'GET', `${CAPSTAN}/auth/whoami`, undefined, { authorization: `Bearer ${UNKNOWN_TOKEN}` }), 'UNAUTHENTICATED');
      });

      it('a password set for an account', async () => {
        assertOk(await send('password change', 'PATCH', `${CAPSTAN}/accounts/${USER}`, { password: USER_PASSWORD }, asOwner()));
        assertError(await send('too-short password', 'PATCH', `${CAPSTAN}/accounts/${USER}`, { password: 'short' }, asOwner()), 'INVALID_PARAMETER_VALUE');
      });
    });

    describe('(e) what the API gives back', () => {
      it('the audit export holds no planted value', async () => {
        const res = await send('audit export', 'GET', `${CAPSTAN}/audit/events?max_results=10000`, undefined, asOwner());
        const { events } = assertOk(res);
        assert.ok(events.length > 10);
        assert.ok(events.some((e: { action: string }) => e.action === `PUT ${CAPSTAN}/projects/:project/secrets/:name`), 'setting a secret is audited');
        assertNoLeak(res, 'the audit export');
      });

      it('no response body or header holds a planted value it was not meant to carry', () => {
        assert.ok(responses.length > 20);
        assert.ok(responses.some((r) => r.status >= 400));
        const leaks = responses.flatMap((r) => leaksIn(r.text, r.allowed).map((what) => `${r.label} (${r.status}): ${what}`));
        assert.deepEqual(leaks, []);
      });

      it('no log line holds a planted value', () => {
        assert.ok(lines.length > 20);
        const leaks = lines.flatMap((line) => leaksIn(line).map((what) => `${what} in ${line.slice(0, 300)}`));
        assert.deepEqual(leaks, []);
      });

      it('no audit row holds a planted value', async () => {
        const rows = await platform.db.all('SELECT * FROM audit_events ORDER BY seq');
        assert.ok(rows.length > 10);
        const leaks = rows.flatMap((row) => leaksIn(JSON.stringify(row)).map((what) => `${what} in event ${String(row.seq)}`));
        assert.deepEqual(leaks, []);
        assert.equal((await platform.audit.verify()).ok, true);
      });
    });
  });
}
