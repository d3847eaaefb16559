// Alert identity and lifecycle. Everything here is a pure function of its arguments: the caller
// stores the book between evaluations and decides how to deliver the notifications.
//
// Lifecycle of one alert (one fingerprint):
//   - first seen firing            → record opened, "new" notification;
//   - still firing                 → notified again once repeatIntervalMs has passed since the last one;
//   - absent from an evaluation    → resolved, one "resolved" notification (only if firing was sent);
//   - firing again after resolving → a new episode: fresh startsAt and count, "new" notification;
//   - resolved records are dropped once forgetResolvedAfterMs has passed.
// A silenced alert moves through the same states but produces no notification.
import { createHash } from 'node:crypto';
import { silencedBy, type Silence } from './silences.js';

export type Severity = 'P1' | 'P2' | 'P3';

/** Most severe first. */
export const SEVERITIES: readonly Severity[] = Object.freeze(['P1', 'P2', 'P3']);

/** 0 for P1 (most severe), 1 for P2, 2 for P3. */
export function severityRank(s: Severity): number {
  const rank = SEVERITIES.indexOf(s);
  if (rank < 0) throw new RangeError(`unknown severity ${String(s)}`);
  return rank;
}

/** Sort comparator putting the most severe first. */
export function compareSeverity(a: Severity, b: Severity): number {
  return severityRank(a) - severityRank(b);
}

/** True when s is as severe as min or more (P1 is at least P2). */
export function isAtLeast(s: Severity, min: Severity): boolean {
  return severityRank(s) <= severityRank(min);
}

/** The items whose severity is at least min: a route for P2 receives P1 and P2. */
export function minSeverity<T extends { severity: Severity }>(items: readonly T[], min: Severity): T[] {
  return items.filter((x) => isAtLeast(x.severity, min));
}

export interface AlertLinks {
  dashboard?: string;
  runbook?: string;
}

export interface Alert {
  rule: string;
  severity: Severity;
  labels: Record<string, string>;
  summary: string;
  description?: string;
  value?: number;
  links?: AlertLinks;
}

/**
 * Stable identity of an alert: the first 16 hex digits of SHA-256 over the rule and the labels in
 * sorted key order. Severity, summary and value are not part of it.
 */
export function fingerprint(rule: string, labels: Readonly<Record<string, string>>): string {
  const pairs = Object.keys(labels)
    .sort()
    .map((k) => [k, labels[k]]);
  return createHash('sha256')
    .update(JSON.stringify([rule, pairs]))
    .digest('hex')
    .slice(0, 16);
}

export function alertFingerprint(alert: Alert): string {
  return fingerprint(alert.rule, alert.labels);
}

/** Labels as silences and grouping see them: the alert's labels plus `rule` and `severity`. */
export function effectiveLabels(alert: Alert): Record<string, string> {
  return { ...alert.labels, rule: alert.rule, severity: alert.severity };
}

export type AlertStatus = 'firing' | 'resolved';

export interface AlertRecord {
  alert: Alert;
  status: AlertStatus;
  /** Epoch ms when this firing episode started. */
  startsAt: number;
  lastSeenAt: number;
  resolvedAt?: number;
  /** Epoch ms of the last notification sent for this episode; absent until one is sent. */
  lastNotifiedAt?: number;
  /** Evaluations in which this episode was seen firing. */
  count: number;
}

/** Fingerprint → record. */
export type AlertBook = Readonly<Record<string, AlertRecord>>;

export type NotificationReason = 'new' | 'repeat' | 'resolved';

export interface Notification {
  fingerprint: string;
  status: AlertStatus;
  reason: NotificationReason;
  severity: Severity;
  alert: Alert;
  startsAt: number;
  /** Set on resolved notifications. */
  endsAt?: number;
}

export interface SuppressedAlert {
  fingerprint: string;
  status: AlertStatus;
  silence_ids: string[];
}

export interface BookOptions {
  /** Minimum gap between two notifications of a still-firing alert; 4 h by default. */
  repeatIntervalMs?: number;
  /** Resolved records older than this are dropped from the book; 24 h by default. */
  forgetResolvedAfterMs?: number;
  silences?: readonly Silence[];
}

export const DEFAULT_REPEAT_INTERVAL_MS = 4 * 3_600_000;
export const DEFAULT_FORGET_RESOLVED_AFTER_MS = 24 * 3_600_000;

export interface BookUpdate {
  book: AlertBook;
  /** In fingerprint order. */
  notifications: Notification[];
  /** Alerts that would have notified but were muted by a silence. */
  suppressed: SuppressedAlert[];
}

interface Step {
  options: Required<Omit<BookOptions, 'silences'>> & { silences: readonly Silence[] };
  nowMs: number;
  update: { book: Record<string, AlertRecord>; notifications: Notification[]; suppressed: SuppressedAlert[] };
}

function notify(step: Step, fp: string, rec: AlertRecord, reason: NotificationReason): void {
  const silences = silencedBy(step.options.silences, effectiveLabels(rec.alert), step.nowMs);
  if (silences.length > 0) {
    step.update.suppressed.push({ fingerprint: fp, status: rec.status, silence_ids: silences });
    return;
  }
  rec.lastNotifiedAt = step.nowMs;
  step.update.notifications.push({
    fingerprint: fp,
    status: rec.status,
    reason,
    severity: rec.alert.severity,
    alert: rec.alert,
    startsAt: rec.startsAt,
    ...(rec.resolvedAt === undefined ? {} : { endsAt: rec.resolvedAt }),
  });
}

function stepFiring(step: Step, fp: string, alert: Alert, prev: AlertRecord | undefined): void {
  const now = step.nowMs;
  const rec: AlertRecord =
    prev && prev.status === 'firing'
      ? { ...prev, alert, lastSeenAt: now, count: prev.count + 1 }
      : { alert, status: 'firing', startsAt: now, lastSeenAt: now, count: 1 };
  step.update.book[fp] = rec;
  if (rec.lastNotifiedAt === undefined) notify(step, fp, rec, 'new');
  else if (now - rec.lastNotifiedAt >= step.options.repeatIntervalMs) notify(step, fp, rec, 'repeat');
}

function stepAbsent(step: Step, fp: string, prev: AlertRecord): void {
  if (prev.status === 'resolved') {
    const age = step.nowMs - (prev.resolvedAt ?? prev.lastSeenAt);
    if (age < step.options.forgetResolvedAfterMs) step.update.book[fp] = { ...prev };
    return;
  }
  const rec: AlertRecord = { ...prev, status: 'resolved', resolvedAt: step.nowMs };
  step.update.book[fp] = rec;
  if (prev.lastNotifiedAt !== undefined) notify(step, fp, rec, 'resolved');
}

/** Indexes this evaluation's firing alerts by fingerprint; a later duplicate replaces an earlier one. */
export function indexAlerts(firing: readonly Alert[]): Map<string, Alert> {
  const byFp = new Map<string, Alert>();
  for (const a of firing) byFp.set(alertFingerprint(a), a);
  return byFp;
}

/**
 * One evaluation: `firing` is the complete set of alerts firing at nowMs. Returns the new book (the
 * input is not modified) and the notifications to send.
 */
export function advanceAlertBook(
  book: AlertBook,
  firing: readonly Alert[],
  nowMs: number,
  options: BookOptions = {},
): BookUpdate {
  const step: Step = {
    nowMs,
    options: {
      repeatIntervalMs: options.repeatIntervalMs ?? DEFAULT_REPEAT_INTERVAL_MS,
      forgetResolvedAfterMs: options.forgetResolvedAfterMs ?? DEFAULT_FORGET_RESOLVED_AFTER_MS,
      silences: options.silences ?? [],
    },
    update: { book: {}, notifications: [], suppressed: [] },
  };
  const current = indexAlerts(firing);
  const fps = [...new Set([...Object.keys(book), ...current.keys()])].sort();
  for (const fp of fps) {
    const alert = current.get(fp);
    const prev = Object.hasOwn(book, fp) ? book[fp] : undefined;
    if (alert) stepFiring(step, fp, alert, prev);
    else if (prev) stepAbsent(step, fp, prev);
  }
  return step.update;
}

export const DEFAULT_GROUP_BY: readonly string[] = Object.freeze(['deployment', 'rule']);

export interface NotificationGroup {
  /** Stable key of the group's label values. */
  key: string;
  /** firing when any member fires. */
  status: AlertStatus;
  group_labels: Record<string, string>;
  /** Firing first, then most severe, then by fingerprint. */
  notifications: Notification[];
}

function groupLabelsOf(n: Notification, groupBy: readonly string[]): Record<string, string> {
  const labels = effectiveLabels(n.alert);
  const out: Record<string, string> = {};
  for (const name of groupBy) out[name] = Object.hasOwn(labels, name) ? labels[name] : '';
  return out;
}

function compareNotifications(a: Notification, b: Notification): number {
  if (a.status !== b.status) return a.status === 'firing' ? -1 : 1;
  const bySeverity = compareSeverity(a.severity, b.severity);
  if (bySeverity !== 0) return bySeverity;
  return a.fingerprint < b.fingerprint ? -1 : a.fingerprint > b.fingerprint ? 1 : 0;
}

/**
 * One group per distinct combination of the groupBy label values (a missing label groups as ''),
 * so that one message carries all of them. `rule` and `severity` can be grouped on like labels.
 */
export function groupNotifications(
  notifications: readonly Notification[],
  groupBy: readonly string[] = DEFAULT_GROUP_BY,
): NotificationGroup[] {
  const groups = new Map<string, NotificationGroup>();
  for (const n of notifications) {
    const labels = groupLabelsOf(n, groupBy);
    const key = JSON.stringify(groupBy.map((name) => [name, labels[name]]));
    let g = groups.get(key);
    if (!g) {
      g = { key, status: 'resolved', group_labels: labels, notifications: [] };
      groups.set(key, g);
    }
    g.notifications.push(n);
    if (n.status === 'firing') g.status = 'firing';
  }
  const out = [...groups.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  for (const g of out) g.notifications.sort(compareNotifications);
  return out;
}
