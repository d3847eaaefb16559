// The queue between the engine and remote workers (`capstan worker --labels gpu=1,zone=a`), kept in
// Redis so any server replica can enqueue and any worker, anywhere, can pull. Every state change of
// a task is one Lua script, so claims, completions, cancels and reaping stay atomic across replicas.
//
// Keys under the prefix (one attempt of one step instance is the member `<task id>#<attempt>`):
//   queue            sorted set of queued members, oldest (lowest score) first
//   seq              counter giving enqueue order
//   task:<member>    hash: task (JSON), req (JSON), state queued|claimed|done, worker, claimedAt,
//                    requeues, cancel; once done only the state is kept, until resultTtlMs
//   claimed          set of claimed members (what reap looks at)
//   log:<member>     stream of log lines (fields s, l), ended by one entry with the field `result`
//   alive:<worker>   exists while the worker heartbeats (PX deadAfterMs)
//   worker:<worker>  hash: labels (JSON), lastSeen, task
//   workers          set of worker ids seen
//   wake             pub/sub channel: a task became claimable
// Scripts build key names from the prefix, so the queue needs a single Redis (not a cluster).
import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import { AppError, invalidParam, notFound } from '../../errors/index.js';
import type { Resources } from '../spec/index.js';
import type { StepAttempt, StepTask } from '../run/task.js';
import { CANCEL, CLAIM, COMPLETE, ENQUEUE, REAP } from './queue.scripts.js';

export type LogStream = 'stdout' | 'stderr' | 'system';
export type RedisFactory = () => Redis;

export interface StepQueueOptions {
  /** Prepended to every key; default `capstan:steps:`. */
  prefix?: string;
  /** A worker without a heartbeat for this long is dead and its task is re-queued; default 30000. */
  deadAfterMs?: number;
  /** Re-queues of one attempt after lost workers before it is reported lost; default 3. */
  maxRequeues?: number;
  /** Log lines kept per attempt (older ones are trimmed); default 10000. */
  maxLogLines?: number;
  /** How long an unread result, the log stream and the done marker are kept; default one day. */
  resultTtlMs?: number;
  /** A waiting claim looks at the queue again at least this often, wake-up or not; default 1000. */
  pollMs?: number;
  /** A claim looks at this many of the oldest queued tasks; default 1000. */
  scanLimit?: number;
  /** Called with errors of background work (subscribing, reading logs); those are retried. */
  onError?: (err: unknown) => void;
}

export interface WorkerInfo {
  id: string;
  labels: Record<string, string>;
  lastSeenMs: number;
  task: TaskRef | null;
}

export interface TaskRef {
  taskId: string;
  attempt: number;
}

export type CancelOutcome = 'removed' | 'flagged' | 'unknown';

const MAX_LINE = 16 * 1024;
const READ_BLOCK_MS = 250;

/** What a step asks of a worker: its node labels, plus `gpu` when it needs GPUs. */
export function requirementsOf(resources: Resources): Record<string, string> {
  const req = { ...resources.nodeLabels };
  if (resources.gpu > 0) req.gpu = String(resources.gpu);
  return req;
}

interface Waiter {
  lastId: string;
  onLog?: (stream: LogStream, line: string) => void;
  settle(result: StepAttempt | null, err?: unknown): void;
}

/**
 * Step attempts waiting for, held by, and finished by remote workers. The engine side enqueues,
 * waits for results and reaps; the worker side claims, heartbeats, logs and completes. Every
 * method may be called from any number of processes at once.
 */
export class StepQueue {
  private readonly connect: RedisFactory;
  private readonly redis: Redis;
  private subscriber: Redis | null = null;
  private reader: Redis | null = null;
  private subscribing: Promise<void> | null = null;
  private readonly prefix: string;
  private readonly deadAfterMs: number;
  private readonly maxRequeues: number;
  private readonly maxLogLines: number;
  private readonly resultTtlMs: number;
  private readonly pollMs: number;
  private readonly scanLimit: number;
  private readonly onError: (err: unknown) => void;
  private readonly shas = new Map<string, string>();
  private readonly sleepers = new Set<() => void>();
  private readonly waiters = new Map<string, Waiter>();
  private wakeCount = 0;
  private reading = false;
  private closed = false;

  constructor(redis: string | RedisFactory, options: StepQueueOptions = {}) {
    this.connect = typeof redis === 'string' ? () => new Redis(redis) : redis;
    this.prefix = options.prefix ?? 'capstan:steps:';
    this.deadAfterMs = options.deadAfterMs ?? 30_000;
    this.maxRequeues = options.maxRequeues ?? 3;
    this.maxLogLines = options.maxLogLines ?? 10_000;
    this.resultTtlMs = options.resultTtlMs ?? 86_400_000;
    this.pollMs = options.pollMs ?? 1000;
    this.scanLimit = options.scanLimit ?? 1000;
    this.onError = options.onError ?? (() => undefined);
    this.redis = this.open();
  }

  /** Queues one attempt. Idempotent: false when this task id and attempt were queued before. */
  async enqueue(task: StepTask, requirements: Record<string, string>): Promise<boolean> {
    checkLabels('requirements', requirements);
    const reply = await this.script(ENQUEUE, [memberOf(task.id, task.attempt), JSON.stringify(task), JSON.stringify(requirements)]);
    return reply === 1;
  }

  /**
   * Takes the oldest queued task the labels satisfy, or null when none came within blockMs.
   * Claiming also counts as a heartbeat.
   */
  async claim(workerId: string, labels: Record<string, string>, blockMs: number): Promise<StepTask | null> {
    checkWorker(workerId);
    checkLabels('labels', labels);
    if (!(blockMs >= 0)) throw invalidParam(`blockMs must be 0 or more, got ${blockMs}`);
    const deadline = Date.now() + blockMs;
    if (blockMs > 0) await this.subscribe();
    for (;;) {
      const seen = this.wakeCount;
      const reply = await this.script(CLAIM, [workerId, JSON.stringify(labels), this.deadAfterMs, this.scanLimit]);
      if (typeof reply === 'string') return JSON.parse(reply) as StepTask;
      const leftMs = deadline - Date.now();
      if (leftMs <= 0 || this.closed) return null;
      // A wake-up that came while the script ran would otherwise be slept through.
      if (this.wakeCount === seen) await this.sleep(Math.min(leftMs, this.pollMs));
    }
  }

  /** The worker is alive for deadAfterMs more; its labels and this time show in workers(). */
  async heartbeat(workerId: string, labels: Record<string, string>): Promise<void> {
    checkWorker(workerId);
    checkLabels('labels', labels);
    const now = Date.now();
    await this.redis.multi()
      .set(this.key(`alive:${workerId}`), String(now), 'PX', this.deadAfterMs)
      .hset(this.key(`worker:${workerId}`), 'labels', JSON.stringify(labels), 'lastSeen', String(now))
      .sadd(this.key('workers'), workerId)
      .exec();
  }

  /**
   * Ends a claimed attempt with its result. False when the attempt is not claimed (cancelled
   * while queued, finished, reaped) or, with workerId, is claimed by another worker.
   */
  async complete(taskId: string, attempt: number, result: StepAttempt, workerId = ''): Promise<boolean> {
    return (await this.script(COMPLETE, [memberOf(taskId, attempt), JSON.stringify(result), workerId])) === 1;
  }

  /** One line of the attempt's output; the oldest lines beyond maxLogLines are dropped. */
  async appendLog(taskId: string, attempt: number, stream: LogStream, line: string): Promise<void> {
    const key = this.key(`log:${memberOf(taskId, attempt)}`);
    const text = line.length > MAX_LINE ? `${line.slice(0, MAX_LINE)} … [${line.length - MAX_LINE} more characters]` : line;
    await this.redis.multi()
      .xadd(key, 'MAXLEN', '~', this.maxLogLines, '*', 's', stream, 'l', text)
      .pexpire(key, this.resultTtlMs)
      .exec();
  }

  /**
   * Resolves with the attempt's result, passing every log line before it to onLog in order (from
   * the first, even if they were written before the wait began). The stream is deleted once read.
   * Rejects with the signal's reason when it aborts; the attempt itself is left alone (see cancel).
   */
  waitResult(taskId: string, attempt: number, signal?: AbortSignal, onLog?: (stream: LogStream, line: string) => void): Promise<StepAttempt> {
    const member = memberOf(taskId, attempt);
    const key = this.key(`log:${member}`);
    return new Promise<StepAttempt>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      if (this.waiters.has(key)) return reject(new AppError('INVALID_STATE', `step attempt ${member} is already awaited in this process`));
      const onAbort = () => waiter.settle(null, signal?.reason);
      const waiter: Waiter = {
        lastId: '0',
        onLog,
        settle: (result, err) => {
          if (this.waiters.get(key) !== waiter) return;
          this.waiters.delete(key);
          signal?.removeEventListener('abort', onAbort);
          if (result) resolve(result);
          else reject(err);
        },
      };
      this.waiters.set(key, waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
      // The state is read before the stream: an attempt finishing in between has its stream by then.
      this.redis.multi().hget(this.key(`task:${member}`), 'state').exists(key).exec().then((replies) => {
        const [state, streams] = (replies ?? []).map((r) => r[1]);
        if (streams === 1 || state === 'queued' || state === 'claimed') void this.readLoop();
        else waiter.settle(null, notFound(`step attempt ${member} was never queued, or its result was read already or expired`));
      }, (err: unknown) => waiter.settle(null, err));
    });
  }

  /**
   * Cancels an attempt. A queued one is removed and its waiter gets a `cancelled` result; a claimed
   * one is flagged, and its worker, polling isCancelled, stops the step and completes it.
   */
  async cancel(taskId: string, attempt: number): Promise<CancelOutcome> {
    return (await this.script(CANCEL, [memberOf(taskId, attempt)])) as CancelOutcome;
  }

  /**
   * True when the worker should stop the attempt: it was cancelled or finished, or (given the
   * worker's id) was re-queued and handed to another worker after this one was taken for dead.
   */
  async isCancelled(taskId: string, attempt: number, workerId?: string): Promise<boolean> {
    const [state, cancel, worker] = await this.redis.hmget(this.key(`task:${memberOf(taskId, attempt)}`), 'state', 'cancel', 'worker');
    return state !== 'claimed' || cancel === '1' || (workerId !== undefined && worker !== workerId);
  }

  /**
   * Puts back at the head of the queue the tasks of workers whose heartbeat expired; after
   * maxRequeues a task is finished as lost instead. Safe to run from every replica at once.
   */
  async reap(now = Date.now()): Promise<{ requeued: TaskRef[]; lost: TaskRef[] }> {
    const [requeued, lost] = (await this.script(REAP, [this.maxRequeues, this.deadAfterMs], now)) as [string[], string[]];
    return { requeued: requeued.map(refOf), lost: lost.map(refOf) };
  }

  /** Workers whose heartbeat is current, by id. */
  async workers(): Promise<WorkerInfo[]> {
    const ids = (await this.redis.smembers(this.key('workers'))).sort();
    const batch = this.redis.pipeline();
    for (const id of ids) batch.exists(this.key(`alive:${id}`)).hgetall(this.key(`worker:${id}`));
    const replies = (await batch.exec()) ?? [];
    const out: WorkerInfo[] = [];
    ids.forEach((id, i) => {
      const alive = replies[2 * i]?.[1];
      const info = replies[2 * i + 1]?.[1] as Record<string, string> | undefined;
      if (alive !== 1 || !info?.labels) return;
      out.push({ id, labels: JSON.parse(info.labels), lastSeenMs: Number(info.lastSeen), task: info.task ? refOf(info.task) : null });
    });
    return out;
  }

  /** Stops waiting claims (they return null) and waiters (they reject), then disconnects. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const wake of [...this.sleepers]) wake();
    const closing = new AppError('TEMPORARILY_UNAVAILABLE', 'the step queue was closed while waiting for a result');
    for (const waiter of [...this.waiters.values()]) waiter.settle(null, closing);
    this.reader?.disconnect();
    this.subscriber?.disconnect();
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  private key(name: string): string {
    return this.prefix + name;
  }

  private open(): Redis {
    const conn = this.connect();
    conn.on('error', (err: unknown) => this.onError(err)); // ioredis reconnects by itself
    return conn;
  }

  private async script(source: string, args: (string | number)[], now = Date.now()): Promise<unknown> {
    let sha = this.shas.get(source);
    if (!sha) this.shas.set(source, (sha = createHash('sha1').update(source).digest('hex')));
    const argv = [this.prefix, now, this.resultTtlMs, this.maxLogLines, ...args];
    try {
      return await this.redis.evalsha(sha, 0, ...argv);
    } catch (err) {
      if (!String((err as Error)?.message).startsWith('NOSCRIPT')) throw err;
      return await this.redis.eval(source, 0, ...argv);
    }
  }

  /** Listens for wake-ups; when that fails, claims still find work by polling every pollMs. */
  private subscribe(): Promise<void> {
    this.subscribing ??= (async () => {
      this.subscriber = this.open();
      this.subscriber.on('message', () => this.wake());
      await this.subscriber.subscribe(this.key('wake'));
    })().catch((err: unknown) => this.onError(err));
    return this.subscribing;
  }

  private wake(): void {
    this.wakeCount++;
    for (const wake of [...this.sleepers]) wake();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.sleepers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.sleepers.add(done);
    });
  }

  /**
   * One connection reads the streams of every attempt this process waits for, with one blocking
   * XREAD; an attempt awaited while a read is blocked joins at the next one (within READ_BLOCK_MS).
   */
  private async readLoop(): Promise<void> {
    if (this.reading) return;
    this.reading = true;
    this.reader ??= this.open();
    try {
      while (this.waiters.size && !this.closed) {
        const keys = [...this.waiters.keys()];
        const ids = keys.map((k) => this.waiters.get(k)!.lastId);
        let reply: unknown;
        try {
          reply = await this.reader.call('XREAD', ['COUNT', 1000, 'BLOCK', READ_BLOCK_MS, 'STREAMS', ...keys, ...ids]);
        } catch (err) {
          if (this.closed) return;
          this.onError(err);
          await this.sleep(this.pollMs);
          continue;
        }
        for (const [key, entries] of streamReplies(reply)) this.deliver(key, entries);
      }
    } finally {
      this.reading = false;
    }
  }

  private deliver(key: string, entries: Array<[string, string[]]>): void {
    const waiter = this.waiters.get(key);
    if (!waiter) return;
    for (const [id, fields] of entries) {
      waiter.lastId = id;
      const entry = fieldsOf(fields);
      if (entry.result !== undefined) {
        this.redis.del(key).catch((err: unknown) => this.onError(err));
        waiter.settle(JSON.parse(entry.result) as StepAttempt);
        return;
      }
      try {
        waiter.onLog?.(entry.s as LogStream, entry.l ?? '');
      } catch (err) {
        this.onError(err);
      }
    }
  }
}

function memberOf(taskId: string, attempt: number): string {
  if (!taskId) throw invalidParam('a step task needs an id');
  if (!Number.isInteger(attempt) || attempt < 1) throw invalidParam(`attempt must be a whole number from 1, got ${attempt}`);
  return `${taskId}#${attempt}`;
}

function refOf(member: string): TaskRef {
  const at = member.lastIndexOf('#');
  return { taskId: member.slice(0, at), attempt: Number(member.slice(at + 1)) };
}

function checkWorker(workerId: string): void {
  if (!/^[A-Za-z0-9._:@-]{1,200}$/.test(workerId)) {
    throw invalidParam(`worker id '${workerId}' must be 1–200 letters, digits or . _ : @ -`);
  }
}

function checkLabels(what: string, labels: Record<string, string>): void {
  for (const [k, v] of Object.entries(labels)) {
    if (!k || typeof v !== 'string') throw invalidParam(`${what}: '${k}' must be a non-empty name with a string value`);
  }
}

function fieldsOf(fields: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) out[fields[i]] = fields[i + 1];
  return out;
}

/** XREAD's reply as [key, entries] pairs: RESP2 sends pairs, RESP3 a map (flattened by ioredis). */
function streamReplies(reply: unknown): Array<[string, Array<[string, string[]]>]> {
  if (!Array.isArray(reply)) return [];
  if (reply.every((item) => Array.isArray(item) && typeof item[0] === 'string')) return reply as Array<[string, Array<[string, string[]]>]>;
  const out: Array<[string, Array<[string, string[]]>]> = [];
  for (let i = 0; i + 1 < reply.length; i += 2) out.push([String(reply[i]), reply[i + 1] as Array<[string, string[]]>]);
  return out;
}
