// The workers runner: step attempts go into the Redis queue, a `capstan worker` whose labels fit
// takes each one, and its log lines and result come back through the same queue. The server side
// also reaps: a worker that stops heartbeating has its attempt re-queued for another worker.
import type { Logger } from 'pino';
import type { AttemptHooks, StepAttempt, StepRunner, StepTask } from '../run/task.js';
import { requirementsOf, type StepQueue } from './queue.js';

export class WorkersRunner implements StepRunner {
  readonly kind = 'workers' as const;
  private readonly reaper: NodeJS.Timeout;

  constructor(private readonly queue: StepQueue, private readonly logger: Logger, reapEveryMs = 2000) {
    this.reaper = setInterval(() => {
      queue.reap().then(
        (r) => {
          if (r.requeued.length || r.lost.length) logger.warn({ requeued: r.requeued, lost: r.lost }, 'pipeline workers stopped answering; their steps were re-queued');
        },
        (err: Error) => logger.warn({ err }, 'could not reap the pipeline worker queue'),
      );
    }, reapEveryMs);
    this.reaper.unref();
  }

  async runAttempt(task: StepTask, hooks: AttemptHooks): Promise<StepAttempt> {
    const requirements = requirementsOf(task.resources);
    await this.queue.enqueue(task, requirements);
    const wanted = Object.entries(requirements).map(([k, v]) => `${k}=${v}`).join(',');
    hooks.log('system', `queued for a worker${wanted ? ` with ${wanted}` : ''}`);
    try {
      return await this.queue.waitResult(task.id, task.attempt, hooks.signal, (stream, line) => hooks.log(stream, line));
    } catch (err) {
      if (!hooks.signal.aborted) throw err;
      await this.queue.cancel(task.id, task.attempt).catch((e: Error) => this.logger.warn({ err: e, task: task.id }, 'could not cancel a queued step'));
      return { outcome: 'cancelled', exitCode: null, metrics: {}, metricErrors: [], outputs: {}, message: 'cancelled' };
    }
  }

  async close(): Promise<void> {
    clearInterval(this.reaper);
    await this.queue.close();
  }
}
