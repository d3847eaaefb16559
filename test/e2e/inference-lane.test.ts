// Inference over real sockets, where the server answers it ahead of the web framework (the fast
// lane), with authentication on: credentials, project roles and project-bound tokens decide as on
// every other route, refusals are audited, errors keep their shape, and the request metrics count.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CapstanClient } from '../../src/client/index.js';
import { fixtureModel } from '../support/models.js';
import { httpRequest, runCli, startServer, type ServerProcess } from '../support/server-process.js';

const PASSWORD = 'owner-password-42';
const mlp = fixtureModel('tabular_mlp');
const ex = mlp.sidecar.examples[0];
const body = { id: 'lane-1', inputs: [{ name: 'input', ...ex.inputs.input }] };

describe('inference on the fast lane with authentication on', () => {
  let dataDir: string;
  let server: ServerProcess;
  let viewer: string;
  let elsewhere: string;

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'capstan-lane-'));
    const created = await runCli(['admin', 'create', 'root', '--data', dataDir], {}, undefined, `${PASSWORD}\n`);
    assert.equal(created.code, 0, created.stderr);
    server = await startServer({ dataDir, env: { CAPSTAN_AUTH_MODE: 'on', CAPSTAN_AUTH_CACHE_MS: '0' } });
    const { token } = await new CapstanClient({ url: server.url }).login('root', PASSWORD);
    const owner = new CapstanClient({ url: server.url, token });
    await owner.createProject('risk');
    await owner.createProject('other');
    await owner.createAccount({ name: 'app', kind: 'robot' });
    await owner.setMember('risk', 'app', 'viewer');
    viewer = (await owner.createToken({ name: 'app', scopes: ['read'], project: 'risk', account: 'app' })).token;
    elsewhere = (await owner.createToken({ name: 'app-other', scopes: ['read'], project: 'other', account: 'app' })).token;
    const inRisk = new CapstanClient({ url: server.url, token, project: 'risk' });
    const registered = await runCli(['models', 'register', 'cancer', join('test', 'fixtures', 'onnx', 'tabular_mlp.onnx')], { CAPSTAN_URL: server.url, CAPSTAN_TOKEN: token, CAPSTAN_PROJECT: 'risk' });
    assert.equal(registered.code, 0, registered.stderr);
    await inRisk.applyDeployment('name: cancer\nmodel: cancer\ntargets:\n  stable: {version: 1}\n');
  });
  after(async () => {
    await server?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('answers a viewer of the project, by header and by path prefix, with the security headers', async () => {
    const auth = { authorization: `Bearer ${viewer}` };
    const byHeader = await httpRequest(server.url, 'POST', '/v2/models/cancer/infer', body, { ...auth, 'x-capstan-project': 'risk', 'x-request-id': 'lane-req-1' });
    assert.equal(byHeader.status, 200, byHeader.text);
    assert.equal(byHeader.json.id, 'lane-1');
    assert.equal(byHeader.headers.get('x-request-id'), 'lane-req-1');
    assert.equal(byHeader.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(byHeader.headers.get('x-capstan-target'), 'stable');
    // A project-bound token needs no header: its project is the request's.
    assert.equal((await httpRequest(server.url, 'POST', '/v2/models/cancer/infer', body, auth)).status, 200);
    assert.equal((await httpRequest(server.url, 'POST', '/projects/risk/v2/models/cancer/versions/1/infer', body, auth)).status, 200);
    const v1 = await httpRequest(server.url, 'POST', '/v1/models/cancer:predict', { instances: [ex.inputs.input.data.slice(0, 30)] }, auth);
    assert.equal(v1.status, 200, v1.text);
    assert.equal(v1.json.predictions.length, 1);
  });

  it('refuses missing credentials and a token of another project, in the protocol shape, and audits both', async () => {
    const anonymous = await httpRequest(server.url, 'POST', '/v2/models/cancer/infer', body, { 'x-capstan-project': 'risk' });
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.json.error_code, 'UNAUTHENTICATED');
    assert.equal(anonymous.json.error, anonymous.json.message);
    assert.match(anonymous.headers.get('www-authenticate') ?? '', /Bearer/);
    const other = await httpRequest(server.url, 'POST', '/v2/models/cancer/infer', body, { authorization: `Bearer ${elsewhere}`, 'x-capstan-project': 'risk' });
    assert.equal(other.status, 403, other.text);
    assert.equal(other.json.error_code, 'PERMISSION_DENIED');
    const denial = await server.waitForLog((l) => l.route === '/v2/models/:name/infer' && l.status === 403);
    assert.equal(denial.error_code, 'PERMISSION_DENIED');
    const { token } = await new CapstanClient({ url: server.url }).login('root', PASSWORD);
    const audit = await httpRequest(server.url, 'GET', '/api/capstan/audit/events?max_results=1000', undefined, { authorization: `Bearer ${token}` });
    const refusals = JSON.stringify(audit.json);
    assert.ok(refusals.includes('"outcome":"denied"') && refusals.includes('POST /v2/models/:name/infer'), refusals.slice(0, 400));
  });

  it('answers bad input and unknown deployments in the one error shape, keeping the connection usable', async () => {
    const auth = { authorization: `Bearer ${viewer}` };
    const bad = await httpRequest(server.url, 'POST', '/v2/models/cancer/infer', { inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] }] }, auth);
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error_code, 'MODEL_INPUT_INVALID');
    const unknown = await httpRequest(server.url, 'POST', '/v2/models/nope/infer', body, auth);
    assert.equal(unknown.status, 404);
    assert.equal(unknown.json.error_code, 'RESOURCE_DOES_NOT_EXIST');
    const malformed = await httpRequest(server.url, 'POST', '/v2/models/%E0%A4%A/infer', body, auth);
    assert.equal(malformed.status, 400);
    assert.equal(malformed.json.error_code, 'BAD_REQUEST');
    assert.equal((await httpRequest(server.url, 'POST', '/v2/models/cancer/infer', body, auth)).status, 200);
  });

  it('counts lane requests in the request metrics', async () => {
    const metrics = (await httpRequest(server.url, 'GET', '/metrics')).text;
    assert.match(metrics, /capstan_http_requests_total\{method="POST",route="\/v2\/models\/:name\/infer",status="200"\} [1-9]/);
    assert.match(metrics, /capstan_http_requests_total\{method="POST",route="\/v2\/models\/:name\/infer",status="401"\} 1/);
    assert.match(metrics, /capstan_inference_requests_total\{deployment="cancer",model="cancer",version="1",outcome="success"\} [1-9]/);
  });
});
