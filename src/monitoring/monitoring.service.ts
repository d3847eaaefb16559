import { AppError, invalidParam, notFound } from '../errors/index.js';
import { parseCsv } from './stats/csv.js';
import { parseTypes } from './stats/report.js';
import type { Column, ColumnKind } from './window.js';
import { WindowBuilder } from './window.js';
import { columnsFromCsv, profileOf, type ReferenceSample } from './reference.js';
import { durationSeconds, parseMonitorSpec, type MonitorSpec } from './monitor-spec.js';
import { runMonitor, type MonitorOutcome } from './monitor-run.js';
import type { MonitoringSql, StoredMonitor } from './monitoring.sql.js';
import type { UsageSql } from './usage.sql.js';
import type { AlertManager } from './alert-manager.js';
import { sketchCompare } from './sketch-compare.js';
import { summariseReport } from './monitoring-metrics.js';
import type { Alert } from './alerting/index.js';

export interface MonitoringOptions {
  exactMaxRows: number;
  publicUrl: string;
  servedVersion: (projectId: number, deployment: string) => { model: string; version: number } | null;
  /** The CSV text of a registered dataset version (its only CSV file, or `path`). */
  readDataset?: (projectId: number, name: string, version: number, path?: string) => Promise<string>;
  /** Runs rows through a served version, outside the prediction log (reference predictions). */
  predictRows?: (projectId: number, model: string, version: number, rows: (number | null)[][]) => Promise<{ inputs: unknown; outputs: unknown }>;
  projectName: (projectId: number) => Promise<string>;
  now?: () => number;
}

export interface ProfileRequest {
  model: string;
  version: number;
  /** Training data as CSV text. */
  csv?: string;
  /** Or a registered dataset version holding it (one CSV file, or `dataset_path`). */
  dataset?: string;
  dataset_version?: number;
  dataset_path?: string;
  label_column?: string;
  types?: string;
  /** With csv: also run the rows through the served version, so the profile has prediction columns. */
  predict?: boolean;
  /** Or a window of a deployment's traffic. */
  deployment?: string;
  window?: string;
}

const MAX_FEEDBACK = 10_000;
/** A profile from traffic holds its rows in memory while it is built: the newest this many requests. */
const MAX_PROFILE_REQUESTS = 200_000;
/** Window data is answered as one CSV: the newest this many requests. */
const MAX_EXPORT_REQUESTS = 100_000;

/** Monitors, their runs and reports, reference profiles and ground-truth feedback. */
export class MonitoringService {
  private readonly now: () => number;

  constructor(
    private readonly sql: MonitoringSql,
    private readonly usage: UsageSql,
    readonly alerts: AlertManager,
    private readonly opts: MonitoringOptions,
  ) {
    this.now = opts.now ?? Date.now;
  }

  async apply(projectId: number, doc: unknown, actor: string): Promise<StoredMonitor> {
    const spec = parseMonitorSpec(doc);
    await this.sql.upsertMonitor(projectId, spec.name, doc, this.now(), actor, this.now());
    return (await this.sql.monitor(projectId, spec.name))!;
  }

  async get(projectId: number, name: string): Promise<StoredMonitor> {
    const m = await this.sql.monitor(projectId, name);
    if (!m) throw notFound(`No monitor named '${name}' in this project.`);
    return m;
  }

  list(projectId: number): Promise<StoredMonitor[]> {
    return this.sql.monitors(projectId);
  }

  /** Deletes a monitor; its firing alerts resolve (and say so) since nothing will evaluate them again. Runs stay for the record. */
  async delete(projectId: number, name: string): Promise<void> {
    const m = await this.get(projectId, name);
    await this.sql.deleteMonitor(projectId, name);
    const spec = parseMonitorSpec(m.spec);
    await this.alerts.evaluate({ projectId, key: 'monitor', value: name }, [], this.now(), { repeatMinutes: spec.repeatMinutes, channels: spec.channels });
  }

  /** Runs a monitor now (also what the scheduler does when one is due), stores the run and evaluates its alerts. */
  async run(m: StoredMonitor): Promise<MonitorOutcome> {
    const spec = parseMonitorSpec(m.spec);
    const now = this.now();
    const outcome = await runMonitor({ projectId: m.projectId, spec, now, servedVersion: this.opts.servedVersion, sql: this.sql, usage: this.usage, exactMaxRows: this.opts.exactMaxRows });
    await this.sql.insertRun(this.sql.db, { monitorId: m.monitorId, time: now, windowStart: outcome.windowStart, windowEnd: outcome.windowEnd, rowCount: outcome.rows, mode: outcome.mode, status: outcome.status, summary: summariseReport(outcome.report) }, outcome.report);
    const project = await this.opts.projectName(m.projectId);
    const links = this.links(project, spec);
    const firing: Alert[] = outcome.findings.map((f) => ({ rule: f.rule, severity: f.severity, summary: f.summary, value: f.value ?? undefined, labels: { deployment: spec.deployment, project }, links }));
    await this.alerts.evaluate({ projectId: m.projectId, key: 'monitor', value: spec.name }, firing, now, {
      repeatMinutes: spec.repeatMinutes, channels: spec.channels,
      retrain: spec.retrain ? { minSeverity: spec.retrain.minSeverity, start: (alerts) => this.retrain(m.projectId, project, spec, outcome, alerts) } : undefined,
    });
    return outcome;
  }

  /**
   * A report over a deployment's last `window` with the default checks (feature and prediction
   * drift, data quality) and no monitor behind it: nothing is stored and no alert is raised.
   */
  async deploymentReport(projectId: number, deployment: string, window: string): Promise<Record<string, unknown>> {
    const spec = parseMonitorSpec({ name: 'report', deployment, window: { duration: window, min_rows: 1 } });
    const outcome = await runMonitor({ projectId, spec, now: this.now(), servedVersion: this.opts.servedVersion, sql: this.sql, usage: this.usage, exactMaxRows: this.opts.exactMaxRows });
    return outcome.report;
  }

  private base(project: string): string {
    return `${this.opts.publicUrl.replace(/\/$/, '')}/projects/${encodeURIComponent(project)}/api/capstan/monitors`;
  }

  private links(project: string, spec: MonitorSpec): { dashboard: string; runbook?: string } {
    return {
      dashboard: spec.links.dashboard || `${this.base(project)}/report?name=${encodeURIComponent(spec.name)}&format=html`,
      ...(spec.links.runbook ? { runbook: spec.links.runbook } : {}),
    };
  }

  /** Asks the retraining channel for a run over this window's data (a CSV it can fetch with a token). */
  private async retrain(projectId: number, project: string, spec: MonitorSpec, outcome: MonitorOutcome, alerts: Alert[]): Promise<void> {
    if (!spec.retrain) return;
    const channel = await this.alerts.channel(projectId, spec.retrain.channel);
    if (!channel) throw new Error(`retrain.channel '${spec.retrain.channel}' is not a channel of this project`);
    const dataUrl = `${this.base(project)}/window-data?name=${encodeURIComponent(spec.name)}&start=${outcome.windowStart}&end=${outcome.windowEnd}`;
    const r = await this.alerts.sendOne(projectId, channel, {
      kind: 'retrain_request', project, monitor: spec.name, deployment: spec.deployment,
      window: { start: new Date(outcome.windowStart).toISOString(), end: new Date(outcome.windowEnd).toISOString(), rows: outcome.rows },
      reasons: alerts.map((a) => ({ rule: a.rule, severity: a.severity, summary: a.summary })),
      data_url: dataUrl, reference: outcome.report.reference ?? null,
    });
    if (!r.ok) throw new Error(`retraining channel '${channel.name}' answered ${r.status ?? r.error}`);
  }

  async runs(projectId: number, name: string, limit: number) {
    return this.sql.runs((await this.get(projectId, name)).monitorId, limit);
  }

  async report(projectId: number, name: string, runId: number | null) {
    const m = await this.get(projectId, name);
    const r = await this.sql.runReport(m.monitorId, runId);
    if (!r) throw notFound(runId === null ? `Monitor '${name}' has not run yet; run it with capstan monitor run ${name}.` : `Monitor '${name}' has no run ${runId}.`);
    return r;
  }

  /** Builds and stores the reference profile of a model version. */
  async createProfile(projectId: number, req: ProfileRequest, actor: string) {
    if (!req.model || !Number.isInteger(req.version) || req.version < 1) throw invalidParam('model and version (a positive integer) are required.');
    const sources = [req.csv, req.dataset, req.deployment].filter((v) => v !== undefined).length;
    if (sources !== 1) throw invalidParam("Send exactly one of 'csv' (the training data), 'dataset' with 'dataset_version' (a registered version holding it) or 'deployment' (with 'window': build it from traffic).");
    if (req.dataset !== undefined) {
      if (!Number.isInteger(req.dataset_version) || req.dataset_version! < 1) throw invalidParam("'dataset' needs 'dataset_version' (a positive integer).");
      if (!this.opts.readDataset) throw invalidParam('Datasets are not available on this server.');
      req = { ...req, csv: await this.opts.readDataset(projectId, req.dataset, req.dataset_version!, req.dataset_path) };
    }
    const types: Record<string, ColumnKind> = parseTypes(req.types);
    let sample: ReferenceSample;
    let source: Record<string, unknown>;
    if (req.csv !== undefined) {
      const table = parseCsv(req.csv, 'the reference file');
      const columns = columnsFromCsv(table, req.label_column ?? '', types);
      if (req.predict) columns.push(...(await this.referencePredictions(projectId, req.model, req.version, columns, table.rows)));
      sample = { rows: table.rows, columns };
      source = { kind: req.dataset ? 'dataset' : 'csv', ...(req.dataset ? { dataset: req.dataset, dataset_version: req.dataset_version } : {}), label_column: req.label_column ?? null, predictions: req.predict === true };
    } else {
      const seconds = req.window ? durationSeconds(req.window, 'window') : 3600;
      const to = this.now();
      const builder = new WindowBuilder([], new Map(Object.entries(types)));
      let requests = 0;
      await this.sql.eachLogPage(projectId, req.deployment!, to - seconds * 1000, to, (page) => {
        for (const r of page) builder.add(r.requestId, JSON.parse(r.inputs), JSON.parse(r.outputs));
        return (requests += page.length) < MAX_PROFILE_REQUESTS;
      });
      const t = builder.build();
      if (t.rows === 0) throw invalidParam(`Deployment '${req.deployment}' logged no predictions in the last ${req.window ?? '1h'}; raise its prediction_log.sample_rate or widen the window.`);
      sample = { rows: t.rows, columns: t.columns };
      source = { kind: 'traffic', deployment: req.deployment, window_seconds: seconds, from: to - seconds * 1000, to };
    }
    if (sample.rows === 0) throw invalidParam('The reference has no rows.');
    const profile = { ...profileOf(sample.columns, sample.rows), sketch: sketchCompare.profile(sample.columns) };
    const keep = sample.rows <= this.opts.exactMaxRows ? sample : null;
    await this.sql.putProfile({ projectId, model: req.model, version: req.version, source, rowCount: sample.rows, profile, sample: keep, createdTime: this.now(), createdBy: actor });
    return { model: req.model, version: req.version, rows: sample.rows, exact: keep !== null, columns: profile.columns, features: profile.features, source };
  }

  /** The prediction columns of the training rows, from the served version, in pages of 512 rows. */
  private async referencePredictions(projectId: number, model: string, version: number, features: Column[], rows: number): Promise<Column[]> {
    if (!this.opts.predictRows) throw invalidParam('Reference predictions need serving on this server.');
    const bad = features.find((c) => c.kind !== 'numerical');
    if (bad) throw invalidParam(`Column '${bad.name}' is categorical; reference predictions need numerical features (the model's input is a matrix of numbers).`);
    const builder = new WindowBuilder(features.map((c) => c.name));
    for (let start = 0; start < rows; start += 512) {
      const page: (number | null)[][] = [];
      for (let r = start; r < Math.min(rows, start + 512); r++) page.push(features.map((c) => c.values[r] as number | null));
      const { inputs, outputs } = await this.opts.predictRows(projectId, model, version, page);
      builder.add(`reference-${start}`, inputs, outputs);
    }
    return builder.build().columns.filter((c) => c.role === 'prediction');
  }

  async profile(projectId: number, model: string, version: number) {
    const p = await this.sql.profile(projectId, model, version);
    if (!p) throw notFound(`Model '${model}' version ${version} has no reference profile; create one with capstan monitor profile.`);
    return { model: p.model, version: p.version, source: p.source, row_count: p.rowCount, exact: p.sample !== null, created_time: p.createdTime, created_by: p.createdBy, profile: p.profile };
  }

  /** Ground truth for answered requests: [{request_id, label}], label a value or one per row of a batch request. */
  async feedback(projectId: number, deployment: string, labels: unknown): Promise<number> {
    if (!Array.isArray(labels) || labels.length === 0) throw invalidParam("'labels' must be a non-empty list of {request_id, label}.");
    if (labels.length > MAX_FEEDBACK) throw new AppError('INVALID_PARAMETER_VALUE', `At most ${MAX_FEEDBACK} labels per request; send ${labels.length} in several.`);
    const rows = labels.map((l, i) => {
      const o = l as Record<string, unknown>;
      if (!o || typeof o !== 'object' || typeof o.request_id !== 'string' || !o.request_id || o.label === undefined) throw invalidParam(`labels[${i}] must be {request_id: string, label: value or list}.`);
      const ok = (v: unknown) => v === null || typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));
      if (!(ok(o.label) || (Array.isArray(o.label) && o.label.every(ok)))) throw invalidParam(`labels[${i}].label must be a number, string, boolean or a list of them.`);
      return { requestId: o.request_id, label: o.label };
    });
    await this.sql.putFeedback(projectId, deployment, rows, this.now());
    return rows.length;
  }

  /** A window's rows as CSV: request_id, row, the feature and prediction columns, and the label where feedback arrived. */
  async windowCsv(projectId: number, name: string, start: number, end: number): Promise<string> {
    const m = await this.get(projectId, name);
    const spec = parseMonitorSpec(m.spec);
    if (!(end > start)) throw invalidParam('end must be after start (both epoch milliseconds).');
    const ref = spec.reference ?? this.opts.servedVersion(projectId, spec.deployment);
    const profile = ref ? ((await this.sql.profile(projectId, ref.model, ref.version))?.profile as { features?: string[] } | undefined) : undefined;
    const builder = new WindowBuilder(spec.features.length ? spec.features : profile?.features ?? []);
    let requests = 0;
    await this.sql.eachLogPage(projectId, spec.deployment, start, end, (page) => {
      for (const r of page) builder.add(r.requestId, JSON.parse(r.inputs), JSON.parse(r.outputs));
      return (requests += page.length) < MAX_EXPORT_REQUESTS;
    });
    const t = builder.build();
    const labels = await this.sql.feedbackFor(projectId, spec.deployment, [...new Set(t.requestIds)]);
    const quote = (v: unknown) => {
      if (v === null || v === undefined) return '';
      const s = String(v);
      return /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
    };
    const lines = [['request_id', 'row', ...t.columns.map((c) => c.name), 'label'].map(quote).join(',')];
    for (let r = 0; r < t.rows; r++) {
      const fb = labels.get(t.requestIds[r]);
      const label = Array.isArray(fb) ? fb[t.rowInRequest[r]] : fb;
      lines.push([t.requestIds[r], t.rowInRequest[r], ...t.columns.map((c) => c.values[r]), label].map(quote).join(','));
    }
    return `${lines.join('\n')}\n`;
  }
}
