// A local stand-in for the parts of the Kubernetes API the pipeline runner uses, with Kubernetes'
// own paths, object shapes, status codes and Status error bodies. A Job's pod really runs: its
// container's command executes here as a child process (the image is recorded, not pulled), with
// the Job's env and its Secret's values, honouring activeDeadlineSeconds. Init containers are
// recorded, not run. Simulated: an image named *does-not-exist* (ErrImagePull), a nodeSelector key
// capstan.dev/unschedulable (Unschedulable), a pod deleted mid-run, a token without rights (403).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

type Obj = Record<string, any>;

interface PodState {
  name: string;
  job: string;
  namespace: string;
  phase: 'Pending' | 'Running' | 'Succeeded' | 'Failed';
  log: string;
  exitCode: number | null;
  waiting: { reason: string; message: string } | null;
  unschedulable: boolean;
  child: ChildProcess | null;
  dir: string;
}

export interface Recorded {
  method: string;
  path: string;
  body: Obj | null;
}

export class KubeStandIn {
  readonly requests: Recorded[] = [];
  readonly jobs = new Map<string, Obj>();
  readonly secrets = new Map<string, Obj>();
  readonly pods = new Map<string, PodState>();
  /** When set, every request answers 403 (a service account without the RBAC the runner needs). */
  forbidden = false;
  private server: Server | null = null;
  url = '';

  constructor(private readonly token: string) {}

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    for (const p of this.pods.values()) this.kill(p);
    await new Promise((r) => this.server?.close(r));
  }

  /** Deletes a pod as a node failure or an operator would. */
  deletePod(name: string): void {
    const p = this.pods.get(name);
    if (p) this.removePod(p);
  }

  private status(res: ServerResponse, code: number, reason: string, message: string): void {
    res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code }));
  }

  private send(res: ServerResponse, code: number, body: unknown): void {
    res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://x');
    const body = text ? (JSON.parse(text) as Obj) : null;
    this.requests.push({ method: req.method ?? '', path: url.pathname + url.search, body });
    if (req.headers.authorization !== `Bearer ${this.token}`) return this.status(res, 401, 'Unauthorized', 'Unauthorized');
    if (this.forbidden) return this.status(res, 403, 'Forbidden', `jobs.batch is forbidden: User "system:serviceaccount:ci:capstan" cannot create resource "jobs" in API group "batch"`);
    const m = /^\/(?:api\/v1|apis\/batch\/v1)\/namespaces\/([^/]+)\/(secrets|jobs|pods)(?:\/([^/]+))?(?:\/(log))?$/.exec(url.pathname);
    if (!m) return this.status(res, 404, 'NotFound', `the server could not find the requested resource (${url.pathname})`);
    const [, ns, kind, name, log] = m;
    const key = (n: string) => `${ns}/${n}`;
    if (kind === 'secrets') {
      if (req.method === 'POST') {
        const n = body!.metadata.name;
        if (this.secrets.has(key(n))) return this.status(res, 409, 'AlreadyExists', `secrets "${n}" already exists`);
        const data = { ...(body!.data ?? {}) };
        for (const [k, v] of Object.entries(body!.stringData ?? {})) data[k] = Buffer.from(String(v)).toString('base64');
        const stored = { ...body, stringData: undefined, data, metadata: { ...body!.metadata, namespace: ns, uid: `uid-${n}` } };
        this.secrets.set(key(n), stored);
        return this.send(res, 201, stored);
      }
      if (req.method === 'DELETE' && name) {
        if (!this.secrets.delete(key(name))) return this.status(res, 404, 'NotFound', `secrets "${name}" not found`);
        return this.send(res, 200, { kind: 'Status', apiVersion: 'v1', status: 'Success' });
      }
    }
    if (kind === 'jobs') {
      if (req.method === 'POST') {
        const n = body!.metadata.name;
        if (this.jobs.has(key(n))) return this.status(res, 409, 'AlreadyExists', `jobs.batch "${n}" already exists`);
        if (!body!.spec?.template?.spec?.containers?.length) return this.status(res, 422, 'Invalid', `Job.batch "${n}" is invalid: spec.template.spec.containers: Required value`);
        const job = { ...body, metadata: { ...body!.metadata, namespace: ns, uid: `uid-${n}` }, status: {} };
        this.jobs.set(key(n), job);
        this.runPod(ns, job);
        return this.send(res, 201, job);
      }
      const job = name ? this.jobs.get(key(name)) : undefined;
      if (!job) return this.status(res, 404, 'NotFound', `jobs.batch "${name}" not found`);
      if (req.method === 'GET') return this.send(res, 200, job);
      if (req.method === 'DELETE') {
        this.jobs.delete(key(name!));
        for (const p of [...this.pods.values()]) if (p.job === name && p.namespace === ns) this.removePod(p);
        return this.send(res, 200, { kind: 'Status', apiVersion: 'v1', status: 'Success' });
      }
    }
    if (kind === 'pods') {
      const selector = url.searchParams.get('labelSelector') ?? '';
      const jobName = /^job-name=(.+)$/.exec(selector)?.[1];
      const matching = [...this.pods.values()].filter((p) => p.namespace === ns && (!jobName || p.job === jobName));
      if (log && name) {
        const p = this.pods.get(name);
        if (!p) return this.status(res, 404, 'NotFound', `pods "${name}" not found`);
        return void res.writeHead(200, { 'content-type': 'text/plain' }).end(p.log);
      }
      if (req.method === 'GET' && !name) return this.send(res, 200, { kind: 'PodList', apiVersion: 'v1', metadata: {}, items: matching.map((p) => this.podObject(p)) });
      if (req.method === 'DELETE' && !name) {
        for (const p of matching) this.removePod(p);
        return this.send(res, 200, { kind: 'PodList', apiVersion: 'v1', metadata: {}, items: [] });
      }
    }
    return this.status(res, 405, 'MethodNotAllowed', `${req.method} is not supported here`);
  }

  private podObject(p: PodState): Obj {
    const state = p.waiting ? { waiting: p.waiting }
      : p.phase === 'Running' ? { running: { startedAt: new Date().toISOString() } }
      : p.exitCode !== null ? { terminated: { exitCode: p.exitCode, reason: p.exitCode === 0 ? 'Completed' : 'Error' } } : { waiting: { reason: 'ContainerCreating' } };
    return {
      metadata: { name: p.name, namespace: p.namespace, labels: { 'job-name': p.job } },
      status: {
        phase: p.phase,
        conditions: p.unschedulable ? [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/3 nodes are available: 3 node(s) didn\'t match Pod\'s node affinity/selector.' }] : [{ type: 'PodScheduled', status: 'True' }],
        ...(p.unschedulable ? {} : { containerStatuses: [{ name: 'step', image: 'x', imageID: '', ready: p.phase === 'Running', restartCount: 0, state }] }),
      },
    };
  }

  private runPod(ns: string, job: Obj): void {
    const spec = job.spec.template.spec;
    const container = spec.containers[0];
    const name = `${job.metadata.name}-${Math.random().toString(36).slice(2, 7)}`;
    const pod: PodState = { name, job: job.metadata.name, namespace: ns, phase: 'Pending', log: '', exitCode: null, waiting: null, unschedulable: false, child: null, dir: mkdtempSync(join(tmpdir(), 'kube-pod-')) };
    this.pods.set(name, pod);
    if (Object.keys(spec.nodeSelector ?? {}).includes('capstan.dev/unschedulable')) {
      pod.unschedulable = true;
      return;
    }
    if (String(container.image).includes('does-not-exist')) {
      pod.waiting = { reason: 'ErrImagePull', message: `rpc error: pulling image "${container.image}": not found` };
      return;
    }
    const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
    for (const e of container.env ?? []) env[e.name] = e.value;
    for (const from of container.envFrom ?? []) {
      const secret = this.secrets.get(`${ns}/${from.secretRef.name}`);
      for (const [k, v] of Object.entries(secret?.data ?? {})) env[k] = Buffer.from(String(v), 'base64').toString('utf8');
    }
    setTimeout(() => {
      if (!this.pods.has(name)) return;
      pod.phase = 'Running';
      const [cmd, ...args] = container.command as string[];
      const child = spawn(cmd, args, { cwd: pod.dir, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      pod.child = child;
      child.stdout!.on('data', (c) => (pod.log += String(c)));
      child.stderr!.on('data', (c) => (pod.log += String(c)));
      child.once('close', (code) => {
        pod.child = null;
        if (!this.pods.has(name) || pod.phase !== 'Running') return;
        pod.exitCode = code ?? 137;
        pod.phase = code === 0 ? 'Succeeded' : 'Failed';
        job.status = code === 0
          ? { succeeded: 1, conditions: [{ type: 'Complete', status: 'True' }] }
          : { failed: 1, conditions: [{ type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded' }] };
      });
      const deadline = job.spec.activeDeadlineSeconds;
      if (deadline) {
        setTimeout(() => {
          if (pod.phase !== 'Running') return;
          pod.phase = 'Failed';
          pod.exitCode = 137;
          this.kill(pod);
          job.status = { failed: 1, conditions: [{ type: 'Failed', status: 'True', reason: 'DeadlineExceeded', message: 'Job was active longer than specified deadline' }] };
        }, deadline * 1000).unref();
      }
    }, 30);
  }

  private kill(p: PodState): void {
    try {
      if (p.child?.pid) process.kill(-p.child.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }

  private removePod(p: PodState): void {
    this.kill(p);
    this.pods.delete(p.name);
    rmSync(p.dir, { recursive: true, force: true });
  }
}
