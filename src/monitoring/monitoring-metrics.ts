import { Gauge, type Registry } from 'prom-client';
import type { MonitoringSql } from './monitoring.sql.js';

/** What a run keeps for metrics and lists: small, unlike its report. */
export interface RunSummary {
  findings: { rule: string; severity: string; summary: string; value: number | null }[];
  feature_drift_share?: number;
  prediction_drift_share?: number;
  columns?: { name: string; role: string; drifted: boolean; effect: number | null; score: number | null }[];
  slos?: { name: string; budget_remaining_fraction: number; burn_rates: { rule: string; long: number; short: number }[] }[];
  model_quality?: Record<string, number | null>;
  latency?: { p95: number | null; p99: number | null; requests: number; errors: number };
}

/**
 * Each monitor's latest statistics as Prometheus gauges, read from the latest stored run at scrape
 * time, so every replica reports the same values whichever replica ran the monitor.
 */
export function registerMonitoringMetrics(registry: Registry, sql: MonitoringSql, projectName: (id: number) => Promise<string>): void {
  const registers = [registry];
  const monitorLabels = ['project', 'monitor', 'deployment'] as const;
  const shares = new Gauge({ name: 'capstan_monitor_drift_share', help: 'Share of columns that drifted in the latest run, by role (feature or prediction).', labelNames: [...monitorLabels, 'role'], registers });
  const column = new Gauge({ name: 'capstan_monitor_column_drift_effect', help: 'Effect size of a column in the latest run: PSI on reference deciles (numerical) or Jensen-Shannon distance (categorical).', labelNames: [...monitorLabels, 'column'], registers });
  const drifted = new Gauge({ name: 'capstan_monitor_column_drifted', help: '1 when the column counted as drifted in the latest run.', labelNames: [...monitorLabels, 'column'], registers });
  const rows = new Gauge({ name: 'capstan_monitor_window_rows', help: 'Rows in the latest run window.', labelNames: monitorLabels, registers });
  const findings = new Gauge({ name: 'capstan_monitor_findings', help: 'Checks failing in the latest run, by severity.', labelNames: [...monitorLabels, 'severity'], registers });
  const lastRun = new Gauge({ name: 'capstan_monitor_last_run_timestamp_seconds', help: 'When the monitor last ran.', labelNames: monitorLabels, registers });
  const budget = new Gauge({ name: 'capstan_slo_error_budget_remaining_ratio', help: 'Share of the SLO error budget left over its window.', labelNames: [...monitorLabels, 'slo'], registers });
  const burn = new Gauge({ name: 'capstan_slo_burn_rate', help: 'Error-budget burn rate over the long window of each alerting rule.', labelNames: [...monitorLabels, 'slo', 'rule'], registers });
  const quality = new Gauge({ name: 'capstan_model_quality', help: 'Model quality on labelled requests of the latest window (accuracy, f1, roc_auc, mae, rmse, …).', labelNames: [...monitorLabels, 'metric'], registers });
  const gauges = [shares, column, drifted, rows, findings, lastRun, budget, burn, quality];
  // One collect fills every gauge; prom-client calls each gauge's collect, so only the first does the work.
  let pending: Promise<void> | null = null;
  const fill = async () => {
    for (const g of gauges) g.reset();
    for (const m of await sql.monitors(null)) {
      const [run] = await sql.runs(m.monitorId, 1);
      if (!run) continue;
      const base = { project: await projectName(m.projectId), monitor: m.name, deployment: String((m.spec as Record<string, unknown>).deployment ?? '') };
      const s = run.summary as RunSummary;
      lastRun.set(base, run.time / 1000);
      rows.set(base, run.rowCount);
      for (const sev of ['P1', 'P2', 'P3']) findings.set({ ...base, severity: sev }, s.findings.filter((f) => f.severity === sev).length);
      if (s.feature_drift_share !== undefined) shares.set({ ...base, role: 'feature' }, s.feature_drift_share);
      if (s.prediction_drift_share !== undefined) shares.set({ ...base, role: 'prediction' }, s.prediction_drift_share);
      for (const c of s.columns ?? []) {
        if (c.effect !== null && Number.isFinite(c.effect)) column.set({ ...base, column: c.name }, c.effect);
        drifted.set({ ...base, column: c.name }, c.drifted ? 1 : 0);
      }
      for (const slo of s.slos ?? []) {
        budget.set({ ...base, slo: slo.name }, slo.budget_remaining_fraction);
        for (const b of slo.burn_rates) burn.set({ ...base, slo: slo.name, rule: b.rule }, b.long);
      }
      for (const [k, v] of Object.entries(s.model_quality ?? {})) if (v !== null && Number.isFinite(v)) quality.set({ ...base, metric: k }, v);
    }
  };
  const collect = async () => {
    // A failing read leaves the monitor gauges empty for this scrape; the rest of /metrics is served.
    pending ??= fill().catch(() => undefined).finally(() => setTimeout(() => (pending = null), 1000).unref());
    await pending;
  };
  for (const g of gauges) (g as unknown as { collect: () => Promise<void> }).collect = collect;
}

/** The small part of a run's report kept beside it for lists and gauges. */
export function summariseReport(report: Record<string, any>): RunSummary {
  const drift = report.drift as Record<string, any> | undefined;
  return {
    findings: report.findings ?? [],
    ...(drift ? {
      feature_drift_share: drift.feature_drift_share, prediction_drift_share: drift.prediction_drift_share,
      columns: (drift.columns ?? []).map((c: any) => ({ name: c.name, role: c.role, drifted: c.drifted, effect: c.effect, score: c.score })),
    } : {}),
    slos: (report.slos ?? []).map((s: any) => ({
      name: s.name, budget_remaining_fraction: s.budget.budget_remaining_fraction,
      burn_rates: s.burn_rates.map((b: any) => ({ rule: b.rule, long: b.long_window.burn_rate, short: b.short_window.burn_rate })),
    })),
    ...(report.model_quality?.evaluated ? { model_quality: report.model_quality.metrics } : {}),
    latency: report.latency ? { p95: report.latency.p95, p99: report.latency.p99, requests: report.latency.requests, errors: report.latency.errors } : undefined,
  };
}
