// The Kubernetes runner: each step attempt is a Job (and a Secret for its secret values). The
// runner watches the Job's pod, streams its log line by line as it is written, reads the exit code
// from the step container's terminated state, and deletes both objects afterwards. Retries are
// Capstan's (backoffLimit 0): another attempt is another Job.
import { randomBytes } from 'node:crypto';
import { BatchV1Api, CoreV1Api, KubeConfig, Log, Watch, type V1ContainerStatus, type V1Job, type V1Pod, type V1Secret } from '@kubernetes/client-node';
import { AppError } from '../../errors/index.js';
import { failureMessage } from '../run/local-runner.js';
import { metricsOfLine } from '../run/local-step.js';
import type { AttemptHooks, StepAttempt, StepRunner, StepTask } from '../run/task.js';
import { apiError, JobPods, LogFollower, statusOf } from './follow.js';
import { attemptNames, checkManifestOptions, FETCH_CONTAINER, jobManifest, ownedByJob, secretManifest, STEP_CONTAINER, type AttemptNames, type ManifestOptions } from './manifest.js';

export interface KubernetesRunnerOptions extends ManifestOptions {
  /** How long a container may be unable to start (an image that cannot be pulled, a missing Secret) before the attempt fails. Default 2 min. */
  startGraceMs?: number;
  /** How long the pod may stay unschedulable, or the Job without a pod, before the attempt fails. Default 2 min. */
  unschedulableMs?: number;
  /** How often the Job itself is read (a deadline, a Job deleted without its pod) and pods are listed when they cannot be watched. Default 5 s. */
  resyncMs?: number;
  /** How long reading the end of the log may take once the container has exited. Default 10 s. */
  logDrainMs?: number;
}

/** Where the cluster's address and credentials come from. */
export interface KubeConfigSource {
  /** A kubeconfig file; unset = KUBECONFIG, ~/.kube/config, or the pod's service account in a cluster. */
  file?: string;
  /** The service account of the pod Capstan runs in, explicitly. */
  inCluster?: boolean;
  /** A context of the kubeconfig other than its current one. */
  context?: string;
}

export function loadKubeConfig(source: KubeConfigSource = {}): KubeConfig {
  const kc = new KubeConfig();
  if (source.inCluster) kc.loadFromCluster();
  else if (source.file) kc.loadFromFile(source.file);
  else kc.loadFromDefault();
  if (source.context) kc.setCurrentContext(source.context);
  if (!kc.getCurrentCluster()) throw new AppError('CONFIG_INVALID', `The kubeconfig${source.file ? ` ${source.file}` : ''} names no cluster for the kubernetes pipeline runner.`, { details: { key: 'pipelines.kubeconfig' } });
  return kc;
}

const START_PROBLEMS = new Set(['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'ErrImageNeverPull', 'CreateContainerConfigError', 'CreateContainerError', 'RunContainerError']);
const podLost = (pod: string) => `the pod ${pod} was deleted while the step ran (by someone else, an eviction or a lost node)`;
const isNotFound = (err: unknown) => statusOf(err).code === 404;
const isDeadline = (job: V1Job | null | undefined) => !!job?.status?.conditions?.some((c) => (c.type === 'Failed' || c.type === 'FailureTarget') && c.status === 'True' && c.reason === 'DeadlineExceeded');

/** What following one attempt keeps track of. */
interface Following {
  o: Required<Pick<KubernetesRunnerOptions, 'startGraceMs' | 'unschedulableMs' | 'resyncMs' | 'logDrainMs'>>;
  /** The pod's name, once there was one. */
  seen: string | null;
  jobReadAt: number;
  logs: LogFollower | null;
  startProblemSince: number | null;
  unschedulableSince: number | null;
}

interface Attempt {
  task: StepTask;
  names: AttemptNames;
  hooks: AttemptHooks;
  /** Aborted by a cancel or by close(). */
  stop: AbortSignal;
  metrics: Record<string, number>;
  metricErrors: string[];
  startedAt: number;
}

/**
 * Runs each step attempt as a Job in one namespace. The account of its KubeConfig needs there:
 * create, get, delete on jobs.batch; create, update, delete on secrets; list, watch, delete on
 * pods; get on pods/log. Without `watch` it lists pods every second; without `update` on secrets
 * a Secret is not tied to its Job (Capstan still deletes it). Any attempt it follows ends with its
 * Job and Secret deleted, whatever happened; a throw means Kubernetes could not be used at all.
 */
export class KubernetesRunner implements StepRunner {
  readonly kind = 'kubernetes' as const;
  private readonly batch: BatchV1Api;
  private readonly core: CoreV1Api;
  private readonly watch: Watch;
  private readonly log: Log;
  private readonly server: string;
  private readonly closing = new AbortController();
  private readonly running = new Set<Promise<unknown>>();

  constructor(kc: KubeConfig, private readonly opts: KubernetesRunnerOptions) {
    checkManifestOptions(opts);
    this.batch = kc.makeApiClient(BatchV1Api);
    this.core = kc.makeApiClient(CoreV1Api);
    this.watch = new Watch(kc);
    this.log = new Log(kc);
    this.server = kc.getCurrentCluster()?.server ?? '';
  }

  private fail = (err: unknown, verb: string, resource: string) => apiError(err, { verb, resource, namespace: this.opts.namespace, server: this.server });

  async runAttempt(task: StepTask, hooks: AttemptHooks): Promise<StepAttempt> {
    if (this.closing.signal.aborted) throw new AppError('TEMPORARILY_UNAVAILABLE', 'The Kubernetes runner is closed.');
    const attempt = this.attempt(task, hooks);
    this.running.add(attempt);
    return attempt.finally(() => this.running.delete(attempt));
  }

  private async attempt(task: StepTask, hooks: AttemptHooks): Promise<StepAttempt> {
    const namespace = this.opts.namespace;
    const names = attemptNames(task, randomBytes(4).toString('hex'));
    const secret = secretManifest(task, names, this.opts);
    const a: Attempt = { task, names, hooks, stop: AbortSignal.any([hooks.signal, this.closing.signal]), metrics: {}, metricErrors: [], startedAt: Date.now() };
    const made = { secret: false, job: false };
    try {
      const stored = secret && (await this.core.createNamespacedSecret({ namespace, body: secret }).catch((e) => { throw this.fail(e, 'create', 'secrets'); }));
      made.secret = !!stored;
      const job = jobManifest(task, names, this.opts);
      const created = await this.batch.createNamespacedJob({ namespace, body: job }).catch((e) => { throw this.fail(e, 'create', 'jobs.batch'); });
      made.job = true;
      hooks.log('system', `Kubernetes Job ${namespace}/${names.job} created (image ${job.spec!.template.spec!.containers[0].image})`);
      if (stored) await this.adopt(stored, created, hooks);
      if (task.outputs.length) hooks.log('system', `declared outputs are the step's to upload into its run (outputs/NAME/); Capstan checks them when it exits`);
      return await this.follow(a);
    } finally {
      await this.remove(a, made);
    }
  }

  /** Makes the Secret a dependent of the Job, so the cluster deletes it with the Job should Capstan not. */
  private async adopt(secret: V1Secret, job: V1Job, hooks: AttemptHooks): Promise<void> {
    const name = secret.metadata!.name!;
    await this.core.replaceNamespacedSecret({ name, namespace: this.opts.namespace, body: ownedByJob(secret, job) }).catch((e) => {
      hooks.log('system', `the Secret ${name} is not tied to its Job (${this.fail(e, 'update', 'secrets').message}); Capstan deletes it after the attempt`);
    });
  }

  /** Deletes the attempt's Job (its pod with it) and Secret; a failure is logged, not thrown. */
  private async remove(a: Attempt, made: { secret: boolean; job: boolean }): Promise<void> {
    const namespace = this.opts.namespace;
    const warn = (what: string, e: unknown, verb: string, resource: string) => {
      if (!isNotFound(e)) a.hooks.log('system', `could not delete ${what}: ${this.fail(e, verb, resource).message}`);
    };
    const fallback = this.opts.ttlSecondsAfterFinished === undefined ? 'delete it by hand' : 'ttlSecondsAfterFinished removes it once finished';
    if (made.job) await this.batch.deleteNamespacedJob({ name: a.names.job, namespace, propagationPolicy: 'Background' }).catch((e) => warn(`the Job ${a.names.job} (${fallback})`, e, 'delete', 'jobs.batch'));
    if (made.secret) await this.core.deleteNamespacedSecret({ name: a.names.secret, namespace }).catch((e) => warn(`the Secret ${a.names.secret}`, e, 'delete', 'secrets'));
  }

  private result(a: Attempt, outcome: StepAttempt['outcome'], exitCode: number | null, message: string, lost = false): StepAttempt {
    return { outcome, exitCode, metrics: a.metrics, metricErrors: a.metricErrors, outputs: {}, message, ...(lost ? { lost } : {}) };
  }

  /** The Job; null when it is gone, undefined when it cannot be read just now. */
  private async readJob(a: Attempt): Promise<V1Job | null | undefined> {
    try {
      return await this.batch.readNamespacedJob({ name: a.names.job, namespace: this.opts.namespace });
    } catch (err) {
      if (isNotFound(err)) return null;
      const e = this.fail(err, 'get', 'jobs.batch');
      if (e.code === 'CONFIG_INVALID') throw e;
      a.hooks.log('system', `cannot read the Job, will try again: ${e.message}`);
      return undefined;
    }
  }

  /** Follows the attempt from its Job's creation to its end. */
  private async follow(a: Attempt): Promise<StepAttempt> {
    const o = { startGraceMs: 120_000, unschedulableMs: 120_000, resyncMs: 5000, logDrainMs: 10_000, ...this.opts };
    // Watches and log streams end with the attempt, whichever way it ends.
    const ended = new AbortController();
    const watching = AbortSignal.any([a.stop, ended.signal]);
    const say = (line: string) => a.hooks.log('system', line);
    const pods = new JobPods({
      core: this.core, watch: this.watch, namespace: this.opts.namespace, selector: `job-name=${a.names.job}`, signal: watching,
      pollMs: Math.min(1000, o.resyncMs), say, fail: this.fail,
    });
    const onLine = (line: string) => {
      if (watching.aborted) return;
      const found = metricsOfLine(line);
      if (found) {
        Object.assign(a.metrics, found.metrics);
        a.metricErrors.push(...found.errors);
      }
      a.hooks.log('stdout', line);
    };
    const w: Following = { o, seen: null, jobReadAt: Date.now(), logs: null, startProblemSince: null, unschedulableSince: null };
    const tickMs = Math.max(10, Math.min(1000, o.resyncMs, o.startGraceMs, o.unschedulableMs));
    try {
      for (;;) {
        await pods.changed(tickMs);
        if (a.stop.aborted) break;
        if (pods.fatal) throw pods.fatal;
        const pod = pods.list()[0] as V1Pod | undefined;
        const step = pod?.status?.containerStatuses?.find((c) => c.name === STEP_CONTAINER);
        if (step?.state?.running || step?.state?.terminated) w.logs ??= new LogFollower({ log: this.log, namespace: this.opts.namespace, pod: pod!.metadata!.name!, container: STEP_CONTAINER, signal: watching, onLine, say });
        const verdict = await this.judge(a, w, pod);
        if (verdict) {
          await w.logs?.finish(o.logDrainMs);
          return verdict;
        }
      }
      if (!a.hooks.signal.aborted) return this.result(a, 'failed', null, 'the Kubernetes runner closed while the step ran', true);
      await this.cancel(a, pods.list());
      return this.result(a, 'cancelled', null, failureMessage('cancelled', null, null, 0));
    } finally {
      ended.abort();
    }
  }

  /** The attempt's result once the Job and its pod say it is over, or null while it is not. */
  private async judge(a: Attempt, w: Following, pod: V1Pod | undefined): Promise<StepAttempt | null> {
    const now = Date.now();
    if (now - w.jobReadAt >= w.o.resyncMs || (!pod && w.seen)) {
      w.jobReadAt = now;
      void w.logs?.check(w.o.resyncMs);
      const job = await this.readJob(a);
      if (job === null) return this.result(a, 'failed', null, `the Job ${a.names.job} was deleted while the step ran (by someone else, or the cluster)`, true);
      if (isDeadline(job)) return this.result(a, 'timed_out', null, failureMessage('timed_out', null, null, a.task.timeoutMs));
      if (!pod && w.seen) return this.result(a, 'failed', null, podLost(w.seen), true);
    }
    if (!pod) {
      if (now - a.startedAt < w.o.unschedulableMs) return null;
      return this.result(a, 'failed', null, `Kubernetes made no pod for the Job within ${Math.round(w.o.unschedulableMs / 1000)} s (a quota or an admission policy?)`);
    }
    w.seen = pod.metadata!.name!;
    const status = pod.status ?? {};
    const step = status.containerStatuses?.find((c) => c.name === STEP_CONTAINER);
    const init = status.initContainerStatuses?.find((c) => c.name === FETCH_CONTAINER);
    if (init?.state?.terminated && init.state.terminated.exitCode !== 0) return this.inputsFailed(a, w.seen, init);
    if (step?.state?.terminated) return this.exited(a, pod, step);
    if (status.phase === 'Failed' || status.phase === 'Succeeded') {
      return this.result(a, 'failed', null, `the pod ${w.seen} ended before the step did: ${status.reason ?? status.phase}${status.message ? `: ${status.message}` : ''}`, true);
    }
    const stuck = [init, step].find((c) => c?.state?.waiting?.reason && START_PROBLEMS.has(c.state.waiting.reason))?.state?.waiting;
    w.startProblemSince = stuck ? (w.startProblemSince ?? now) : null;
    if (stuck && now - w.startProblemSince! >= w.o.startGraceMs) return this.result(a, 'failed', null, `the step's container cannot start: ${stuck.reason}${stuck.message ? `: ${stuck.message}` : ''}`);
    const unschedulable = status.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False' && c.reason === 'Unschedulable');
    w.unschedulableSince = unschedulable ? (w.unschedulableSince ?? now) : null;
    if (unschedulable && now - w.unschedulableSince! >= w.o.unschedulableMs) return this.result(a, 'failed', null, `no node can run the step: ${unschedulable.message ?? 'Unschedulable'}`);
    return null;
  }

  /** The step container exited: its exit code, unless Kubernetes killed it (a deadline, a deleted pod). */
  private async exited(a: Attempt, pod: V1Pod, status: V1ContainerStatus): Promise<StepAttempt> {
    const done = status.state!.terminated!;
    const code = done.exitCode ?? null;
    if (code === 0) return this.result(a, 'succeeded', 0, '');
    // The kill may show on the pod before the Job says why: a deadline is a timeout, a deletion a loss.
    const job = await this.readJob(a);
    const overdue = a.task.timeoutMs > 0 && Date.now() - a.startedAt >= a.task.timeoutMs && (code === 137 || code === 143);
    if (isDeadline(job) || overdue) return this.result(a, 'timed_out', null, failureMessage('timed_out', null, null, a.task.timeoutMs));
    if (job === null) return this.result(a, 'failed', code, `the Job ${a.names.job} was deleted while the step ran`, true);
    if (pod.metadata?.deletionTimestamp) return this.result(a, 'failed', code, podLost(pod.metadata.name!), true);
    const why = done.reason === 'OOMKilled' ? ' (OOMKilled: the step used more memory than its limit)' : done.reason && !['Error', 'Completed'].includes(done.reason) ? ` (${done.reason})` : '';
    return this.result(a, 'failed', code, `${failureMessage('failed', code, null, 0)}${why}`);
  }

  /** The init container could not fetch the inputs: its last lines go to the step's log. */
  private async inputsFailed(a: Attempt, pod: string, status: V1ContainerStatus): Promise<StepAttempt> {
    const text = await this.core.readNamespacedPodLog({ name: pod, namespace: this.opts.namespace, container: FETCH_CONTAINER, tailLines: 20 }).catch(() => '');
    for (const line of text.split('\n').filter(Boolean)) a.hooks.log('system', `${FETCH_CONTAINER}: ${line}`);
    return this.result(a, 'failed', null, `could not fetch the step's inputs: ${FETCH_CONTAINER} exited with code ${status.state!.terminated!.exitCode}`);
  }

  /** A cancel: the Job and its pod go at once (the pod's processes get their termination grace period). */
  private async cancel(a: Attempt, pods: V1Pod[]): Promise<void> {
    const namespace = this.opts.namespace;
    await this.batch.deleteNamespacedJob({ name: a.names.job, namespace, propagationPolicy: 'Background' }).catch(() => undefined);
    for (const pod of pods) await this.core.deleteNamespacedPod({ name: pod.metadata!.name!, namespace }).catch(() => undefined);
    a.hooks.log('system', `cancelled: deleted the Job ${a.names.job}${pods.length ? ` and its pod ${pods.map((p) => p.metadata!.name).join(', ')}` : ''}`);
  }

  /** Stops following every attempt (they end as lost, their Jobs deleted); the runner takes no more. */
  async close(): Promise<void> {
    this.closing.abort();
    await Promise.allSettled([...this.running]);
  }
}
