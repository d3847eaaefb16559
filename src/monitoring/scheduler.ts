import type { Logger } from 'pino';
import { parseMonitorSpec } from './monitor-spec.js';
import type { MonitoringSql } from './monitoring.sql.js';

export interface ScheduledWork {
  /** Runs one claimed monitor. */
  runMonitor(m: Awaited<ReturnType<MonitoringSql['due']>>[number]): Promise<unknown>;
  /** Checks whatever else is due (budgets); claims its own work. */
  other(now: number): Promise<void>;
}

/**
 * Runs monitors when they are due, on whichever replica claims them first: a claim moves the
 * monitor's next_run_time forward with a compare-and-set, so each due run happens exactly once
 * across replicas, and a replica that dies mid-run only delays that monitor to its next slot.
 */
export class MonitorScheduler {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;

  constructor(
    private readonly sql: MonitoringSql,
    private readonly work: ScheduledWork,
    private readonly logger: Logger,
    private readonly tickMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  start(): void {
    this.stopped = false;
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.tick().finally(() => {
        this.running = null;
        this.schedule();
      });
    }, this.tickMs);
    this.timer.unref();
  }

  /** One pass: every due monitor this replica wins, then the other checks. */
  async tick(): Promise<void> {
    try {
      const now = this.now();
      for (const m of await this.sql.due(now)) {
        if (this.stopped) return;
        let every = 300;
        try {
          every = parseMonitorSpec(m.spec).scheduleSeconds;
        } catch (err) {
          this.logger.warn({ err, monitor: m.name }, 'monitor document no longer valid; retried in 5 minutes');
        }
        if (!(await this.sql.claim(m.monitorId, m.nextRunTime, now + every * 1000))) continue;
        await this.work.runMonitor(m).catch((err: Error) => this.logger.error({ err, monitor: m.name, project_id: m.projectId }, 'monitor run failed'));
      }
      await this.work.other(now);
    } catch (err) {
      this.logger.warn({ err }, 'monitor scheduling pass failed; retried at the next tick');
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }
}
