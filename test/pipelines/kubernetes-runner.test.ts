// The Kubernetes runner through @kubernetes/client-node against a local stand-in of the API (no
// cluster here): Jobs and Secrets as a cluster gets them, logs and metrics streamed back, exit
// codes, deadlines, cancel, image and scheduling failures, pods and Jobs lost mid-run, refusals
// explained, dropped streams survived, and nothing left behind after any attempt.
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BatchV1Api, KubeConfig } from '@kubernetes/client-node';
import { apiError } from '../../src/pipelines/kubernetes/follow.js';
import { attemptNames, jobManifest } from '../../src/pipelines/kubernetes/manifest.js';
import { KubernetesRunner, type KubernetesRunnerOptions } from '../../src/pipelines/kubernetes/runner.js';
import type { StepTask } from '../../src/pipelines/run/task.js';
import { assertOk, call } from '../support/inject.js';
import { KubeStandIn } from '../support/kube-standin.js';
import { startTestPlatform, type TestPlatform } from '../support/platform.js';

const SECRET = 'sk-very-secret-value';
const TOKEN = 'cst_run_scoped_token';
const OPTS: KubernetesRunnerOptions = { namespace: 'ml', defaultImage: 'python:3.12-slim', launcherImage: 'ghcr.io/example/capstan:0.2', ttlSecondsAfterFinished: 3600, startGraceMs: 300, unschedulableMs: 300, resyncMs: 200, logDrainMs: 2000 };

function task(over: Partial<StepTask> = {}): StepTask {
  return {
    id: 'a1b2c3d4e5f6/3', pipelineRunId: 'a1b2c3d4e5f6a7b8', projectId: 1, step: 'train', instance: 'train[lr=0.1]', attempt: 1,
    run: { kind: 'shell', command: 'echo hello; echo "::metric loss=0.25"' }, image: null,
    env: { CAPSTAN_STEP: 'train', MLFLOW_RUN_ID: 'r1', CAPSTAN_URL: 'http://capstan:5000', CAPSTAN_TOKEN: TOKEN },
    secretEnv: {}, resources: { cpuMillis: null, memoryBytes: null, gpu: 0, nodeLabels: {} },
    timeoutMs: 0, mlflowRunId: 'r1', inputs: [], outputs: [], ...over,
  };
}

function hooks(signal = new AbortController().signal) {
  const lines: Array<{ stream: string; line: string }> = [];
  const text = (stream = 'stdout') => lines.filter((l) => l.stream === stream).map((l) => l.line);
  return { lines, text, hooks: { signal, log: (stream: 'stdout' | 'stderr' | 'system', line: string) => void lines.push({ stream, line }) } };
}

function kubeConfig(server: string, token: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({ clusters: [{ name: 's', server, skipTLSVerify: true }], users: [{ name: 'u', token }], contexts: [{ name: 'c', cluster: 's', user: 'u', namespace: 'ml' }], currentContext: 'c' });
  return kc;
}

/**
 * Stands in for `capstan step fetch` in the Capstan image (the init container's command): writes
 * each input where the step reads it, saying where it came from; an address with "missing" is a 404.
 */
function launcherImage(dir: string): string {
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  const script = join(dir, 'capstan-fetch.mjs');
  writeFileSync(script, `import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
const args = process.argv.slice(2);
if (args[0] !== 'step' || args[1] !== 'fetch') process.exit(2);
const dir = args[args.indexOf('--dir') + 1];
for (const input of JSON.parse(process.env.CAPSTAN_STEP_INPUTS)) {
  if (input.url.includes('missing')) { console.error('could not download ' + input.path + ': HTTP 404'); process.exit(1); }
  mkdirSync(dirname(join(dir, input.path)), { recursive: true });
  writeFileSync(join(dir, input.path), process.env.CAPSTAN_URL + input.url + ' token:' + (process.env.CAPSTAN_TOKEN ? 'yes' : 'no') + '\\n');
  console.error('fetched ' + input.path);
}
`);
  writeFileSync(join(bin, 'capstan'), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(script)} "$@"\n`, { mode: 0o755 });
  return bin;
}

const until = async (what: () => boolean, ms = 5000) => {
  for (const end = Date.now() + ms; !what(); ) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('Kubernetes runner (against a local stand-in of the API)', () => {
  let api: KubeStandIn;
  let runner: KubernetesRunner;
  let dir: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'capstan-kube-'));
    api = await new KubeStandIn({ token: 't0ken', namespaces: ['default', 'ml'], user: 'system:serviceaccount:ml:capstan', imagePath: [launcherImage(dir)] }).start();
    runner = new KubernetesRunner(kubeConfig(api.url, 't0ken'), OPTS);
  });
  after(async () => {
    await runner?.close();
    await api?.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  afterEach(async () => {
    api.allowAll();
    // Deleting a Job takes its pod with it a moment later (the garbage collector).
    await until(() => api.pods.size === 0);
    assert.deepEqual({ jobs: api.jobs.size, secrets: api.secrets.size }, { jobs: 0, secrets: 0 }, 'the Job and the Secret are deleted after the attempt');
  });

  const running = () => [...api.pods.values()].some((p) => p.child !== null);
  const lastJob = () => api.sent('POST', /\/jobs$/).at(-1)!.body!;

  it('runs a step as a Job: log lines stream back while it runs, metrics are read', async () => {
    const h = hooks();
    let runningAtFirstLine: boolean | null = null;
    const log = h.hooks.log;
    h.hooks.log = (stream, line) => {
      if (line === 'first') runningAtFirstLine = running();
      log(stream, line);
    };
    const r = await runner.runAttempt(task({ run: { kind: 'shell', command: 'echo first; sleep 0.6; echo "::metric loss=0.25 acc=0.5"; echo "::metric f1=high"; printf "no newline at the end"' } }), h.hooks);
    assert.equal(r.outcome, 'succeeded', r.message);
    assert.equal(r.exitCode, 0);
    assert.equal(runningAtFirstLine, true, 'the first line arrived while the step still ran');
    assert.deepEqual(h.text(), ['first', '::metric loss=0.25 acc=0.5', '::metric f1=high', 'no newline at the end']);
    assert.deepEqual(r.metrics, { loss: 0.25, acc: 0.5 });
    assert.deepEqual(r.metricErrors, ["'f1=high' is not NAME=NUMBER"]);
    assert.deepEqual(r.outputs, {});
    assert.ok(h.text('system').some((l) => l.startsWith('Kubernetes Job ml/capstan-a1b2c3d4-train-1-')));
  });

  it('sends exactly the Job the manifest builder makes (no field lost on the wire), and deletes it with Background propagation', async () => {
    const t = task({ resources: { cpuMillis: 250, memoryBytes: 67_108_864, gpu: 1, nodeLabels: { pool: 'gpu' } }, run: { kind: 'argv', argv: ['/bin/sh', '-c', 'exit 0'] } });
    assert.equal((await runner.runAttempt(t, hooks().hooks)).outcome, 'succeeded');
    const sent = lastJob();
    const sameAttempt = attemptNames(t, 'another nonce');
    const expected = jobManifest(t, { job: sent.metadata.name, secret: `${sent.metadata.name}-env` }, OPTS);
    assert.deepEqual(sent, JSON.parse(JSON.stringify(expected)));
    assert.match(sent.metadata.name, new RegExp(`^${sameAttempt.job.slice(0, -8)}[0-9a-f]{8}$`));
    const container = sent.spec.template.spec.containers[0];
    assert.deepEqual(container.resources, { requests: { cpu: '250m', memory: '67108864' }, limits: { cpu: '250m', memory: '67108864', 'nvidia.com/gpu': '1' } });
    assert.deepEqual(sent.spec.template.spec.nodeSelector, { pool: 'gpu' });
    assert.deepEqual(container.command, ['/bin/sh', '-c', 'exit 0']);
    const del = api.sent('DELETE', new RegExp(`/jobs/${sent.metadata.name}$`));
    assert.equal(del.length, 1);
    assert.equal(del[0].query.propagationPolicy, 'Background');
  });

  it('reports a non-zero exit code', async () => {
    const r = await runner.runAttempt(task({ run: { kind: 'shell', command: 'echo nope; exit 3' } }), hooks().hooks);
    assert.deepEqual([r.outcome, r.exitCode, r.message], ['failed', 3, 'exited with code 3']);
    assert.equal(r.lost, undefined);
  });

  it('reports a step past its deadline (activeDeadlineSeconds) as timed out', async () => {
    const h = hooks();
    const r = await runner.runAttempt(task({ run: { kind: 'shell', command: 'echo started; sleep 30' }, timeoutMs: 1000 }), h.hooks);
    assert.deepEqual([r.outcome, r.exitCode, r.message], ['timed_out', null, 'timed out after 1 s and was killed']);
    assert.equal(lastJob().spec.activeDeadlineSeconds, 1);
    assert.deepEqual(h.text(), ['started']);
  });

  it('cancels: the Job and its pod are deleted at once', async () => {
    const ctl = new AbortController();
    const h = hooks(ctl.signal);
    const pending = runner.runAttempt(task({ run: { kind: 'shell', command: 'echo up; sleep 30' } }), h.hooks);
    await until(() => h.text().includes('up'));
    const started = Date.now();
    ctl.abort();
    const r = await pending;
    assert.equal(r.outcome, 'cancelled');
    assert.ok(Date.now() - started < 2000);
    const name = lastJob().metadata.name;
    assert.ok(api.sent('DELETE', new RegExp(`/pods/${name}-[a-z0-9]{5}$`)).length === 1, 'the pod is deleted explicitly');
    assert.ok(!running(), 'the step process is gone');
  });

  it('keeps secret values and the run token in a Secret: in the process environment, never in the Job or the log', async () => {
    const h = hooks();
    const sha = (v: string) => createHash('sha256').update(v).digest('hex');
    const same = (name: string, value: string) => `[ "$(printf %s "$${name}" | sha256sum | cut -d' ' -f1)" = ${sha(value)} ]`;
    const r = await runner.runAttempt(task({ secretEnv: { API_KEY: SECRET }, run: { kind: 'shell', command: `${same('API_KEY', SECRET)} && ${same('CAPSTAN_TOKEN', TOKEN)} && echo "secret and token are set"` } }), h.hooks);
    assert.equal(r.outcome, 'succeeded', r.message);
    assert.deepEqual(h.text(), ['secret and token are set']);
    const secretPost = api.sent('POST', /\/secrets$/).at(-1)!.body!;
    assert.deepEqual(secretPost.stringData, { CAPSTAN_TOKEN: TOKEN, API_KEY: SECRET });
    assert.equal(secretPost.immutable, true);
    const job = lastJob();
    assert.deepEqual(job.spec.template.spec.containers[0].envFrom, [{ secretRef: { name: `${job.metadata.name}-env` } }]);
    const elsewhere = api.requests.filter((q) => !q.path.includes('/secrets')).map((q) => JSON.stringify(q));
    assert.ok(elsewhere.every((q) => !q.includes(SECRET) && !q.includes(TOKEN)), 'no request but the Secret\'s carries a secret value');
    assert.ok(h.lines.every((l) => !l.line.includes(SECRET) && !l.line.includes(TOKEN)));
    const put = api.sent('PUT', /\/secrets\//).at(-1)!.body!;
    assert.deepEqual(put.metadata.ownerReferences.map((o: { kind: string; name: string }) => [o.kind, o.name]), [['Job', job.metadata.name]], 'the Secret is owned by its Job');
  });

  it('fetches inputs into /work with an init container of the Capstan image before the step starts', async () => {
    const input = (url: string) => ({ path: 'inputs/prep/t.csv', url, source: { kind: 'run-artifact' as const, runId: 'r0', artifactPath: 'outputs/t/t.csv' } });
    const h = hooks();
    const r = await runner.runAttempt(task({ inputs: [input('/api/x')], run: { kind: 'shell', command: 'pwd; cat inputs/prep/t.csv' } }), h.hooks);
    assert.equal(r.outcome, 'succeeded', r.message);
    assert.match(h.text()[0], /\/volumes\/work$/, 'the step runs in the work volume');
    assert.equal(h.text()[1], 'http://capstan:5000/api/x token:yes');
    const init = lastJob().spec.template.spec.initContainers[0];
    assert.equal(init.image, OPTS.launcherImage);
    assert.deepEqual(init.env.find((e: { name: string }) => e.name === 'CAPSTAN_TOKEN').valueFrom, { secretKeyRef: { name: `${lastJob().metadata.name}-env`, key: 'CAPSTAN_TOKEN' } });
    const failed = hooks();
    const f = await runner.runAttempt(task({ inputs: [input('/api/missing')] }), failed.hooks);
    assert.deepEqual([f.outcome, f.exitCode, f.message], ['failed', null, "could not fetch the step's inputs: fetch-inputs exited with code 1"]);
    assert.ok(failed.text('system').includes('fetch-inputs: could not download inputs/prep/t.csv: HTTP 404'), JSON.stringify(failed.lines));
    assert.deepEqual(failed.text(), [], 'the step never ran');
  });

  it('fails with Kubernetes\' reason when an image cannot be pulled', async () => {
    const r = await runner.runAttempt(task({ image: 'registry.example/does-not-exist:1' }), hooks().hooks);
    assert.equal(r.outcome, 'failed');
    assert.equal(r.lost, undefined);
    assert.match(r.message, /^the step's container cannot start: (ErrImagePull: failed to pull and unpack image "registry\.example\/does-not-exist:1".*|ImagePullBackOff: Back-off pulling image "registry\.example\/does-not-exist:1")$/);
    const launcher = new KubernetesRunner(kubeConfig(api.url, 't0ken'), { ...OPTS, launcherImage: 'ghcr.io/example/does-not-exist:0' });
    const input = { path: 'a', url: '/x', source: { kind: 'run-artifact' as const, runId: 'r0', artifactPath: 'outputs/a' } };
    assert.match((await launcher.runAttempt(task({ inputs: [input] }), hooks().hooks)).message, /cannot start: (ErrImagePull|ImagePullBackOff): .*ghcr\.io\/example\/does-not-exist:0/);
    await launcher.close();
  });

  it('fails with the scheduler\'s message when no node can take the pod', async () => {
    const r = await runner.runAttempt(task({ resources: { cpuMillis: null, memoryBytes: null, gpu: 0, nodeLabels: { 'capstan.dev/unschedulable': 'yes' } } }), hooks().hooks);
    assert.equal(r.outcome, 'failed');
    assert.match(r.message, /^no node can run the step: 0\/3 nodes are available: 3 node\(s\) didn't match Pod's node affinity\/selector/);
  });

  it('reports a step whose pod is deleted under it as lost, so its retry policy decides', async () => {
    const h = hooks();
    const pending = runner.runAttempt(task({ run: { kind: 'shell', command: 'echo up; sleep 30' } }), h.hooks);
    await until(() => h.text().includes('up'));
    api.deletePod([...api.pods.keys()][0]);
    const r = await pending;
    assert.equal(r.outcome, 'failed');
    assert.equal(r.lost, true);
    assert.match(r.message, /^the pod capstan-\S+ was deleted while the step ran/);
  });

  it('reports a step whose Job is deleted under it (its pod orphaned) as lost', async () => {
    const h = hooks();
    const pending = runner.runAttempt(task({ run: { kind: 'shell', command: 'echo up; sleep 30' } }), h.hooks);
    await until(() => h.text().includes('up'));
    api.deleteJob(lastJob().metadata.name, 'Orphan');
    const r = await pending;
    assert.deepEqual([r.outcome, r.lost], ['failed', true]);
    assert.match(r.message, /^the Job capstan-\S+ was deleted while the step ran/);
    for (const name of [...api.pods.keys()]) api.deletePod(name, 0);
  });

  it('loses no log line and repeats none when the API server drops its streams, and resumes a broken one live', async () => {
    const h = hooks();
    const command = 'i=0; while [ $i -lt 80 ]; do echo "line $i"; i=$((i+1)); sleep 0.03; done';
    const pending = runner.runAttempt(task({ run: { kind: 'shell', command } }), h.hooks);
    await until(() => h.text().length >= 5);
    api.dropStreams('end');
    await until(() => h.text().length >= 15);
    // A broken connection does not end the stream on the client: it looks like a quiet step.
    api.dropStreams('destroy');
    const atBreak = h.text().length;
    await until(() => h.text().length >= atBreak + 5);
    assert.ok(running(), 'lines flow again while the step still runs');
    const r = await pending;
    assert.equal(r.outcome, 'succeeded', r.message);
    assert.deepEqual(h.text(), Array.from({ length: 80 }, (_, i) => `line ${i}`));
    assert.ok(api.sent('GET', /\/log$/).filter((q) => q.query.follow === 'true').length >= 3, 'the log was followed again');
    assert.ok(api.sent('GET', /\/pods$/).filter((q) => q.query.watch === 'true').length >= 2, 'the pods were watched again');
  });

  it('polls pods when it may not watch them, and says so', async () => {
    api.forbid('watch', 'pods');
    const h = hooks();
    const r = await runner.runAttempt(task(), h.hooks);
    assert.equal(r.outcome, 'succeeded', r.message);
    assert.deepEqual(h.text(), ['hello', '::metric loss=0.25']);
    assert.ok(h.text('system').some((l) => l.includes("does not allow Capstan to watch pods (HTTP 403)")));
  });

  it('stops watching and reading logs once an attempt has ended', async () => {
    assert.equal((await runner.runAttempt(task({ run: { kind: 'shell', command: 'echo a; sleep 0.2; echo b' } }), hooks().hooks)).outcome, 'succeeded');
    const count = api.requests.length;
    await new Promise((r) => setTimeout(r, OPTS.resyncMs! * 3));
    assert.deepEqual(api.requests.slice(count).map((q) => `${q.method} ${q.path}`), []);
  });

  it('says so when it may not read the log, and still reports the exit code', async () => {
    api.forbid('get', 'pods/log');
    const h = hooks();
    const r = await runner.runAttempt(task({ run: { kind: 'shell', command: 'echo hidden; exit 4' } }), h.hooks);
    assert.deepEqual([r.outcome, r.exitCode], ['failed', 4]);
    assert.deepEqual(h.text(), []);
    assert.ok(h.text('system').some((l) => l === "Kubernetes does not let Capstan read the step's log (HTTP 403): grant 'get' on pods/log"), JSON.stringify(h.text('system')));
  });

  it('explains an RBAC refusal with the verb and resource to grant, and deletes the Secret it made', async () => {
    api.forbid('create', 'jobs');
    await assert.rejects(runner.runAttempt(task({ secretEnv: { API_KEY: SECRET } }), hooks().hooks), (err: { code?: string; message: string }) => {
      assert.equal(err.code, 'CONFIG_INVALID');
      assert.match(err.message, /^Kubernetes refused to let Capstan create jobs\.batch in namespace ml \(HTTP 403: jobs\.batch is forbidden: User "system:serviceaccount:ml:capstan" cannot create resource "jobs" in API group "batch" in the namespace "ml"\)\. Grant the account Capstan uses the verb 'create' on 'jobs\.batch' in namespace ml/);
      return true;
    });
    assert.equal(api.sent('DELETE', /\/secrets\//).length > 0, true);
  });

  it('explains a refused pod list, and gets by without updating Secrets or deleting Jobs, saying what is left', async () => {
    api.forbid('list', 'pods');
    await assert.rejects(runner.runAttempt(task(), hooks().hooks), (e: { code?: string; message: string }) => e.code === 'CONFIG_INVALID' && /Grant the account Capstan uses the verb 'list' on 'pods' in namespace ml/.test(e.message));
    api.allowAll();
    api.forbid('update', 'secrets');
    api.forbid('delete', 'jobs');
    const h = hooks();
    assert.equal((await runner.runAttempt(task({ secretEnv: { API_KEY: SECRET } }), h.hooks)).outcome, 'succeeded');
    const system = h.text('system').join('\n');
    assert.match(system, /the Secret capstan-\S+-env is not tied to its Job \(Kubernetes refused to let Capstan update secrets/);
    assert.match(system, /could not delete the Job capstan-\S+ \(ttlSecondsAfterFinished removes it once finished\): Kubernetes refused to let Capstan delete jobs\.batch/);
    assert.equal(api.jobs.size, 1);
    api.deleteJob(lastJob().metadata.name, 'Background');
  });

  it('explains bad credentials, a missing namespace and an unreachable API server', async () => {
    const wrong = new KubernetesRunner(kubeConfig(api.url, 'wrong'), OPTS);
    await assert.rejects(wrong.runAttempt(task(), hooks().hooks), (e: { code?: string; message: string }) => e.code === 'CONFIG_INVALID' && /HTTP 401.*kubeconfig/.test(e.message));
    const elsewhere = new KubernetesRunner(kubeConfig(api.url, 't0ken'), { ...OPTS, namespace: 'nope' });
    await assert.rejects(elsewhere.runAttempt(task(), hooks().hooks), (e: { code?: string; message: string }) => e.code === 'CONFIG_INVALID' && /^Kubernetes namespace nope does not exist/.test(e.message));
    const gone = new KubernetesRunner(kubeConfig('http://127.0.0.1:1', 't0ken'), OPTS);
    await assert.rejects(gone.runAttempt(task(), hooks().hooks), (e: { code?: string; message: string }) => e.code === 'TEMPORARILY_UNAVAILABLE' && /^The Kubernetes API at http:\/\/127\.0\.0\.1:1 cannot be reached to create secrets in namespace ml \(ECONNREFUSED/.test(e.message));
    await Promise.all([wrong.close(), elsewhere.close(), gone.close()]);
  });

  it('explains a Job Kubernetes finds invalid (422) with its causes', async () => {
    const batch = kubeConfig(api.url, 't0ken').makeApiClient(BatchV1Api);
    const err = await batch.createNamespacedJob({ namespace: 'ml', body: { metadata: { name: 'empty' }, spec: { template: { spec: { restartPolicy: 'Never', containers: [] } } } } }).catch((e: unknown) => e);
    const e = apiError(err, { verb: 'create', resource: 'jobs.batch', namespace: 'ml' });
    assert.equal(e.code, 'PIPELINE_STEP_ERR');
    assert.equal(e.message, 'Kubernetes rejected the request to create jobs.batch in namespace ml: Job.batch "empty" is invalid: spec.template.spec.containers: Required value.');
    const again = await batch.createNamespacedJob({ namespace: 'ml', body: { metadata: { name: 'Bad_Name' }, spec: { template: { spec: { restartPolicy: 'Always', containers: [{ name: 'c', image: 'i' }] } } } } }).catch((x: unknown) => x);
    assert.match(apiError(again, { verb: 'create', resource: 'jobs.batch', namespace: 'ml' }).message, /metadata\.name: Invalid value: "Bad_Name".*restartPolicy: Unsupported value: "Always"/);
  });

  it('ends the attempts it follows when closed: lost, their Jobs deleted', async () => {
    const closing = new KubernetesRunner(kubeConfig(api.url, 't0ken'), OPTS);
    const h = hooks();
    const pending = closing.runAttempt(task({ run: { kind: 'shell', command: 'echo up; sleep 30' } }), h.hooks);
    await until(() => h.text().includes('up'));
    await closing.close();
    const r = await pending;
    assert.deepEqual([r.outcome, r.lost], ['failed', true]);
    await assert.rejects(closing.runAttempt(task(), hooks().hooks), /closed/);
  });
});

describe('pipelines.runner: kubernetes (a whole run, against the stand-in)', () => {
  let api: KubeStandIn;
  let dir: string;
  let tp: TestPlatform;

  before(async () => {
    api = await new KubeStandIn({ token: 't0ken', namespaces: ['ml'] }).start();
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
    const jobs = api.sent('POST', /^\/apis\/batch\/v1\/namespaces\/ml\/jobs$/).map((q) => q.body!);
    assert.equal(jobs.length, 2);
    assert.equal(jobs[0].spec.template.spec.containers[0].image, 'python:3.12-slim');
    assert.deepEqual(jobs[0].spec.template.spec.containers[0].resources.requests, { cpu: '250m', memory: '67108864' });
    assert.ok(jobs[0].spec.template.spec.containers[0].env.some((e: any) => e.name === 'MLFLOW_RUN_ID' && e.value === v.steps[0].mlflow_run_id));
    assert.equal(api.jobs.size, 0);
  });
});
