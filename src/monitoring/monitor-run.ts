// One run of a monitor: read the window, compare it with the reference, check data quality,
// model quality (where labels arrived) and SLO burn rates; return the report and the findings.
import { LATENCY_BOUNDS_MS } from '../serving/index.js';
import { checkBurnRates, budgetReport, compareSeverity, latencySloBuckets, latencySummary, type SloBucket } from './alerting/index.js';
import { driftFinding, QualityTally, verdicts, type ColumnVerdict, type Finding } from './monitor-checks.js';
import type { MonitorSpec, SloSpec } from './monitor-spec.js';
import type { MonitoringSql, StoredProfile } from './monitoring.sql.js';
import { LabelledPairs } from './model-quality-window.js';
import type { ReferenceProfile, ReferenceSample } from './reference.js';
import { sketchCompare, type SketchState } from './sketch-compare.js';
import { driftReport, type DriftReport } from './stats/report.js';
import type { MinuteBucket, UsageSql } from './usage.sql.js';
import { asCsvTable, WindowBuilder, type WindowTable } from './window.js';

export const HISTOGRAM_BOUNDS = [...LATENCY_BOUNDS_MS, Number.POSITIVE_INFINITY];
const MINUTE = 60_000;

export interface RunContext {
  projectId: number;
  spec: MonitorSpec;
  now: number;
  /** The version a deployment serves most traffic with, when the monitor names no reference. */
  servedVersion: (projectId: number, deployment: string) => { model: string; version: number } | null;
  sql: MonitoringSql;
  usage: UsageSql;
  exactMaxRows: number;
}

export interface MonitorOutcome {
  windowStart: number;
  windowEnd: number;
  rows: number;
  mode: 'exact' | 'sketch' | 'none';
  status: 'ok' | 'alerting' | 'no_reference' | 'too_few_rows';
  findings: Finding[];
  report: Record<string, unknown>;
}

/** Reads the window newest first, stopping at max_rows; `visit` sees each page's table and feedback ids. */
async function readWindow(ctx: RunContext, from: number, to: number, features: string[], kinds: Map<string, 'numerical' | 'categorical'>, visit: (t: WindowTable) => void | Promise<void>): Promise<number> {
  let rows = 0;
  await ctx.sql.eachLogPage(ctx.projectId, ctx.spec.deployment, from, to, async (page) => {
    const builder = new WindowBuilder(features, kinds);
    for (const r of page) builder.add(r.requestId, JSON.parse(r.inputs), JSON.parse(r.outputs));
    let table = builder.build();
    if (rows + table.rows > ctx.spec.maxRows) table = head(table, ctx.spec.maxRows - rows);
    rows += table.rows;
    await visit(table);
    return rows < ctx.spec.maxRows;
  });
  return rows;
}

/** The first n rows of a table (the newest, as pages are read newest first). */
function head(t: WindowTable, n: number): WindowTable {
  return { columns: t.columns.map((c) => ({ ...c, values: c.values.slice(0, n) })), requestIds: t.requestIds.slice(0, n), rowInRequest: t.rowInRequest.slice(0, n), rows: n };
}

function concat(tables: WindowTable[]): WindowTable {
  const names = [...new Set(tables.flatMap((t) => t.columns.map((c) => c.name)))];
  const columns = names.map((name) => {
    const first = tables.flatMap((t) => t.columns).find((c) => c.name === name)!;
    return { ...first, values: tables.flatMap((t) => t.columns.find((c) => c.name === name)?.values ?? new Array(t.rows).fill(null)) };
  });
  return { columns, requestIds: tables.flatMap((t) => t.requestIds), rowInRequest: tables.flatMap((t) => t.rowInRequest), rows: tables.reduce((n, t) => n + t.rows, 0) };
}

function sloSection(spec: SloSpec, minutes: MinuteBucket[], now: number): { report: Record<string, unknown>; findings: Finding[] } {
  const buckets: SloBucket[] = spec.kind === 'availability'
    ? minutes.map((m) => ({ minute: m.minute, total: m.total, bad: m.bad }))
    : latencySloBuckets(minutes.map((m) => ({ minute: m.minute, counts: m.latency })), HISTOGRAM_BOUNDS, spec.thresholdMs);
  const slo = { name: spec.name, objective: spec.objective, windowDays: spec.windowDays };
  const checks = checkBurnRates(buckets, slo, now);
  const budget = budgetReport(buckets, slo, now);
  const firing = checks.filter((c) => c.firing);
  const worst = firing.sort((a, b) => compareSeverity(a.severity, b.severity))[0];
  return {
    report: { name: spec.name, kind: spec.kind, threshold_ms: spec.kind === 'latency' ? spec.thresholdMs : undefined, budget, burn_rates: checks },
    findings: worst ? [{
      rule: `slo:${spec.name}`, severity: worst.severity, value: worst.long_window.burn_rate,
      summary: `SLO ${spec.name} (${(spec.objective * 100).toFixed(3).replace(/\.?0+$/, '')}%) burning its error budget ${worst.long_window.burn_rate.toFixed(1)}× over ${worst.long_window.minutes / 60} h and ${worst.short_window.burn_rate.toFixed(1)}× over ${worst.short_window.minutes} min; ${(budget.budget_remaining_fraction * 100).toFixed(1)}% of the budget left`,
    }] : [],
  };
}

async function slos(ctx: RunContext): Promise<{ report: Record<string, unknown>[]; findings: Finding[]; latency: Record<string, unknown> }> {
  const nowMinute = Math.floor(ctx.now / MINUTE);
  const days = Math.max(3, ...ctx.spec.slos.map((s) => s.windowDays));
  const minutes = await ctx.usage.minutes(ctx.projectId, ctx.spec.deployment, nowMinute - days * 1440, nowMinute + 1);
  const windowFrom = Math.floor((ctx.now - ctx.spec.windowSeconds * 1000) / MINUTE);
  const inWindow = minutes.filter((m) => m.minute >= windowFrom);
  const sections = ctx.spec.slos.map((s) => sloSection(s, minutes, ctx.now));
  return {
    report: sections.map((s) => s.report), findings: sections.flatMap((s) => s.findings),
    latency: { requests: inWindow.reduce((n, m) => n + m.total, 0), errors: inWindow.reduce((n, m) => n + m.bad, 0), ...latencySummary(inWindow.map((m) => ({ minute: m.minute, counts: m.latency })), HISTOGRAM_BOUNDS) },
  };
}

function driftSections(report: DriftReport | null, columns: ColumnVerdict[], spec: MonitorSpec) {
  const feature = driftFinding('feature', columns, spec.featureDrift);
  const prediction = driftFinding('prediction', columns, spec.predictionDrift);
  return {
    findings: [feature.finding, prediction.finding].filter((f): f is Finding => f !== null),
    section: { feature_drift_share: feature.share, drifted_features: feature.drifted, prediction_drift_share: prediction.share, drifted_predictions: prediction.drifted, columns, statistics: report },
  };
}

/** Runs one monitor over [now − window, now). Never throws for data reasons: those are in the report. */
export async function runMonitor(ctx: RunContext): Promise<MonitorOutcome> {
  const { spec } = ctx;
  const windowStart = ctx.now - spec.windowSeconds * 1000;
  const ref = spec.reference ?? ctx.servedVersion(ctx.projectId, spec.deployment);
  const stored: StoredProfile | undefined = ref ? await ctx.sql.profile(ctx.projectId, ref.model, ref.version) : undefined;
  const profile = stored?.profile as ReferenceProfile | undefined;
  const sample = stored?.sample as ReferenceSample | null | undefined;
  const features = spec.features.length ? spec.features : profile?.features ?? [];
  const kinds = new Map((profile?.columns ?? []).map((c) => [c.name, c.kind]));
  const sloPart = await slos(ctx);
  const findings: Finding[] = [...sloPart.findings];
  const report: Record<string, unknown> = { monitor: spec.name, deployment: spec.deployment, window: { start: windowStart, end: ctx.now }, latency: sloPart.latency, slos: sloPart.report };
  report.reference = ref ? { model: ref.model, version: ref.version, rows: stored?.rowCount ?? null, source: stored?.source ?? null } : null;

  // A reference keeps its rows only when they are few enough for exact statistics.
  const pages: WindowTable[] = [];
  const sketch: SketchState = sketchCompare.start(profile);
  const quality = profile && spec.dataQuality ? new QualityTally(profile.columns.filter((c) => c.role === 'feature')) : null;
  const labelled = spec.modelQuality ? new LabelledPairs(spec.modelQuality) : null;
  let exact = !!sample;
  let seen = 0;
  const rows = await readWindow(ctx, windowStart, ctx.now, features, kinds, async (t) => {
    seen += t.rows;
    if (exact && seen > ctx.exactMaxRows) exact = false;
    // Past the exact limit pages are dropped: memory stays one page plus the sketches and tallies.
    if (exact) pages.push(t);
    else pages.length = 0;
    sketchCompare.add(sketch, t);
    quality?.add(t.columns);
    if (labelled) labelled.add(t, await ctx.sql.feedbackFor(ctx.projectId, spec.deployment, [...new Set(t.requestIds)]));
  });
  const window = exact ? concat(pages) : null;
  report.window = { start: windowStart, end: ctx.now, rows };
  const outcome = (mode: MonitorOutcome['mode'], status: MonitorOutcome['status']): MonitorOutcome => ({
    windowStart, windowEnd: ctx.now, rows, mode, findings,
    status: status === 'ok' && findings.length ? 'alerting' : status, report: { ...report, findings, mode, status },
  });
  if (labelled) {
    const q = labelled.result();
    if (q.finding) findings.push(q.finding);
    report.model_quality = q.section;
  }
  if (rows < spec.minRows) return outcome('none', 'too_few_rows');
  if (!profile) return outcome('none', 'no_reference');

  const roles = new Map(profile.columns.map((c) => [c.name, c.role]));
  if (window && sample) {
    const names = profile.columns.map((c) => c.name).filter((n) => window.columns.some((c) => c.name === n));
    const types = Object.fromEntries(profile.columns.filter((c) => names.includes(c.name)).map((c) => [c.name, c.kind]));
    const stats = driftReport(asCsvTable(sample.columns, names, sample.rows), asCsvTable(window.columns, names, window.rows), types);
    const d = driftSections(stats, verdicts(stats, roles, { feature: spec.featureDrift, prediction: spec.predictionDrift }), spec);
    findings.push(...d.findings);
    report.drift = d.section;
  } else {
    const compared = sketchCompare.compare(sketch, profile, roles, spec);
    const d = driftSections(null, compared.verdicts, spec);
    findings.push(...d.findings);
    report.drift = { ...d.section, statistics: compared.statistics };
  }
  if (quality && spec.dataQuality) {
    const q = quality.result(spec.dataQuality);
    if (q.finding) findings.push(q.finding);
    report.data_quality = { columns: q.columns, schema: q.schema };
  }
  return outcome(window ? 'exact' : 'sketch', 'ok');
}
