import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as models from '@kubernetes/client-node';
import type { StepTask } from '../run/task.js';
import { attemptNames, checkManifestOptions, dnsLabel, isLabelKey, isLabelValue, jobManifest, labelValue, ownedByJob, secretManifest, type ManifestOptions } from './manifest.js';

const OPTS: ManifestOptions = { namespace: 'ml', defaultImage: 'python:3.12-slim', launcherImage: 'ghcr.io/example/capstan:0.2', serviceAccount: 'steps', imagePullSecrets: ['regcred'], ttlSecondsAfterFinished: 3600, labels: { team: 'vision' } };

function task(over: Partial<StepTask> = {}): StepTask {
  return {
    id: '0f3c9a2b7d1e4c5f/3', pipelineRunId: '0f3c9a2b7d1e4c5f', projectId: 1, step: 'train', instance: 'train[lr=0.1]', attempt: 2,
    run: { kind: 'shell', command: 'python train.py --lr 0.1' }, image: null,
    env: { CAPSTAN_URL: 'http://capstan:5000', CAPSTAN_PROJECT: 'default', CAPSTAN_TOKEN: 'cst_scoped_token', MLFLOW_TRACKING_TOKEN: 'cst_scoped_token', MLFLOW_RUN_ID: 'r1', LR: '0.1' },
    secretEnv: { API_KEY: 'sk-very-secret-value' },
    resources: { cpuMillis: 500, memoryBytes: 1_073_741_824, gpu: 1, nodeLabels: { pool: 'gpu' } },
    timeoutMs: 90_500, mlflowRunId: 'r1',
    inputs: [{ path: 'inputs/prep/table/t.csv', url: '/api/capstan/artifacts/x/outputs/table/t.csv', source: { kind: 'run-artifact', runId: 'r0', artifactPath: 'outputs/table/t.csv' } }],
    outputs: [{ name: 'model', path: 'model.onnx' }], ...over,
  };
}

type Attribute = { baseName: string; type: string };
const modelOf = (type: string) => (models as unknown as Record<string, { getAttributeTypeMap?(): Attribute[] }>)[type]?.getAttributeTypeMap?.();

/**
 * Every key of `value` must be a field of the client's generated model for `type`, recursively,
 * with a value of the declared kind: a misspelt field (`nodeSelecter`) would otherwise be dropped
 * without a word when the client serialises the object.
 */
function modelProblems(value: unknown, type: string, path = '$'): string[] {
  if (value === undefined || value === null) return [];
  if (type.startsWith('Array<')) return Array.isArray(value) ? value.flatMap((v, i) => modelProblems(v, type.slice(6, -1), `${path}[${i}]`)) : [`${path} is not a list`];
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) return typeof value === 'object' ? Object.entries(value).flatMap(([k, v]) => modelProblems(v, map[1], `${path}.${k}`)) : [`${path} is not a map`];
  if (['string', 'number', 'boolean'].includes(type)) return typeof value === type ? [] : [`${path} is ${typeof value}, not ${type}`];
  if (type === 'any' || type === 'Date') return [];
  const attributes = modelOf(type);
  if (!attributes) return [`${path}: no model ${type}`];
  if (typeof value !== 'object') return [`${path} is not a ${type}`];
  return Object.entries(value).flatMap(([k, v]) => {
    const a = attributes.find((x) => x.baseName === k);
    return a ? modelProblems(v, a.type, `${path}.${k}`) : [`${path}.${k} is not a field of ${type}`];
  });
}

describe('Kubernetes manifests of a step attempt', () => {
  const names = attemptNames(task(), 'n0nce');

  it('name objects per attempt: DNS-1123 labels of at most 63 characters, unique per nonce', () => {
    assert.match(names.job, /^capstan-0f3c9a2b-train-2-[0-9a-f]{8}$/);
    assert.equal(names.secret, `${names.job}-env`);
    assert.notEqual(attemptNames(task(), 'other').job, names.job);
    assert.notEqual(attemptNames(task({ id: '0f3c9a2b7d1e4c5f/4' }), 'n0nce').job, names.job, 'matrix instances of a step differ');
    const long = attemptNames(task({ step: 'A_Very_Long_Step.Name that goes on and on and on, and on forever', attempt: 12 }), 'n');
    assert.ok(long.job.length <= 63, long.job);
    assert.match(long.job, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    assert.equal(dnsLabel('__'), 'x');
  });

  it('build a Job with retries left to Capstan, a deadline, resources, GPUs, node labels and labels', () => {
    const job = jobManifest(task(), names, OPTS);
    const spec = job.spec!;
    const pod = spec.template.spec!;
    const step = pod.containers[0];
    assert.equal(spec.backoffLimit, 0);
    assert.equal(spec.activeDeadlineSeconds, 91);
    assert.equal(spec.ttlSecondsAfterFinished, 3600);
    assert.equal(pod.restartPolicy, 'Never');
    assert.equal(pod.serviceAccountName, 'steps');
    assert.deepEqual(pod.imagePullSecrets, [{ name: 'regcred' }]);
    assert.deepEqual(pod.nodeSelector, { pool: 'gpu' });
    assert.deepEqual(step.resources, { requests: { cpu: '500m', memory: '1073741824' }, limits: { cpu: '500m', memory: '1073741824', 'nvidia.com/gpu': '1' } });
    assert.equal(step.image, 'python:3.12-slim');
    assert.deepEqual(step.command, ['/bin/sh', '-c', 'python train.py --lr 0.1']);
    assert.equal(step.workingDir, '/work');
    assert.deepEqual(pod.volumes, [{ name: 'work', emptyDir: {} }]);
    assert.deepEqual(job.metadata!.labels, { team: 'vision', 'app.kubernetes.io/managed-by': 'capstan', 'capstan.dev/pipeline-run': '0f3c9a2b7d1e4c5f', 'capstan.dev/step': 'train', 'capstan.dev/attempt': '2' });
    assert.deepEqual(spec.template.metadata!.labels, job.metadata!.labels);
    assert.equal(job.metadata!.annotations!['capstan.dev/task'], '0f3c9a2b7d1e4c5f/3');
    assert.equal(job.metadata!.annotations!['capstan.dev/step-instance'], 'train[lr=0.1]');
  });

  it('keep secret values and the run token out of the Job: they go in the Secret, referenced', () => {
    const job = jobManifest(task(), names, OPTS);
    const text = JSON.stringify(job);
    assert.ok(!text.includes('sk-very-secret-value') && !text.includes('cst_scoped_token'), text);
    const step = job.spec!.template.spec!.containers[0];
    assert.deepEqual(step.envFrom, [{ secretRef: { name: names.secret } }]);
    assert.deepEqual(step.env!.map((e) => e.name), ['CAPSTAN_URL', 'CAPSTAN_PROJECT', 'MLFLOW_RUN_ID', 'LR']);
    const secret = secretManifest(task(), names, OPTS)!;
    assert.equal(secret.metadata!.name, names.secret);
    assert.equal(secret.immutable, true);
    assert.deepEqual(secret.stringData, { CAPSTAN_TOKEN: 'cst_scoped_token', MLFLOW_TRACKING_TOKEN: 'cst_scoped_token', API_KEY: 'sk-very-secret-value' });
    const owned = ownedByJob(secret, { ...job, metadata: { ...job.metadata, uid: 'u-1' } });
    assert.deepEqual(owned.metadata!.ownerReferences, [{ apiVersion: 'batch/v1', kind: 'Job', name: names.job, uid: 'u-1', blockOwnerDeletion: false }]);
    const bare = task({ env: { LR: '1' }, secretEnv: {} });
    assert.equal(secretManifest(bare, names, OPTS), null);
    assert.equal(jobManifest(bare, names, OPTS).spec!.template.spec!.containers[0].envFrom, undefined);
  });

  it('fetch inputs with an init container of the Capstan image, its token from the Secret', () => {
    const init = jobManifest(task(), names, OPTS).spec!.template.spec!.initContainers!;
    assert.equal(init.length, 1);
    assert.equal(init[0].image, OPTS.launcherImage);
    assert.deepEqual([...init[0].command!, ...init[0].args!], ['capstan', 'step', 'fetch', '--dir', '/work']);
    assert.deepEqual(init[0].volumeMounts, [{ name: 'work', mountPath: '/work' }]);
    const env = Object.fromEntries(init[0].env!.map((e) => [e.name, e.value ?? e.valueFrom]));
    assert.deepEqual(env.CAPSTAN_TOKEN, { secretKeyRef: { name: names.secret, key: 'CAPSTAN_TOKEN' } });
    assert.equal(env.CAPSTAN_URL, 'http://capstan:5000');
    assert.deepEqual(JSON.parse(env.CAPSTAN_STEP_INPUTS as string), [{ path: 'inputs/prep/table/t.csv', url: '/api/capstan/artifacts/x/outputs/table/t.csv' }]);
    assert.equal(jobManifest(task({ inputs: [] }), names, OPTS).spec!.template.spec!.initContainers, undefined);
  });

  it('run argv as it is, use the step image, and leave out what is not set', () => {
    const t = task({ run: { kind: 'argv', argv: ['python', '-c', 'print(1)'] }, image: 'ghcr.io/me/train:3', timeoutMs: 0, resources: { cpuMillis: null, memoryBytes: null, gpu: 2, nodeLabels: {} } });
    const job = jobManifest(t, names, { namespace: 'ml', defaultImage: 'x', launcherImage: 'y' });
    const pod = job.spec!.template.spec!;
    assert.deepEqual(pod.containers[0].command, ['python', '-c', 'print(1)']);
    assert.equal(pod.containers[0].image, 'ghcr.io/me/train:3');
    assert.deepEqual(pod.containers[0].resources, { limits: { 'nvidia.com/gpu': '2' } });
    for (const key of ['activeDeadlineSeconds', 'ttlSecondsAfterFinished'] as const) assert.equal(job.spec![key], undefined);
    for (const key of ['nodeSelector', 'serviceAccountName', 'imagePullSecrets'] as const) assert.equal(pod[key], undefined);
    assert.equal(jobManifest(task({ resources: { cpuMillis: null, memoryBytes: null, gpu: 0, nodeLabels: {} } }), names, OPTS).spec!.template.spec!.containers[0].resources, undefined);
  });

  it('cut label values to label syntax (the annotations keep the exact text)', () => {
    assert.equal(labelValue('train[lr=0.1]'), 'train-lr-0.1');
    assert.equal(labelValue('-_x_-'), 'x');
    assert.equal(labelValue('a'.repeat(80)).length, 63);
    assert.ok(isLabelKey('capstan.dev/step') && isLabelKey('team') && !isLabelKey('Bad Key') && !isLabelKey('UPPER.dev/x'));
    assert.ok(isLabelValue('') && isLabelValue('A_b.c-1') && !isLabelValue('-x'));
  });

  it('use only fields the Kubernetes API models have (checked against the client\'s generated models)', () => {
    const t = task();
    assert.deepEqual(modelProblems(jobManifest(t, names, OPTS), 'V1Job'), []);
    assert.deepEqual(modelProblems(ownedByJob(secretManifest(t, names, OPTS)!, { metadata: { name: 'j', uid: 'u' } }), 'V1Secret'), []);
    assert.deepEqual(modelProblems({ spec: { template: { spec: { nodeSelecter: {}, containers: [] } } } }, 'V1Job'), ['$.spec.template.spec.nodeSelecter is not a field of V1PodSpec']);
    assert.deepEqual(modelProblems({ spec: { backoffLimit: '0' } }, 'V1Job'), ['$.spec.backoffLimit is string, not number']);
  });

  it('refuse options Kubernetes would refuse on every attempt, naming the option', () => {
    const bad = (over: Partial<ManifestOptions>, option: string) => assert.throws(() => checkManifestOptions({ ...OPTS, ...over }), (e: { code?: string; details?: { option?: string } }) => e.code === 'CONFIG_INVALID' && e.details?.option === option);
    checkManifestOptions(OPTS);
    bad({ namespace: 'ML_Team' }, 'namespace');
    bad({ defaultImage: ' ' }, 'defaultImage');
    bad({ ttlSecondsAfterFinished: -1 }, 'ttlSecondsAfterFinished');
    bad({ labels: { 'not a key': 'x' } }, 'labels');
    bad({ labels: { team: 'not a value' } }, 'labels');
    bad({ imagePullSecrets: ['Reg Cred'] }, 'imagePullSecrets');
  });
});
