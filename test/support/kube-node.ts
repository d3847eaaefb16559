// The node of the Kubernetes stand-in (kube-standin.ts): what the scheduler and the kubelet do with
// a pod. It schedules the pod (or reports it Unschedulable), "pulls" images (failing for names
// containing does-not-exist), then runs the init containers one after the other and the first
// container, each as a child process with the environment Kubernetes would give it. The image is
// not there: commands come from this machine's PATH, after `imagePath` (the test's stand-ins for
// what an image holds). Each emptyDir volume is a directory of the pod's own temp directory, and a
// path under a container's mountPath (its workingDir, an argument) is taken to be in that volume.
// Output is kept as timestamped log lines per container. Deletion is graceful: SIGTERM, then
// SIGKILL after the grace period.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { containerEnv, rfc3339Nano, statusBody, type Obj } from './kube-rules.js';

export interface LogEntry {
  ns: bigint;
  ts: string;
  text: string;
  newline: boolean;
}

interface Follower {
  res: ServerResponse;
  container: string;
  timestamps: boolean;
}

export interface Pod {
  /** The Pod as the API shows it. */
  object: Obj;
  dir: string;
  child: ChildProcess | null;
  /** Log lines by container name. */
  logs: Map<string, LogEntry[]>;
  followers: Set<Follower>;
  timers: Set<NodeJS.Timeout>;
  gone: boolean;
}

type Statuses = 'initContainerStatuses' | 'containerStatuses';

/** What the node tells the API server, and asks of it. */
export interface NodeHost {
  /** The pod's status changed (a MODIFIED event for watches). */
  changed(pod: Pod): void;
  secret(namespace: string, name: string): Obj | undefined;
  /** The container exited: the Job controller's cue. */
  exited(pod: Pod, exitCode: number): void;
  /** The pod is gone from the node and the API (a DELETED event). */
  removed(pod: Pod): void;
}

const now = () => new Date().toISOString();

export class StandInNode {
  private lastNs = 0n;

  constructor(private readonly host: NodeHost, private readonly imagePath: string[] = []) {}

  /** A new pod, bound to this node a moment later (as the scheduler would). */
  admit(object: Obj): Pod {
    const pod: Pod = { object, dir: mkdtempSync(join(tmpdir(), 'kube-pod-')), child: null, logs: new Map(), followers: new Set(), timers: new Set(), gone: false };
    this.later(pod, 10, () => this.schedule(pod));
    return pod;
  }

  /** Graceful deletion: SIGTERM now, SIGKILL after the grace period, gone once the process is. */
  terminate(pod: Pod, graceSeconds: number): void {
    if (pod.object.metadata.deletionTimestamp || pod.gone) return;
    pod.object.metadata.deletionTimestamp = new Date(Date.now() + graceSeconds * 1000).toISOString();
    pod.object.metadata.deletionGracePeriodSeconds = graceSeconds;
    this.host.changed(pod);
    if (!pod.child) return this.remove(pod);
    this.signal(pod, 'SIGTERM');
    this.later(pod, graceSeconds * 1000, () => this.signal(pod, 'SIGKILL'));
  }

  /** At once, no grace (the stand-in stopping). */
  kill(pod: Pod): void {
    this.signal(pod, 'SIGKILL');
    this.remove(pod);
  }

  private later(pod: Pod, ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      pod.timers.delete(t);
      if (!pod.gone) fn();
    }, ms);
    pod.timers.add(t);
  }

  private update(pod: Pod, change: (status: Obj) => void): void {
    if (pod.gone) return;
    change(pod.object.status);
    this.host.changed(pod);
  }

  private schedule(pod: Pod): void {
    if ('capstan.dev/unschedulable' in (pod.object.spec.nodeSelector ?? {})) {
      const message = "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.";
      return this.update(pod, (s) => s.conditions.push({ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message, lastTransitionTime: now() }));
    }
    pod.object.spec.nodeName = 'standin-node-1';
    const waiting = (c: Obj, reason: string) => ({ name: c.name, image: c.image, imageID: '', ready: false, restartCount: 0, started: false, state: { waiting: { reason } } });
    this.update(pod, (s) => {
      s.conditions.push({ type: 'PodScheduled', status: 'True', lastTransitionTime: now() });
      s.hostIP = s.podIP = '10.0.0.7';
      s.startTime = now();
      const inits = pod.object.spec.initContainers ?? [];
      if (inits.length) s.initContainerStatuses = inits.map((c: Obj) => waiting(c, 'PodInitializing'));
      s.containerStatuses = pod.object.spec.containers.map((c: Obj) => waiting(c, inits.length ? 'PodInitializing' : 'ContainerCreating'));
    });
    this.later(pod, 10, () => this.initialise(pod));
  }

  /** Image pulls that cannot succeed, as the kubelet reports them: ErrImagePull, then ImagePullBackOff. */
  private pullFails(pod: Pod, statuses: 'initContainerStatuses' | 'containerStatuses', i: number, image: string): boolean {
    if (!image.includes('does-not-exist')) return false;
    const set = (reason: string, message: string) => this.update(pod, (s) => (s[statuses][i].state = { waiting: { reason, message } }));
    set('ErrImagePull', `failed to pull and unpack image "${image}": failed to resolve reference "${image}": not found`);
    this.later(pod, 150, () => set('ImagePullBackOff', `Back-off pulling image "${image}"`));
    return true;
  }

  /** Init containers one after the other (a failure fails the pod: restartPolicy Never), then the first container. */
  private initialise(pod: Pod, i = 0): void {
    const inits: Obj[] = pod.object.spec.initContainers ?? [];
    if (i < inits.length) {
      if (this.pullFails(pod, 'initContainerStatuses', i, inits[i].image)) return;
      return this.run(pod, 'initContainerStatuses', i, (exitCode) => {
        if (exitCode === 0) return this.initialise(pod, i + 1);
        this.update(pod, (s) => (s.phase = 'Failed'));
        this.host.exited(pod, exitCode);
      });
    }
    this.update(pod, (s) => s.conditions.push({ type: 'Initialized', status: 'True', lastTransitionTime: now() }));
    if (!this.pullFails(pod, 'containerStatuses', 0, pod.object.spec.containers[0].image)) this.run(pod, 'containerStatuses', 0, (exitCode) => this.host.exited(pod, exitCode));
  }

  /** Where `path` is inside the container: under one of its mounts, in that volume's directory. */
  private resolve(pod: Pod, c: Obj, path: string): string {
    const m = (c.volumeMounts ?? []).find((v: Obj) => path === v.mountPath || path.startsWith(`${v.mountPath}/`));
    return m ? join(pod.dir, 'volumes', m.name, path.slice(m.mountPath.length)) : path;
  }

  private run(pod: Pod, statuses: Statuses, i: number, after: (exitCode: number) => void): void {
    const c = pod.object.spec[statuses === 'containerStatuses' ? 'containers' : 'initContainers'][i];
    const ns = pod.object.metadata.namespace;
    const base = { PATH: [...this.imagePath, process.env.PATH ?? '/usr/bin:/bin'].join(delimiter), HOSTNAME: pod.object.metadata.name };
    const env = containerEnv(c, (name) => this.host.secret(ns, name), base);
    if (typeof env === 'string') {
      // The kubelet retries until the Secret appears.
      this.update(pod, (s) => (s[statuses][i].state = { waiting: { reason: 'CreateContainerConfigError', message: env } }));
      return this.later(pod, 100, () => this.run(pod, statuses, i, after));
    }
    for (const v of pod.object.spec.volumes ?? []) if (v.emptyDir) mkdirSync(join(pod.dir, 'volumes', v.name), { recursive: true });
    const [command, ...args] = [...(c.command ?? []), ...(c.args ?? [])].map((a: string) => (a.startsWith('/') && !a.includes(' ') ? this.resolve(pod, c, a) : a));
    const cwd = c.workingDir ? this.resolve(pod, c, c.workingDir) : pod.dir;
    const child = spawn(command, args, { cwd: existsSync(cwd) ? cwd : pod.dir, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    pod.child = child;
    const isMain = statuses === 'containerStatuses';
    const startedAt = now();
    this.update(pod, (s) => {
      if (isMain) s.phase = 'Running';
      s[statuses][i] = { ...s[statuses][i], ready: isMain, started: true, state: { running: { startedAt } } };
      if (isMain) s.conditions.push({ type: 'ContainersReady', status: 'True' }, { type: 'Ready', status: 'True' });
    });
    // Each stream is cut into lines on its own, as the container runtime does.
    const rests = { stdout: '', stderr: '' };
    const take = (stream: 'stdout' | 'stderr', chunk: string) => {
      const parts = (rests[stream] + chunk).split('\n');
      rests[stream] = parts.pop()!;
      for (const text of parts) this.append(pod, c.name, text, true);
    };
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => take('stdout', chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => take('stderr', chunk));
    child.once('error', (err) => this.append(pod, c.name, `exec: ${err.message}`, true));
    child.once('close', (code, signal) => {
      pod.child = null;
      for (const rest of Object.values(rests)) if (rest) this.append(pod, c.name, rest, false);
      const exitCode = code ?? (signal === 'SIGTERM' ? 143 : signal === 'SIGKILL' ? 137 : 128);
      const finishedAt = now();
      this.update(pod, (s) => {
        if (isMain) s.phase = exitCode === 0 ? 'Succeeded' : 'Failed';
        s[statuses][i] = { ...s[statuses][i], ready: false, started: false, state: { terminated: { exitCode, reason: exitCode === 0 ? 'Completed' : 'Error', startedAt, finishedAt } } };
        if (isMain) s.conditions = s.conditions.map((x: Obj) => (x.type === 'Ready' || x.type === 'ContainersReady' ? { ...x, status: 'False' } : x));
      });
      for (const f of pod.followers) if (f.container === c.name) (f.res.end(), pod.followers.delete(f));
      if (!pod.gone) after(exitCode);
      if (pod.object.metadata.deletionTimestamp) this.remove(pod);
    });
  }

  private append(pod: Pod, container: string, text: string, newline: boolean): void {
    const at = BigInt(Date.now()) * 1_000_000n + BigInt(Math.floor(performance.now() * 1000) % 1000) * 1000n;
    const ns = (this.lastNs = at > this.lastNs ? at : this.lastNs + 1n);
    const entry = { ns, ts: rfc3339Nano(ns), text, newline };
    if (!pod.logs.has(container)) pod.logs.set(container, []);
    pod.logs.get(container)!.push(entry);
    for (const f of pod.followers) if (f.container === container) f.res.write(logLine(entry, f.timestamps));
  }

  private signal(pod: Pod, signal: NodeJS.Signals): void {
    try {
      if (pod.child?.pid) process.kill(-pod.child.pid, signal);
    } catch {
      // Already gone.
    }
  }

  private remove(pod: Pod): void {
    if (pod.gone) return;
    pod.gone = true;
    for (const t of pod.timers) clearTimeout(t);
    for (const f of pod.followers) f.res.end();
    rmSync(pod.dir, { recursive: true, force: true });
    this.host.removed(pod);
  }

  /** GET .../pods/NAME/log: container, follow, timestamps, sinceTime, sinceSeconds, tailLines. */
  serveLog(res: ServerResponse, pod: Pod, query: Record<string, string>): void {
    const spec = pod.object.spec;
    const name = pod.object.metadata.name;
    const container = query.container ?? (spec.containers.length === 1 ? spec.containers[0].name : '');
    const fail = (message: string) => void res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify(statusBody(400, 'BadRequest', message)));
    if (!container) return fail(`a container name must be specified for pod ${name}, choose one of: [${spec.containers.map((c: Obj) => c.name).join(' ')}]`);
    const statuses: Statuses = spec.containers.some((c: Obj) => c.name === container) ? 'containerStatuses' : 'initContainerStatuses';
    const list: Obj[] = spec[statuses === 'containerStatuses' ? 'containers' : 'initContainers'] ?? [];
    if (!list.some((c) => c.name === container)) return fail(`container ${container} is not valid for pod ${name}`);
    const state = pod.object.status[statuses]?.find((c: Obj) => c.name === container)?.state ?? { waiting: { reason: 'ContainerCreating' } };
    if (state.waiting) return fail(`container "${container}" in pod "${name}" is waiting to start: ${state.waiting.reason}`);
    const since = query.sinceTime ? BigInt(Date.parse(query.sinceTime)) * 1_000_000n : query.sinceSeconds ? BigInt(Date.now() - Number(query.sinceSeconds) * 1000) * 1_000_000n : 0n;
    let entries = (pod.logs.get(container) ?? []).filter((e) => e.ns >= since);
    if (query.tailLines) entries = entries.slice(-Number(query.tailLines));
    const timestamps = query.timestamps === 'true';
    res.writeHead(200, { 'content-type': 'text/plain', 'transfer-encoding': 'chunked' });
    for (const e of entries) res.write(logLine(e, timestamps));
    if (query.follow !== 'true' || !state.running) return void res.end();
    const follower = { res, container, timestamps };
    pod.followers.add(follower);
    res.once('close', () => pod.followers.delete(follower));
  }
}

function logLine(e: LogEntry, timestamps: boolean): string {
  return `${timestamps ? `${e.ts} ` : ''}${e.text}${e.newline ? '\n' : ''}`;
}
