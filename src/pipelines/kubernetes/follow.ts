// How the Kubernetes runner follows a Job: its pods through a list and then a watch (re-listed
// whenever the watch ends, so a dropped connection loses nothing), its step container's log as a
// stream, and Kubernetes API errors turned into messages that say what to fix.
import { StringDecoder } from 'node:string_decoder';
import { Writable } from 'node:stream';
import type { CoreV1Api, Log, V1Pod, Watch } from '@kubernetes/client-node';
import { AppError } from '../../errors/index.js';

/** Resolves after `ms`, or at once when `signal` aborts; leaves no listener behind. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    if (signal.aborted) done();
  });
}

interface KubeStatus {
  message?: string;
  details?: { kind?: string; causes?: Array<{ field?: string; message?: string }> };
}

/** The HTTP status and Kubernetes Status body of a client error (null code: no answer at all). */
export function statusOf(err: unknown): { code: number | null; status: KubeStatus } {
  const e = (err ?? {}) as { code?: unknown; statusCode?: unknown; body?: unknown };
  const code = typeof e.code === 'number' ? e.code : typeof e.statusCode === 'number' ? e.statusCode : null;
  let status: KubeStatus = {};
  if (typeof e.body === 'string') {
    try {
      status = JSON.parse(e.body) as KubeStatus;
    } catch {
      status = {};
    }
  } else if (e.body && typeof e.body === 'object') status = e.body as KubeStatus;
  return { code, status };
}

export interface ApiCall {
  verb: string;
  /** As RBAC names it: `jobs.batch`, `secrets`, `pods`, `pods/log`. */
  resource: string;
  namespace: string;
  /** The API server's address, for connection errors. */
  server?: string;
}

/** A Kubernetes API failure as a Capstan error that says what to fix. */
export function apiError(err: unknown, call: ApiCall): AppError {
  if (err instanceof AppError) return err;
  const { code, status } = statusOf(err);
  const what = `${call.verb} ${call.resource} in namespace ${call.namespace}`;
  const said = status.message ? `: ${status.message}` : '';
  const options = { cause: err, details: { kubernetes_status: code, verb: call.verb, resource: call.resource, namespace: call.namespace } };
  if (code === 401) return new AppError('CONFIG_INVALID', `Kubernetes did not accept Capstan's credentials when asked to ${what} (HTTP 401): the token or client certificate in its kubeconfig is missing, expired or revoked.`, options);
  if (code === 403) return new AppError('CONFIG_INVALID', `Kubernetes refused to let Capstan ${what} (HTTP 403${said}). Grant the account Capstan uses the verb '${call.verb}' on '${call.resource}' in namespace ${call.namespace} (a Role and a RoleBinding).`, options);
  if (code === 404 && status.details?.kind === 'namespaces') return new AppError('CONFIG_INVALID', `Kubernetes namespace ${call.namespace} does not exist: create it, or set pipelines.kubernetes_namespace to one that does.`, options);
  if (code === 404) return new AppError('RESOURCE_DOES_NOT_EXIST', `Kubernetes found nothing to ${what}${said}.`, options);
  if (code === 409) return new AppError('INVALID_STATE', `Kubernetes could not ${what}${said}.`, options);
  if (code === 400 || code === 422) {
    const causes = (status.details?.causes ?? []).map((c) => `${c.field ?? '?'}: ${c.message ?? ''}`).join('; ');
    return new AppError('PIPELINE_STEP_ERR', `Kubernetes rejected the request to ${what}${said}${causes && !said.includes(causes) ? ` (${causes})` : ''}.`, options);
  }
  if (code !== null) return new AppError('TEMPORARILY_UNAVAILABLE', `Kubernetes answered HTTP ${code} when asked to ${what}${said}; try again later.`, options);
  const reason = [(err as { code?: unknown }).code, (err as Error).message].filter((s) => typeof s === 'string' && s).join(': ');
  return new AppError('TEMPORARILY_UNAVAILABLE', `The Kubernetes API${call.server ? ` at ${call.server}` : ''} cannot be reached to ${what}${reason ? ` (${reason})` : ''}.`, options);
}

export interface JobPodsDeps {
  core: CoreV1Api;
  watch: Watch;
  namespace: string;
  /** `job-name=<job>`. */
  selector: string;
  signal: AbortSignal;
  /** How often pods are listed when watching them is refused or failing. */
  pollMs: number;
  say(line: string): void;
  fail(err: unknown, verb: string, resource: string): AppError;
}

/** The pods of one Job, kept current by a list followed by a watch from the list's resourceVersion. */
export class JobPods {
  private readonly pods = new Map<string, V1Pod>();
  private dirty = false;
  private wake: (() => void) | null = null;
  private watchCtl: AbortController | null = null;
  /** An error no retry fixes (credentials, RBAC); the attempt ends with it. */
  fatal: AppError | null = null;
  readonly stopped: Promise<void>;

  constructor(private readonly d: JobPodsDeps) {
    d.signal.addEventListener('abort', this.onAbort, { once: true });
    this.stopped = this.loop().finally(() => d.signal.removeEventListener('abort', this.onAbort));
  }

  list(): V1Pod[] {
    return [...this.pods.values()];
  }

  /** Resolves when the pods change, after `ms`, or when the attempt stops. */
  changed(ms: number): Promise<void> {
    if (this.dirty || this.d.signal.aborted) {
      this.dirty = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = null;
        this.dirty = false;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }

  private readonly onAbort = () => {
    this.watchCtl?.abort();
    this.wake?.();
  };

  private notify(): void {
    this.dirty = true;
    this.wake?.();
  }

  private async loop(): Promise<void> {
    let watchable = true;
    for (let failures = 0; !this.d.signal.aborted; ) {
      try {
        const list = await this.d.core.listNamespacedPod({ namespace: this.d.namespace, labelSelector: this.d.selector });
        this.pods.clear();
        for (const pod of list.items) this.pods.set(pod.metadata!.name!, pod);
        this.notify();
        failures = 0;
        if (watchable) {
          const { code } = statusOf(await this.watchFrom(list.metadata?.resourceVersion));
          if (code === 401 || code === 403) {
            watchable = false;
            this.d.say(`Kubernetes does not allow Capstan to watch pods (HTTP ${code}); listing them every ${this.d.pollMs} ms instead (grant 'watch' on pods)`);
          }
        }
      } catch (err) {
        const e = this.d.fail(err, 'list', 'pods');
        if (e.code === 'CONFIG_INVALID') {
          this.fatal = e;
          this.notify();
          return;
        }
        if (failures++ === 0) this.d.say(`cannot list the Job's pods, retrying: ${e.message}`);
      }
      // A watch that ended is re-established at once (after a breath, should the server keep closing it).
      await sleep(failures ? Math.min(30_000, this.d.pollMs * 2 ** failures) : watchable ? 100 : this.d.pollMs, this.d.signal);
    }
  }

  /** Watches from `resourceVersion` until the watch ends; resolves with why (null: closed by the server). */
  private watchFrom(resourceVersion: string | undefined): Promise<unknown> {
    return new Promise((resolve) => {
      let over = false;
      const end = (why: unknown) => {
        over = true;
        this.watchCtl?.abort();
        resolve(why);
      };
      const onEvent = (type: string, obj: V1Pod) => {
        const name = obj?.metadata?.name;
        if (over) return;
        // ERROR carries a Status (410 Gone: the resourceVersion is too old): list again.
        if (type === 'ERROR') return end(obj);
        if (!name || (type !== 'ADDED' && type !== 'MODIFIED' && type !== 'DELETED')) return;
        if (type === 'DELETED') this.pods.delete(name);
        else this.pods.set(name, obj);
        this.notify();
      };
      const path = `/api/v1/namespaces/${encodeURIComponent(this.d.namespace)}/pods`;
      this.d.watch.watch(path, { labelSelector: this.d.selector, resourceVersion, allowWatchBookmarks: true }, onEvent, (err) => end(err ?? null)).then(
        (ctl) => {
          this.watchCtl = ctl;
          if (over || this.d.signal.aborted) ctl.abort();
        },
        end,
      );
    });
  }
}

/** RFC 3339 with nine fraction digits, so that Kubernetes' timestamps compare as strings. */
export function normalTime(ts: string): string | null {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z$/.exec(ts);
  return m ? `${m[1]}.${(m[2] ?? '').padEnd(9, '0')}Z` : null;
}

export interface LogFollowerDeps {
  log: Log;
  namespace: string;
  pod: string;
  container: string;
  signal: AbortSignal;
  onLine(line: string): void;
  say(line: string): void;
}

/**
 * Follows one container's log line by line. Lines are asked for with Kubernetes' timestamps, so a
 * stream that ends early is resumed from the last line's second and the lines already passed on
 * are skipped: none is repeated or lost. A stream that breaks without ending looks like a quiet
 * step; `check` (called now and then) compares a silent stream with a plain read and replaces it
 * when that read finds lines it missed. `finish`, once the container has exited, reads the rest.
 */
export class LogFollower {
  private lastTs = '';
  /** Lines passed on with the timestamp lastTs. */
  private atLast = 0;
  private emitted = 0;
  /** The follow stream delivered something since the last check. */
  private heard = false;
  private checking = false;
  private refused = false;
  /** Cancels the follow stream, while one is open. */
  private stream: (() => void) | null = null;
  private readonly cancels = new Set<() => void>();
  private readonly halt = new AbortController();
  private readonly following: Promise<void>;

  constructor(private readonly d: LogFollowerDeps) {
    d.signal.addEventListener('abort', this.stop, { once: true });
    this.following = this.follow();
  }

  /** Stops following and reads the rest of the log (the container has exited); at most `drainMs`. */
  async finish(drainMs: number): Promise<void> {
    this.stop();
    await this.following;
    if (!this.d.signal.aborted) await this.read('final', drainMs);
  }

  readonly stop = (): void => {
    this.d.signal.removeEventListener('abort', this.stop);
    this.halt.abort();
    for (const cancel of this.cancels) cancel();
  };

  /** While the container runs: replaces a silent stream that has missed lines (broken without ending). */
  async check(limitMs: number): Promise<void> {
    if (this.checking || this.halt.signal.aborted || !this.stream) return;
    if (this.heard) {
      this.heard = false;
      return;
    }
    this.checking = true;
    const before = this.emitted;
    await this.read('probe', limitMs);
    this.checking = false;
    if (this.emitted > before) this.stream?.();
  }

  private async follow(): Promise<void> {
    for (let failures = 0; !this.halt.signal.aborted; ) {
      const ended = await this.read('follow');
      failures = ended ? 0 : failures + 1;
      await sleep(ended ? 250 : Math.min(5000, 250 * 2 ** failures), this.halt.signal);
    }
  }

  /** Passes a line on unless it was already (its timestamp and its rank among lines of that timestamp). */
  private taker(): (raw: string) => void {
    let seenTs = '';
    let seen = 0;
    return (raw) => {
      const space = raw.indexOf(' ');
      const ts = normalTime(space < 0 ? raw : raw.slice(0, space));
      if (ts && ts < this.lastTs) return;
      if (ts) {
        seen = ts === seenTs ? seen + 1 : 1;
        seenTs = ts;
        if (ts === this.lastTs && seen <= this.atLast) return;
        this.lastTs = ts;
        this.atLast = seen;
      }
      this.emitted++;
      this.d.onLine(!ts ? raw : space < 0 ? '' : raw.slice(space + 1));
    };
  }

  /** One log request; true when its stream ended, false when it failed or was cancelled. */
  private async read(mode: 'follow' | 'probe' | 'final', limitMs?: number): Promise<boolean> {
    const decoder = new StringDecoder('utf8');
    const take = this.taker();
    let rest = '';
    const onData = mode === 'follow' ? () => (this.heard = true) : () => undefined;
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        onData();
        const parts = (rest + decoder.write(chunk)).split('\n');
        rest = parts.pop() ?? '';
        for (const part of parts) take(part.replace(/\r$/, ''));
        callback();
      },
    });
    let ctl: AbortController | null = null;
    let cancelled = false;
    let settle: (ok: boolean) => void = () => undefined;
    const ended = new Promise<boolean>((resolve) => {
      settle = resolve;
      sink.once('finish', () => resolve(true));
    });
    const cancel = () => {
      cancelled = true;
      ctl?.abort();
      settle(false);
    };
    this.cancels.add(cancel);
    if (mode === 'follow') this.stream = cancel;
    const timer = limitMs ? setTimeout(cancel, limitMs) : null;
    try {
      // sinceTime has whole seconds: that second's lines come again and are skipped.
      const sinceTime = this.lastTs ? `${this.lastTs.slice(0, 19)}Z` : undefined;
      ctl = await this.d.log.log(this.d.namespace, this.d.pod, this.d.container, sink, { follow: mode === 'follow', timestamps: true, ...(sinceTime ? { sinceTime } : {}) });
      if (cancelled || (mode === 'follow' && this.halt.signal.aborted)) ctl.abort();
      const ok = await ended;
      // A last line without its newline is whole only once the container has exited.
      if (ok && mode === 'final' && (rest += decoder.end())) take(rest);
      return ok;
    } catch (err) {
      const { code } = statusOf(err);
      if ((code === 401 || code === 403) && !this.refused) {
        this.refused = true;
        this.d.say(`Kubernetes does not let Capstan read the step's log (HTTP ${code}): grant 'get' on pods/log`);
      }
      return false;
    } finally {
      if (timer) clearTimeout(timer);
      this.cancels.delete(cancel);
      if (this.stream === cancel) this.stream = null;
    }
  }
}
