// What serving costs: inference compute time per deployment and version priced by the rate card,
// per 1k predictions, rolled up by the deployments' owner and cost_center tags; monthly budgets
// per project; deployments without traffic that could be scaled down.
import type { UsageSql } from './usage.sql.js';

export interface RateCard {
  currency: string;
  cpuHour: number;
  gpuHour: number;
  /** True when inference runs on a GPU execution provider: compute time is priced as GPU time. */
  gpu: boolean;
}

export interface DeploymentInfo {
  name: string;
  tags: Record<string, string>;
  createdTime: number;
}

export interface CostLine {
  deployment: string;
  model: string;
  version: string;
  requests: number;
  errors: number;
  cpu_seconds: number;
  gpu_seconds: number;
  cost: number;
  cost_per_1k_predictions: number | null;
  owner: string | null;
  cost_center: string | null;
}

const MINUTE = 60_000;
const round = (v: number, digits = 6) => Number(v.toFixed(digits));

function rollup(lines: CostLine[], key: (l: CostLine) => string | null) {
  const out = new Map<string, { requests: number; cost: number }>();
  for (const l of lines) {
    const k = key(l) ?? '(untagged)';
    const t = out.get(k) ?? { requests: 0, cost: 0 };
    t.requests += l.requests;
    t.cost += l.cost;
    out.set(k, t);
  }
  return [...out.entries()].map(([name, t]) => ({ name, requests: t.requests, cost: round(t.cost), cost_per_1k_predictions: t.requests ? round((t.cost / t.requests) * 1000, 9) : null }));
}

/**
 * Cost of [from, to). CPU-seconds are the time inference threads spent running the model (one
 * thread is one CPU while it runs); queueing and HTTP time are not priced. With a GPU execution
 * provider the same time is counted as GPU-seconds instead.
 */
export async function costReport(usage: UsageSql, projectId: number, from: number, to: number, card: RateCard, deployments: DeploymentInfo[]) {
  const tags = new Map(deployments.map((d) => [d.name, d.tags]));
  const lines: CostLine[] = (await usage.byVersion(projectId, Math.floor(from / MINUTE), Math.ceil(to / MINUTE))).map((u) => {
    const seconds = u.computeMs / 1000;
    const cost = card.gpu ? (seconds / 3600) * card.gpuHour : (seconds / 3600) * card.cpuHour;
    const t = tags.get(u.deployment) ?? {};
    return {
      deployment: u.deployment, model: u.model, version: u.version, requests: u.requests, errors: u.errors,
      cpu_seconds: card.gpu ? 0 : round(seconds), gpu_seconds: card.gpu ? round(seconds) : 0, cost: round(cost, 9),
      cost_per_1k_predictions: u.requests ? round((cost / u.requests) * 1000, 9) : null, owner: t.owner ?? null, cost_center: t.cost_center ?? null,
    };
  });
  return {
    from, to, currency: card.currency, rate_card: { cpu_hour: card.cpuHour, gpu_hour: card.gpuHour, gpu: card.gpu },
    total: round(lines.reduce((n, l) => n + l.cost, 0), 9),
    lines,
    by_deployment: rollup(lines, (l) => l.deployment),
    by_model_version: rollup(lines, (l) => `${l.model}/${l.version}`),
    by_owner: rollup(lines, (l) => l.owner),
    by_cost_center: rollup(lines, (l) => l.cost_center),
  };
}

/** Deployments that answered no request in the last `days` days (or never), oldest silence first. */
export async function idleDeployments(usage: UsageSql, projectId: number, deployments: DeploymentInfo[], days: number, now: number) {
  const last = await usage.lastTraffic(projectId);
  const cutoff = now - days * 86_400_000;
  return deployments
    .map((d) => ({ name: d.name, last_request_time: last.has(d.name) ? last.get(d.name)! * MINUTE : null, created_time: d.createdTime, owner: d.tags.owner ?? null, cost_center: d.tags.cost_center ?? null }))
    .filter((d) => (d.last_request_time ?? d.created_time) < cutoff)
    .sort((a, b) => (a.last_request_time ?? a.created_time) - (b.last_request_time ?? b.created_time))
    .map((d) => ({ ...d, idle_days: Math.floor((now - (d.last_request_time ?? d.created_time)) / 86_400_000) }));
}

/** The calendar month (UTC) holding `now`: [start, now]. */
export function monthToDate(now: number): { from: number; to: number } {
  const d = new Date(now);
  return { from: Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1), to: now };
}
