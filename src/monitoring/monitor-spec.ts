import { invalidParam } from '../errors/index.js';
import { num, obj, oneOf, onlyKeys, str, strings, type Obj } from '../spec/document.js';
import { parseDuration } from '../spec/duration.js';
import { LATENCY_BOUNDS_MS } from '../serving/index.js';

export const SEVERITIES = ['P1', 'P2', 'P3'] as const;
export type Severity = (typeof SEVERITIES)[number];
export const TASKS = ['classification', 'regression'] as const;
export const SLO_KINDS = ['availability', 'latency'] as const;

export interface DriftCheck {
  severity: Severity;
  /** Share of drifted columns that makes the window drifted (Evidently's dataset rule). */
  driftShare: number;
  /**
   * A column counts as drifted only if its effect is at least this large as well: PSI on the
   * reference deciles for numerical columns, Jensen–Shannon distance for categorical ones. This keeps
   * a large window from alarming on a shift too small to matter (p-values shrink with n; effects do not).
   */
  minPsi: number;
  minJs: number;
}

export interface QualityCheck {
  severity: Severity;
  maxMissingShare: number;
  maxOutOfRangeShare: number;
  maxUnseenShare: number;
}

export interface ModelQualityCheck {
  severity: Severity;
  task: (typeof TASKS)[number];
  positiveLabel: string;
  minLabels: number;
  min: Record<string, number>;
  max: Record<string, number>;
}

export interface SloSpec {
  name: string;
  kind: (typeof SLO_KINDS)[number];
  objective: number;
  windowDays: number;
  thresholdMs: number;
}

export interface MonitorSpec {
  name: string;
  deployment: string;
  description: string;
  scheduleSeconds: number;
  windowSeconds: number;
  maxRows: number;
  minRows: number;
  /** The reference profile: a model version (default: the version the deployment's first target serves). */
  reference: { model: string; version: number } | null;
  /** Names for the columns of a 2-D input tensor, in order (default: the reference profile's feature columns). */
  features: string[];
  featureDrift: DriftCheck | null;
  predictionDrift: DriftCheck | null;
  dataQuality: QualityCheck | null;
  modelQuality: ModelQualityCheck | null;
  slos: SloSpec[];
  channels: string[];
  links: { dashboard: string; runbook: string };
  /** A notification channel (its URL and signing secret set by an admin) that receives retraining requests. */
  retrain: { channel: string; minSeverity: Severity } | null;
  repeatMinutes: number;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const TOP_KEYS = ['name', 'deployment', 'description', 'schedule_seconds', 'window', 'reference', 'features', 'checks', 'slos', 'notify', 'links', 'retrain', 'repeat_minutes'];
const CLASSIFICATION_METRICS = ['accuracy', 'precision', 'recall', 'f1', 'roc_auc', 'log_loss'];
const REGRESSION_METRICS = ['mae', 'rmse', 'mape', 'r2'];

/** `90s`, `15m`, `24h`, `7d`, `1h30m` or a number of seconds; otherwise an error naming `where`. */
export function durationSeconds(v: unknown, where: string): number {
  const seconds = parseDuration(v);
  if (seconds === null) throw invalidParam(`${where} must be a duration like 90s, 15m, 24h or 7d; got ${JSON.stringify(v)}.`);
  return seconds;
}

function severity(o: Obj, where: string, dflt: Severity): Severity {
  return oneOf(o, 'severity', where, SEVERITIES, dflt);
}

function drift(raw: unknown, where: string): DriftCheck | null {
  if (raw === undefined || raw === false || raw === null) return null;
  const o = raw === true ? {} : obj(raw, where);
  onlyKeys(o, ['severity', 'drift_share', 'min_psi', 'min_js'], where);
  return {
    severity: severity(o, where, 'P2'), driftShare: num(o, 'drift_share', where, 0.5, 0, 1, false),
    minPsi: num(o, 'min_psi', where, 0.1, 0, 100, false), minJs: num(o, 'min_js', where, 0.1, 0, 1, false),
  };
}

function quality(raw: unknown, where: string): QualityCheck | null {
  if (raw === undefined || raw === false || raw === null) return null;
  const o = raw === true ? {} : obj(raw, where);
  onlyKeys(o, ['severity', 'max_missing_share', 'max_out_of_range_share', 'max_unseen_share'], where);
  return {
    severity: severity(o, where, 'P3'), maxMissingShare: num(o, 'max_missing_share', where, 0.05, 0, 1, false),
    maxOutOfRangeShare: num(o, 'max_out_of_range_share', where, 0.05, 0, 1, false), maxUnseenShare: num(o, 'max_unseen_share', where, 0.05, 0, 1, false),
  };
}

function bounds(raw: unknown, where: string, known: string[]): Record<string, number> {
  const o = obj(raw, where);
  onlyKeys(o, known, where);
  return Object.fromEntries(Object.keys(o).map((k) => [k, num(o, k, where, 0, -1e300, 1e300, false)]));
}

function modelQuality(raw: unknown, where: string): ModelQualityCheck | null {
  if (raw === undefined || raw === false || raw === null) return null;
  const o = obj(raw, where);
  onlyKeys(o, ['severity', 'task', 'positive_label', 'min_labels', 'min', 'max'], where);
  const task = oneOf(o, 'task', where, TASKS, 'classification');
  const known = task === 'classification' ? CLASSIFICATION_METRICS : REGRESSION_METRICS;
  const check = { severity: severity(o, where, 'P2'), task, positiveLabel: String(o.positive_label ?? '1'), minLabels: num(o, 'min_labels', where, 30, 1, 1e9), min: bounds(o.min, `${where}.min`, known), max: bounds(o.max, `${where}.max`, known) };
  if (Object.keys(check.min).length + Object.keys(check.max).length === 0) throw invalidParam(`${where} needs a threshold under min or max, e.g. min: {${known[0]}: 0.9}.`);
  return check;
}

function slo(raw: unknown, i: number): SloSpec {
  const where = `slos[${i}]`;
  const o = obj(raw, where);
  onlyKeys(o, ['name', 'kind', 'objective', 'window_days', 'threshold_ms'], where);
  const kind = oneOf(o, 'kind', where, SLO_KINDS, 'availability');
  const thresholdMs = num(o, 'threshold_ms', where, 0, 0, 10_000_000, false);
  if (kind === 'latency' && !(LATENCY_BOUNDS_MS as readonly number[]).includes(thresholdMs)) {
    throw invalidParam(`${where}.threshold_ms must be one of the latency bucket bounds ${LATENCY_BOUNDS_MS.join(', ')} (requests are counted per bucket); got ${thresholdMs}.`);
  }
  const name = str(o, 'name', where, kind);
  if (!NAME.test(name)) throw invalidParam(`${where}.name must be letters, digits, '_', '.' or '-'.`);
  return { name, kind, thresholdMs, objective: num(o, 'objective', where, 0.999, 0.5, 0.99999, false), windowDays: num(o, 'window_days', where, 30, 1, 90) };
}

function httpUrl(v: string, where: string): string {
  if (v && !/^https?:\/\/[^\s]+$/.test(v)) throw invalidParam(`${where} must be an http(s) URL; got ${JSON.stringify(v)}.`);
  return v;
}

function referenceOf(ref: Obj): { model: string; version: number } {
  const model = str(ref, 'model', 'reference', '');
  if (!model || ref.version === undefined) throw invalidParam('reference needs both model and version, e.g. reference: {model: fraud-mlp, version: 3}.');
  return { model, version: num(ref, 'version', 'reference', 1, 1, 1e12) };
}

/** Validates a monitor document (parsed YAML or JSON); every error names the key. */
export function parseMonitorSpec(raw: unknown): MonitorSpec {
  const o = obj(raw, 'The monitor');
  onlyKeys(o, TOP_KEYS, 'monitor');
  const name = str(o, 'name', 'monitor', '');
  if (!NAME.test(name)) throw invalidParam(`monitor.name must be 1-128 letters, digits, '_', '.' or '-'; got ${JSON.stringify(name)}.`);
  const deployment = str(o, 'deployment', 'monitor', '');
  if (!deployment) throw invalidParam('monitor.deployment is required: the deployment whose traffic is watched.');
  const window = obj(o.window, 'window');
  onlyKeys(window, ['duration', 'max_rows', 'min_rows'], 'window');
  const ref = obj(o.reference, 'reference');
  onlyKeys(ref, ['model', 'version'], 'reference');
  const checks = obj(o.checks, 'checks');
  onlyKeys(checks, ['feature_drift', 'prediction_drift', 'data_quality', 'model_quality'], 'checks');
  const links = obj(o.links, 'links');
  onlyKeys(links, ['dashboard', 'runbook'], 'links');
  const retrain = o.retrain === undefined || o.retrain === null ? null : obj(o.retrain, 'retrain');
  if (retrain) onlyKeys(retrain, ['channel', 'min_severity'], 'retrain');
  if (retrain && !str(retrain, 'channel', 'retrain', '')) throw invalidParam('retrain.channel is required: the notification channel that receives retraining requests.');
  const slosRaw = o.slos ?? [];
  if (!Array.isArray(slosRaw)) throw invalidParam('monitor.slos must be a list.');
  const slos = slosRaw.map(slo);
  const dup = slos.map((s) => s.name).find((n, i, all) => all.indexOf(n) !== i);
  if (dup) throw invalidParam(`SLO name '${dup}' is used twice.`);
  const hasChecks = Object.keys(checks).length > 0;
  return {
    name, deployment, description: str(o, 'description', 'monitor', ''),
    scheduleSeconds: o.schedule_seconds === undefined ? 300 : num(o, 'schedule_seconds', 'monitor', 300, 1, 86_400 * 7),
    windowSeconds: window.duration === undefined ? 86_400 : durationSeconds(window.duration, 'window.duration'),
    maxRows: num(window, 'max_rows', 'window', 10_000_000, 1, 1e9),
    minRows: num(window, 'min_rows', 'window', 100, 1, 1e9),
    reference: Object.keys(ref).length ? referenceOf(ref) : null,
    features: strings(o, 'features', 'monitor'),
    featureDrift: hasChecks ? drift(checks.feature_drift, 'checks.feature_drift') : drift(true, 'checks.feature_drift'),
    predictionDrift: hasChecks ? drift(checks.prediction_drift, 'checks.prediction_drift') : drift(true, 'checks.prediction_drift'),
    dataQuality: hasChecks ? quality(checks.data_quality, 'checks.data_quality') : quality(true, 'checks.data_quality'),
    modelQuality: modelQuality(checks.model_quality, 'checks.model_quality'),
    slos,
    channels: strings(o, 'notify', 'monitor'),
    links: { dashboard: httpUrl(str(links, 'dashboard', 'links', ''), 'links.dashboard'), runbook: httpUrl(str(links, 'runbook', 'links', ''), 'links.runbook') },
    retrain: retrain ? { channel: str(retrain, 'channel', 'retrain', ''), minSeverity: oneOf(retrain, 'min_severity', 'retrain', SEVERITIES, 'P2') } : null,
    repeatMinutes: num(o, 'repeat_minutes', 'monitor', 240, 1, 10_080),
  };
}
