// Pipelines against a real server process: `capstan pipelines run` follows a run to its end, a step
// that logs through the MLflow REST API lands in its own tracked run and its metric becomes the
// step's output, and a server killed with SIGKILL mid-pipeline resumes the run after a restart —
// the finished step keeps its result, the interrupted one runs again.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CapstanClient } from '../../src/client/index.js';
import { httpRequest, runCli, startServer, type ServerProcess } from '../support/server-process.js';

const ENV = { CAPSTAN_PIPELINES_TICK_MS: '100', CAPSTAN_PIPELINES_LEASE_SECONDS: '2', CAPSTAN_LOG_LEVEL: 'info' };

// A step written the way an MLflow user writes one: it reads MLFLOW_TRACKING_URI and MLFLOW_RUN_ID.
const MLFLOW_STEP = `
const base = process.env.MLFLOW_TRACKING_URI + '/api/2.0/mlflow';
const body = { run_id: process.env.MLFLOW_RUN_ID, metrics: [{ key: 'acc', value: 0.97, timestamp: Date.now(), step: 0 }], params: [{ key: 'solver', value: 'lbfgs' }] };
const res = await fetch(base + '/runs/log-batch', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
if (!res.ok) { console.error('log-batch failed', res.status, await res.text()); process.exit(3); }
console.log('logged through MLflow');
`;

describe('pipelines on a server process', () => {
  let dir: string;
  let server: ServerProcess;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'capstan-pipe-e2e-'));
    writeFileSync(join(dir, 'log.mjs'), MLFLOW_STEP);
    server = await startServer({ dataDir: join(dir, 'data'), env: ENV });
  });
  after(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs a pipeline from the CLI; a step logging through MLflow reports its metric', async () => {
    const file = join(dir, 'train.yaml');
    writeFileSync(file, `name: mlflow-step\nparams:\n  who: {type: string, default: world}\nsteps:\n  hello:\n    run: echo hello \${{ params.who }}\n  train:\n    needs: [hello]\n    run: [node, ${JSON.stringify(join(dir, 'log.mjs'))}]\n    outputs: {metrics: [acc]}\n`);
    const r = await runCli(['pipelines', 'run', file, '-p', 'who=capstan', '--url', server.url]);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /hello \| hello capstan/);
    assert.match(r.stdout, /train \| logged through MLflow/);
    assert.match(r.stdout, /train\s+succeeded\s+1\s+acc=0\.97/);
    assert.match(r.stdout, /run [0-9a-f]{32} succeeded/);
    const runId = /run ([0-9a-f]{32}) succeeded/.exec(r.stdout)![1];
    const view = (await httpRequest(server.url, 'GET', `/api/capstan/pipelines/runs/get?run_id=${runId}`)).json;
    const train = view.steps.find((s: any) => s.step === 'train');
    const tracked = (await httpRequest(server.url, 'GET', `/api/2.0/mlflow/runs/get?run_id=${train.mlflow_run_id}`)).json.run;
    // What the step logged itself (the run's params are on the parent run).
    assert.deepEqual(tracked.data.params, [{ key: 'solver', value: 'lbfgs' }]);
    assert.equal(tracked.data.tags.find((t: any) => t.key === 'mlflow.parentRunId').value, view.run.mlflow_run_id);

    const bad = await runCli(['pipelines', 'run', file, '-p', 'nope=1', '--url', server.url]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /nope/);
  });

  it('capstan step fetch puts a step\'s inputs in place from the server (the Kubernetes init container)', async () => {
    const yaml = 'name: outputs\nsteps:\n  make:\n    run: "mkdir -p d/sub && echo one > d/a.txt && echo two > d/sub/b.txt"\n    outputs: {artifacts: {tree: d}}\n';
    const runId = (await httpRequest(server.url, 'POST', '/api/capstan/pipelines/runs/create', { yaml })).json.run.run_id;
    let v: any;
    for (let i = 0; i < 200; i++) {
      v = (await httpRequest(server.url, 'GET', `/api/capstan/pipelines/runs/get?run_id=${runId}`)).json;
      if (v.run.status !== 'queued' && v.run.status !== 'running') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const out = v.steps[0].outputs.tree;
    assert.deepEqual(out.files, ['a.txt', 'sub/b.txt']);
    const uri = (await httpRequest(server.url, 'GET', `/api/2.0/mlflow/runs/get?run_id=${out.run_id}`)).json.run.info.artifact_uri as string;
    const root = uri.replace(/^mlflow-artifacts:\/+/, '');
    const inputs = out.files.map((f: string) => ({ path: `inputs/make/tree/${f}`, url: `/api/2.0/mlflow-artifacts/artifacts/${root}/outputs/tree/${f}` }));
    const target = join(dir, 'fetched');
    const r = await runCli(['step', 'fetch', '--dir', target], { CAPSTAN_URL: server.url, CAPSTAN_STEP_INPUTS: JSON.stringify(inputs) });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readFileSync(join(target, 'inputs/make/tree/sub/b.txt'), 'utf8'), 'two\n');
    const escape = await runCli(['step', 'fetch', '--dir', target], { CAPSTAN_URL: server.url, CAPSTAN_STEP_INPUTS: JSON.stringify([{ path: '../x', url: inputs[0].url }]) });
    assert.equal(escape.code, 2);
    assert.match(escape.stderr, /leaves/);
  });

  it('resumes a pipeline run after the server is killed mid-step', async () => {
    const marker = join(dir, 'marker');
    const yaml = `name: resumable\nsteps:\n  first:\n    run: echo first\n    cache: false\n  slow:\n    needs: [first]\n    run: "echo started >> ${marker}; sleep 2; echo done"\n    cache: false\n  last:\n    needs: [slow]\n    run: echo last\n    cache: false\n`;
    const created = await httpRequest(server.url, 'POST', '/api/capstan/pipelines/runs/create', { yaml });
    assert.equal(created.status, 200, JSON.stringify(created.json));
    const runId = created.json.run.run_id;
    for (let i = 0; i < 200; i++) {
      const v = (await httpRequest(server.url, 'GET', `/api/capstan/pipelines/runs/get?run_id=${runId}`)).json;
      if (v.steps[1].status === 'running' && v.steps[1].attempts === 1) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    server.child.kill('SIGKILL');
    await server.exited;
    server = await startServer({ dataDir: join(dir, 'data'), env: ENV });
    let v: any;
    for (let i = 0; i < 300; i++) {
      v = (await httpRequest(server.url, 'GET', `/api/capstan/pipelines/runs/get?run_id=${runId}`)).json;
      if (!['queued', 'running'].includes(v.run.status)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(v.run.status, 'succeeded', JSON.stringify(v));
    assert.equal(v.steps[0].attempts, 1, 'the finished step is not run again');
    assert.equal(v.steps[1].attempts, 2, 'the interrupted step runs again');
    const logs = (await httpRequest(server.url, 'GET', `/api/capstan/pipelines/runs/logs?run_id=${runId}&step=slow`)).json;
    assert.ok(logs.lines.some((l: any) => /the replica running this step stopped/.test(l.line)), JSON.stringify(logs.lines));
  });
});

describe('pipelines with authentication on', () => {
  const PASSWORD = 'owner-password-42';
  let dir: string;
  let server: ServerProcess;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'capstan-pipe-auth-'));
    const created = await runCli(['admin', 'create', 'root', '--data', join(dir, 'data')], {}, undefined, `${PASSWORD}\n`);
    assert.equal(created.code, 0, created.stderr);
    server = await startServer({ dataDir: join(dir, 'data'), env: { CAPSTAN_AUTH_MODE: 'on', CAPSTAN_AUTH_CACHE_MS: '0', CAPSTAN_PIPELINES_TICK_MS: '100' } });
  });
  after(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("gives steps a project token that calls back as the run's owner, masked in logs and revoked when the run ends", async () => {
    const { token } = await new CapstanClient({ url: server.url }).login('root', PASSWORD);
    const auth = { authorization: `Bearer ${token}` };
    // The step saves its token to a file (to try it after the run) and prints it (to check masking).
    const yaml = `name: callback\nsteps:\n  call:\n    run: "echo $CAPSTAN_TOKEN > ${join(dir, 'token.txt')}; echo token=$CAPSTAN_TOKEN; capstan experiments list --url $CAPSTAN_URL >/dev/null && echo called back"\n    cache: false\n`;
    const created = await httpRequest(server.url, 'POST', '/api/capstan/pipelines/runs/create', { yaml }, auth);
    assert.equal(created.status, 200, JSON.stringify(created.json));
    const runId = created.json.run.run_id;
    let v: any;
    for (let i = 0; i < 200; i++) {
      v = (await httpRequest(server.url, 'GET', `/api/capstan/pipelines/runs/get?run_id=${runId}`, undefined, auth)).json;
      if (!['queued', 'running'].includes(v.run.status)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(v.run.status, 'succeeded', JSON.stringify(v));
    const lines = (await httpRequest(server.url, 'GET', `/api/capstan/pipelines/runs/logs?run_id=${runId}`, undefined, auth)).json.lines.map((l: any) => l.line);
    assert.ok(lines.includes('called back'), lines.join('\n'));
    assert.ok(lines.includes('token=[redacted]'), lines.join('\n'));
    const stepToken = readFileSync(join(dir, 'token.txt'), 'utf8').trim();
    assert.ok(stepToken.length > 20);
    const after = await httpRequest(server.url, 'GET', '/api/2.0/mlflow/experiments/search?max_results=1', undefined, { authorization: `Bearer ${stepToken}` });
    assert.equal(after.status, 401, 'the run token is revoked once the run has ended');
    const anonymous = await httpRequest(server.url, 'POST', '/api/capstan/pipelines/runs/create', { yaml });
    assert.equal(anonymous.status, 401);
  });
});
