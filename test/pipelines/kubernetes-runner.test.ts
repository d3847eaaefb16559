// The Kubernetes runner through @kubernetes/client-node against a local stand-in of the API (no
// cluster here): Jobs and Secrets as a cluster gets them, logs and metrics streamed back, exit
// codes, deadlines, cancel, image and scheduling failures, a pod lost mid-run, RBAC refusals, and
// nothing left behind. The manifests' keys are checked against the client's own API models.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { KubeConfig, V1Job, V1Secret } from '@kubernetes/client-node';
import { jobManifest, jobName, secretManifest } from '../../src/pipelines/kubernetes/manifest.js';
import { KubernetesRunner } from '../../src/pipelines/kubernetes/runner.js';
import type { StepTask } from '../../src/pipelines/run/task.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertOk, call } from '../support/inject.js';
import { KubeStandIn } from '../support/kube-standin.js';
import { startTestPlatform, type TestPlatform } from '../support/platform.js';

const OPTS = { namespace: 'ml', defaultImage: 'python:3.12-slim', launcherImage: 'ghcr.io/example/capstan:0.2', pollMs: 20, pendingTimeoutMs: 300 };

function task(over: Partial<StepTask> = {}): StepTask {
  return {
    id: 'a1b2c3d4e5f6/3', pipelineRunId: 'a1b2c3d4e5f6a7b8', projectId: 1, step: 'train', instance: 'train[lr=0.1]', attempt: 1,
    run: { kind: 'shell', command: 'echo hello; echo "::metric loss=0.25"' }, image: null,
    env: { CAPSTAN_STEP: 'train', MLFLOW_RUN_ID: 'r1' }, secretEnv: {},
    resources: { cpuMillis: 500, memoryBytes: 1073741824, gpu: 1, nodeLabels: { pool: 'gpu' } },
    timeoutMs: 0, mlflowRunId: 'r1', inputs: [], outputs: [], ...over,
  };
}

const hooks = (signal = new AbortController().signal) => {
  const lines: string[] = [];
  return { lines, hooks: { signal, log: (_s: string, line: string) => lines.push(line) } };
};

/** Every key of `value` must be an attribute of the client's model type (recursively): catches misspelt fields. */
function checkKeys(value: unknown, type: string, path: string, problems: string[]): void {
  if (value === null || typeof value !== 'object') return;
  const models = (globalThis as any).__k8sModels as Record<string, { getAttributeTypeMap(): Array<{ name: string; baseName: string; type: string }> }>;
  if (type.startsWith('Array<')) return void (value as unknown[]).forEach((v, i) => checkKeys(v, type.slice(6, -1), `${path}[${i}]`, problems));
  if (type.startsWith('{ [key: string]: ')) return;
  const model = models[type];
  if (!model) return;
  const attrs = model.getAttributeTypeMap();
  for (const [k, v] of Object.entries(value as object)) {
    const a = attrs.find((x) => x.baseName === k);
    if (!a) problems.push(`${path}.${k} is not a field of ${type}`);
    else checkKeys(v, a.type, `${path}.${k}`, problems);
  }
}

describe('Kubernetes manifests', () => {
  it('map resources, GPUs, node labels and secrets, with no secret value in the Job', async () => {
    (globalThis as any).__k8sModels = await import('@kubernetes/client-node');
    const t = task({ secretEnv: { API_KEY: 'sk-very-secret-value' }, inputs: [{ path: 'inputs/prep/table/t.csv', url: '/api/x', source: { kind: 'run-artifact', runId: 'r0', artifactPath: 'outputs/table/t.csv' } }], timeoutMs: 90_500 });
    const job = jobManifest(t, OPTS);
    const spec = job.spec!.template.spec!;
    assert.equal(job.spec!.backoffLimit, 0);
    assert.equal(job.spec!.activeDeadlineSeconds, 91);
    assert.deepEqual(spec.containers[0].resources, { requests: { cpu: '500m', memory: '1073741824' }, limits: { cpu: '500m', memory: '1073741824', 'nvidia.com/gpu': '1' } });
    assert.deepEqual(spec.nodeSelector, { pool: 'gpu' });
    assert.equal(spec.containers[0].image, 'python:3.12-slim');
    assert.deepEqual(spec.containers[0].envFrom, [{ secretRef: { name: `${jobName(t).slice(0, 56)}-secret` } }]);
    assert.deepEqual(spec.initContainers![0].command, ['capstan', 'step', 'fetch', '--dir', '/work']);
    assert.ok(!JSON.stringify(job).includes('sk-very-secret-value'));
    assert.deepEqual(secretManifest(t, OPTS).stringData, { API_KEY: 'sk-very-secret-value' });
    assert.match(jobName(t), /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    assert.ok(jobName(task({ step: 'a_very_long_step_name_that_goes_on_and_on_and_on_forever' })).length <= 63);
    const problems: string[] = [];
    checkKeys(job, 'V1Job', 'job', problems);
    checkKeys(secretManifest(t, OPTS), 'V1Secret', 'secret', problems);
    assert.deepEqual(problems, []);
    assert.ok(V1Job.getAttributeTypeMap().length > 0 && V1Secret.getAttributeTypeMap().length > 0);
  });
});

describe('Kubernetes runner (against a local stand-in of the API)', () => {
  let api: KubeStandIn;
  let runner: KubernetesRunner;

  before(async () => {
    api = await new KubeStandIn('t0ken').start();
    const kc = new KubeConfig();
    kc.loadFromOptions({ clusters: [{ name: 's', server: api.url, skipTLSVerify: true }], users: [{ name: 'u', token: 't0ken' }], contexts: [{ name: 'c', cluster: 's', user: 'u' }], currentContext: 'c' });
    runner = new KubernetesRunner(kc, OPTS);
  });
  after(async () => {
    await runner?.close();
    await api?.stop();
  });

  const leftovers = () => ({ jobs: api.jobs.size, secrets: api.secrets.size, pods: api.pods.size });

  it('runs a step as a Job: logs and metrics come back, and the Job and Secret are deleted', async () => {
    const h = hooks();
    const r = await runner.runAttempt(task({ run: { kind: 'shell', command: 'echo "key=$API_KEY"; echo "::metric loss=0.25"' }, secretEnv: { API_KEY: 'sk-very-secret-value' } }), h.hooks);
    assert.equal(r.outcome, 'succeeded', r.message);
    assert.deepEqual(r.metrics, { loss: 0.25 });
    assert.ok(h.lines.includes('key=sk-very-secret-value'), 'the pod got the secret through the Secret');
    const sentJob = api.requests.find((q) => q.method === 'POST' && q.path.endsWith('/jobs'))!.body!;
    assert.ok(!JSON.stringify(sentJob).includes('sk-very-secret-value'));
    assert.deepEqual(leftovers(), { jobs: 0, secrets: 0, pods: 0 });
  });

  it('reports a non-zero exit code, and a deadline as a timeout', async () => {
    const failed = await runner.runAttempt(task({ run: { kind: 'shell', command: 'echo nope; exit 3' } }), hooks().hooks);
    assert.equal(failed.outcome, 'failed');
    assert.equal(failed.exitCode, 3);
    assert.equal(failed.message, 'exited with code 3');
    const slow = await runner.runAttempt(task({ run: { kind: 'shell', command: 'sleep 30' }, timeoutMs: 1000 }), hooks().hooks);
    assert.equal(slow.outcome, 'timed_out');
    assert.deepEqual(leftovers(), { jobs: 0, secrets: 0, pods: 0 });
  });

  it('cancels: the Job and its pod are deleted at once', async () => {
    const ctl = new AbortController();
    const started = Date.now();
    setTimeout(() => ctl.abort(), 300);
    const r = await runner.runAttempt(task({ run: { kind: 'shell', command: 'sleep 30' } }), hooks(ctl.signal).hooks);
    assert.equal(r.outcome, 'cancelled');
    assert.ok(Date.now() - started < 3000);
    assert.deepEqual(leftovers(), { jobs: 0, secrets: 0, pods: 0 });
  });

  it('fails with the reason when the image cannot be pulled or no node fits', async () => {
    const pull = await runner.runAttempt(task({ image: 'registry.example/does-not-exist:1' }), hooks().hooks);
    assert.equal(pull.outcome, 'failed');
    assert.match(pull.message, /cannot start: ErrImagePull: .*does-not-exist/);
    const nowhere = await runner.runAttempt(task({ resources: { cpuMillis: null, memoryBytes: null, gpu: 0, nodeLabels: { 'capstan.dev/unschedulable': 'yes' } } }), hooks().hooks);
    assert.equal(nowhere.outcome, 'failed');
    assert.match(nowhere.message, /no node can run the step: 0\/3 nodes are available/);
    assert.deepEqual(leftovers(), { jobs: 0, secrets: 0, pods: 0 });
  });

  it('reports a step whose pod disappears as lost, so its retry policy decides', async () => {
    const pending = runner.runAttempt(task({ run: { kind: 'shell', command: 'sleep 30' } }), hooks().hooks);
    for (let i = 0; i < 100 && ![...api.pods.values()].some((p) => p.phase === 'Running'); i++) await new Promise((r) => setTimeout(r, 20));
    api.deletePod([...api.pods.keys()][0]);
    const r = await pending;
    assert.equal(r.outcome, 'failed');
    assert.equal(r.lost, true);
    assert.match(r.message, /disappeared/);
  });

  it('explains an RBAC refusal', async () => {
    api.forbidden = true;
    try {
      await assert.rejects(runner.runAttempt(task(), hooks().hooks), (err: any) => err.code === 'PERMISSION_DENIED' && /needs 'create' on jobs\.batch there/.test(err.message));
    } finally {
      api.forbidden = false;
    }
  });
});

describe('pipelines.runner: kubernetes (a whole run, against the stand-in)', () => {
  let api: KubeStandIn;
  let dir: string;
  let tp: TestPlatform;

  before(async () => {
    api = await new KubeStandIn('t0ken').start();
    dir = mkdtempSync(join(tmpdir(), 'capstan-kube-'));
    const kubeconfig = join(dir, 'kubeconfig.yaml');
    writeFileSync(kubeconfig, `apiVersion: v1\nkind: Config\nclusters: [{name: s, cluster: {server: "${api.url}", insecure-skip-tls-verify: true}}]\nusers: [{name: u, user: {token: t0ken}}]\ncontexts: [{name: c, context: {cluster: s, user: u}}]\ncurrent-context: c\n`);
    tp = await startTestPlatform({ 'pipelines.runner': 'kubernetes', 'pipelines.kubeconfig': kubeconfig, 'pipelines.kubernetes_namespace': 'ml', 'pipelines.tick_ms': 50 });
  });
  after(async () => {
    await tp?.close();
    await api?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs each step as a Job in the configured namespace, metrics flowing to the next step', async () => {
    const yaml = 'name: on-kube\nsteps:\n  a:\n    image: python:3.12-slim\n    run: echo "::metric n=41"\n    outputs: {metrics: [n]}\n    resources: {cpu: 250m, memory: 64Mi}\n  b:\n    run: echo "::metric m=$(( ${{ steps.a.metrics.n }} + 1 ))"\n    outputs: {metrics: [m]}\n';
    const run = assertOk(await call(tp.app, 'POST', '/api/capstan/pipelines/runs/create', { yaml })).run;
    let v: any;
    for (let i = 0; i < 300; i++) {
      v = assertOk(await call(tp.app, 'GET', `/api/capstan/pipelines/runs/get?run_id=${run.run_id}`));
      if (!['queued', 'running'].includes(v.run.status)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(v.run.status, 'succeeded', JSON.stringify(v.steps));
    assert.equal(v.run.runner, 'kubernetes');
    assert.deepEqual(v.steps[1].metrics, { m: 42 });
    const jobs = api.requests.filter((q) => q.method === 'POST' && q.path === '/apis/batch/v1/namespaces/ml/jobs').map((q) => q.body!);
    assert.equal(jobs.length, 2);
    assert.equal(jobs[0].spec.template.spec.containers[0].image, 'python:3.12-slim');
    assert.deepEqual(jobs[0].spec.template.spec.containers[0].resources.requests, { cpu: '250m', memory: '67108864' });
    assert.ok(jobs[0].spec.template.spec.containers[0].env.some((e: any) => e.name === 'MLFLOW_RUN_ID' && e.value === v.steps[0].mlflow_run_id));
    assert.equal(api.jobs.size, 0);
  });
});
