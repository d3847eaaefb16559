// The access-control CLI against a real server process with authentication on: the first owner
// from `capstan admin create`, `login` keeping a session per URL, projects, accounts, members,
// tokens shown once, secrets never printed back, and the audit log verified and exported.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, startServer, type ServerProcess } from '../support/server-process.js';

const PASSWORD = 'owner-password-42';
const SECRET = 'sk-live-5f2a9c7e1b';

describe('access control from the command line', () => {
  let dataDir: string;
  let home: string;
  let server: ServerProcess;
  const env = () => ({ XDG_CONFIG_HOME: home, CAPSTAN_URL: server.url });
  const cli = (args: string[], input?: string, extra: Record<string, string> = {}) => runCli(args, { ...env(), ...extra }, undefined, input);

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'capstan-cli-access-'));
    home = mkdtempSync(join(tmpdir(), 'capstan-cli-home-'));
    const created = await runCli(['admin', 'create', 'root', '--data', dataDir], {}, undefined, `${PASSWORD}\n`);
    assert.equal(created.code, 0, created.stderr);
    server = await startServer({ dataDir, env: { CAPSTAN_AUTH_MODE: 'on' } });
  });
  after(async () => {
    await server?.stop();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(home, { recursive: true, force: true });
  });

  it('refuses a second admin create', async () => {
    const again = await runCli(['admin', 'create', 'other', '--data', dataDir], {}, undefined, `${PASSWORD}\n`);
    assert.notEqual(again.code, 0);
    assert.match(again.stderr, /owner account already exists/);
  });

  it('needs a login, then keeps the session in a private file', async () => {
    const anonymous = await cli(['projects', 'list']);
    assert.equal(anonymous.code, 1);
    assert.match(anonymous.stderr, /UNAUTHENTICATED/);
    const wrong = await cli(['login', '-u', 'root'], 'not-the-password\n');
    assert.equal(wrong.code, 1);
    const login = await cli(['login', '-u', 'root'], `${PASSWORD}\n`);
    assert.equal(login.code, 0, login.stderr);
    const file = join(home, 'capstan', 'credentials.json');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.ok(JSON.parse(readFileSync(file, 'utf8'))[server.url].token.startsWith('capstan_'));
    assert.match((await cli(['projects', 'list'])).stdout, /default/);
  });

  it('creates a project, a robot member and a project token that works only there', async () => {
    assert.equal((await cli(['projects', 'create', 'vision'])).code, 0);
    assert.equal((await cli(['accounts', 'create', 'ci-bot', '--robot'])).code, 0);
    assert.equal((await cli(['members', 'add', 'vision', 'ci-bot', 'editor'])).code, 0);
    assert.match((await cli(['members', 'list', 'vision'])).stdout, /ci-bot\s+editor/);
    const created = await cli(['tokens', 'create', 'nightly', '--scopes', 'write', '--for-project', 'vision', '--account', 'ci-bot']);
    assert.equal(created.code, 0, created.stderr);
    const token = created.stdout.trim();
    assert.match(token, /^capstan_[\w-]{43}$/);
    const inVision = await cli(['experiments', 'create', 'cli-exp', '--token', token]);
    assert.equal(inVision.code, 0, inVision.stderr);
    const elsewhere = await cli(['experiments', 'list', '--token', token, '--project', 'default']);
    assert.equal(elsewhere.code, 1);
    assert.match(elsewhere.stderr, /PERMISSION_DENIED/);
    const listed = await cli(['tokens', 'list', '--json']);
    assert.ok(!listed.stdout.includes(token), 'a token value was listed');
  });

  it('stores a secret without ever printing it', async () => {
    assert.equal((await cli(['secrets', 'set', 'vision', 'HF_TOKEN'], `${SECRET}\n`)).code, 0);
    const listed = await cli(['secrets', 'list', 'vision']);
    assert.match(listed.stdout, /HF_TOKEN/);
    assert.ok(!listed.stdout.includes(SECRET));
    assert.ok(!server.stdout().includes(SECRET), 'the secret reached the server log');
  });

  it('verifies and exports the audit log', async () => {
    const verified = await cli(['audit', 'verify']);
    assert.equal(verified.code, 0, verified.stderr);
    assert.match(verified.stdout, /audit log intact/);
    const exported = await cli(['audit', 'export']);
    const events = exported.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.ok(events.some((e) => e.action === 'admin create' && e.resource === 'account:root'));
    assert.ok(events.some((e) => e.action === 'PUT /api/capstan/projects/:project/secrets/:name' && e.project === 'vision'));
    assert.ok(!exported.stdout.includes(SECRET));
  });
});
