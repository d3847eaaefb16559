// The Kubernetes runner: each step attempt is a Job (and a Secret for its secret values). The
// runner follows the Job's pod, passes its log lines on as they appear, reads the container's exit
// code, and deletes both objects afterwards. Retries are Capstan's (backoffLimit 0).
import { BatchV1Api, CoreV1Api, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { AppError } from '../../errors/index.js';
import { failureMessage } from '../run/local-runner.js';
import { metricsOfLine } from '../run/local-step.js';
import type { AttemptHooks, StepAttempt, StepRunner, StepTask } from '../run/task.js';
import { jobManifest, jobName, secretManifest, secretName, type KubernetesOptions } from './manifest.js';

export interface KubernetesRunnerOptions extends KubernetesOptions {
  /** How often the Job's pod and logs are looked at. */
  pollMs?: number;
  /** How long a pod may stay unschedulable or unable to pull its image before the attempt fails. */
  pendingTimeoutMs?: number;
}

const IMAGE_PROBLEMS = new Set(['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'CreateContainerConfigError', 'CreateContainerError']);
const sleep = (ms: number, signal: AbortSignal) => new Promise<void>((r) => {
  const done = () => {
    clearTimeout(t);
    signal.removeEventListener('abort', done);
    r();
  };
  const t = setTimeout(done, ms);
  signal.addEventListener('abort', done, { once: true });
});

/** An API error as a Capstan error that says what to do. */
export function apiError(err: unknown, verb: string, resource: string, namespace: string): Error {
  const code = (err as { code?: number }).code;
  if (code === 401 || code === 403) {
    return new AppError('PERMISSION_DENIED', `Kubernetes refused to ${verb} ${resource} in namespace ${namespace} (HTTP ${code}): the service account Capstan uses needs '${verb}' on ${resource} there.`, { cause: err });
  }
  if (code === 404 && resource !== 'pods') return new AppError('CONFIG_INVALID', `Kubernetes namespace ${namespace} does not exist (or ${resource} cannot be found there).`, { cause: err, details: { key: 'pipelines.kubernetes_namespace' } });
  if (typeof code === 'number') return new AppError('TEMPORARILY_UNAVAILABLE', `Kubernetes answered ${code} to ${verb} ${resource}: ${String((err as { body?: unknown }).body ?? '').slice(0, 300)}`, { cause: err });
  return new AppError('TEMPORARILY_UNAVAILABLE', `The Kubernetes API cannot be reached: ${(err as Error).message}`, { cause: err });
}

const isNotFound = (err: unknown) => (err as { code?: number }).code === 404;

export class KubernetesRunner implements StepRunner {
  readonly kind = 'kubernetes' as const;
  private readonly batch: BatchV1Api;
  private readonly core: CoreV1Api;
  private closed = new AbortController();

  constructor(kc: KubeConfig, private readonly opts: KubernetesRunnerOptions) {
    this.batch = kc.makeApiClient(BatchV1Api);
    this.core = kc.makeApiClient(CoreV1Api);
  }

  async runAttempt(task: StepTask, hooks: AttemptHooks): Promise<StepAttempt> {
    const namespace = this.opts.namespace;
    const name = jobName(task);
    const hasSecret = Object.keys(task.secretEnv).length > 0;
    if (hasSecret) await this.core.createNamespacedSecret({ namespace, body: secretManifest(task, this.opts) }).catch((e) => { throw apiError(e, 'create', 'secrets', namespace); });
    try {
      await this.batch.createNamespacedJob({ namespace, body: jobManifest(task, this.opts) }).catch((e) => { throw apiError(e, 'create', 'jobs.batch', namespace); });
      hooks.log('system', `Kubernetes Job ${namespace}/${name} created`);
      return await this.follow(task, name, hooks);
    } finally {
      await this.batch.deleteNamespacedJob({ name, namespace, propagationPolicy: 'Background' }).catch(() => undefined);
      if (hasSecret) await this.core.deleteNamespacedSecret({ name: secretName(task), namespace }).catch(() => undefined);
    }
  }

  private async follow(task: StepTask, name: string, hooks: AttemptHooks): Promise<StepAttempt> {
    const namespace = this.opts.namespace;
    const pollMs = this.opts.pollMs ?? 1000;
    const pendingTimeoutMs = this.opts.pendingTimeoutMs ?? 120_000;
    const metrics: Record<string, number> = {};
    const metricErrors: string[] = [];
    const result = (outcome: StepAttempt['outcome'], exitCode: number | null, message: string, lost = false): StepAttempt =>
      ({ outcome, exitCode, metrics, metricErrors, outputs: {}, message, ...(lost ? { lost } : {}) });
    let emitted = 0;
    const created = Date.now();
    let pendingSince = created;
    let seenPod = false;
    const emit = async (pod: string) => {
      const text = await this.core.readNamespacedPodLog({ name: pod, namespace, container: 'step' }).catch(() => '');
      const fresh = text.slice(emitted);
      const cut = fresh.lastIndexOf('\n');
      if (cut < 0) return;
      for (const line of fresh.slice(0, cut).split('\n')) {
        const found = metricsOfLine(line);
        if (found) (Object.assign(metrics, found.metrics), metricErrors.push(...found.errors));
        hooks.log('stdout', line);
      }
      emitted += cut + 1;
    };
    const stop = AbortSignal.any([hooks.signal, this.closed.signal]);
    while (!stop.aborted) {
      let pod: V1Pod | undefined;
      try {
        const job = await this.batch.readNamespacedJob({ name, namespace });
        const deadline = job.status?.conditions?.find((c) => c.type === 'Failed' && c.status === 'True' && c.reason === 'DeadlineExceeded');
        pod = (await this.core.listNamespacedPod({ namespace, labelSelector: `job-name=${name}` })).items[0];
        if (deadline) {
          if (pod?.metadata?.name) await emit(pod.metadata.name);
          return result('timed_out', null, failureMessage('timed_out', null, null, task.timeoutMs));
        }
      } catch (err) {
        if (isNotFound(err)) return result('failed', null, `the Job ${namespace}/${name} was deleted while the step ran`, true);
        throw apiError(err, 'get', 'jobs.batch', namespace);
      }
      if (!pod) {
        if (seenPod) return result('failed', null, `the pod of Job ${namespace}/${name} disappeared (deleted, or its node was lost)`, true);
        await sleep(pollMs, stop);
        continue;
      }
      seenPod = true;
      const container = pod.status?.containerStatuses?.find((c) => c.name === 'step');
      const waiting = container?.state?.waiting;
      const unschedulable = pod.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False' && c.reason === 'Unschedulable');
      const podName = pod.metadata!.name!;
      if (container?.state?.running || container?.state?.terminated) {
        pendingSince = Date.now();
        await emit(podName);
      }
      const done = container?.state?.terminated;
      if (done) {
        await emit(podName);
        const code = done.exitCode ?? null;
        // The pod may show its kill before the Job shows why: past the step's timeout, it is the deadline.
        if (code !== 0 && task.timeoutMs > 0 && Date.now() - created >= task.timeoutMs) return result('timed_out', null, failureMessage('timed_out', null, null, task.timeoutMs));
        return code === 0 ? result('succeeded', 0, '') : result('failed', code, done.reason && done.reason !== 'Error' ? `${failureMessage('failed', code, null, 0)} (${done.reason})` : failureMessage('failed', code, null, 0));
      }
      if (Date.now() - pendingSince > pendingTimeoutMs) {
        if (waiting?.reason && IMAGE_PROBLEMS.has(waiting.reason)) return result('failed', null, `the step's container cannot start: ${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''}`);
        if (unschedulable) return result('failed', null, `no node can run the step: ${unschedulable.message ?? 'unschedulable'}`);
      }
      await sleep(pollMs, stop);
    }
    await this.core.deleteCollectionNamespacedPod({ namespace, labelSelector: `job-name=${name}` }).catch(() => undefined);
    return result('cancelled', null, 'cancelled');
  }

  async close(): Promise<void> {
    this.closed.abort();
    this.closed = new AbortController();
  }
}
