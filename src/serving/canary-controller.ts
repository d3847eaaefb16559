import type { Logger } from 'pino';
import { decide } from './canary-analysis.js';
import type { DeploymentService } from './deployments.service.js';
import type { LiveDeployment } from './live-deployment.js';
import type { ServingRuntime } from './serving.runtime.js';

/**
 * Drives rollouts: every tick it compares each progressing canary with its stable target over the
 * sliding window. A breach rolls back at once; a pass held for interval_seconds moves to the next
 * step, and a pass at the last step promotes the canary. Every decision is a deployment event and
 * an audit event. Windows are this replica's traffic; the revision check in DeploymentService
 * makes sure one decision per step wins when several replicas decide.
 */
export class CanaryController {
  private timer: NodeJS.Timeout | null = null;
  private running = false;

  constructor(
    private readonly runtime: ServingRuntime,
    private readonly service: DeploymentService,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  start(intervalMs: number): void {
    this.timer = setInterval(() => void this.tick(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  async tick(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      for (const live of this.runtime.deployments()) await this.check(live).catch((err) => this.logger.warn({ err, deployment: live.name }, 'canary analysis failed'));
    } finally {
      this.running = false;
    }
  }

  private async check(live: LiveDeployment): Promise<void> {
    const { spec, rollout, revision } = live.table;
    const r = spec.rollout;
    if (!r || rollout.status !== 'progressing') return;
    const now = this.now();
    const windowMs = r.windowSeconds * 1000;
    const stable = live.window(r.stable, windowMs).summary(now);
    const canary = live.window(r.canary, windowMs).summary(now);
    const decision = decide(r.slo, stable, canary);
    const observed = { ...decision.observed, step: rollout.step, canary_weight: r.steps[rollout.step] };
    if (decision.verdict === 'fail') {
      this.logger.warn({ deployment: spec.name, reasons: decision.reasons }, 'canary breached its SLO; rolling back');
      await this.service.rollback(live.projectId, spec.name, { name: 'canary-controller', system: true }, decision.reasons, observed);
    } else if (decision.verdict === 'pass' && now - rollout.stepStartedAt >= r.intervalSeconds * 1000) {
      if (rollout.step >= r.steps.length - 1) await this.service.promote(live.projectId, spec.name, { name: 'canary-controller', system: true }, observed);
      else if (!(await this.service.step(live.projectId, spec.name, revision, observed))) return;
      live.windows.delete(r.canary);
    } else return;
    await this.runtime.refresh(live.projectId, spec.name);
  }
}
