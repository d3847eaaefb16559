// The Kubernetes objects of one step attempt, built without touching a cluster: a Job running the
// step's command in its image, and a Secret holding the attempt's secret values (the Job only
// refers to it, so no secret value is ever part of the Job object that `kubectl get job -o yaml`
// shows to anyone allowed to read Jobs).
//
// Files: declared inputs are put in /work (an emptyDir, the step's working directory) by an init
// container running `capstan step fetch` from the Capstan image. Declared outputs are not collected
// by this runner: the step uploads them itself into its tracked run (MLflow, `outputs/NAME/...`,
// or a PUT to $CAPSTAN_URL$CAPSTAN_OUTPUTS_URL/NAME/FILE), and the engine checks they are there
// once the attempt succeeds.
import { createHash } from 'node:crypto';
import type { V1Container, V1EnvVar, V1Job, V1ObjectMeta, V1Secret } from '@kubernetes/client-node';
import { AppError } from '../../errors/index.js';
import type { StepTask } from '../run/task.js';

export interface ManifestOptions {
  /** Where the Job and Secret are created. */
  namespace: string;
  /** Image of steps that name none. */
  defaultImage: string;
  /** The Capstan image, run as the init container that fetches a step's inputs. */
  launcherImage: string;
  /** Service account step pods run as; unset = the namespace's default. */
  serviceAccount?: string;
  /** Names of docker-registry Secrets in the namespace, for private images. */
  imagePullSecrets?: string[];
  /** Capstan deletes each Job after its attempt; this is the cluster's fallback when Capstan cannot. */
  ttlSecondsAfterFinished?: number;
  /** Extra labels on the Job and its pod (Capstan's own labels take precedence). */
  labels?: Record<string, string>;
}

/** The names of one attempt's objects. */
export interface AttemptNames {
  job: string;
  secret: string;
}

export const STEP_CONTAINER = 'step';
export const FETCH_CONTAINER = 'fetch-inputs';
export const WORK_DIR = '/work';
export const MANAGED_BY = { 'app.kubernetes.io/managed-by': 'capstan' } as const;

/**
 * Credentials the engine passes as plain environment (the run's scoped token). In a cluster the
 * Job object is readable by more people than the step's process, so they travel in the Secret too.
 */
export const CREDENTIAL_ENV = ['CAPSTAN_TOKEN', 'MLFLOW_TRACKING_TOKEN', 'MLFLOW_TRACKING_PASSWORD'] as const;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** A DNS-1123 label made from any text: lower case letters, digits and '-', at most `max` characters. */
export function dnsLabel(text: string, max = 63): string {
  const cut = text.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+/, '').slice(0, max).replace(/-+$/, '');
  return cut || 'x';
}

/** A label value made from any text: at most 63 characters of [A-Za-z0-9-_.], alphanumeric at both ends. */
export function labelValue(text: string): string {
  return text.replace(/[^A-Za-z0-9_.-]+/g, '-').slice(0, 63).replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '');
}

export function isLabelKey(key: string): boolean {
  const slash = key.lastIndexOf('/');
  const prefix = slash < 0 ? null : key.slice(0, slash);
  const name = key.slice(slash + 1);
  return name.length <= 63 && LABEL_NAME.test(name) && (prefix === null || (prefix.length <= 253 && DNS_SUBDOMAIN.test(prefix)));
}

export const isLabelValue = (value: string) => value === '' || (value.length <= 63 && LABEL_NAME.test(value));

/**
 * The attempt's object names. `nonce` makes them unique per call (pass a random one): a replica
 * that re-runs an attempt after another died must not collide with the Job the dead one left.
 */
export function attemptNames(task: StepTask, nonce: string): AttemptNames {
  const hash = createHash('sha256').update(`${task.id}\n${task.attempt}\n${nonce}`).digest('hex').slice(0, 8);
  const run = dnsLabel(task.pipelineRunId, 8);
  const tail = `-${task.attempt}-${hash}`;
  const room = 63 - 'capstan-'.length - run.length - 1 - tail.length;
  const job = `capstan-${run}-${dnsLabel(task.step, Math.max(1, room))}${tail}`;
  return { job, secret: `${job}-env` };
}

/** Rejects options Kubernetes would refuse on every attempt, naming the offending one. */
export function checkManifestOptions(opts: ManifestOptions): void {
  const bad = (option: string, why: string) => new AppError('CONFIG_INVALID', `Kubernetes runner option ${option} ${why}.`, { details: { option } });
  if (!DNS_LABEL.test(opts.namespace) || opts.namespace.length > 63) throw bad('namespace', `'${opts.namespace}' is not a valid namespace name (lower case letters, digits and '-')`);
  if (!opts.defaultImage.trim()) throw bad('defaultImage', 'is empty');
  if (!opts.launcherImage.trim()) throw bad('launcherImage', 'is empty');
  if (opts.serviceAccount !== undefined && !DNS_SUBDOMAIN.test(opts.serviceAccount)) throw bad('serviceAccount', `'${opts.serviceAccount}' is not a valid service account name`);
  for (const name of opts.imagePullSecrets ?? []) if (!DNS_SUBDOMAIN.test(name)) throw bad('imagePullSecrets', `has '${name}', not a valid Secret name`);
  const ttl = opts.ttlSecondsAfterFinished;
  if (ttl !== undefined && (!Number.isInteger(ttl) || ttl < 0)) throw bad('ttlSecondsAfterFinished', `must be a whole number of seconds >= 0, not ${ttl}`);
  for (const [key, value] of Object.entries(opts.labels ?? {})) {
    if (!isLabelKey(key)) throw bad('labels', `has '${key}', not a valid label key`);
    if (!isLabelValue(value)) throw bad('labels', `has '${key}: ${value}', not a valid label value`);
  }
}

/** The values that go into the attempt's Secret: the step's secrets and the run's credentials. */
export function secretValues(task: StepTask): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of CREDENTIAL_ENV) if (task.env[name] !== undefined) out[name] = task.env[name];
  return Object.assign(out, task.secretEnv);
}

function labelsOf(task: StepTask, opts: ManifestOptions): Record<string, string> {
  return {
    ...opts.labels,
    ...MANAGED_BY,
    'capstan.dev/pipeline-run': labelValue(task.pipelineRunId),
    'capstan.dev/step': labelValue(task.step),
    'capstan.dev/attempt': String(task.attempt),
  };
}

function metadataOf(task: StepTask, name: string, opts: ManifestOptions): V1ObjectMeta {
  return {
    name, namespace: opts.namespace, labels: labelsOf(task, opts),
    // Labels are cut to label syntax; the annotations keep the exact values.
    annotations: { 'capstan.dev/task': task.id, 'capstan.dev/pipeline-run': task.pipelineRunId, 'capstan.dev/step-instance': task.instance, 'capstan.dev/mlflow-run': task.mlflowRunId },
  };
}

/** The attempt's Secret, or null when it has no secret values. */
export function secretManifest(task: StepTask, names: AttemptNames, opts: ManifestOptions): V1Secret | null {
  const values = secretValues(task);
  if (Object.keys(values).length === 0) return null;
  return { apiVersion: 'v1', kind: 'Secret', type: 'Opaque', immutable: true, metadata: metadataOf(task, names.secret, opts), stringData: values };
}

/** The Secret made a dependent of the Job, so the cluster deletes it with the Job if Capstan cannot. */
export function ownedByJob(secret: V1Secret, job: V1Job): V1Secret {
  const owner = { apiVersion: 'batch/v1', kind: 'Job', name: job.metadata!.name!, uid: job.metadata!.uid!, blockOwnerDeletion: false };
  return { ...secret, metadata: { ...secret.metadata, ownerReferences: [owner] } };
}

function resourcesOf(task: StepTask): V1Container['resources'] {
  const r = task.resources;
  const quantities: Record<string, string> = {};
  if (r.cpuMillis !== null) quantities.cpu = `${r.cpuMillis}m`;
  if (r.memoryBytes !== null) quantities.memory = String(r.memoryBytes);
  // GPUs are an extended resource: a limit only (Kubernetes sets the request equal to it).
  const limits = r.gpu > 0 ? { ...quantities, 'nvidia.com/gpu': String(r.gpu) } : quantities;
  if (Object.keys(limits).length === 0) return undefined;
  return Object.keys(quantities).length ? { requests: quantities, limits } : { limits };
}

function fetchContainer(task: StepTask, names: AttemptNames, opts: ManifestOptions, hasSecret: boolean): V1Container {
  const plain = (name: string): V1EnvVar[] => (task.env[name] === undefined ? [] : [{ name, value: task.env[name] }]);
  const fromSecret = (name: string): V1EnvVar[] => (hasSecret && task.env[name] !== undefined ? [{ name, valueFrom: { secretKeyRef: { name: names.secret, key: name } } }] : []);
  return {
    name: FETCH_CONTAINER, image: opts.launcherImage, command: ['capstan', 'step', 'fetch'], args: ['--dir', WORK_DIR],
    env: [
      ...plain('CAPSTAN_URL'), ...plain('CAPSTAN_PROJECT'), ...fromSecret('CAPSTAN_TOKEN'),
      { name: 'CAPSTAN_STEP_INPUTS', value: JSON.stringify(task.inputs.map((i) => ({ path: i.path, url: i.url }))) },
    ],
    volumeMounts: [{ name: 'work', mountPath: WORK_DIR }],
  };
}

/** The attempt's Job. `names.secret` must exist before the pod starts when secretManifest is not null. */
export function jobManifest(task: StepTask, names: AttemptNames, opts: ManifestOptions): V1Job {
  const secret = secretValues(task);
  const hasSecret = Object.keys(secret).length > 0;
  // A name in both wins from the Secret, as on the local runner (plain env would win in Kubernetes).
  const env = Object.entries(task.env).filter(([name]) => !(name in secret)).map(([name, value]) => ({ name, value }));
  const r = task.resources;
  const resources = resourcesOf(task);
  const step: V1Container = {
    name: STEP_CONTAINER, image: task.image ?? opts.defaultImage,
    command: task.run.kind === 'shell' ? ['/bin/sh', '-c', task.run.command] : task.run.argv,
    workingDir: WORK_DIR, env,
    ...(hasSecret ? { envFrom: [{ secretRef: { name: names.secret } }] } : {}),
    ...(resources ? { resources } : {}),
    volumeMounts: [{ name: 'work', mountPath: WORK_DIR }],
  };
  const labels = labelsOf(task, opts);
  return {
    apiVersion: 'batch/v1', kind: 'Job',
    metadata: metadataOf(task, names.job, opts),
    spec: {
      // Retries are Capstan's, by the step's retry policy: each is a new Job.
      backoffLimit: 0,
      ...(task.timeoutMs > 0 ? { activeDeadlineSeconds: Math.max(1, Math.ceil(task.timeoutMs / 1000)) } : {}),
      ...(opts.ttlSecondsAfterFinished !== undefined ? { ttlSecondsAfterFinished: opts.ttlSecondsAfterFinished } : {}),
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: 'Never',
          // Service links would put an environment variable per Service of the namespace into the step.
          enableServiceLinks: false,
          ...(opts.serviceAccount ? { serviceAccountName: opts.serviceAccount } : {}),
          ...(opts.imagePullSecrets?.length ? { imagePullSecrets: opts.imagePullSecrets.map((name) => ({ name })) } : {}),
          ...(Object.keys(r.nodeLabels).length ? { nodeSelector: { ...r.nodeLabels } } : {}),
          ...(task.inputs.length ? { initContainers: [fetchContainer(task, names, opts, hasSecret)] } : {}),
          containers: [step],
          volumes: [{ name: 'work', emptyDir: {} }],
        },
      },
    },
  };
}
