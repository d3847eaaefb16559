// The Kubernetes objects for one step attempt: a Job running the step's command in its image, and
// a Secret holding its secret values (the Job only refers to it). Inputs are put in /work by an
// init container running `capstan step fetch` from the Capstan image; declared outputs are
// uploaded by the step itself to CAPSTAN_OUTPUTS_URL (or through MLflow into `outputs/NAME/`), and
// the engine checks them in the step's run afterwards.
import { createHash } from 'node:crypto';
import type { V1Job, V1Secret } from '@kubernetes/client-node';
import type { StepTask } from '../run/task.js';

export interface KubernetesOptions {
  namespace: string;
  /** Used for steps without `image`. */
  defaultImage: string;
  /** The Capstan image, for the init container that fetches inputs. */
  launcherImage: string;
  serviceAccount?: string;
  imagePullSecrets?: string[];
  /** Finished Jobs are deleted by Capstan; this is the cluster's fallback. */
  ttlSecondsAfterFinished?: number;
}

/** A DNS-1123 label fragment: lower case, digits and '-', no leading or trailing '-'. */
export const dnsLabel = (s: string, max: number) => s.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, max).replace(/-+$/g, '') || 'x';

/** Unique per attempt, at most 63 characters. */
export function jobName(task: StepTask): string {
  const hash = createHash('sha256').update(`${task.id}#${task.attempt}`).digest('hex').slice(0, 6);
  return `capstan-${task.pipelineRunId.slice(0, 8)}-${dnsLabel(task.step, 30)}-${task.attempt}-${hash}`.slice(0, 63);
}

export const secretName = (task: StepTask) => `${jobName(task).slice(0, 56)}-secret`;

function labels(task: StepTask): Record<string, string> {
  return { 'app.kubernetes.io/managed-by': 'capstan', 'capstan.dev/pipeline-run': dnsLabel(task.pipelineRunId, 63), 'capstan.dev/step': dnsLabel(task.step, 63) };
}

export function secretManifest(task: StepTask, opts: KubernetesOptions): V1Secret {
  return {
    apiVersion: 'v1', kind: 'Secret', type: 'Opaque',
    metadata: { name: secretName(task), namespace: opts.namespace, labels: labels(task), annotations: { 'capstan.dev/task': task.id } },
    stringData: { ...task.secretEnv },
  };
}

export function jobManifest(task: StepTask, opts: KubernetesOptions): V1Job {
  const r = task.resources;
  const quantities: Record<string, string> = {};
  if (r.cpuMillis !== null) quantities.cpu = `${r.cpuMillis}m`;
  if (r.memoryBytes !== null) quantities.memory = String(r.memoryBytes);
  const limits: Record<string, string> = { ...quantities, ...(r.gpu > 0 ? { 'nvidia.com/gpu': String(r.gpu) } : {}) };
  const env = Object.entries(task.env).map(([name, value]) => ({ name, value }));
  const envFrom = Object.keys(task.secretEnv).length ? [{ secretRef: { name: secretName(task) } }] : [];
  const volumeMounts = [{ name: 'work', mountPath: '/work' }];
  const command = task.run.kind === 'shell' ? ['/bin/sh', '-c', task.run.command] : task.run.argv;
  const timeoutSeconds = task.timeoutMs > 0 ? Math.ceil(task.timeoutMs / 1000) : undefined;
  return {
    apiVersion: 'batch/v1', kind: 'Job',
    metadata: { name: jobName(task), namespace: opts.namespace, labels: labels(task), annotations: { 'capstan.dev/task': task.id, 'capstan.dev/step-instance': task.instance } },
    spec: {
      backoffLimit: 0,
      ...(timeoutSeconds ? { activeDeadlineSeconds: timeoutSeconds } : {}),
      ...(opts.ttlSecondsAfterFinished !== undefined ? { ttlSecondsAfterFinished: opts.ttlSecondsAfterFinished } : {}),
      template: {
        metadata: { labels: labels(task) },
        spec: {
          restartPolicy: 'Never',
          ...(opts.serviceAccount ? { serviceAccountName: opts.serviceAccount } : {}),
          ...(opts.imagePullSecrets?.length ? { imagePullSecrets: opts.imagePullSecrets.map((name) => ({ name })) } : {}),
          ...(Object.keys(r.nodeLabels).length ? { nodeSelector: { ...r.nodeLabels } } : {}),
          volumes: [{ name: 'work', emptyDir: {} }],
          ...(task.inputs.length ? {
            initContainers: [{
              name: 'fetch-inputs', image: opts.launcherImage, command: ['capstan', 'step', 'fetch', '--dir', '/work'],
              env: [...env, { name: 'CAPSTAN_STEP_INPUTS', value: JSON.stringify(task.inputs.map((i) => ({ path: i.path, url: i.url }))) }], envFrom, volumeMounts,
            }],
          } : {}),
          containers: [{
            name: 'step', image: task.image ?? opts.defaultImage, command, workingDir: '/work', env, envFrom, volumeMounts,
            ...(Object.keys(limits).length ? { resources: { requests: quantities, limits } } : {}),
          }],
        },
      },
    },
  };
}
