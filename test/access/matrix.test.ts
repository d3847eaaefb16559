// Authorization matrix, on SQLite and PostgreSQL: every operation in the OpenAPI document is called
// with valid inputs as each principal below (anonymous, each project role, the owner, dead, foreign
// and narrow tokens, a password user), and the answer is compared with what the operation's declared
// access (x-capstan-access) allows that principal. Every unexpected allow and unexpected deny is
// collected and reported at once, so a failure shows the whole picture.
import { randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { KeyRing } from '../../src/access/index.js';
import { testDatabases } from '../support/databases.js';
import { startTestPlatform, type TestPlatform } from '../support/platform.js';
import { basicAuth } from '../support/inject.js';

type Action = 'read' | 'write' | 'deploy' | 'delete' | 'admin';
type Role = 'viewer' | 'editor' | 'deployer' | 'admin';
type Scope = 'read' | 'write' | 'deploy' | 'admin';
type Access = { action: Action; minimum_role: Role | 'owner' } | { signed_in: string } | { public: string };

/** The permission model as documented, restated here so the test does not trust the code it checks. */
const ROLE_ACTIONS: Record<Role, readonly Action[]> = {
  viewer: ['read'],
  editor: ['read', 'write'],
  deployer: ['read', 'write', 'deploy'],
  admin: ['read', 'write', 'deploy', 'delete', 'admin'],
};
const SCOPE_ACTIONS: Record<Scope, readonly Action[]> = { read: ['read'], write: ['read', 'write'], deploy: ['read', 'deploy'], admin: ROLE_ACTIONS.admin };
const WEAKEST_ROLE: Record<Action, Role> = { read: 'viewer', write: 'editor', deploy: 'deployer', delete: 'admin', admin: 'admin' };

const OWNER_NAME = 'root';
const OWNER_PASSWORD = 'root-password-123';
const USER_NAME = 'u-editor';
const USER_PASSWORD = 'user-password-123';
/** A robot no principal depends on: the target of member, account and token routes. */
const BYSTANDER = 'r-bystander';
const MLFLOW = '/api/2.0/mlflow';
const ARTIFACTS = '/api/2.0/mlflow-artifacts';

/**
 * Operations the matrix cannot exercise, each with the reason. Empty today: every operation gets
 * valid inputs below. The test fails if an entry names an operation the document does not have.
 */
const EXCLUDED: Record<string, string> = {};

interface Schema {
  type?: string;
  enum?: string[];
  oneOf?: Schema[];
  items?: Schema;
  properties?: Record<string, Schema>;
  required?: string[];
}

interface Operation {
  method: string;
  path: string;
  access: Access | undefined;
  /** Query parameters (GET) or JSON body, as one object schema; absent when the route takes neither. */
  fields: Schema | undefined;
  isQuery: boolean;
  isStreaming: boolean;
}

const keyOf = (op: { method: string; path: string }) => `${op.method} ${op.path}`;
/** The /ajax-api mirrors behave as their /api originals. */
const canonical = (op: Operation) => keyOf({ method: op.method, path: op.path.replace(/^\/ajax-api\//, '/api/') });

function operationsOf(doc: { paths: Record<string, Record<string, any>> }): Operation[] {
  const ops: Operation[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const query: { name: string; required: boolean; schema: Schema }[] = (op.parameters ?? []).filter((p: { in: string }) => p.in === 'query');
      const body: Schema | undefined = op.requestBody?.content?.['application/json']?.schema;
      const fields = body ?? (query.length ? { type: 'object', properties: Object.fromEntries(query.map((q) => [q.name, q.schema])), required: query.filter((q) => q.required).map((q) => q.name) } : undefined);
      ops.push({ method: method.toUpperCase(), path, access: op['x-capstan-access'], fields, isQuery: !body, isStreaming: !!op.requestBody?.content?.['application/octet-stream'] });
    }
  }
  return ops;
}

interface Principal {
  name: string;
  authorization?: string;
  /** Presents live credentials. */
  signedIn: boolean;
  owner?: boolean;
  role?: Role;
  /** Scopes of the API token; absent for credentials that carry the account's full rights. */
  scopes?: Scope[];
  /** The project the token is restricted to. */
  tokenProject?: string;
}

/** null: the server itself (accounts, creating and deleting projects, audit); only owners act there. */
function resourceProject(op: Operation): string | null {
  if (!op.path.startsWith('/api/capstan/')) return 'p';
  // The registry, datasets, lineage and deployments act inside the request's project.
  if (/^\/api\/capstan\/(registry|datasets|lineage|deployments|monitors|alerts|cost|pipelines)\//.test(op.path)) return 'p';
  const onProject = op.path.startsWith('/api/capstan/projects/{project}/') || (op.path === '/api/capstan/projects/{project}' && op.method !== 'DELETE');
  return onProject ? 'p' : null;
}

function mayAct(who: Principal, action: Action, project: string | null): boolean {
  if (!who.signedIn) return false;
  if (who.scopes && !who.scopes.some((s) => SCOPE_ACTIONS[s].includes(action))) return false;
  if (who.tokenProject !== undefined && who.tokenProject !== project) return false;
  if (who.owner) return true;
  return project !== null && who.role !== undefined && ROLE_ACTIONS[who.role].includes(action);
}

/** Per-case values of the objects requests name; destructive cases get fresh ones. */
interface Targets {
  experimentId: string;
  experimentName: string;
  runId: string;
  project: string;
  account: string;
  tokenId: string;
  file: string;
  uploadUrl: string;
  loggedModelId: string;
}

let counter = 0;
const unique = (prefix = 'mx') => `${prefix}-${process.pid}-${++counter}`;

/** Body and query fields by name. */
function fieldTable(t: Targets): Record<string, unknown> {
  const name = unique();
  return {
    experiment_id: t.experimentId, experiment_ids: [t.experimentId], experiment_name: t.experimentName,
    run_id: t.runId, run_uuid: t.runId, run_ids: [t.runId],
    name, new_name: unique(), key: 'k', value: 'value-1', metric_key: 'm', timestamp: Date.now(), max_results: 10,
    model_json: JSON.stringify({ artifact_path: 'model', flavors: {} }),
    digest: 'd1', source_type: 'local', source: 'file:///data',
    scopes: ['read'], role: 'viewer', kind: 'robot', disabled: false,
    path: t.experimentId, num_parts: 1, part_number: 1, upload_id: randomUUID(),
    version: '1', alias: 'champion', stage: 'Staging', uri: 'models:/m/1', text: 'retention:\n  keep_last: 100\n',
  };
}

/** Whole-body overrides for fields the table cannot give generically. */
const OVERRIDES: Record<string, () => Record<string, unknown>> = {
  'POST /api/capstan/auth/login': () => ({ username: USER_NAME, password: USER_PASSWORD }),
  // Public; without single sign-on set up it answers INVALID_STATE, which the matrix counts as allowed.
  'POST /api/capstan/auth/oidc/callback': () => ({ code: 'c', code_verifier: 'v'.repeat(43), redirect_uri: 'http://127.0.0.1/ui/oidc/callback' }),
  'POST /api/capstan/deployments/set-traffic': () => ({ name: unique(), traffic: { stable: 100 } }),
  'GET /api/capstan/monitors/report': () => ({ name: unique() }),
  'GET /api/capstan/monitors/deployment-report': () => ({ deployment: unique(), window: '1h' }),
  'GET /api/capstan/monitors/window-data': () => ({ name: unique(), start: 0, end: 1 }),
  'POST /api/capstan/monitors/profiles/create': () => ({ model: unique(), version: 1, csv: 'a,b\n1,x\n' }),
  'GET /api/capstan/monitors/profiles/get': () => ({ model: unique(), version: 1 }),
  'POST /api/capstan/monitors/feedback': () => ({ deployment: unique(), labels: [{ request_id: unique(), label: 1 }] }),
  'GET /api/capstan/alerts/list': () => ({}),
  'GET /api/capstan/alerts/get': () => ({ alert_id: 1 }),
  'POST /api/capstan/alerts/silences/create': () => ({ matchers: [{ label: 'deployment', value: 'd' }], duration: '1h', comment: 'maintenance' }),
  'POST /api/capstan/alerts/silences/expire': () => ({ silence_id: 1 }),
  'POST /api/capstan/alerts/channels/put': () => ({ name: unique(), kind: 'webhook', url: 'http://127.0.0.1:9/hook' }),
  'GET /api/capstan/cost/report': () => ({}),
  'GET /api/capstan/cost/idle': () => ({}),
  'POST /api/capstan/cost/budget': () => ({ monthly_limit: 100 }),
  'POST /api/capstan/pipelines/validate': () => ({ yaml: 'name: p\nsteps:\n  a:\n    run: echo\n' }),
  'POST /api/capstan/pipelines/apply': () => ({ yaml: `name: ${unique()}\nsteps:\n  a:\n    run: echo\n` }),
  'POST /api/capstan/pipelines/runs/create': () => ({ yaml: `name: ${unique()}\nsteps:\n  a:\n    run: 'true'\n` }),
  'GET /api/capstan/pipelines/runs/logs': () => ({ run_id: unique() }),
};

function valueFor(name: string, schema: Schema, table: Record<string, unknown>, where: string): unknown {
  const given = table[name];
  if (schema.oneOf) return 1.5;
  switch (schema.type) {
    case 'object':
      return objectFor(schema, table, where);
    case 'array':
      if (given !== undefined) return Array.isArray(given) ? given : [given];
      return [valueFor(name, schema.items ?? {}, table, `${where}[0]`)];
    case 'boolean':
      return typeof given === 'boolean' ? given : false;
    case 'integer':
      if (typeof given === 'number') return given;
      if (typeof given === 'string' && /^\d+$/.test(given)) return Number(given);
      break;
    case 'string':
      if (typeof given === 'string') return given;
      if (schema.enum) return schema.enum[0];
      break;
  }
  throw new Error(`no value for field '${where}' (${schema.type ?? 'any'}); add it to the field table or OVERRIDES`);
}

/** Required fields always; optional ones when the table knows them. */
function objectFor(schema: Schema, table: Record<string, unknown>, where: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, s] of Object.entries(schema.properties ?? {})) {
    if (!(schema.required ?? []).includes(name) && !(name in table)) continue;
    out[name] = valueFor(name, s, table, where ? `${where}.${name}` : name);
  }
  return out;
}

const asQuery = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, Array.isArray(v) ? v.map(String) : String(v)]));

function requestFor(op: Operation, t: Targets, who: Principal): InjectOptions {
  const headers: Record<string, string> = { 'x-capstan-project': 'p', ...(who.authorization ? { authorization: who.authorization } : {}) };
  const params: Record<string, string> = {
    project: t.project, account: t.account, token_id: t.tokenId, name: 'MY_SECRET', model_id: t.loggedModelId, tag_key: 'k', upload_id: `${Date.now()}-${randomUUID()}`, version: '1', file: 'missing.js',
  };
  const url = op.path.includes('/mpu/upload/{upload_id}')
    ? t.uploadUrl
    : op.path.replace(/\{(\w+)\}/g, (_m, n: string) => {
        if (n === 'path') return `${t.experimentId}/${t.runId}/artifacts/${t.file}`;
        if (params[n] === undefined) throw new Error(`no value for path parameter {${n}}`);
        return encodeURIComponent(params[n]);
      });
  const method = op.method as InjectOptions['method'];
  if (op.isStreaming) return { method, url, headers: { ...headers, 'content-type': 'application/octet-stream' }, payload: Buffer.from('hello') };
  const override = OVERRIDES[canonical(op)];
  const fields = override ? override() : op.fields ? objectFor(op.fields, fieldTable(t), '') : undefined;
  if (!fields) return { method, url, headers };
  if (op.isQuery) return { method, url, headers, query: asQuery(fields) };
  return { method, url, headers: { ...headers, 'content-type': 'application/json' }, payload: JSON.stringify(fields) };
}

const BACKENDS = await testDatabases();

for (const { db, skip } of BACKENDS) {
  describe(`authorization matrix over every documented route (${db.name})`, { skip }, async () => {
    if (skip) return;
    const database = await db.create();
    const tp: TestPlatform = await startTestPlatform({
      'auth.mode': 'on',
      'auth.bootstrap_owner': OWNER_NAME,
      'auth.bootstrap_password': OWNER_PASSWORD,
      'auth.cache_ms': 0,
      'server.rate_limit_rps': 0,
      'secrets.key': KeyRing.generate('matrix'),
      'store.database_uri': database.uri,
    });
    after(async () => {
      await tp.close();
      await database.drop();
    });

    const login = await tp.app.inject({ method: 'POST', url: '/api/capstan/auth/login', payload: { username: OWNER_NAME, password: OWNER_PASSWORD } });
    assert.equal(login.statusCode, 200, login.body);
    const ownerAuth = `Bearer ${JSON.parse(login.body).token as string}`;
    /**
     * A request as the owner that must succeed; its JSON answer. MLflow routes act in project p; the
     * others go without the header, as naming p before it exists would cache its absence for a second.
     */
    const asOwner = async (method: InjectOptions['method'], url: string, payload?: unknown): Promise<any> => {
      const headers = { authorization: ownerAuth, ...(url.startsWith('/api/capstan/') ? {} : { 'x-capstan-project': 'p' }) };
      const res = await tp.app.inject({ method, url, headers, ...(payload === undefined ? {} : typeof payload === 'string' ? { payload } : { payload: payload as object }) });
      assert.ok(res.statusCode < 300, `setup ${method} ${url} answered ${res.statusCode}: ${res.body}`);
      return res.body ? JSON.parse(res.body) : {};
    };
    const robot = async (name: string, role: Role | null) => {
      await asOwner('POST', '/api/capstan/accounts', { name, kind: 'robot' });
      if (role) await asOwner('PUT', `/api/capstan/projects/p/members/${name}`, { role });
    };
    const mint = async (account: string, scopes: Scope[], project?: string): Promise<{ token: string; id: string }> => {
      const r = await asOwner('POST', '/api/capstan/tokens', { name: unique('token'), scopes, account, ...(project ? { project } : {}) });
      return { token: r.token, id: r.info.token_id };
    };
    const newExperiment = async () => (await asOwner('POST', `${MLFLOW}/experiments/create`, { name: unique('exp') })).experiment_id as string;
    const newRun = async (experimentId: string) => (await asOwner('POST', `${MLFLOW}/runs/create`, { experiment_id: experimentId })).run.info.run_id as string;

    await asOwner('POST', '/api/capstan/projects', { name: 'p' });
    await asOwner('POST', '/api/capstan/projects', { name: 'q' });
    await robot(BYSTANDER, null);
    await asOwner('POST', '/api/capstan/accounts', { name: USER_NAME, kind: 'user', password: USER_PASSWORD });
    await asOwner('PUT', `/api/capstan/projects/p/members/${USER_NAME}`, { role: 'editor' });
    const principals: Principal[] = [
      { name: 'anonymous', signedIn: false },
      { name: 'owner', authorization: ownerAuth, signedIn: true, owner: true },
      { name: 'basic-user(editor)', authorization: basicAuth(USER_NAME, USER_PASSWORD), signedIn: true, role: 'editor' },
    ];
    for (const role of ['viewer', 'editor', 'deployer', 'admin'] as const) {
      await robot(`r-${role}`, role);
      principals.push({ name: role, authorization: `Bearer ${(await mint(`r-${role}`, ['admin'])).token}`, signedIn: true, role, scopes: ['admin'] });
    }
    await robot('r-expired', 'admin');
    const expired = await mint('r-expired', ['admin']);
    await tp.platform.db.run('UPDATE api_tokens SET expires_at = 1 WHERE token_id = ?', [Number(expired.id)]);
    principals.push({ name: 'expired-token', authorization: `Bearer ${expired.token}`, signedIn: false });
    await robot('r-revoked', 'admin');
    const revoked = await mint('r-revoked', ['admin']);
    await asOwner('DELETE', `/api/capstan/tokens/${revoked.id}`);
    principals.push({ name: 'revoked-token', authorization: `Bearer ${revoked.token}`, signedIn: false });
    await robot('r-other', 'admin');
    principals.push({ name: 'token-for-project-q', authorization: `Bearer ${(await mint('r-other', ['admin'], 'q')).token}`, signedIn: true, role: 'admin', scopes: ['admin'], tokenProject: 'q' });
    await robot('r-narrow', 'admin');
    principals.push({ name: 'read-scope-token', authorization: `Bearer ${(await mint('r-narrow', ['read'])).token}`, signedIn: true, role: 'admin', scopes: ['read'] });

    const experimentName = unique('exp');
    const experimentId = (await asOwner('POST', `${MLFLOW}/experiments/create`, { name: experimentName })).experiment_id as string;
    const runId = await newRun(experimentId);
    await asOwner('PUT', `${ARTIFACTS}/artifacts/${experimentId}/${runId}/artifacts/x.txt`, 'hello');
    const loggedModelId = (await asOwner('POST', `${MLFLOW}/logged-models`, { experiment_id: experimentId, name: 'lm' })).model.info.model_id as string;
    const base: Targets = { experimentId, experimentName, runId, project: 'p', account: BYSTANDER, tokenId: '0', file: 'x.txt', uploadUrl: '', loggedModelId };

    /** Fresh targets for the cases that destroy what they name, so no case depends on an earlier one. */
    const PREPARE: Record<string, (op: Operation) => Promise<Partial<Targets>>> = {
      [`POST ${MLFLOW}/experiments/delete`]: async () => ({ experimentId: await newExperiment() }),
      [`POST ${MLFLOW}/experiments/update`]: async () => ({ experimentId: await newExperiment() }),
      [`POST ${MLFLOW}/runs/delete`]: async () => ({ runId: await newRun(experimentId) }),
      [`DELETE ${MLFLOW}/logged-models/{model_id}`]: async () => ({ loggedModelId: (await asOwner('POST', `${MLFLOW}/logged-models`, { experiment_id: experimentId, name: 'lm' })).model.info.model_id }),
      [`DELETE ${ARTIFACTS}/artifacts/{path}`]: async () => {
        const file = `${unique('del')}.txt`;
        await asOwner('PUT', `${ARTIFACTS}/artifacts/${experimentId}/${runId}/artifacts/${file}`, 'bye');
        return { file };
      },
      'DELETE /api/capstan/projects/{project}': async () => ({ project: (await asOwner('POST', '/api/capstan/projects', { name: unique('gone') })).project.name }),
      'DELETE /api/capstan/projects/{project}/members/{account}': async () => (await asOwner('PUT', `/api/capstan/projects/p/members/${BYSTANDER}`, { role: 'viewer' }), {}),
      'DELETE /api/capstan/tokens/{token_id}': async () => ({ tokenId: (await mint(BYSTANDER, ['read'])).id }),
      [`PUT ${ARTIFACTS}/mpu/upload/{upload_id}/{part_number}`]: async (op) => {
        const prefix = op.path.slice(0, op.path.indexOf('/mpu/'));
        const created = await asOwner('POST', `${prefix}/mpu/create/${experimentId}/${runId}/artifacts`, { path: 'big.bin', num_parts: 1 });
        const url = new URL(created.credentials[0].url as string);
        return { uploadUrl: `${url.pathname}${url.search}` };
      },
    };

    const doc = JSON.parse((await tp.app.inject({ method: 'GET', url: '/api/openapi.json' })).body);
    const ops = operationsOf(doc);

    it('reads the operations and their declared access from the OpenAPI document', () => {
      assert.ok(ops.length >= 60, `only ${ops.length} operations documented`);
      const undeclared = ops.filter((o) => !o.access).map(keyOf);
      assert.deepEqual(undeclared, [], 'operations without x-capstan-access');
      const unknown = Object.keys(EXCLUDED).filter((k) => !ops.some((o) => keyOf(o) === k));
      assert.deepEqual(unknown, [], 'EXCLUDED names operations the document does not have');
      for (const key of Object.keys(PREPARE)) assert.ok(ops.some((o) => canonical(o) === key), `PREPARE names unknown operation ${key}`);
      for (const key of Object.keys(OVERRIDES)) assert.ok(ops.some((o) => canonical(o) === key), `OVERRIDES names unknown operation ${key}`);
    });

    it('every operation × principal is allowed or denied exactly as declared', async (t) => {
      const mismatches: string[] = [];
      let cases = 0;
      for (const op of ops) {
        if (!op.access || EXCLUDED[keyOf(op)]) continue;
        const access = op.access;
        // The declaration must agree with the model: 'owner' exactly on server-wide routes, else the weakest role allowed the action.
        if ('action' in access && access.minimum_role !== (resourceProject(op) === null ? 'owner' : WEAKEST_ROLE[access.action])) {
          mismatches.push(`declared minimum_role ${access.minimum_role} for ${access.action}: ${keyOf(op)}`);
        }
        for (const who of principals) {
          let res: LightMyRequestResponse;
          try {
            const targets = { ...base, ...(await PREPARE[canonical(op)]?.(op)) };
            res = await tp.app.inject(requestFor(op, targets, who));
          } catch (err) {
            mismatches.push(`could not call ${keyOf(op)} as ${who.name}: ${(err as Error).message}`);
            continue;
          }
          cases++;
          const status = res.statusCode;
          const denied = status === 401 || status === 403;
          const where = `${who.name} ${keyOf(op)} → ${status}${denied ? ` ${res.body.slice(0, 160)}` : ''}`;
          if ('public' in access) {
            if (denied) mismatches.push(`unexpected deny: ${where}`);
            continue;
          }
          if (!who.signedIn) {
            // Missing, expired and revoked credentials are refused before anything else, on every non-public route.
            if (status !== 401) mismatches.push(`${denied ? 'wrong refusal (want 401)' : 'unexpected allow'}: ${where}`);
            continue;
          }
          if ('signed_in' in access) {
            // Any live credential gets in; the service may still refuse particular inputs with 403.
            if (status === 401) mismatches.push(`unexpected deny: ${where}`);
            continue;
          }
          const allowed = mayAct(who, access.action, resourceProject(op));
          if (allowed && denied) mismatches.push(`unexpected deny: ${where}`);
          else if (!allowed && !denied) mismatches.push(`unexpected allow: ${where}`);
          else if (!allowed && status !== 403) mismatches.push(`wrong refusal (want 403): ${where}`);
        }
      }
      t.diagnostic(`${cases} (operation × principal) cases checked over ${ops.length} operations and ${principals.length} principals on ${db.name}`);
      assert.ok(cases > 0, 'no cases were checked');
      assert.deepEqual(mismatches, [], `${mismatches.length} mismatches:\n${mismatches.join('\n')}`);
    });
  });
}
