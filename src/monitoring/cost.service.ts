import type { Logger } from 'pino';
import type { AlertManager } from './alert-manager.js';
import type { AlertsSql } from './alerts.sql.js';
import { costReport, idleDeployments, monthToDate, type DeploymentInfo, type RateCard } from './cost.js';
import type { UsageSql } from './usage.sql.js';

export interface CostOptions {
  card: RateCard;
  idleDays: number;
  deployments: (projectId: number) => Promise<DeploymentInfo[]>;
  projectName: (projectId: number) => Promise<string>;
  publicUrl: string;
  logger?: Logger;
  now?: () => number;
}

const BUDGET_CHECK_MS = 60_000;

/** Cost reports, idle deployments and monthly budgets with their alerts. */
export class CostService {
  private readonly now: () => number;

  constructor(
    private readonly usage: UsageSql,
    private readonly alertsSql: AlertsSql,
    private readonly alerts: AlertManager,
    private readonly opts: CostOptions,
  ) {
    this.now = opts.now ?? Date.now;
  }

  async report(projectId: number, start?: number, end?: number) {
    const month = monthToDate(this.now());
    return costReport(this.usage, projectId, start ?? month.from, end ?? month.to, this.opts.card, await this.opts.deployments(projectId));
  }

  async idle(projectId: number, days?: number) {
    return idleDeployments(this.usage, projectId, await this.opts.deployments(projectId), days ?? this.opts.idleDays, this.now());
  }

  async budget(projectId: number) {
    const limit = await this.alertsSql.budget(projectId);
    const spent = (await this.report(projectId)).total;
    return { monthly_limit: limit, currency: this.opts.card.currency, month_to_date: spent, used_fraction: limit ? spent / limit : null };
  }

  /** Sets or (with null) removes the budget; removing it resolves its alerts. */
  async setBudget(projectId: number, monthlyLimit: number | null, actor: string, now: number): Promise<void> {
    await this.alertsSql.putBudget(projectId, monthlyLimit, actor, now);
    if (monthlyLimit === null) await this.alerts.evaluate({ projectId, key: 'budget', value: 'monthly' }, [], now, { repeatMinutes: 24 * 60, channels: [] });
  }

  /** Checks every budget that is due (one replica each, by claim) and raises or resolves its alerts. */
  async checkBudgets(now: number): Promise<void> {
    for (const b of await this.alertsSql.dueBudgets(now)) {
      if (!(await this.alertsSql.claimBudget(b.projectId, b.nextCheckTime, now + BUDGET_CHECK_MS))) continue;
      await this.checkBudget(b, now).catch((err: Error) => this.opts.logger?.warn({ err, project_id: b.projectId }, 'budget check failed'));
    }
  }

  private async checkBudget(b: { projectId: number; monthlyLimit: number }, now: number): Promise<void> {
    const status = await this.budget(b.projectId);
    const project = await this.opts.projectName(b.projectId);
    const used = status.used_fraction ?? 0;
    const level = used >= 1 ? { severity: 'P2' as const, what: 'exceeded' } : used >= 0.8 ? { severity: 'P3' as const, what: 'at 80%' } : null;
    const firing = level ? [{
      rule: 'cost_budget', severity: level.severity, value: used, labels: { project },
      summary: `Monthly budget ${level.what}: ${status.month_to_date.toFixed(2)} of ${b.monthlyLimit.toFixed(2)} ${status.currency} spent (${(used * 100).toFixed(0)}%)`,
      links: { dashboard: `${this.opts.publicUrl.replace(/\/$/, '')}/projects/${encodeURIComponent(project)}/api/capstan/cost/report` },
    }] : [];
    await this.alerts.evaluate({ projectId: b.projectId, key: 'budget', value: 'monthly' }, firing, now, { repeatMinutes: 24 * 60, channels: [] });
  }
}
