// A local stand-in for the parts of the Kubernetes API the pipeline runner uses, with Kubernetes'
// own paths, object shapes, status codes and Status error bodies (401, 403 naming the verb, 404,
// 409 AlreadyExists, 422 Invalid with causes; kube-rules.ts). It is the Job controller and garbage
// collector too, and its node (kube-node.ts) runs each pod's container as a child process here (the
// image is recorded, not pulled) with the Job's env and its Secret's values. Pods go Pending →
// Running → Succeeded/Failed; they can be watched (`watch=true`, resourceVersions, replay) and their
// logs followed (chunked, timestamps, sinceTime). activeDeadlineSeconds ends the pod (Job condition
// DeadlineExceeded). Simulated on request: an image named *does-not-exist* (ErrImagePull, then
// ImagePullBackOff), a nodeSelector key capstan.dev/unschedulable (Unschedulable), a missing Secret
// (CreateContainerConfigError), refused verbs (forbid), a pod or Job deleted, streams dropped.
// Not modelled: init containers running (they complete at once), node resources, quotas, admission,
// evictions, patch and apply, field validation warnings, watch expiry (410 Gone), TLS.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { invalidBody, matches, RESOURCES, statusBody, validateJob, validateSecret, type Obj } from './kube-rules.js';
import { StandInNode, type Pod } from './kube-node.js';

const clone = <T>(v: T): T => structuredClone(v);

export interface Recorded {
  method: string;
  path: string;
  query: Record<string, string>;
  body: Obj | null;
}

interface Watcher {
  res: ServerResponse;
  ns: string;
  selector: string;
}

export class KubeStandIn {
  readonly requests: Recorded[] = [];
  readonly jobs = new Map<string, Obj>();
  readonly secrets = new Map<string, Obj>();
  readonly pods = new Map<string, Pod>();
  readonly namespaces: Set<string>;
  url = '';
  private readonly forbidden = new Set<string>();
  private readonly watchers = new Set<Watcher>();
  private readonly history: Array<{ rv: number; type: string; object: Obj }> = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private rv = 1000;
  private server: Server | null = null;
  private readonly node: StandInNode;

  /**
   * `token`: the bearer token required (401 otherwise); `user`: named in 403s; `imagePath`:
   * directories searched for commands before this machine's PATH, standing in for the images.
   */
  constructor(private readonly opts: { token?: string; namespaces?: string[]; user?: string; imagePath?: string[] } = {}) {
    this.namespaces = new Set(opts.namespaces ?? ['default']);
    this.node = new StandInNode({
      changed: (pod) => this.emit('MODIFIED', pod),
      secret: (ns, name) => this.secrets.get(`${ns}/${name}`),
      exited: (pod, exitCode) => {
        const job = [...this.jobs.values()].find((j) => j.metadata.uid === pod.object.metadata.ownerReferences[0].uid);
        if (job && !job.status.conditions?.length) this.finishJob(job, exitCode !== 0, 'BackoffLimitExceeded', 'Job has reached the specified backoff limit');
      },
      removed: (pod) => {
        this.pods.delete(pod.object.metadata.name);
        this.emit('DELETED', pod);
      },
    }, opts.imagePath);
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res).catch((err) => this.status(res, 500, 'InternalError', String(err))));
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    for (const pod of [...this.pods.values()]) this.node.kill(pod);
    this.dropStreams('destroy');
    this.server?.closeAllConnections();
    await new Promise((r) => this.server?.close(r));
  }

  /** Answers 403 to `verb` on `resource` (`create jobs`, `watch pods`, `get pods/log`), as RBAC would. */
  forbid(verb: string, resource: string): void {
    this.forbidden.add(`${verb} ${resource}`);
  }

  allowAll(): void {
    this.forbidden.clear();
  }

  /** Deletes a pod as an operator (kubectl delete pod) or the node lifecycle controller would. */
  deletePod(name: string, graceSeconds = 30): void {
    const pod = this.pods.get(name);
    if (pod) this.node.terminate(pod, graceSeconds);
  }

  /** Deletes a Job as `kubectl delete job --cascade=...` would (the API's default for Jobs: orphan the pods). */
  deleteJob(name: string, propagationPolicy: 'Orphan' | 'Background' = 'Orphan'): void {
    const key = [...this.jobs.keys()].find((k) => k.endsWith(`/${name}`));
    if (key) this.collectGarbage(this.jobs.get(key)!, propagationPolicy);
    if (key) this.jobs.delete(key);
  }

  /** Ends every watch and log stream: cleanly (the server closing them) or by breaking the connection. */
  dropStreams(how: 'end' | 'destroy' = 'end'): void {
    const responses = [...[...this.watchers].map((w) => w.res), ...[...this.pods.values()].flatMap((p) => [...p.followers].map((f) => f.res))];
    for (const res of responses) how === 'end' ? res.end() : res.destroy();
    this.watchers.clear();
    for (const pod of this.pods.values()) pod.followers.clear();
  }

  /** The requests that match, newest last. */
  sent(method: string, path: RegExp): Recorded[] {
    return this.requests.filter((r) => r.method === method && path.test(r.path));
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  private send(res: ServerResponse, code: number, body: unknown): void {
    res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  }

  private status(res: ServerResponse, code: number, reason: string, message: string, details?: Obj): void {
    this.send(res, code, statusBody(code, reason, message, details));
  }

  private success(res: ServerResponse, name: string, resource: string, uid: string): void {
    this.send(res, 200, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { name, group: RESOURCES[resource].group || undefined, kind: resource, uid } });
  }

  private meta(ns: string, body: Obj): Obj {
    return { ...body.metadata, namespace: ns, uid: randomUUID(), resourceVersion: String(++this.rv), creationTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z') };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://standin');
    const query = Object.fromEntries(url.searchParams);
    const body = text ? (JSON.parse(text) as Obj) : null;
    const method = req.method ?? 'GET';
    this.requests.push({ method, path: url.pathname, query, body });
    if (this.opts.token && req.headers.authorization !== `Bearer ${this.opts.token}`) return this.status(res, 401, 'Unauthorized', 'Unauthorized');
    const m = /^\/(api\/v1|apis\/batch\/v1)\/namespaces\/([^/]+)\/(jobs|secrets|pods)(?:\/([^/]+))?(\/log)?$/.exec(url.pathname);
    if (!m || (m[3] === 'jobs') !== (m[1] === 'apis/batch/v1') || (m[5] && m[3] !== 'pods')) return this.status(res, 404, 'NotFound', 'the server could not find the requested resource');
    const [, , ns, resource, name, log] = m;
    const verb = log ? 'get' : method === 'POST' ? 'create' : method === 'PUT' ? 'update' : method === 'DELETE' ? (name ? 'delete' : 'deletecollection') : name ? 'get' : query.watch === 'true' ? 'watch' : 'list';
    const rbac = log ? 'pods/log' : resource;
    if (this.forbidden.has(`${verb} ${rbac}`)) {
      const group = RESOURCES[resource].group;
      return this.status(res, 403, 'Forbidden', `${rbac}${group ? `.${group}` : ''}${name ? ` "${name}"` : ''} is forbidden: User "${this.opts.user ?? 'system:serviceaccount:default:capstan'}" cannot ${verb} resource "${rbac}" in API group "${group}" in the namespace "${ns}"`, { ...(name ? { name } : {}), group: group || undefined, kind: rbac });
    }
    if (!this.namespaces.has(ns) && (verb === 'create' || verb === 'update')) return this.status(res, 404, 'NotFound', `namespaces "${ns}" not found`, { name: ns, kind: 'namespaces' });
    if (resource === 'pods') return this.pod(res, ns, verb, name, !!log, query);
    const store = resource === 'jobs' ? this.jobs : this.secrets;
    const key = `${ns}/${name ?? body?.metadata?.name}`;
    const notFound = () => this.status(res, 404, 'NotFound', `${resource}${resource === 'jobs' ? '.batch' : ''} "${name}" not found`, { name, group: RESOURCES[resource].group || undefined, kind: resource });
    if (verb === 'create') {
      const causes = resource === 'jobs' ? validateJob(body!) : validateSecret(body!);
      if (causes.length) return this.send(res, 422, invalidBody(resource, body?.metadata?.name ?? '', causes));
      if (store.has(key)) return this.status(res, 409, 'AlreadyExists', `${resource}${resource === 'jobs' ? '.batch' : ''} "${body!.metadata.name}" already exists`, { name: body!.metadata.name, group: RESOURCES[resource].group || undefined, kind: resource });
      const stored = resource === 'jobs' ? this.createJob(ns, body!) : this.storeSecret(ns, body!);
      return this.send(res, 201, stored);
    }
    if (verb === 'list') return this.send(res, 200, { kind: `${RESOURCES[resource].kind}List`, apiVersion: resource === 'jobs' ? 'batch/v1' : 'v1', metadata: { resourceVersion: String(this.rv) }, items: [...store.values()].filter((o) => o.metadata.namespace === ns && matches(query.labelSelector ?? '', o.metadata.labels)) });
    const current = store.get(key);
    if (!current) return notFound();
    if (verb === 'get') return this.send(res, 200, current);
    if (verb === 'update' && resource === 'secrets') return this.updateSecret(res, key, current, body!);
    if (verb === 'delete') {
      store.delete(key);
      if (resource === 'jobs') this.collectGarbage(current, body?.propagationPolicy ?? query.propagationPolicy ?? 'Orphan');
      return this.success(res, name!, resource, current.metadata.uid);
    }
    return this.status(res, 405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`);
  }

  private storeSecret(ns: string, body: Obj): Obj {
    const data: Record<string, string> = { ...body.data };
    for (const [k, v] of Object.entries(body.stringData ?? {})) data[k] = Buffer.from(String(v)).toString('base64');
    const { stringData: _written, ...rest } = body;
    const stored = { ...rest, kind: 'Secret', apiVersion: 'v1', type: body.type ?? 'Opaque', data, metadata: this.meta(ns, body) };
    this.secrets.set(`${ns}/${body.metadata.name}`, stored);
    return stored;
  }

  private updateSecret(res: ServerResponse, key: string, current: Obj, body: Obj): void {
    const data: Record<string, string> = { ...body.data };
    for (const [k, v] of Object.entries(body.stringData ?? {})) data[k] = Buffer.from(String(v)).toString('base64');
    if (body.metadata?.resourceVersion && body.metadata.resourceVersion !== current.metadata.resourceVersion) {
      return this.status(res, 409, 'Conflict', `Operation cannot be fulfilled on secrets "${current.metadata.name}": the object has been modified; please apply your changes to the latest version and try again`);
    }
    if (current.immutable && JSON.stringify(Object.entries(data).sort()) !== JSON.stringify(Object.entries(current.data).sort())) {
      return this.send(res, 422, invalidBody('secrets', current.metadata.name, [{ field: 'data', message: 'Forbidden: field is immutable when `immutable` is set' }]));
    }
    const owners = body.metadata?.ownerReferences ?? [];
    const bad = owners.findIndex((o: Obj) => !o.apiVersion || !o.kind || !o.name || !o.uid);
    if (bad >= 0) return this.send(res, 422, invalidBody('secrets', current.metadata.name, [{ field: `metadata.ownerReferences[${bad}]`, message: 'Invalid value: apiVersion, kind, name and uid are required' }]));
    const stored = { ...current, metadata: { ...current.metadata, labels: body.metadata?.labels, annotations: body.metadata?.annotations, ownerReferences: owners, resourceVersion: String(++this.rv) } };
    this.secrets.set(key, stored);
    this.send(res, 200, stored);
  }

  /** What the garbage collector does after a Job is deleted. Jobs default to orphaning their pods. */
  private collectGarbage(job: Obj, policy: string): void {
    if (policy === 'Orphan') return;
    this.later(20, () => {
      for (const pod of this.pods.values()) if (pod.object.metadata.ownerReferences?.[0]?.uid === job.metadata.uid) this.node.terminate(pod, pod.object.spec.terminationGracePeriodSeconds ?? 30);
      for (const [key, secret] of this.secrets) if (secret.metadata.ownerReferences?.some((o: Obj) => o.uid === job.metadata.uid)) this.secrets.delete(key);
    });
  }

  private createJob(ns: string, body: Obj): Obj {
    const job: Obj = { ...clone(body), kind: 'Job', apiVersion: 'batch/v1', metadata: this.meta(ns, body), status: { startTime: new Date().toISOString(), active: 0 } };
    this.jobs.set(`${ns}/${job.metadata.name}`, job);
    this.later(10, () => this.jobs.get(`${ns}/${job.metadata.name}`) === job && this.createPod(job));
    const deadline = job.spec.activeDeadlineSeconds;
    if (deadline) this.later(deadline * 1000, () => this.deadlineExceeded(job));
    return job;
  }

  private finishJob(job: Obj, failed: boolean, reason: string, message: string): void {
    const now = new Date().toISOString();
    const conditions = failed
      ? [{ type: 'FailureTarget', status: 'True', reason, message, lastTransitionTime: now }, { type: 'Failed', status: 'True', reason, message, lastTransitionTime: now }]
      : [{ type: 'SuccessCriteriaMet', status: 'True', reason: 'CompletionsReached', lastTransitionTime: now }, { type: 'Complete', status: 'True', reason: 'CompletionsReached', lastTransitionTime: now }];
    job.status = { ...job.status, active: 0, ready: 0, [failed ? 'failed' : 'succeeded']: 1, ...(failed ? {} : { completionTime: now }), conditions };
    job.metadata.resourceVersion = String(++this.rv);
    const ttl = job.spec.ttlSecondsAfterFinished;
    const key = `${job.metadata.namespace}/${job.metadata.name}`;
    if (ttl !== undefined) this.later(ttl * 1000, () => this.jobs.get(key) === job && (this.jobs.delete(key), this.collectGarbage(job, 'Background')));
  }

  private deadlineExceeded(job: Obj): void {
    if (this.jobs.get(`${job.metadata.namespace}/${job.metadata.name}`) !== job || job.status.conditions?.length) return;
    const message = 'Job was active longer than specified deadline';
    job.status.conditions = [{ type: 'FailureTarget', status: 'True', reason: 'DeadlineExceeded', message, lastTransitionTime: new Date().toISOString() }];
    const pods = [...this.pods.values()].filter((p) => p.object.metadata.labels['job-name'] === job.metadata.name);
    for (const pod of pods) this.node.terminate(pod, pod.object.spec.terminationGracePeriodSeconds ?? 30);
    const waitGone = () => (pods.some((p) => this.pods.has(p.object.metadata.name)) ? this.later(20, waitGone) : this.finishJob(job, true, 'DeadlineExceeded', message));
    waitGone();
  }

  /** A pod event: a new resourceVersion, kept for replay, sent to the watches that match. */
  private emit(type: 'ADDED' | 'MODIFIED' | 'DELETED', pod: Pod): void {
    pod.object.metadata.resourceVersion = String(++this.rv);
    const event = { rv: this.rv, type, object: clone(pod.object) };
    this.history.push(event);
    for (const w of this.watchers) if (w.ns === event.object.metadata.namespace && matches(w.selector, event.object.metadata.labels)) w.res.write(`${JSON.stringify({ type, object: event.object })}\n`);
  }

  private createPod(job: Obj): void {
    const template = clone(job.spec.template);
    const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
    const name = `${job.metadata.name}-${Array.from({ length: 5 }, () => alphabet[Math.floor(Math.random() * alphabet.length)]).join('')}`;
    const controllerLabels = { 'job-name': job.metadata.name, 'batch.kubernetes.io/job-name': job.metadata.name, 'controller-uid': job.metadata.uid, 'batch.kubernetes.io/controller-uid': job.metadata.uid };
    const object = {
      kind: 'Pod', apiVersion: 'v1',
      metadata: { ...this.meta(job.metadata.namespace, { metadata: { name, generateName: `${job.metadata.name}-` } }), labels: { ...template.metadata?.labels, ...controllerLabels }, ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: job.metadata.name, uid: job.metadata.uid, controller: true, blockOwnerDeletion: true }] },
      spec: { ...template.spec, terminationGracePeriodSeconds: template.spec.terminationGracePeriodSeconds ?? 30 },
      status: { phase: 'Pending', qosClass: 'BestEffort', conditions: [] as Obj[] },
    };
    const pod = this.node.admit(object);
    this.pods.set(name, pod);
    job.status.active = 1;
    this.emit('ADDED', pod);
  }

  private pod(res: ServerResponse, ns: string, verb: string, name: string | undefined, log: boolean, query: Record<string, string>): void {
    const pod = name ? this.pods.get(name) : undefined;
    if (name && (!pod || pod.object.metadata.namespace !== ns)) return this.status(res, 404, 'NotFound', `pods "${name}" not found`, { name, kind: 'pods' });
    if (log) return this.node.serveLog(res, pod!, query);
    const selected = () => [...this.pods.values()].filter((p) => p.object.metadata.namespace === ns && matches(query.labelSelector ?? '', p.object.metadata.labels));
    if (verb === 'get') return this.send(res, 200, pod!.object);
    if (verb === 'list') return this.send(res, 200, { kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: String(this.rv) }, items: selected().map((p) => p.object) });
    if (verb === 'watch') return this.watch(res, ns, query);
    const grace = query.gracePeriodSeconds !== undefined ? Number(query.gracePeriodSeconds) : undefined;
    const victims = pod ? [pod] : verb === 'deletecollection' ? selected() : [];
    if (verb !== 'delete' && verb !== 'deletecollection') return this.status(res, 405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
    for (const p of victims) this.node.terminate(p, grace ?? p.object.spec.terminationGracePeriodSeconds ?? 30);
    this.send(res, 200, pod ? pod.object : { kind: 'PodList', apiVersion: 'v1', metadata: {}, items: victims.map((p) => p.object) });
  }

  private watch(res: ServerResponse, ns: string, query: Record<string, string>): void {
    const watcher = { res, ns, selector: query.labelSelector ?? '' };
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    const from = Number(query.resourceVersion ?? '0');
    // No resourceVersion (or "0"): the current objects as ADDED first; otherwise what happened since.
    const backlog = from > 0 ? this.history.filter((e) => e.rv > from && e.object.metadata.namespace === ns).map((e) => ({ type: e.type, object: e.object }))
      : [...this.pods.values()].filter((p) => p.object.metadata.namespace === ns).map((p) => ({ type: 'ADDED', object: p.object }));
    for (const e of backlog) if (matches(watcher.selector, e.object.metadata.labels)) res.write(`${JSON.stringify(e)}\n`);
    this.watchers.add(watcher);
    res.once('close', () => this.watchers.delete(watcher));
    if (query.timeoutSeconds) this.later(Number(query.timeoutSeconds) * 1000, () => (this.watchers.delete(watcher), res.end()));
  }
}
